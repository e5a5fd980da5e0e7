/* Container cgroup manager: creates the container's directory in every
 * hierarchy (remembering which levels it made), serialises that for the state
 * dir, moves processes in, freezes, lists, kills and finally removes exactly
 * what it created. Resource files are written by cgroup_v1.c / cgroup_v2.c. */
#include "ctr/cgroup_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

/* Bounds for waiting on the kernel (freezer state, exiting tasks). */
#define WAIT_TOTAL_NS (5LL * 1000 * 1000 * 1000)

int cgroup_write(const char *dir, const char *file, const char *value, struct isola_err *err)
{
        char path[PATH_MAX];
        _cleanup_close_ int fd = -1;
        size_t len = strlen(value);

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return err_sys(err, "cgroup: write '%s' = '%s'", path, value);
        /* A cgroup knob takes the whole value in one write(). */
        ssize_t w = write(fd, value, len);
        if (w < 0)
                return err_sys(err, "cgroup: write '%s' = '%s'", path, value);
        if ((size_t)w != len)
                return err_set(err, EIO, "cgroup: write '%s' = '%s': short write", path, value);
        return 0;
}

int cgroup_read(const char *dir, const char *file, char *buf, size_t size, struct isola_err *err)
{
        char path[PATH_MAX];
        _cleanup_close_ int fd = -1;
        ssize_t n;

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return err_sys(err, "cgroup: open '%s'", path);
        n = read(fd, buf, size - 1);
        if (n < 0)
                return err_sys(err, "cgroup: read '%s'", path);
        buf[n] = '\0';
        if (n > 0 && buf[n - 1] == '\n')
                buf[n - 1] = '\0';
        return 0;
}

bool cgroup_file_exists(const char *dir, const char *file)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        return access(path, F_OK) == 0;
}

struct cgroup_hier *cgroup_find(struct cgroup *cg, const char *ctl)
{
        for (size_t i = 0; i < cg->n_hiers; i++) {
                struct cgroup_hier *h = &cg->hiers[i];
                if (!ctl) {
                        if (h->unified)
                                return h;
                        continue;
                }
                if (h->unified)
                        continue;
                size_t len = strlen(ctl);
                for (const char *p = h->controllers; *p;) {
                        size_t l = strcspn(p, ",");
                        if (l == len && !memcmp(p, ctl, len))
                                return h;
                        p += l + (p[l] == ',');
                }
        }
        return NULL;
}

void cgroup_free(struct cgroup *cg)
{
        if (!cg)
                return;
        for (size_t i = 0; i < cg->n_hiers; i++) {
                free(cg->hiers[i].controllers);
                free(cg->hiers[i].path);
        }
        free(cg->hiers);
        free(cg);
}

static void sleep_ns(long ns)
{
        struct timespec ts = {.tv_sec = 0, .tv_nsec = ns};
        nanosleep(&ts, NULL);
}

/* Backoff for polling the kernel: 50us doubling to 10ms; false once the
 * WAIT_TOTAL_NS budget is spent. */
static bool backoff(long long *spent, long *step)
{
        if (*spent >= WAIT_TOTAL_NS)
                return false;
        sleep_ns(*step);
        *spent += *step;
        if (*step < 10 * 1000 * 1000)
                *step *= 2;
        return true;
}

static int remove_hier(const struct cgroup_hier *h, struct isola_err *err);

/* ---- creation ---------------------------------------------------------- */

/* A new v1 cpuset starts with empty cpus/mems and refuses tasks until they are
 * set, so new levels inherit their parent's. */
static int cpuset_copy_parent(const char *parent, const char *dir, struct isola_err *err)
{
        static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
        char val[4096];

        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                if (cgroup_read(parent, files[i], val, sizeof(val), err) < 0)
                        return -1;
                if (val[0] && cgroup_write(dir, files[i], val, err) < 0)
                        return -1;
        }
        return 0;
}

/* v2: children only get the controllers their parent lists in
 * cgroup.subtree_control; enables every available one that is missing. */
static int enable_subtree(const char *dir, struct isola_err *err)
{
        char avail[512], enabled[512], want[600] = "";

        if (cgroup_read(dir, "cgroup.controllers", avail, sizeof(avail), err) < 0 ||
            cgroup_read(dir, "cgroup.subtree_control", enabled, sizeof(enabled), err) < 0)
                return -1;
        char *save = NULL;
        for (char *c = strtok_r(avail, " ", &save); c; c = strtok_r(NULL, " ", &save)) {
                bool on = false;
                size_t cl = strlen(c);
                for (const char *p = enabled; *p;) {
                        size_t l = strcspn(p, " ");
                        on |= l == cl && !memcmp(p, c, cl);
                        p += l + (p[l] == ' ');
                }
                if (!on)
                        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s+%s",
                                 want[0] ? " " : "", c);
        }
        return want[0] ? cgroup_write(dir, "cgroup.subtree_control", want, err) : 0;
}

/* Makes base + rel one level at a time; h->n_created counts the trailing
 * levels that did not exist before. On failure h->path is the deepest level
 * reached, so the caller can undo. */
static int create_in_once(enum cgroup_mode mode, const struct cgroup_mount *m, const char *rel,
                          bool absolute, struct cgroup_hier *h, struct isola_err *err)
{
        char path[PATH_MAX], parent[PATH_MAX];
        bool cpuset = !m->unified && strstr(m->controllers, "cpuset") != NULL;
        int n;

        h->unified = m->unified;
        if (!(h->controllers = strdup(m->controllers)))
                return err_set(err, ENOMEM, "out of memory");
        n = snprintf(path, sizeof(path), "%s%s", m->mount_point,
                     absolute || !strcmp(m->own, "/") ? "" : m->own);
        if (n < 0 || (size_t)n + strlen(rel) >= sizeof(path))
                return err_set(err, ENAMETOOLONG, "cgroup: path too long below '%s'",
                               m->mount_point);
        for (const char *p = rel + 1;; p += strcspn(p, "/") + 1) {
                size_t len = strcspn(p, "/");
                /* The runtime's own cgroup may hold processes, and v2 then
                 * refuses subtree_control (EBUSY): the container still runs,
                 * and a limit needing a missing controller fails naming its file. */
                if (mode == CGROUP_V2 && enable_subtree(path, err) < 0) {
                        if (p != rel + 1 || errno != EBUSY)
                                goto fail;
                        err_clear(err);
                }
                char *end = path + strlen(path);
                memcpy(parent, path, (size_t)(end - path) + 1);
                end[0] = '/';
                memcpy(end + 1, p, len);
                end[1 + len] = '\0';
                if (mkdir(path, 0755) == 0) {
                        h->n_created++;
                        if (cpuset && cpuset_copy_parent(parent, path, err) < 0)
                                goto fail;
                } else if (errno == EEXIST) {
                        struct stat st;
                        /* e.g. a component named like a control file ("tasks") */
                        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
                                err_set(err, ENOTDIR,
                                        "cgroup: '%s' exists and is not a "
                                        "cgroup directory",
                                        path);
                                *end = '\0';
                                goto fail;
                        }
                        h->n_created = 0;
                } else {
                        err_sys(err, "cgroup: mkdir '%s'", path);
                        *end = '\0';
                        goto fail;
                }
                if (!p[len])
                        break;
        }
        if (!(h->path = strdup(path)))
                return err_set(err, ENOMEM, "out of memory");
        return 0;
fail:
        h->path = strdup(path);
        return -1;
}

/* A shared parent (the default "isola") that existed when we looked can be
 * removed by the delete of the container that created it before our mkdir
 * below it: that mkdir fails with ENOENT, and nothing of ours exists yet
 * (n_created is 0), so starting again is safe. */
static int create_in(enum cgroup_mode mode, const struct cgroup_mount *m, const char *rel,
                     bool absolute, struct cgroup_hier *h, struct isola_err *err)
{
        for (int attempt = 0;; attempt++) {
                if (create_in_once(mode, m, rel, absolute, h, err) == 0)
                        return 0;
                if (err->errnum != ENOENT || h->n_created != 0 || attempt == 3)
                        return -1;
                free(h->controllers);
                free(h->path);
                h->controllers = NULL;
                h->path = NULL;
                err_clear(err);
        }
}

int cgroup_create(const char *cgroups_path, const char *id, struct cgroup **cg_out,
                  struct isola_err *err)
{
        struct cgroup_mount *m = NULL;
        size_t n = 0;
        char rel[PATH_MAX];
        bool absolute;
        enum cgroup_mode mode;
        struct cgroup *cg;

        if (cgroup_resolve_path(cgroups_path, id, rel, sizeof(rel), &absolute, err) < 0)
                return -1;
        if (!(cg = calloc(1, sizeof(*cg))))
                return err_set(err, ENOMEM, "out of memory");
        if (cgroup_detect_mode(&mode, err) < 0 || cgroup_scan_mounts(mode, &m, &n, err) < 0)
                goto fail;
        cg->mode = mode;
        if (!(cg->hiers = calloc(n, sizeof(*cg->hiers)))) {
                err_set(err, ENOMEM, "out of memory");
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                cg->n_hiers++;
                if (create_in(cg->mode, &m[i], rel, absolute, &cg->hiers[i], err) < 0)
                        goto undo;
        }
        cgroup_mounts_free(m, n);
        *cg_out = cg;
        return 0;
undo:
        /* Leave nothing behind: remove what was made in the hierarchies so far. */
        for (size_t i = 0; i < cg->n_hiers; i++) {
                struct isola_err ignored;
                remove_hier(&cg->hiers[i], &ignored);
        }
fail:
        cgroup_mounts_free(m, n);
        cgroup_free(cg);
        return -1;
}

/* ---- membership -------------------------------------------------------- */

static bool pid_listed(const char *dir, pid_t pid)
{
        char path[PATH_MAX];
        _cleanup_fclose_ FILE *f = NULL;
        long v;

        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        if (!(f = fopen(path, "re")))
                return false;
        while (fscanf(f, "%ld", &v) == 1)
                if (v == pid)
                        return true;
        return false;
}

int cgroup_add_pid(struct cgroup *cg, pid_t pid, struct isola_err *err)
{
        char val[32];

        snprintf(val, sizeof(val), "%d", (int)pid);
        for (size_t i = 0; i < cg->n_hiers; i++)
                if (!pid_listed(cg->hiers[i].path, pid) &&
                    cgroup_write(cg->hiers[i].path, "cgroup.procs", val, err) < 0)
                        return -1;
        return 0;
}

int cgroup_join_self(struct cgroup *cg, bool skip_unified, struct isola_err *err)
{
        for (size_t i = 0; i < cg->n_hiers; i++) {
                const struct cgroup_hier *h = &cg->hiers[i];
                if (h->unified && skip_unified)
                        continue;
                if (cgroup_write(h->path, h->unified ? "cgroup.procs" : "tasks", "0", err) < 0)
                        return -1;
        }
        return 0;
}

static int open_dir(const char *path, struct isola_err *err)
{
        int fd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        return fd < 0 ? err_sys(err, "cgroup: open '%s'", path) : fd;
}

int cgroup_enter_fd(struct cgroup *cg, struct isola_err *err)
{
        struct cgroup_hier *h = cgroup_find(cg, NULL);

        if (cg->mode != CGROUP_V2 || !h)
                return err_set(err, EOPNOTSUPP,
                               "cgroup: CLONE_INTO_CGROUP needs cgroup v2 "
                               "only (host is %s)",
                               cgroup_mode_name(cg->mode));
        return open_dir(h->path, err);
}

int cgroup_unified_fd(struct cgroup *cg, struct isola_err *err)
{
        struct cgroup_hier *h = cgroup_find(cg, NULL);

        if (!h)
                return err_set(err, ENOENT, "cgroup: no cgroup2 hierarchy (host is %s)",
                               cgroup_mode_name(cg->mode));
        return open_dir(h->path, err);
}

/* The hierarchy whose membership we report: the freezer one (kill_all freezes
 * it), else pids/memory, else the unified one, else any. */
static struct cgroup_hier *member_hier(struct cgroup *cg)
{
        static const char *const pref[] = {"freezer", "pids", "memory"};
        struct cgroup_hier *h;

        for (size_t i = 0; i < ARRAY_SIZE(pref); i++)
                if ((h = cgroup_find(cg, pref[i])))
                        return h;
        if ((h = cgroup_find(cg, NULL)))
                return h;
        return cg->n_hiers ? &cg->hiers[0] : NULL;
}

struct pid_list {
        pid_t *v;
        size_t n, cap;
};

static int collect_procs(const char *dir, struct pid_list *l, int depth, struct isola_err *err)
{
        char path[PATH_MAX];
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        long v;

        if (depth > CGROUP_MAX_NESTING)
                return err_set(err, ELOOP, "cgroup: '%s' nested too deeply", dir);
        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        if (!(f = fopen(path, "re")))
                return errno == ENOENT ? 0 : err_sys(err, "cgroup: open '%s'", path);
        while (fscanf(f, "%ld", &v) == 1) {
                if (l->n == l->cap) {
                        size_t cap = l->cap ? l->cap * 2 : 16;
                        pid_t *g = realloc(l->v, cap * sizeof(*g));
                        if (!g)
                                return err_set(err, ENOMEM, "out of memory");
                        l->v = g;
                        l->cap = cap;
                }
                l->v[l->n++] = (pid_t)v;
        }
        if (!(d = opendir(dir)))
                return errno == ENOENT ? 0 : err_sys(err, "cgroup: opendir '%s'", dir);
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                if (collect_procs(path, l, depth + 1, err) < 0)
                        return -1;
        }
        return 0;
}

static int cmp_pid(const void *a, const void *b)
{
        pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
        return (x > y) - (x < y);
}

int cgroup_pids(struct cgroup *cg, pid_t **pids_out, size_t *n_out, struct isola_err *err)
{
        struct cgroup_hier *h = member_hier(cg);
        struct pid_list l = {0};

        *pids_out = NULL;
        *n_out = 0;
        if (!h)
                return 0;
        if (collect_procs(h->path, &l, 0, err) < 0) {
                free(l.v);
                return -1;
        }
        /* v1 cgroup.procs is documented as neither sorted nor free of
         * duplicates; callers want each process once. */
        if (l.n > 1)
                qsort(l.v, l.n, sizeof(*l.v), cmp_pid);
        size_t n = 0;
        for (size_t i = 0; i < l.n; i++)
                if (n == 0 || l.v[n - 1] != l.v[i])
                        l.v[n++] = l.v[i];
        *pids_out = l.v;
        *n_out = n;
        return 0;
}

/* ---- freezer ----------------------------------------------------------- */

static bool v2_frozen(const char *dir)
{
        char buf[512];
        struct isola_err ignored;

        if (cgroup_read(dir, "cgroup.events", buf, sizeof(buf), &ignored) < 0)
                return false;
        return strstr(buf, "frozen 1") != NULL;
}

bool cgroup_is_frozen(struct cgroup *cg)
{
        struct cgroup_hier *h = cgroup_find(cg, "freezer");
        struct isola_err ignored;
        char buf[64];

        if (h)
                return cgroup_read(h->path, "freezer.state", buf, sizeof(buf), &ignored) == 0 &&
                       !strcmp(buf, "FROZEN");
        h = cgroup_find(cg, NULL);
        return h && v2_frozen(h->path);
}

/* v1 freezing can stall in FREEZING when a task is in an uninterruptible
 * sleep; re-writing FROZEN retries the tasks that were missed. */
static int freeze_v1(const char *dir, bool frozen, struct isola_err *err)
{
        const char *want = frozen ? "FROZEN" : "THAWED";
        long long spent = 0;
        long step = 50 * 1000;
        char state[64];

        do {
                if (cgroup_write(dir, "freezer.state", want, err) < 0 ||
                    cgroup_read(dir, "freezer.state", state, sizeof(state), err) < 0)
                        return -1;
                if (!strcmp(state, want))
                        return 0;
        } while (backoff(&spent, &step));
        if (frozen)
                cgroup_write(dir, "freezer.state", "THAWED", err);
        return err_set(err, ETIMEDOUT, "cgroup: '%s/freezer.state' stuck in '%s' (wanted '%s')",
                       dir, state, want);
}

static int freeze_v2(const char *dir, bool frozen, struct isola_err *err)
{
        long long spent = 0;
        long step = 50 * 1000;

        if (cgroup_write(dir, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
                return -1;
        do {
                if (v2_frozen(dir) == frozen)
                        return 0;
        } while (backoff(&spent, &step));
        return err_set(err, ETIMEDOUT, "cgroup: '%s' did not become %s", dir,
                       frozen ? "frozen" : "thawed");
}

int cgroup_freeze(struct cgroup *cg, bool frozen, struct isola_err *err)
{
        struct cgroup_hier *h = cgroup_find(cg, "freezer");

        if (h)
                return freeze_v1(h->path, frozen, err);
        h = cgroup_find(cg, NULL);
        if (h && cgroup_file_exists(h->path, "cgroup.freeze"))
                return freeze_v2(h->path, frozen, err);
        return err_set(err, ENOTSUP,
                       "cgroup: no freezer available (no v1 freezer hierarchy, "
                       "no cgroup.freeze)");
}

/* ---- signalling and removal ------------------------------------------- */

static int signal_listed(struct cgroup *cg, int sig, struct isola_err *err)
{
        pid_t *pids;
        size_t n;

        if (cgroup_pids(cg, &pids, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                if (kill(pids[i], sig) < 0 && errno != ESRCH) {
                        err_sys(err, "cgroup: kill(%d, %d)", (int)pids[i], sig);
                        free(pids);
                        return -1;
                }
        }
        free(pids);
        return 0;
}

int cgroup_kill_all(struct cgroup *cg, int sig, struct isola_err *err)
{
        struct cgroup_hier *u = cgroup_find(cg, NULL);
        bool can_freeze =
            cgroup_find(cg, "freezer") || (u && cgroup_file_exists(u->path, "cgroup.freeze"));
        bool was_frozen;
        int r;

        /* cgroup.kill is atomic against forks. On hybrid hosts the v1 freezer
         * path below is used instead: a process may sit in the v1 hierarchies
         * only, and it is faster than killing via both. */
        if (sig == SIGKILL && cg->mode == CGROUP_V2 && u &&
            cgroup_file_exists(u->path, "cgroup.kill"))
                return cgroup_write(u->path, "cgroup.kill", "1", err);
        if (!can_freeze)
                return signal_listed(cg, sig, err);
        /* Frozen, the members cannot fork between listing and signalling. */
        was_frozen = cgroup_is_frozen(cg);
        if (!was_frozen && cgroup_freeze(cg, true, err) < 0)
                return -1;
        r = signal_listed(cg, sig, err);
        /* A SIGKILLed task only dies once thawed. */
        if (!was_frozen || sig == SIGKILL) {
                struct isola_err thaw_err;
                if (cgroup_freeze(cg, false, r < 0 ? &thaw_err : err) < 0 && r == 0)
                        r = -1;
        }
        return r;
}

static int wait_empty(struct cgroup *cg, struct isola_err *err)
{
        long long spent = 0;
        long step = 50 * 1000;
        pid_t *pids;
        size_t n;

        do {
                if (cgroup_pids(cg, &pids, &n, err) < 0)
                        return -1;
                free(pids);
                if (n == 0)
                        return 0;
        } while (backoff(&spent, &step));
        return err_set(err, EBUSY, "cgroup: %zu process(es) still in '%s' after SIGKILL", n,
                       member_hier(cg)->path);
}

/* rmdir with a short retry: a cgroup stays busy for a moment after its last
 * task exits. */
static int rmdir_retry(const char *path, struct isola_err *err)
{
        long long spent = WAIT_TOTAL_NS - 1000LL * 1000 * 1000;
        long step = 50 * 1000;

        while (rmdir(path) < 0) {
                if (errno == ENOENT)
                        return 0;
                if (errno != EBUSY || !backoff(&spent, &step))
                        return err_sys(err, "cgroup: rmdir '%s'", path);
        }
        return 0;
}

/* Removes dir and the sub-cgroups the container made inside it, deepest first. */
static int remove_tree(const char *dir, int depth, struct isola_err *err)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        char path[PATH_MAX];

        if (!d)
                return errno == ENOENT ? 0 : err_sys(err, "cgroup: opendir '%s'", dir);
        if (depth > CGROUP_MAX_NESTING)
                return err_set(err, ELOOP, "cgroup: '%s' nested too deeply", dir);
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                if (remove_tree(path, depth + 1, err) < 0)
                        return -1;
        }
        return rmdir_retry(dir, err);
}

static int remove_hier(const struct cgroup_hier *h, struct isola_err *err)
{
        char path[PATH_MAX];

        if (!h->path || h->n_created == 0)
                return 0;
        if (remove_tree(h->path, 0, err) < 0)
                return -1;
        snprintf(path, sizeof(path), "%s", h->path);
        /* Created ancestors may meanwhile hold another container's cgroup: a
         * non-empty one is left alone. */
        for (unsigned i = 1; i < h->n_created; i++) {
                char *slash = strrchr(path, '/');
                if (!slash || slash == path)
                        break;
                *slash = '\0';
                if (rmdir(path) < 0 && errno != ENOENT) {
                        if (errno == EBUSY || errno == ENOTEMPTY)
                                break;
                        return err_sys(err, "cgroup: rmdir '%s'", path);
                }
        }
        return 0;
}

int cgroup_destroy(struct cgroup *cg, bool force, struct isola_err *err)
{
        pid_t *pids;
        size_t n;
        int r = 0;

        if (cgroup_pids(cg, &pids, &n, err) < 0)
                return -1;
        free(pids);
        if (n && !force)
                return err_set(err, EBUSY, "cgroup: '%s' still has %zu process(es)",
                               member_hier(cg)->path, n);
        if (n && (cgroup_kill_all(cg, SIGKILL, err) < 0 || wait_empty(cg, err) < 0))
                return -1;
        for (size_t i = 0; i < cg->n_hiers; i++) {
                struct isola_err e;
                if (remove_hier(&cg->hiers[i], r < 0 ? &e : err) < 0)
                        r = -1;
        }
        return r;
}

/* OCI (like runc) treats a zero CPU quota/period and a zero swap as "not set". */
static struct spec_resources normalised(const struct spec_resources *in)
{
        struct spec_resources r = *in;

        r.has_cpu_quota &= r.cpu_quota != 0;
        r.has_cpu_period &= r.cpu_period != 0;
        r.has_memory_swap &= r.memory_swap != 0;
        return r;
}

int cgroup_apply(struct cgroup *cg, const struct spec_resources *in, struct isola_err *err)
{
        struct cgroup_hier *u = cgroup_find(cg, NULL);

        if (!in)
                return 0;
        struct spec_resources norm = normalised(in);
        const struct spec_resources *res = &norm;
        if (cg->mode == CGROUP_V2) {
                if (!u)
                        return err_set(err, ENOENT, "cgroup: no unified hierarchy recorded");
                if (cgroup_v2_apply(u->path, res, err) < 0 ||
                    cgroup_devices_v2_apply(u->path, res->device_rules, res->n_device_rules, err) <
                        0)
                        return -1;
        } else if (cgroup_v1_apply(cg, res, err) < 0) {
                return -1;
        }
        if (res->n_unified == 0)
                return 0;
        if (!u)
                return err_set(err, ENOTSUP,
                               "linux.resources.unified: needs cgroup v2 (host "
                               "has cgroup v1 only)");
        return cgroup_v2_apply_unified(u->path, res, err);
}
