/* cgroup manager: path resolution, v2 value conversions and writers (against a
 * scratch directory), save/open round trip, and, as root, real cgroups under a
 * unique test parent: create, apply, membership, freeze, kill, limits that
 * bite (pids, memory OOM, device rules via v1 and via the v2 BPF filter),
 * blkio throttles on a real block device, destroy. Everything created is removed and checked gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <linux/sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctr/cgroup.h"
#include "ctr/cgroup_internal.h"
#include "util/cleanup.h"
#include "tap.h"

/* Evaluates cond before reporting, and shows err.msg (from the caller's
 * scope) as a diagnostic, whether the check passed or not. */
#define CHECK(cond, ...)                                                                           \
        do {                                                                                       \
                int check_ok_ = !!(cond);                                                          \
                tap_ok(check_ok_, __VA_ARGS__);                                                    \
                if (err.msg[0])                                                                    \
                        printf("#   %s\n", err.msg);                                               \
                err_clear(&err);                                                                   \
        } while (0)

static char parent_name[64]; /* "/isola-test-<pid>" */

static bool exists(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0;
}

static const char *read_knob(const char *dir, const char *file)
{
        static char buf[256];
        struct isola_err err;

        if (cgroup_read(dir, file, buf, sizeof(buf), &err) < 0)
                snprintf(buf, sizeof(buf), "<%s>", err.msg);
        return buf;
}

static double now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- no privileges needed ----------------------------------------------- */

static void test_resolve(void)
{
        char out[4096];
        bool abs;
        struct isola_err err = {0};

        tap_ok(cgroup_resolve_path(NULL, "c1", out, sizeof(out), &abs, &err) == 0 && !abs,
               "default path is relative");
        TAP_EQ_STR(out, "/isola/c1", "default path is isola/<id>");
        tap_ok(cgroup_resolve_path("/a//./b/", "x", out, sizeof(out), &abs, &err) == 0 && abs,
               "absolute path accepted");
        TAP_EQ_STR(out, "/a/b", "path normalised");
        CHECK(cgroup_resolve_path("/a/../../etc", "x", out, sizeof(out), &abs, &err) < 0 &&
                  strstr(err.msg, "linux.cgroupsPath") && strstr(err.msg, "escape"),
              "'..' rejected naming linux.cgroupsPath");
        CHECK(cgroup_resolve_path("/", "x", out, sizeof(out), &abs, &err) < 0,
              "hierarchy root rejected");
        tap_ok(cgroup_resolve_path(NULL, "../x", out, sizeof(out), &abs, &err) < 0,
               "id with '/' rejected in default path");
        cgroup_resolve_path("system.slice:isola:abc", "x", out, sizeof(out), &abs, &err);
        TAP_EQ_STR(out, "/system.slice/isola-abc.scope", "systemd slice:prefix:name mapped");
        cgroup_resolve_path("machine-vm-a.slice:p:n", "x", out, sizeof(out), &abs, &err);
        TAP_EQ_STR(out, "/machine.slice/machine-vm.slice/machine-vm-a.slice/p-n.scope",
                   "nested systemd slice expanded");
        CHECK(cgroup_resolve_path("bad:x", "x", out, sizeof(out), &abs, &err) < 0,
              "malformed systemd path rejected");
}

static void test_conversions(void)
{
        TAP_EQ_INT(cgroup_v2_cpu_weight(2), 1, "shares 2 -> weight 1");
        TAP_EQ_INT(cgroup_v2_cpu_weight(1024), 39, "shares 1024 -> weight 39");
        TAP_EQ_INT(cgroup_v2_cpu_weight(262144), 10000, "shares 262144 -> weight 10000");
        TAP_EQ_INT(cgroup_v2_io_weight(10), 1, "blkio 10 -> io 1");
        TAP_EQ_INT(cgroup_v2_io_weight(1000), 10000, "blkio 1000 -> io 10000");
}

/* The v2 writer only writes files; a scratch directory stands in for a
 * cgroup2 directory, since this host's unified hierarchy has no controllers. */
static void test_v2_writer(void)
{
        static const char *const files[] = {
            "memory.max",  "memory.low",  "memory.swap.max", "cpu.weight", "cpu.max",
            "cpuset.cpus", "cpuset.mems", "pids.max",        "io.weight",  "io.max"};
        char dir[] = "/tmp/isola-cg-v2-XXXXXX", path[256];
        struct isola_err err = {0};
        struct spec_resources res = {
            .has_memory_limit = true,
            .memory_limit = 1 << 20,
            .has_memory_reservation = true,
            .memory_reservation = 1 << 19,
            .has_memory_swap = true,
            .memory_swap = 3 << 20,
            .has_cpu_shares = true,
            .cpu_shares = 1024,
            .has_cpu_quota = true,
            .cpu_quota = 50000,
            .has_cpu_period = true,
            .cpu_period = 100000,
            .cpuset_cpus = "0",
            .cpuset_mems = "0",
            .has_pids_limit = true,
            .pids_limit = 0,
            .has_blkio_weight = true,
            .blkio_weight = 500,
        };

        if (!mkdtemp(dir)) {
                tap_ok(0, "mkdtemp");
                return;
        }
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
                close(open(path, O_CREAT | O_WRONLY, 0644));
        }
        CHECK(cgroup_v2_apply(dir, &res, &err) == 0, "v2 apply");
        TAP_EQ_STR(read_knob(dir, "memory.max"), "1048576", "memory.max");
        TAP_EQ_STR(read_knob(dir, "memory.low"), "524288", "memory.low = reservation");
        TAP_EQ_STR(read_knob(dir, "memory.swap.max"), "2097152", "memory.swap.max = swap - limit");
        TAP_EQ_STR(read_knob(dir, "cpu.weight"), "39", "cpu.weight from shares");
        TAP_EQ_STR(read_knob(dir, "cpu.max"), "50000 100000", "cpu.max = quota period");
        TAP_EQ_STR(read_knob(dir, "pids.max"), "max", "pids limit 0 -> max");
        TAP_EQ_STR(read_knob(dir, "io.weight"), "4950", "io.weight from blkio weight");

        /* A scratch file keeps only the last write: one device per check. */
        struct spec_blkio_throttle rbps[] = {{8, 0, 1048576}}, wbps[] = {{8, 0, 0}},
                                   wiops[] = {{8, 0, 30}, {8, 0, 40}};
        res = (struct spec_resources){
            .blkio_throttle = {[SPEC_THROTTLE_READ_BPS] = rbps,
                               [SPEC_THROTTLE_WRITE_BPS] = wbps,
                               [SPEC_THROTTLE_WRITE_IOPS] = wiops},
            .n_blkio_throttle = {[SPEC_THROTTLE_READ_BPS] = 1,
                                 [SPEC_THROTTLE_WRITE_BPS] = 1,
                                 [SPEC_THROTTLE_WRITE_IOPS] = 2},
        };
        CHECK(cgroup_v2_apply(dir, &res, &err) == 0, "v2 apply throttles");
        TAP_EQ_STR(read_knob(dir, "io.max"), "8:0 rbps=1048576 wbps=max wiops=40",
                   "io.max: one line per device, rate 0 -> max, last entry wins");
        struct spec_blkio_weight_device wd[] = {
            {.major = 8, .minor = 16, .has_weight = true, .weight = 1000}};
        res = (struct spec_resources){.blkio_weight_devices = wd, .n_blkio_weight_devices = 1};
        CHECK(cgroup_v2_apply(dir, &res, &err) == 0, "v2 apply weightDevice");
        TAP_EQ_STR(read_knob(dir, "io.weight"), "8:16 10000", "io.weight per device, converted");
        snprintf(path, sizeof(path), "%s/io.max", dir);
        unlink(path);
        res = (struct spec_resources){.blkio_throttle = {wiops}, .n_blkio_throttle = {1}};
        CHECK(cgroup_v2_apply(dir, &res, &err) < 0 &&
                  strstr(err.msg, "linux.resources.blockIO.throttleReadBpsDevice[0]"),
              "io.max missing: refused naming the entry");

        res = (struct spec_resources){.has_cpu_quota = true, .cpu_quota = -1};
        cgroup_v2_apply(dir, &res, &err);
        TAP_EQ_STR(read_knob(dir, "cpu.max"), "max", "quota -1 -> cpu.max max");
        res = (struct spec_resources){.has_memory_limit = true,
                                      .memory_limit = 2 << 20,
                                      .has_memory_swap = true,
                                      .memory_swap = 1 << 20};
        CHECK(cgroup_v2_apply(dir, &res, &err) < 0 && strstr(err.msg, "memory.swap"),
              "swap below limit rejected");

        char *keys[] = {"../escape", NULL}, *vals[] = {"1", NULL};
        res = (struct spec_resources){.unified_keys = keys, .unified_values = vals, .n_unified = 1};
        CHECK(cgroup_v2_apply_unified(dir, &res, &err) < 0 && strstr(err.msg, "../escape"),
              "unified key with '/' rejected");
        keys[0] = "memory.high";
        vals[0] = "12345";
        snprintf(path, sizeof(path), "%s/memory.high", dir);
        close(open(path, O_CREAT | O_WRONLY, 0644));
        tap_ok(cgroup_v2_apply_unified(dir, &res, &err) == 0, "unified key written");
        TAP_EQ_STR(read_knob(dir, "memory.high"), "12345", "unified value in file");
        unlink(path);

        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
                unlink(path);
        }
        tap_ok(rmdir(dir) == 0, "scratch dir removed");
}

static void test_open_rejects(void)
{
        struct cgroup *cg = NULL;
        struct isola_err err = {0};

        CHECK(cgroup_open("garbage", &cg, &err) < 0 && strstr(err.msg, "saved cgroup state"),
              "garbage state rejected");
        tap_ok(cgroup_open("isola-cgroup/1\tv1\tmemory\t1\t/sys/fs/cgroup/memory/../x", &cg, &err) <
                   0,
               "saved path with '..' rejected");
        tap_ok(cgroup_open("isola-cgroup/1\tv1\tmemory\t3\t/sys/fs/cgroup", &cg, &err) < 0,
               "saved created-count deeper than the path rejected");
}

/* ---- real cgroups (root) -------------------------------------------------- */

/* A child that blocks until its pipe closes. */
static pid_t spawn_waiter(int *wfd)
{
        int p[2];
        pid_t pid;
        char c;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                close(p[1]);
                while (read(p[0], &c, 1) < 0 && errno == EINTR)
                        ;
                _exit(0);
        }
        close(p[0]);
        *wfd = p[1];
        return pid;
}

static int wait_status(pid_t pid)
{
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        return st;
}

static bool all_gone(char **paths, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (exists(paths[i]))
                        return false;
        return true;
}

/* Container dir paths and the test parent of each hierarchy, for leak checks. */
static size_t collect_paths(struct cgroup *cg, char **paths, size_t cap)
{
        size_t n = 0;
        for (size_t i = 0; i < cg->n_hiers && n + 2 <= cap; i++) {
                paths[n++] = strdup(cg->hiers[i].path);
                paths[n] = strdup(cg->hiers[i].path);
                *strrchr(paths[n], '/') = '\0';
                n++;
        }
        return n;
}

static void free_paths(char **paths, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(paths[i]);
}

static void test_lifecycle(void)
{
        struct isola_err err = {0};
        struct cgroup *cg = NULL, *re = NULL;
        char path[128], *paths[64];
        size_t np;
        double t0 = now_ms();

        snprintf(path, sizeof(path), "%s/life", parent_name);
        if (cgroup_create(path, "life", &cg, &err) < 0) {
                CHECK(0, "create");
                return;
        }
        double t_create = now_ms() - t0;
        tap_ok(1, "create '%s'", path);
        np = collect_paths(cg, paths, ARRAY_SIZE(paths));
        tap_ok(np > 0 && exists(paths[0]), "directories exist (%zu hierarchies)", np / 2);

        struct spec_resources res = {
            .has_memory_limit = true,
            .memory_limit = 64 << 20,
            .has_memory_reservation = true,
            .memory_reservation = 32 << 20,
            .has_memory_swappiness = true,
            .memory_swappiness = 10,
            .has_cpu_shares = true,
            .cpu_shares = 512,
            .has_cpu_quota = true,
            .cpu_quota = 50000,
            .has_cpu_period = true,
            .cpu_period = 100000,
            .cpuset_cpus = "0",
            .cpuset_mems = "0",
            .has_pids_limit = true,
            .pids_limit = 32,
        };
        t0 = now_ms();
        CHECK(cgroup_apply(cg, &res, &err) == 0, "apply");
        double t_apply = now_ms() - t0;
        struct cgroup_hier *mem = cgroup_find(cg, "memory"), *cpu = cgroup_find(cg, "cpu");
        struct cgroup_hier *cpuset = cgroup_find(cg, "cpuset"), *pids = cgroup_find(cg, "pids");
        if (mem && cpu && cpuset && pids && cg->mode != CGROUP_V2) {
                TAP_EQ_STR(read_knob(mem->path, "memory.limit_in_bytes"), "67108864",
                           "memory.limit_in_bytes");
                TAP_EQ_STR(read_knob(mem->path, "memory.soft_limit_in_bytes"), "33554432",
                           "memory.soft_limit_in_bytes");
                TAP_EQ_STR(read_knob(mem->path, "memory.swappiness"), "10", "memory.swappiness");
                TAP_EQ_STR(read_knob(cpu->path, "cpu.shares"), "512", "cpu.shares");
                TAP_EQ_STR(read_knob(cpu->path, "cpu.cfs_quota_us"), "50000", "cpu.cfs_quota_us");
                TAP_EQ_STR(read_knob(cpu->path, "cpu.cfs_period_us"), "100000",
                           "cpu.cfs_period_us");
                TAP_EQ_STR(read_knob(cpuset->path, "cpuset.cpus"), "0", "cpuset.cpus");
                TAP_EQ_STR(read_knob(cpuset->path, "cpuset.mems"), "0", "cpuset.mems");
                TAP_EQ_STR(read_knob(pids->path, "pids.max"), "32", "pids.max");
        } else {
                tap_skip("v1 resource files (not a v1/hybrid host)");
        }

        /* memsw must stay >= limit at every write: growing both needs memsw
         * first, shrinking both needs the limit first. */
        if (mem && cgroup_file_exists(mem->path, "memory.memsw.limit_in_bytes")) {
                res = (struct spec_resources){.has_memory_limit = true,
                                              .memory_limit = 256 << 20,
                                              .has_memory_swap = true,
                                              .memory_swap = 512 << 20};
                CHECK(cgroup_apply(cg, &res, &err) == 0, "grow limit and swap");
                TAP_EQ_STR(read_knob(mem->path, "memory.memsw.limit_in_bytes"), "536870912",
                           "memory.memsw.limit_in_bytes grown");
                res.memory_limit = 32 << 20;
                res.memory_swap = 48 << 20;
                CHECK(cgroup_apply(cg, &res, &err) == 0, "shrink limit and swap");
                TAP_EQ_STR(read_knob(mem->path, "memory.limit_in_bytes"), "33554432",
                           "memory.limit_in_bytes shrunk");
                TAP_EQ_STR(read_knob(mem->path, "memory.memsw.limit_in_bytes"), "50331648",
                           "memory.memsw.limit_in_bytes shrunk");
                res.memory_limit = 128 << 20;
                res.memory_swap = 192 << 20;
                CHECK(cgroup_apply(cg, &res, &err) == 0, "grow both past the old memsw");
                TAP_EQ_STR(read_knob(mem->path, "memory.limit_in_bytes"), "134217728",
                           "memory.limit_in_bytes grown past the old memsw");
        } else {
                tap_skip("no swap accounting (memory.memsw.limit_in_bytes)");
        }
        res = (struct spec_resources){.cpuset_cpus = "4095"};
        CHECK(cgroup_apply(cg, &res, &err) < 0 && strstr(err.msg, "cpuset.cpus' = '4095'") &&
                  strstr(err.msg, cpuset ? cpuset->path : "/"),
              "a refused value is reported with its file and value");

        int wfd;
        pid_t child = spawn_waiter(&wfd);
        t0 = now_ms();
        CHECK(cgroup_add_pid(cg, child, &err) == 0, "add child pid");
        double t_add = now_ms() - t0;
        pid_t *list = NULL;
        size_t n = 0;
        int r = cgroup_pids(cg, &list, &n, &err);
        tap_ok(r == 0 && n == 1 && list[0] == child, "pids lists the child (%zu)", n);
        free(list);

        CHECK(cgroup_freeze(cg, true, &err) == 0 && cgroup_is_frozen(cg), "freeze");
        CHECK(cgroup_freeze(cg, false, &err) == 0 && !cgroup_is_frozen(cg), "thaw");

        /* Round trip through the state string, as a later `delete` would. */
        char *saved = cgroup_to_string(cg);
        CHECK(saved && cgroup_open(saved, &re, &err) == 0, "re-open from saved state");
        char *again = re ? cgroup_to_string(re) : NULL;
        TAP_EQ_STR(again, saved, "to_string(open(s)) == s");
        free(again);
        free(saved);

        CHECK(cgroup_destroy(re, false, &err) < 0 && err.errnum == EBUSY,
              "destroy without force refuses a populated cgroup");
        CHECK(cgroup_kill_all(re, SIGTERM, &err) == 0, "kill_all SIGTERM");
        int st = wait_status(child);
        tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "child died of SIGTERM");
        close(wfd);

        child = spawn_waiter(&wfd);
        cgroup_add_pid(cg, child, &err);
        t0 = now_ms();
        CHECK(cgroup_destroy(re, true, &err) == 0, "forced destroy");
        double t_destroy = now_ms() - t0;
        st = wait_status(child);
        tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "forced destroy SIGKILLed the child");
        close(wfd);
        tap_ok(all_gone(paths, np), "container dir and created parent removed everywhere");
        printf("# create %.2f ms, apply %.2f ms, add_pid %.2f ms, destroy(force) %.2f ms\n",
               t_create, t_apply, t_add, t_destroy);
        free_paths(paths, np);
        cgroup_free(re);
        cgroup_free(cg);
}

/* A parent made by another container's create is only removed by the one that
 * made it, and only once empty. */
static void test_shared_parent(void)
{
        struct isola_err err = {0};
        struct cgroup *a = NULL, *b = NULL;
        char pa[128], pb[128], *paths[64];

        snprintf(pa, sizeof(pa), "%s/a", parent_name);
        snprintf(pb, sizeof(pb), "%s/b", parent_name);
        if (cgroup_create(pa, "a", &a, &err) < 0 || cgroup_create(pb, "b", &b, &err) < 0) {
                CHECK(0, "create a, b");
                if (a)
                        cgroup_destroy(a, true, &err), cgroup_free(a);
                return;
        }
        size_t np = collect_paths(a, paths, ARRAY_SIZE(paths));
        CHECK(cgroup_destroy(b, false, &err) == 0, "destroy b");
        tap_ok(exists(paths[1]), "parent that b did not create survives");
        CHECK(cgroup_destroy(b, false, &err) == 0, "destroying again is a no-op");
        CHECK(cgroup_destroy(a, false, &err) == 0, "destroy a");
        tap_ok(all_gone(paths, np), "a removed the parent it created");
        free_paths(paths, np);
        cgroup_free(a);
        cgroup_free(b);
}

static void test_default_path(void)
{
        struct isola_err err = {0};
        struct cgroup *cg = NULL;
        char id[64], own[512] = "", line[512], want[1024];
        FILE *f = fopen("/proc/self/cgroup", "re");

        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "%*d:memory:%511s", own) == 1)
                        break;
        if (f)
                fclose(f);
        snprintf(id, sizeof(id), "isola-test-%d-default", (int)getpid());
        if (cgroup_create(NULL, id, &cg, &err) < 0) {
                CHECK(0, "create with default path");
                return;
        }
        struct cgroup_hier *mem = cgroup_find(cg, "memory");
        snprintf(want, sizeof(want), "/sys/fs/cgroup/memory%s/isola/%s",
                 strcmp(own, "/") ? own : "", id);
        if (mem && own[0])
                TAP_EQ_STR(mem->path, want, "default path is below the runtime's own cgroup");
        else
                tap_skip("no v1 memory hierarchy");
        CHECK(cgroup_destroy(cg, false, &err) == 0, "destroy");
        tap_ok(!mem || !exists(mem->path), "removed");
        cgroup_free(cg);
}

/* Runs fn in a child placed in a fresh cgroup with res applied; returns the
 * child's wait status. */
static int run_limited(const char *name, const struct spec_resources *res, int (*fn)(void),
                       struct cgroup **cg_out)
{
        struct isola_err err = {0};
        struct cgroup *cg = NULL;
        char path[128];
        int go[2];

        snprintf(path, sizeof(path), "%s/%s", parent_name, name);
        if (cgroup_create(path, name, &cg, &err) < 0 || cgroup_apply(cg, res, &err) < 0) {
                CHECK(0, "%s: set-up", name);
                if (cg)
                        cgroup_destroy(cg, true, &err), cgroup_free(cg);
                return -1;
        }
        if (pipe2(go, O_CLOEXEC) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                char c;
                close(go[1]);
                if (read(go[0], &c, 1) != 1)
                        _exit(100);
                _exit(fn());
        }
        close(go[0]);
        int r = cgroup_add_pid(cg, pid, &err);
        if (write(go[1], "g", 1) != 1)
                r = -1;
        close(go[1]);
        int st = wait_status(pid);
        if (r < 0)
                CHECK(0, "%s: add pid", name);
        *cg_out = cg;
        return st;
}

static int fork_loop(void)
{
        int ok = 0;
        for (int i = 0; i < 20; i++) {
                pid_t p = fork();
                if (p == 0) {
                        pause();
                        _exit(0);
                }
                if (p > 0)
                        ok++;
        }
        return ok;
}

/* Leaves behind processes that fork as fast as they can (bounded by pids.max). */
static int start_storm(void)
{
        if (fork() == 0) {
                for (;;) {
                        fork();
                        waitpid(-1, NULL, WNOHANG);
                }
        }
        return 0;
}

static int hog_memory(void)
{
        size_t sz = 64 << 20;
        char *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return 2;
        for (size_t i = 0; i < sz; i += 4096)
                p[i] = 1;
        return 0;
}

static int open_null(void)
{
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0)
                return 0;
        return errno == EPERM ? 1 : 2;
}

static int open_zero(void)
{
        int fd = open("/dev/zero", O_RDONLY);
        return fd >= 0 ? 0 : 1;
}

static void finish(struct cgroup *cg, const char *what)
{
        struct isola_err err = {0};
        char *paths[64];
        size_t np = collect_paths(cg, paths, ARRAY_SIZE(paths));

        CHECK(cgroup_destroy(cg, true, &err) == 0 && exists(paths[1]) == false,
              "%s: destroyed, nothing left", what);
        free_paths(paths, np);
        cgroup_free(cg);
}

static void test_limits(void)
{
        struct cgroup *cg = NULL;
        struct cgroup_stats stats;
        struct isola_err err = {0};
        int st;

        struct spec_resources pids = {.has_pids_limit = true, .pids_limit = 5};
        st = run_limited("pids", &pids, fork_loop, &cg);
        if (st >= 0) {
                tap_ok(WIFEXITED(st) && WEXITSTATUS(st) < 5 && WEXITSTATUS(st) > 0,
                       "pids.max 5 stops a fork loop (%d of 20 forks succeeded)",
                       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
                tap_ok(cgroup_stats(cg, &stats, &err) == 0 && stats.pids_limit == 5 &&
                           stats.pids_current >= 1,
                       "stats: pids %llu/%llu", (unsigned long long)stats.pids_current,
                       (unsigned long long)stats.pids_limit);
                finish(cg, "pids");
        }

        struct spec_resources storm = {.has_pids_limit = true, .pids_limit = 40};
        st = run_limited("storm", &storm, start_storm, &cg);
        if (st >= 0) {
                usleep(50 * 1000);
                pid_t *list = NULL;
                size_t n = 0;
                cgroup_pids(cg, &list, &n, &err);
                free(list);
                double t0 = now_ms();
                char *paths[64];
                size_t np = collect_paths(cg, paths, ARRAY_SIZE(paths));
                CHECK(cgroup_destroy(cg, true, &err) == 0 && all_gone(paths, np),
                      "forced destroy of %zu forking processes leaves nothing (%.2f ms)", n,
                      now_ms() - t0);
                free_paths(paths, np);
                cgroup_free(cg);
        }

        struct spec_resources mem = {.has_memory_limit = true, .memory_limit = 16 << 20};
        st = run_limited("oom", &mem, hog_memory, &cg);
        if (st >= 0) {
                tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                       "memory limit 16 MiB: 64 MiB hog OOM-killed");
                tap_ok(cgroup_stats(cg, &stats, &err) == 0 && stats.oom_kills >= 1 &&
                           stats.memory_peak > 0,
                       "stats: oom_kill %llu, peak %llu", (unsigned long long)stats.oom_kills,
                       (unsigned long long)stats.memory_peak);
                finish(cg, "oom");
        }

        struct spec_device_rule rules[] = {
            {.allow = false, .type = 'a', .major = -1, .minor = -1, .access = "rwm"},
            {.allow = true, .type = 'c', .major = 1, .minor = 5, .access = "r"},
            {.allow = true, .type = 'c', .major = 1, .minor = 3, .access = "rwm"},
            {.allow = false, .type = 'c', .major = 1, .minor = 3, .access = "w"},
        };
        struct spec_resources dev = {.device_rules = rules, .n_device_rules = 4};
        st = run_limited("dev1", &dev, open_null, &cg);
        if (st >= 0) {
                tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 1,
                       "device rules: later deny 'w' on /dev/null gives EPERM (status %d)", st);
                finish(cg, "dev1");
        }
        st = run_limited("dev2", &dev, open_zero, &cg);
        if (st >= 0) {
                tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "device rules: /dev/zero readable");
                finish(cg, "dev2");
        }
}

/* The v2 BPF device filter, attached to the container's cgroup2 directory
 * (on a hybrid host that is the unified hierarchy, where it is enforced too). */
static struct spec_device_rule bpf_rules[] = {
    {.allow = false, .type = 'a', .major = -1, .minor = -1, .access = "rwm"},
    {.allow = true, .type = 'c', .major = 1, .minor = -1, .access = "rwm"},
    {.allow = false, .type = 'c', .major = 1, .minor = 3, .access = "w"},
};

static int bpf_null_in_child(struct cgroup_hier *u)
{
        struct isola_err err = {0};
        struct cgroup tmp = {.mode = CGROUP_V2, .hiers = u, .n_hiers = 1};
        int go[2];

        if (pipe2(go, O_CLOEXEC) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                char c;
                close(go[1]);
                if (read(go[0], &c, 1) != 1)
                        _exit(100);
                int r = open_null();
                _exit(r == 1 && open_zero() == 0 ? 1 : 10 + r);
        }
        close(go[0]);
        cgroup_add_pid(&tmp, pid, &err);
        if (write(go[1], "g", 1) != 1)
                kill(pid, SIGKILL);
        close(go[1]);
        return wait_status(pid);
}

static void test_bpf_devices(void)
{
        struct isola_err err = {0};
        struct cgroup *cg = NULL;
        char path[128];

        snprintf(path, sizeof(path), "%s/bpf", parent_name);
        if (cgroup_create(path, "bpf", &cg, &err) < 0) {
                CHECK(0, "bpf: create");
                return;
        }
        struct cgroup_hier *u = cgroup_find(cg, NULL);
        if (!u) {
                tap_skip("no cgroup2 hierarchy for the BPF device filter");
                finish(cg, "bpf");
                return;
        }
        int r = cgroup_devices_v2_apply(u->path, bpf_rules, ARRAY_SIZE(bpf_rules), &err);
        CHECK(r == 0, "BPF device program loaded and attached");
        int st = bpf_null_in_child(u);
        tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 1,
               "BPF filter: /dev/null write denied, /dev/zero allowed (status %d)", st);
        /* Re-applying (update) replaces the program instead of stacking. */
        bpf_rules[2].allow = true;
        r = cgroup_devices_v2_apply(u->path, bpf_rules, ARRAY_SIZE(bpf_rules), &err);
        st = bpf_null_in_child(u);
        tap_ok(r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 10,
               "re-applied rules replace the old program (status %d)", st);
        finish(cg, "bpf");
}

/* The fast placement recipe: clone3 into the cgroup2 directory, then the
 * child joins the v1 hierarchies itself; the parent's add_pid finds it placed. */
static void test_join_self(void)
{
        struct isola_err err = {0};
        struct cgroup *cg = NULL;
        char path[128];
        int go[2];

        snprintf(path, sizeof(path), "%s/join", parent_name);
        if (cgroup_create(path, "join", &cg, &err) < 0 || pipe2(go, O_CLOEXEC) < 0) {
                CHECK(0, "join: create");
                return;
        }
        int ufd = cgroup_unified_fd(cg, &err);
        err_clear(&err);
        struct clone_args args = {.exit_signal = SIGCHLD};
        if (ufd >= 0) {
                args.flags = CLONE_INTO_CGROUP;
                args.cgroup = (uint64_t)ufd;
        }
        double t0 = now_ms();
        pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
        if (pid == 0) {
                char c;
                close(go[1]);
                int r = cgroup_join_self(cg, ufd >= 0, &err);
                if (read(go[0], &c, 1) < 0)
                        _exit(3);
                _exit(r == 0 ? 0 : 1);
        }
        close(go[0]);
        double t_clone = now_ms() - t0;
        /* Wait until the child has placed itself everywhere. */
        pid_t *list = NULL;
        size_t n = 0;
        for (int i = 0; i < 2000 && n == 0; i++) {
                free(list);
                cgroup_pids(cg, &list, &n, &err);
                if (n == 0)
                        usleep(500);
        }
        free(list);
        double t1 = now_ms();
        CHECK(cgroup_add_pid(cg, pid, &err) == 0, "add_pid after join_self");
        double t_add = now_ms() - t1;
        close(go[1]);
        int st = wait_status(pid);
        tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child joined its cgroup itself");
        tap_ok(t_add < 5, "add_pid of an already placed pid is cheap (%.3f ms)", t_add);
        printf("# clone3%s %.3f ms, add_pid after join %.3f ms\n",
               ufd >= 0 ? "(CLONE_INTO_CGROUP)" : "", t_clone, t_add);
        if (ufd >= 0)
                close(ufd);
        finish(cg, "join");
}

/* Pure cgroup v2 mode, in a private mount namespace where /sys/fs/cgroup is a
 * cgroup2 mount (this host's unified hierarchy, which only offers hugetlb): the
 * v2 paths for create (subtree_control), CLONE_INTO_CGROUP, cgroup.freeze,
 * cgroup.kill, the BPF device filter via cgroup_apply and destroy. Runs in a
 * child; TAP numbering continues there and the counts come back by pipe. */
static void v2_mode_checks(void)
{
        struct isola_err err = {0};
        struct cgroup *cg = NULL;
        enum cgroup_mode mode;
        char path[128];

        CHECK(cgroup_detect_mode(&mode, &err) == 0 && mode == CGROUP_V2, "v2: mode detected");
        snprintf(path, sizeof(path), "%s-v2/c", parent_name);
        CHECK(cgroup_create(path, "c", &cg, &err) == 0 && cg->mode == CGROUP_V2 && cg->n_hiers == 1,
              "v2: create");
        if (!cg)
                return;
        char *saved = cgroup_to_string(cg);
        printf("#   state: %s\n", saved);
        free(saved);
        char *parent = strdup(cg->hiers[0].path);
        *strrchr(parent, '/') = '\0';
        CHECK(strstr(read_knob(parent, "cgroup.subtree_control"), "hugetlb") != NULL,
              "v2: controllers enabled in the created parent");
        struct spec_resources res = {.device_rules = bpf_rules,
                                     .n_device_rules = ARRAY_SIZE(bpf_rules)};
        bpf_rules[2].allow = false;
        CHECK(cgroup_apply(cg, &res, &err) == 0, "v2: apply device rules");

        int fd = cgroup_enter_fd(cg, &err);
        CHECK(fd >= 0, "v2: enter fd");
        struct clone_args args = {
            .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)fd};
        pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
        if (pid == 0) {
                int r = open_null();
                _exit(r == 1 && open_zero() == 0 ? (pause(), 0) : 10 + r);
        }
        close(fd);
        pid_t *list = NULL;
        size_t n = 0;
        int r = cgroup_pids(cg, &list, &n, &err);
        CHECK(r == 0 && n == 1 && list[0] == pid, "v2: clone3 child listed");
        free(list);
        CHECK(cgroup_freeze(cg, true, &err) == 0 && cgroup_is_frozen(cg), "v2: frozen");
        CHECK(cgroup_freeze(cg, false, &err) == 0 && !cgroup_is_frozen(cg), "v2: thawed");
        struct cgroup_stats st;
        r = cgroup_stats(cg, &st, &err);
        CHECK(r == 0, "v2: stats");
        CHECK(cgroup_destroy(cg, true, &err) == 0, "v2: forced destroy (cgroup.kill)");
        int status = wait_status(pid);
        tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
               "v2: BPF filter allowed only what the rules allow, then cgroup.kill (status %d)",
               status);
        tap_ok(!exists(cg->hiers[0].path) && !exists(parent), "v2: nothing left");
        free(parent);
        cgroup_free(cg);
}

static void test_v2_mode(void)
{
        int p[2];
        int counts[2] = {0, 0};

        /* Creating in v2 mode enables controllers down from the hierarchy root;
         * the host's root is put back as it was. */
        char before[256];
        snprintf(before, sizeof(before), "%s",
                 read_knob("/sys/fs/cgroup/unified", "cgroup.subtree_control"));
        if (pipe(p) < 0)
                return;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
                close(p[0]);
                if (syscall(SYS_unshare, CLONE_NEWNS) < 0 ||
                    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL) < 0) {
                        tap_skip("v2 mode: cannot mount cgroup2 on /sys/fs/cgroup in a mount ns");
                } else {
                        v2_mode_checks();
                }
                fflush(stdout);
                counts[0] = tap_n;
                counts[1] = tap_failed;
                if (write(p[1], counts, sizeof(counts)) != sizeof(counts))
                        _exit(1);
                _exit(0);
        }
        close(p[1]);
        if (read(p[0], counts, sizeof(counts)) == sizeof(counts)) {
                tap_n = counts[0];
                tap_failed = counts[1];
        } else {
                tap_ok(0, "v2 mode child reported back");
        }
        close(p[0]);
        wait_status(pid);
        const char *after = read_knob("/sys/fs/cgroup/unified", "cgroup.subtree_control");
        if (!before[0] && after[0] && after[0] != '<') {
                char undo[300] = "";
                for (char *c = strtok((char *)after, " "); c; c = strtok(NULL, " "))
                        snprintf(undo + strlen(undo), sizeof(undo) - strlen(undo), "%s-%s",
                                 undo[0] ? " " : "", c);
                struct isola_err err;
                cgroup_write("/sys/fs/cgroup/unified", "cgroup.subtree_control", undo, &err);
        }
}

static void test_bad_create(void)
{
        struct isola_err err = {0};
        struct cgroup *cg = NULL;
        char path[512], leftover[256];

        /* The leaf cannot be made (a control file has its name) after its
         * parent was: the parent must be removed again in every hierarchy. */
        snprintf(path, sizeof(path), "%s/cgroup.procs", parent_name);
        CHECK(cgroup_create(path, "x", &cg, &err) < 0 && strstr(err.msg, "not a cgroup directory"),
              "a leaf named like a control file is refused");
        if (cg)
                cgroup_destroy(cg, true, &err), cgroup_free(cg), cg = NULL;
        snprintf(leftover, sizeof(leftover), "/sys/fs/cgroup/*%s", parent_name);
        glob_t g;
        int gr = glob(leftover, 0, NULL, &g);
        tap_ok(gr == GLOB_NOMATCH, "failed create left no parent behind ('%s')", leftover);
        if (gr == 0)
                globfree(&g);

        CHECK(cgroup_create("/isola-test/../../../etc", "x", &cg, &err) < 0 &&
                  strstr(err.msg, "linux.cgroupsPath"),
              "escaping cgroupsPath rejected");
}

/* "MAJ:MIN" of a real block device, preferring one that is not a loop
 * device, and its /sys/block directory; false if the host has none. */
static bool find_block_device(char *out, size_t size, char *sysdir, size_t dsize)
{
        glob_t g;
        bool found = false;

        if (glob("/sys/block/*/dev", 0, NULL, &g) != 0)
                return false;
        for (int pass = 0; pass < 2 && !found; pass++) {
                for (size_t i = 0; i < g.gl_pathc && !found; i++) {
                        FILE *f;

                        if (pass == 0 && strstr(g.gl_pathv[i], "/block/loop"))
                                continue;
                        f = fopen(g.gl_pathv[i], "re");
                        found = f && fgets(out, (int)size, f) && strchr(out, ':');
                        if (f)
                                fclose(f);
                        if (found)
                                snprintf(sysdir, dsize, "%.*s", (int)(strlen(g.gl_pathv[i]) - 4),
                                         g.gl_pathv[i]);
                }
        }
        globfree(&g);
        if (found)
                out[strcspn(out, "\n")] = '\0';
        return found;
}

/* blockIO on a real v1 blkio cgroup: each throttle list lands in its file as
 * "MAJ:MIN RATE", rate 0 removes the entry, an unknown device is refused
 * naming the entry, and weightDevice goes to whichever weight file the I/O
 * scheduler offers (or is refused by name). */
static void test_blkio_v1(void)
{
        struct isola_err err = {0};
        struct cgroup *cg = NULL;
        struct cgroup_hier *h;
        char dev[32], sysdir[256], path[128], want[64];
        int64_t maj, min;

        if (!find_block_device(dev, sizeof(dev), sysdir, sizeof(sysdir)) ||
            sscanf(dev, "%" SCNd64 ":%" SCNd64, &maj, &min) != 2) {
                tap_skip("no block device in /sys/block: blkio throttles not tested");
                return;
        }
        snprintf(path, sizeof(path), "%s/blkio", parent_name);
        if (cgroup_create(path, "blkio", &cg, &err) < 0) {
                CHECK(0, "blkio: create");
                return;
        }
        h = cgroup_find(cg, "blkio");
        if (!h || cg->mode == CGROUP_V2 ||
            !cgroup_file_exists(h->path, "blkio.throttle.read_bps_device")) {
                tap_skip("no v1 blkio hierarchy with throttling: blkio throttles not tested");
                finish(cg, "blkio");
                return;
        }
        struct spec_blkio_throttle rbps[] = {{maj, min, 1048576}}, wbps[] = {{maj, min, 2097152}},
                                   riops[] = {{maj, min, 100}}, wiops[] = {{maj, min, 50}};
        struct spec_resources res = {
            .blkio_throttle = {rbps, wbps, riops, wiops},
            .n_blkio_throttle = {1, 1, 1, 1},
        };
        CHECK(cgroup_apply(cg, &res, &err) == 0, "blkio: apply four throttles on %s", dev);
        snprintf(want, sizeof(want), "%s 1048576", dev);
        TAP_EQ_STR(read_knob(h->path, "blkio.throttle.read_bps_device"), want,
                   "blkio.throttle.read_bps_device");
        snprintf(want, sizeof(want), "%s 2097152", dev);
        TAP_EQ_STR(read_knob(h->path, "blkio.throttle.write_bps_device"), want,
                   "blkio.throttle.write_bps_device");
        snprintf(want, sizeof(want), "%s 100", dev);
        TAP_EQ_STR(read_knob(h->path, "blkio.throttle.read_iops_device"), want,
                   "blkio.throttle.read_iops_device");
        snprintf(want, sizeof(want), "%s 50", dev);
        TAP_EQ_STR(read_knob(h->path, "blkio.throttle.write_iops_device"), want,
                   "blkio.throttle.write_iops_device");

        rbps[0].rate = 0;
        res = (struct spec_resources){.blkio_throttle = {rbps}, .n_blkio_throttle = {1}};
        CHECK(cgroup_apply(cg, &res, &err) == 0, "blkio: rate 0 accepted");
        TAP_EQ_STR(read_knob(h->path, "blkio.throttle.read_bps_device"), "",
                   "rate 0 removes the read_bps entry");

        struct spec_blkio_throttle bogus[] = {{4095, 1048575, 1}};
        res = (struct spec_resources){.blkio_throttle = {[SPEC_THROTTLE_WRITE_IOPS] = bogus},
                                      .n_blkio_throttle = {[SPEC_THROTTLE_WRITE_IOPS] = 1}};
        CHECK(cgroup_apply(cg, &res, &err) < 0 &&
                  strstr(err.msg, "linux.resources.blockIO.throttleWriteIOPSDevice[0]") &&
                  strstr(err.msg, "4095:1048575"),
              "a throttle on a missing device is refused naming the entry");

        struct spec_blkio_weight_device wd[] = {
            {.major = maj, .minor = min, .has_weight = true, .weight = 500}};
        const char *wfile =
            cgroup_file_exists(h->path, "blkio.weight_device")       ? "blkio.weight_device"
            : cgroup_file_exists(h->path, "blkio.bfq.weight_device") ? "blkio.bfq.weight_device"
                                                                     : NULL;
        res = (struct spec_resources){.blkio_weight_devices = wd, .n_blkio_weight_devices = 1};
        /* BFQ's file exists once the scheduler is loaded, but takes entries
         * only for devices that BFQ schedules. */
        bool bfq_device = strstr(read_knob(sysdir, "queue/scheduler"), "[bfq]") != NULL;
        if (wfile && (bfq_device || !strcmp(wfile, "blkio.weight_device"))) {
                CHECK(cgroup_apply(cg, &res, &err) == 0, "blkio: weightDevice applied");
                snprintf(want, sizeof(want), "%s 500", dev);
                tap_ok(strstr(read_knob(h->path, wfile), want) != NULL, "%s has '%s'", wfile, want);
        } else {
                CHECK(cgroup_apply(cg, &res, &err) < 0 &&
                          (err.errnum == ENOTSUP || err.errnum == EOPNOTSUPP) &&
                          strstr(err.msg, "linux.resources.blockIO.weightDevice[0]"),
                      "weightDevice on %s without BFQ or CFQ is refused by name", dev);
        }
        finish(cg, "blkio");
}

int main(void)
{
        test_resolve();
        test_conversions();
        test_v2_writer();
        test_open_rejects();
        if (geteuid() != 0) {
                tap_skip("real cgroup tests need root");
                return tap_done();
        }
        snprintf(parent_name, sizeof(parent_name), "/isola-test-%d", (int)getpid());
        test_bad_create();
        test_lifecycle();
        test_shared_parent();
        test_default_path();
        test_limits();
        test_blkio_v1();
        test_bpf_devices();
        test_join_self();
        test_v2_mode();
        return tap_done();
}
