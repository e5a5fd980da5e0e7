/* process_attrs: sysctl key validation (namespaced keys only, and only with
 * the owning namespace), rlimits (applied; a raise above the hard limit
 * reported by name), user switch, personality and no_new_privs, the
 * state-changing ones in forked children. */
#include <errno.h>
#include <grp.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "child_check.h"
#include "ctr/process_attrs.h"
#include "util/cleanup.h"

static struct spec_namespace ns_ipc_uts[] = {{.kind = NS_IPC}, {.kind = NS_UTS}};

static int validate(const char *key, struct isola_err *err)
{
        struct spec_sysctl s = {.key = (char *)key, .value = "1"};
        struct spec spec = {0};

        spec.linux.namespaces = ns_ipc_uts;
        spec.linux.n_namespaces = ARRAY_SIZE(ns_ipc_uts);
        spec.linux.sysctl = &s;
        spec.linux.n_sysctl = 1;
        return process_sysctl_validate(&spec, err);
}

static void test_sysctl_keys(void)
{
        struct isola_err err = {0};

        TAP_EQ_INT(validate("kernel.shmmax", &err), 0, "kernel.shmmax allowed with an ipc ns");
        TAP_EQ_INT(validate("fs.mqueue.msg_max", &err), 0, "fs.mqueue.* allowed with an ipc ns");
        TAP_EQ_INT(validate("kernel.domainname", &err), 0, "kernel.domainname allowed with uts");
        tap_ok(validate("net.ipv4.ip_forward", &err) < 0 &&
                   strstr(err.msg, "'net.ipv4.ip_forward'") && strstr(err.msg, "network"),
               "net.* refused without a network namespace: %s", err.msg);
        tap_ok(validate("kernel.panic", &err) < 0 && strstr(err.msg, "'kernel.panic'") &&
                   strstr(err.msg, "not a namespaced"),
               "host-global key refused: %s", err.msg);
        tap_ok(validate("net..x", &err) < 0 && strstr(err.msg, "malformed"),
               "empty component refused");
        tap_ok(validate("net.ipv4/../../x", &err) < 0, "slash in key refused");
}

static void rlimits_child(void)
{
        struct spec_rlimit lower = {.resource = RLIMIT_NOFILE, .soft = 64, .hard = 128};
        struct spec_rlimit raise = {.resource = RLIMIT_NOFILE, .soft = 64, .hard = 4096};
        struct spec_process p = {.rlimits = &lower, .n_rlimits = 1};
        struct isola_err err = {0};
        struct rlimit rl;

        child_ok(process_rlimits_apply(&p, &err) == 0, "lowering RLIMIT_NOFILE (%s)", err.msg);
        child_ok(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == 64 && rl.rlim_max == 128,
                 "RLIMIT_NOFILE now 64/128");
        p.rlimits = &raise;
        child_ok(process_rlimits_apply(&p, &err) < 0 && strstr(err.msg, "'RLIMIT_NOFILE'") &&
                     strstr(err.msg, "hard limit"),
                 "raising the hard limit is reported by name: %s", err.msg);
}

static void user_child(void)
{
        gid_t extra[] = {2001, 2002};
        struct spec_user u = {.uid = 1500,
                              .gid = 1600,
                              .additional_gids = extra,
                              .n_additional_gids = 2,
                              .has_umask = true,
                              .umask = 0027};
        struct isola_err err = {0};
        gid_t groups[8];
        int n;

        child_ok(process_user_apply(&u, &err) == 0, "user switch (%s)", err.msg);
        child_ok(getuid() == 1500 && geteuid() == 1500 && getgid() == 1600 && getegid() == 1600,
                 "uid/gid 1500/1600");
        n = getgroups(8, groups);
        child_ok(n == 2 && groups[0] == 2001 && groups[1] == 2002, "additional gids set");
        child_ok(umask(0) == 0027, "umask 0027");
}

static void misc_child(void)
{
        struct spec spec = {0};
        struct isola_err err = {0};

        spec.linux.has_personality = true;
        spec.linux.personality = PER_LINUX32;
        child_ok(process_misc_apply(&spec, &err) == 0 && personality(0xffffffff) == PER_LINUX32,
                 "personality LINUX32 (%s)", err.msg);
        child_ok(process_no_new_privs(&err) == 0 && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1,
                 "no_new_privs set");
}

int main(void)
{
        test_sysctl_keys();
        if (geteuid() != 0) {
                tap_skip("rlimit/user/misc children need root");
                return tap_done();
        }
        run_child(rlimits_child);
        run_child(user_child);
        run_child(misc_child);
        return tap_done();
}
