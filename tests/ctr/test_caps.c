/* caps_apply / caps_keep_across_setuid, run as root in forked children:
 * the resulting sets read back with libcap, dropped capabilities really gone
 * (chown fails), kept ones surviving a switch to a non-root uid, and errors
 * naming the set. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctr/caps.h"
#include "child_check.h"

#define BIT(c) (1ULL << (c))

static bool in_set(cap_flag_t flag, cap_value_t c)
{
        cap_t cur = cap_get_proc();
        cap_flag_value_t v = CAP_CLEAR;

        cap_get_flag(cur, c, flag, &v);
        cap_free(cur);
        return v == CAP_SET;
}

static bool chown_works(void)
{
        char path[] = "/tmp/isola-caps-XXXXXX";
        int fd = mkstemp(path);
        bool ok;

        if (fd < 0)
                return false;
        ok = fchown(fd, 4321, 4321) == 0;
        /* Give it back: in sticky /tmp a non-root caller (uid 1000 below)
         * could not unlink a file it no longer owns, and it would be left. */
        if (ok && fchown(fd, geteuid(), getegid()) < 0)
                ok = false;
        close(fd);
        unlink(path);
        return ok;
}

static void drop_chown(void)
{
        uint64_t keep =
            BIT(CAP_SETUID) | BIT(CAP_SETGID) | BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_DAC_OVERRIDE);
        struct spec_caps caps = {.bounding = keep,
                                 .effective = keep,
                                 .permitted = keep,
                                 .inheritable = BIT(CAP_NET_BIND_SERVICE),
                                 .ambient = BIT(CAP_NET_BIND_SERVICE),
                                 .present = true};
        struct isola_err err = {0};

        child_ok(chown_works(), "before: root can chown");
        child_ok(caps_apply(&caps, &err) == 0, "caps_apply succeeds (%s)", err.msg);
        child_ok(!chown_works() && errno == EPERM, "without CAP_CHOWN chown fails with EPERM");
        child_ok(CAP_IS_SUPPORTED(CAP_CHOWN) && cap_get_bound(CAP_CHOWN) == 0,
                 "CAP_CHOWN dropped from the bounding set");
        child_ok(cap_get_bound(CAP_SETUID) == 1, "CAP_SETUID kept in the bounding set");
        child_ok(in_set(CAP_EFFECTIVE, CAP_DAC_OVERRIDE), "CAP_DAC_OVERRIDE effective");
        child_ok(!in_set(CAP_PERMITTED, CAP_SYS_ADMIN), "CAP_SYS_ADMIN not permitted");
        child_ok(in_set(CAP_INHERITABLE, CAP_NET_BIND_SERVICE), "inheritable set applied");
        child_ok(cap_get_ambient(CAP_NET_BIND_SERVICE) == 1, "ambient set applied");
        child_ok(cap_get_ambient(CAP_SETUID) == 0, "CAP_SETUID not ambient");
}

static void keep_across_setuid(void)
{
        uint64_t keep = BIT(CAP_CHOWN) | BIT(CAP_NET_BIND_SERVICE);
        struct spec_caps caps = {
            .bounding = keep, .effective = keep, .permitted = keep, .present = true};
        struct isola_err err = {0};

        child_ok(caps_keep_across_setuid(&err) == 0, "PR_SET_KEEPCAPS set (%s)", err.msg);
        child_ok(setresuid(1000, 1000, 1000) == 0, "switched to uid 1000");
        child_ok(caps_apply(&caps, &err) == 0, "caps_apply as uid 1000 (%s)", err.msg);
        child_ok(in_set(CAP_EFFECTIVE, CAP_CHOWN), "CAP_CHOWN effective for uid 1000");
        child_ok(chown_works(), "uid 1000 with CAP_CHOWN can chown");
        child_ok(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0, "KEEPCAPS cleared again");
}

static void ambient_not_inheritable(void)
{
        uint64_t keep = BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_KILL);
        struct spec_caps caps = {.bounding = keep,
                                 .effective = keep,
                                 .permitted = keep,
                                 .inheritable = BIT(CAP_KILL),
                                 .ambient = keep,
                                 .present = true};
        struct isola_err err = {0};

        /* runc's default spec: ambient caps without inheritable ones. */
        child_ok(caps_apply(&caps, &err) == 0,
                 "ambient cap that is not inheritable is skipped (%s)", err.msg);
        child_ok(cap_get_ambient(CAP_NET_BIND_SERVICE) == 0, "... and is not ambient");
        child_ok(cap_get_ambient(CAP_KILL) == 1, "inheritable+permitted CAP_KILL is ambient");
}

static void effective_not_permitted(void)
{
        struct spec_caps caps = {.bounding = BIT(CAP_CHOWN) | BIT(CAP_KILL),
                                 .effective = BIT(CAP_CHOWN) | BIT(CAP_KILL),
                                 .permitted = BIT(CAP_KILL),
                                 .present = true};
        struct isola_err err = {0};

        child_ok(caps_apply(&caps, &err) < 0 && strstr(err.msg, "'effective'"),
                 "effective beyond permitted fails naming the set: %s", err.msg);
}

static void absent_is_noop(void)
{
        struct spec_caps caps = {.present = false};
        struct isola_err err = {0};

        child_ok(caps_apply(&caps, &err) == 0 && cap_get_bound(CAP_CHOWN) == 1 &&
                     in_set(CAP_EFFECTIVE, CAP_CHOWN),
                 "no capabilities object: sets untouched");
}

int main(void)
{
        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root\n");
                return 0;
        }
        run_child(drop_chown);
        run_child(keep_across_setuid);
        run_child(ambient_not_inheritable);
        run_child(effective_not_permitted);
        run_child(absent_is_noop);
        return tap_done();
}
