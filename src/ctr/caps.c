/* Capability sets of the container process, applied with libcap. The order
 * matters: the bounding set is reduced first (needs CAP_SETPCAP, which may be
 * about to leave the permitted set), then inheritable/permitted/effective in one
 * capset, then ambient. Caps this kernel does not know are ignored, as runc does. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ctr/caps.h"

static bool has_cap(uint64_t mask, cap_value_t cap)
{
        return cap < 64 && (mask & (1ULL << cap));
}

static const char *cap_label(cap_value_t cap, char *buf, size_t len)
{
        char *name = cap_to_name(cap);

        snprintf(buf, len, "%s", name ? name : "?");
        cap_free(name);
        for (char *p = buf; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                        *p = (char)(*p - 'a' + 'A');
        return buf;
}

static int drop_bounding(uint64_t keep, cap_value_t last, struct isola_err *err)
{
        char name[64];

        for (cap_value_t c = 0; c <= last; c++) {
                if (has_cap(keep, c))
                        continue;
                if (cap_drop_bound(c) < 0 && errno != EINVAL)
                        return err_sys(err, "capability set 'bounding': dropping %s",
                                       cap_label(c, name, sizeof(name)));
        }
        return 0;
}

static int fill_flag(cap_t set, cap_flag_t flag, uint64_t mask, cap_value_t last)
{
        for (cap_value_t c = 0; c <= last; c++) {
                if (!has_cap(mask, c))
                        continue;
                if (cap_set_flag(set, flag, 1, &c, CAP_SET) < 0)
                        return -1;
        }
        return 0;
}

static int set_process_caps(const struct spec_caps *caps, cap_value_t last, struct isola_err *err)
{
        cap_t set = cap_init();
        int r = -1;

        if (!set)
                return err_sys(err, "capabilities: allocating a set");
        if (fill_flag(set, CAP_EFFECTIVE, caps->effective, last) < 0 ||
            fill_flag(set, CAP_PERMITTED, caps->permitted, last) < 0 ||
            fill_flag(set, CAP_INHERITABLE, caps->inheritable, last) < 0) {
                err_sys(err, "capabilities: building the set");
                goto out;
        }
        if (cap_set_proc(set) < 0) {
                err_sys(err, "capability sets 'effective'/'permitted'/'inheritable': capset "
                             "(effective must be a subset of permitted)");
                goto out;
        }
        r = 0;
out:
        cap_free(set);
        return r;
}

/* A capability can only be ambient when it is also permitted and
 * inheritable; runc's default spec lists ambient caps without inheritable
 * ones, so, as crun and runc do, such entries are skipped rather than fatal. */
static int set_ambient(uint64_t mask, cap_value_t last, struct isola_err *err)
{
        char name[64];

        if (!mask)
                return 0;
        for (cap_value_t c = 0; c <= last; c++) {
                if (!has_cap(mask, c))
                        continue;
                if (cap_set_ambient(c, CAP_SET) < 0 && errno != EPERM)
                        return err_sys(err, "capability set 'ambient': raising %s",
                                       cap_label(c, name, sizeof(name)));
        }
        return 0;
}

/* After a switch to a non-root uid KEEPCAPS preserved the permitted set but
 * the kernel cleared the effective one; CAP_SETPCAP must be effective again
 * to shrink the bounding set. */
static int raise_effective(struct isola_err *err)
{
        cap_t cur = cap_get_proc();
        int r = -1;

        if (!cur)
                return err_sys(err, "capabilities: reading the current sets");
        for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
                cap_flag_value_t v = CAP_CLEAR;

                if (cap_get_flag(cur, c, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
                        cap_set_flag(cur, CAP_EFFECTIVE, 1, &c, CAP_SET);
        }
        if (cap_set_proc(cur) < 0)
                err_sys(err, "capabilities: raising the effective set to the permitted one");
        else
                r = 0;
        cap_free(cur);
        return r;
}

int caps_keep_across_setuid(struct isola_err *err)
{
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return err_sys(err, "capabilities: prctl(PR_SET_KEEPCAPS)");
        return 0;
}

int caps_apply(const struct spec_caps *caps, struct isola_err *err)
{
        cap_value_t last = (cap_value_t)cap_max_bits() - 1;

        /* Without a "capabilities" object the process keeps what it has, as
         * with runc. */
        if (!caps->present)
                return 0;
        if (geteuid() != 0 && raise_effective(err) < 0)
                return -1;
        if (drop_bounding(caps->bounding, last, err) < 0)
                return -1;
        if (set_process_caps(caps, last, err) < 0)
                return -1;
        if (set_ambient(caps->ambient, last, err) < 0)
                return -1;
        /* KEEPCAPS has served its purpose; a later setuid in the container
         * must behave as usual. */
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
                return err_sys(err, "capabilities: prctl(PR_SET_KEEPCAPS, 0)");
        return 0;
}
