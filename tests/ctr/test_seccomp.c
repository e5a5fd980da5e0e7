/* seccomp_build/seccomp_apply: filter construction from struct spec_seccomp
 * (errno actions, argument comparisons, unknown names, invalid rules) and the
 * behaviour of a loaded filter, observed in forked children. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
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

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        int n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static char *mk_names[] = {"mkdir", "mkdirat", NULL};
static char *other_names[] = {"getpgid", NULL};

static struct spec_seccomp mkdir_filter(struct spec_seccomp_rule *r, char **names)
{
        *r = rule(names, SCMP_ACT_ERRNO(0), NULL, 0);
        r->has_errno_ret = true;
        r->errno_ret = 38;
        return (struct spec_seccomp){.default_action = SCMP_ACT_ALLOW, .rules = r, .n_rules = 1};
}

static int probe_prepared(const struct seccomp_prog *p)
{
        struct isola_err err = {0};

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load_prepared(p, &err) < 0)
                return 1;
        return mkdir("/nonexistent-dir/x", 0755) < 0 && errno == 38 ? 0 : 2;
}

static void test_prepare_and_cache(void)
{
        char dir[] = "/tmp/isola-sccache-XXXXXX", cache[64], cmd[128];
        struct spec_seccomp_rule r1, r2;
        struct spec_seccomp sc = mkdir_filter(&r1, mk_names);
        struct spec_seccomp sc2 = mkdir_filter(&r2, other_names);
        struct seccomp_prog miss, hit, other, empty;
        struct isola_err err = {0};
        double t0, t1, t2;
        int status = -1;
        pid_t pid;

        if (!mkdtemp(dir))
                return;
        snprintf(cache, sizeof(cache), "%s/cache", dir);
        t0 = now_ms();
        tap_ok(seccomp_prepare(&sc, cache, &miss, &err) == 0 && miss.len > 0,
               "seccomp_prepare compiles (%s)", err.msg);
        t1 = now_ms();
        TAP_EQ_INT(count_entries(cache), 1, "the program is cached");
        tap_ok(seccomp_prepare(&sc, cache, &hit, &err) == 0 && hit.len == miss.len &&
                   !memcmp(hit.insns, miss.insns, miss.len * sizeof(*miss.insns)),
               "a second prepare returns the same program");
        t2 = now_ms();
        printf("# compile %.3f ms, cache hit %.3f ms\n", t1 - t0, t2 - t1);
        tap_ok(seccomp_prepare(&sc2, cache, &other, &err) == 0 &&
                   (other.len != miss.len ||
                    memcmp(other.insns, miss.insns, miss.len * sizeof(*miss.insns))),
               "a different filter gets a different program");
        TAP_EQ_INT(count_entries(cache), 2, "... and its own cache entry");
        tap_ok(seccomp_prepare(NULL, cache, &empty, &err) == 0 && !empty.insns,
               "no linux.seccomp: empty program");
        pid = fork();
        if (pid == 0)
                _exit(probe_prepared(&hit));
        waitpid(pid, &status, 0);
        tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
               "the cached program blocks mkdir with errno 38");
        chmod(cache, 0777);
        seccomp_prog_free(&other);
        tap_ok(seccomp_prepare(&sc2, cache, &other, &err) == 0, "prepare with a loose cache dir");
        seccomp_prog_free(&hit);
        snprintf(cmd, sizeof(cmd), "rm -rf %s/cache/*", dir);
        tap_ok(system(cmd) == 0 && seccomp_prepare(&sc, cache, &hit, &err) == 0 &&
                   count_entries(cache) == 0,
               "a group/other-writable cache dir is not used");
        seccomp_prog_free(&miss);
        seccomp_prog_free(&hit);
        seccomp_prog_free(&other);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        tap_ok(system(cmd) == 0, "temp dir removed");
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
        test_prepare_and_cache();
        return tap_done();
}
