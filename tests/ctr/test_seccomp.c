/* seccomp_build/seccomp_apply: filter construction from struct spec_seccomp
 * (errno actions, argument comparisons, unknown names, invalid rules) and the
 * behaviour of a loaded filter, observed in forked children. */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctr/seccomp.h"
#include "tap.h"

static struct spec_seccomp_rule rule(char **names, uint32_t action, struct spec_seccomp_arg *args,
                                     size_t n_args)
{
        size_t n = 0;

        while (names[n])
                n++;
        return (struct spec_seccomp_rule){
            .names = names, .n_names = n, .action = action, .args = args, .n_args = n_args};
}

static void test_unknown_name_skipped(void)
{
        char *names[] = {"no_such_syscall_xyz", "getpid", NULL};
        struct spec_seccomp_rule r = rule(names, SCMP_ACT_ERRNO(EPERM), NULL, 0);
        struct spec_seccomp sc = {.default_action = SCMP_ACT_ALLOW, .rules = &r, .n_rules = 1};
        struct isola_err err = {0};
        scmp_filter_ctx ctx = seccomp_build(&sc, &err);

        tap_ok(ctx != NULL, "unknown syscall name is skipped, not an error (%s)", err.msg);
        if (ctx)
                seccomp_release(ctx);
}

static void test_bad_arg_index(void)
{
        char *names[] = {"getpgid", NULL};
        struct spec_seccomp_arg a = {.index = 6, .value = 1, .op = SCMP_CMP_EQ};
        struct spec_seccomp_rule r = rule(names, SCMP_ACT_ERRNO(EPERM), &a, 1);
        struct spec_seccomp sc = {.default_action = SCMP_ACT_ALLOW, .rules = &r, .n_rules = 1};
        struct isola_err err = {0};
        scmp_filter_ctx ctx = seccomp_build(&sc, &err);

        tap_ok(ctx == NULL, "argument index 6 is refused");
        tap_ok(strstr(err.msg, "'getpgid'") && strstr(err.msg, "index 6"),
               "error names the syscall and the index: %s", err.msg);
        if (ctx)
                seccomp_release(ctx);
}

static void test_bad_op(void)
{
        char *names[] = {"getpgid", NULL};
        struct spec_seccomp_arg a = {.index = 0, .value = 1, .op = 42};
        struct spec_seccomp_rule r = rule(names, SCMP_ACT_ERRNO(EPERM), &a, 1);
        struct spec_seccomp sc = {.default_action = SCMP_ACT_ALLOW, .rules = &r, .n_rules = 1};
        struct isola_err err = {0};
        scmp_filter_ctx ctx = seccomp_build(&sc, &err);

        tap_ok(ctx == NULL && strstr(err.msg, "'getpgid'"),
               "invalid operator is an error naming the syscall: %s", err.msg);
        if (ctx)
                seccomp_release(ctx);
}

static void test_bad_flag(void)
{
        char *flags[] = {"SECCOMP_FILTER_FLAG_BOGUS"};
        struct spec_seccomp sc = {.default_action = SCMP_ACT_ALLOW, .flags = flags, .n_flags = 1};
        struct isola_err err = {0};
        scmp_filter_ctx ctx = seccomp_build(&sc, &err);

        tap_ok(ctx == NULL && strstr(err.msg, "SECCOMP_FILTER_FLAG_BOGUS"),
               "unknown flag is refused by name: %s", err.msg);
        if (ctx)
                seccomp_release(ctx);
}

static void test_default_errno_and_arches(void)
{
        char *names[] = {"getpid", NULL};
        uint32_t arches[] = {SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32};
        char *flags[] = {"SECCOMP_FILTER_FLAG_LOG"};
        struct spec_seccomp_rule r = rule(names, SCMP_ACT_ALLOW, NULL, 0);
        struct spec_seccomp sc = {
            .default_action = SCMP_ACT_ERRNO(EPERM),
            .has_default_errno_ret = true,
            .default_errno_ret = ENOSYS,
            .architectures = arches,
            .n_architectures = 3,
            .flags = flags,
            .n_flags = 1,
            .rules = &r,
            .n_rules = 1,
        };
        struct isola_err err = {0};
        scmp_filter_ctx ctx = seccomp_build(&sc, &err);
        uint32_t def = 0;

        tap_ok(ctx != NULL, "filter with three architectures and LOG flag builds (%s)", err.msg);
        if (!ctx)
                return;
        seccomp_attr_get(ctx, SCMP_FLTATR_ACT_DEFAULT, &def);
        TAP_EQ_INT(def, SCMP_ACT_ERRNO(ENOSYS), "defaultErrnoRet replaces the default errno");
        tap_ok(seccomp_arch_exist(ctx, SCMP_ARCH_X86) == 0, "x86 architecture added");
        tap_ok(seccomp_arch_exist(ctx, SCMP_ARCH_AARCH64) != 0, "aarch64 not added");
        seccomp_release(ctx);
}

static void test_rule_equal_to_default_skipped(void)
{
        char *names[] = {"getpid", NULL};
        struct spec_seccomp_rule r = rule(names, SCMP_ACT_ALLOW, NULL, 0);
        struct spec_seccomp sc = {.default_action = SCMP_ACT_ALLOW, .rules = &r, .n_rules = 1};
        struct isola_err err = {0};
        scmp_filter_ctx ctx = seccomp_build(&sc, &err);

        tap_ok(ctx != NULL, "a rule with the default action is dropped, not an error (%s)",
               err.msg);
        if (ctx)
                seccomp_release(ctx);
}

/* Child: loads the filter, then reports each probe as one bit of the exit
 * status (bit set = as expected). */
static int probe_loaded_filter(void)
{
        char *mk[] = {"mkdir", "mkdirat", NULL};
        char *pg[] = {"getpgid", NULL};
        char *sid[] = {"getsid", NULL};
        struct spec_seccomp_arg masked = {
            .index = 0, .op = SCMP_CMP_MASKED_EQ, .value = 0xff, .value_two = 0x07};
        struct spec_seccomp_arg either[] = {
            {.index = 0, .op = SCMP_CMP_EQ, .value = 5},
            {.index = 0, .op = SCMP_CMP_EQ, .value = 6},
        };
        struct spec_seccomp_rule rules[] = {
            rule(mk, SCMP_ACT_ERRNO(EPERM), NULL, 0),
            rule(pg, SCMP_ACT_ERRNO(0), &masked, 1),
            rule(sid, SCMP_ACT_ERRNO(0), either, 2),
        };
        struct spec_seccomp sc = {.default_action = SCMP_ACT_ALLOW, .rules = rules, .n_rules = 3};
        struct isola_err err = {0};
        int bits = 0;

        rules[0].has_errno_ret = true;
        rules[0].errno_ret = 38;
        rules[1].has_errno_ret = true;
        rules[1].errno_ret = 123;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_apply(&sc, &err) < 0)
                return 0;
        errno = 0;
        if (mkdir("/nonexistent-dir/x", 0755) < 0 && errno == 38)
                bits |= 1;
        if (getpgid(0x107) < 0 && errno == 123)
                bits |= 2;
        if (getpgid(0) >= 0)
                bits |= 4;
        if (getsid(5) < 0 && errno == EPERM && getsid(6) < 0 && errno == EPERM)
                bits |= 8;
        if (getsid(0) >= 0)
                bits |= 16;
        return bits;
}

static void test_loaded_filter(void)
{
        int status = 0, bits;
        pid_t pid = fork();

        if (pid == 0)
                _exit(probe_loaded_filter());
        waitpid(pid, &status, 0);
        bits = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
        tap_ok(bits & 1, "mkdir fails with errnoRet 38");
        tap_ok(bits & 2, "masked-eq argument match returns errnoRet 123");
        tap_ok(bits & 4, "argument outside the mask is allowed");
        tap_ok(bits & 8, "two conditions on one argument act as alternatives (default EPERM)");
        tap_ok(bits & 16, "non-matching argument is allowed");
}

static void test_null_is_noop(void)
{
        struct isola_err err = {0};

        TAP_EQ_INT(seccomp_apply(NULL, &err), 0, "no linux.seccomp: nothing loaded");
}

int main(void)
{
        test_unknown_name_skipped();
        test_bad_arg_index();
        test_bad_op();
        test_bad_flag();
        test_default_errno_and_arches();
        test_rule_equal_to_default_skipped();
        test_loaded_filter();
        test_null_is_noop();
        return tap_done();
}
