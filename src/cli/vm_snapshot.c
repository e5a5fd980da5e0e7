/* `isola vm snapshot create|ls|rm`, `isola vm restore` and `isola vm
 * revert` over managed VMs (vmm/mgr.h) and their control socket: snapshots
 * live in <root>/vms/<id12>/snapshots/<SNAP> (docs/snapshots.md). */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/vm_cli.h"
#include "devices/block/bdev.h"
#include "vmm/ctl.h"
#include "vmm/mgr.h"
#include "vmm/snapshot.h"

#define EXIT_USAGE 2

static int fail(const char *verb, const struct isola_err *err)
{
        fprintf(stderr, "isola vm %s: %s\n", verb, err->msg);
        return 1;
}

static int usage_error(const char *verb, const char *what)
{
        fprintf(stderr, "isola vm %s: %s (try 'isola vm --help')\n", verb, what);
        return EXIT_USAGE;
}

/* Snapshot names are one path component: letters, digits, '-', '_', '.',
 * not starting with '.', at most 64 characters. */
static bool snap_name_ok(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 64 || s[0] == '.' || strstr(s, ".tmp-"))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.'))
                        return false;
        }
        return true;
}

/* <root>/vms/<id12>/snapshots of VM ref (made when missing). */
static int snaps_dir(struct vm_mgr *m, const char *ref, char *out, size_t len,
                     struct isola_err *err)
{
        char log[PATH_MAX];

        if (vm_mgr_path(m, ref, "log", log, sizeof(log), err) < 0)
                return -1;
        char *slash = strrchr(log, '/');
        if (!slash || log[0] != '/')
                return err_set(err, EINVAL, "VM '%s': unexpected data path '%s'", ref, log);
        *slash = 0;
        if (snprintf(out, len, "%s/snapshots", log) >= (int)len)
                return err_set(err, ENAMETOOLONG, "VM '%s': path too long", ref);
        if (mkdir(out, 0700) < 0 && errno != EEXIST)
                return err_sys(err, "'%s'", out);
        return 0;
}

static int snap_path(struct vm_mgr *m, const char *ref, const char *snap, char *out, size_t len,
                     struct isola_err *err)
{
        char dir[PATH_MAX];

        if (!snap_name_ok(snap))
                return err_set(err, EINVAL,
                               "bad snapshot name '%s' (letters, digits, '-', '_', '.')", snap);
        if (snaps_dir(m, ref, dir, sizeof(dir), err) < 0)
                return -1;
        if (snprintf(out, len, "%s/%s", dir, snap) >= (int)len)
                return err_set(err, ENAMETOOLONG, "snapshot '%s': path too long", snap);
        return 0;
}

/* Removes a snapshot directory: only the files a snapshot holds. */
static int remove_snapshot(const char *dir, struct isola_err *err)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        char p[PATH_MAX];

        if (!d)
                return err_sys(err, "'%s'", dir);
        while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
                unlink(p);
        }
        closedir(d);
        if (rmdir(dir) < 0)
                return err_sys(err, "removing '%s'", dir);
        return 0;
}

/* A "<snap>.tmp-<pid>" whose writer is gone is what a crash left. */
static void clean_stale(const char *dir, const char *name)
{
        const char *t = strstr(name, ".tmp-");
        char p[PATH_MAX];
        if (!t)
                return;
        long pid = strtol(t + 5, NULL, 10);
        if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
                return;
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        (void)remove_snapshot(p, NULL);
}

static int snapshot_create(struct vm_mgr *m, int argc, char **argv)
{
        struct isola_err err = {0};
        char path[PATH_MAX], sock[PATH_MAX], body[PATH_MAX + 32];
        char *answer = NULL;
        int status = 0;

        if (argc != 3)
                return usage_error("snapshot create", "expected NAME SNAP");
        if (snap_path(m, argv[1], argv[2], path, sizeof(path), &err) < 0 ||
            vm_mgr_ctl_path(m, argv[1], sock, sizeof(sock), &err) < 0)
                return fail("snapshot create", &err);
        snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\"}", path);
        if (ctl_request(sock, "PUT", "/snapshot", body, &status, &answer, &err) < 0)
                return fail("snapshot create", &err);
        if (status != 200) {
                struct json_object *o = json_tokener_parse(answer), *msg;
                fprintf(stderr, "isola vm snapshot create: %s\n",
                        o && json_object_object_get_ex(o, "fault_message", &msg)
                            ? json_object_get_string(msg)
                            : answer);
                json_object_put(o);
                free(answer);
                return 1;
        }
        free(answer);
        printf("%s\n", argv[2]);
        return 0;
}

static long long file_size(const char *dir, const char *name)
{
        char p[PATH_MAX];
        struct stat sb;
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

static int snapshot_ls(struct vm_mgr *m, int argc, char **argv)
{
        struct isola_err err = {0};
        char dir[PATH_MAX], p[PATH_MAX], when[32];
        bool json = argc == 4 && !strcmp(argv[2], "--format") && !strcmp(argv[3], "json");

        if (argc != 2 && !json)
                return usage_error("snapshot ls", "expected NAME [--format json]");
        if (snaps_dir(m, argv[1], dir, sizeof(dir), &err) < 0)
                return fail("snapshot ls", &err);
        struct dirent **ents = NULL;
        int n = scandir(dir, &ents, NULL, alphasort);
        if (n < 0) {
                err_sys(&err, "'%s'", dir);
                return fail("snapshot ls", &err);
        }
        struct json_object *arr = json_object_new_array();
        if (!json)
                printf("%-24s %-20s %12s\n", "NAME", "CREATED", "MEMORY");
        for (int i = 0; i < n; i++) {
                const char *name = ents[i]->d_name;
                struct stat sb;
                clean_stale(dir, name);
                snprintf(p, sizeof(p), "%s/%s/state", dir, name);
                if (name[0] == '.' || strstr(name, ".tmp-") || stat(p, &sb) < 0)
                        continue;
                snprintf(p, sizeof(p), "%s/%s", dir, name);
                long long mem = file_size(p, "memory");
                struct tm tm;
                localtime_r(&sb.st_mtime, &tm);
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
                if (!json) {
                        printf("%-24s %-20s %9lld MiB\n", name, when, mem >> 20);
                        continue;
                }
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "name", json_object_new_string(name));
                json_object_object_add(o, "created", json_object_new_int64(sb.st_mtime));
                json_object_object_add(o, "memory_bytes", json_object_new_int64(mem));
                json_object_object_add(o, "path", json_object_new_string(p));
                json_object_array_add(arr, o);
        }
        for (int i = 0; i < n; i++)
                free(ents[i]);
        free(ents);
        if (json)
                printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
        json_object_put(arr);
        return 0;
}

/* Whether the chain under image `top` goes through `base` (same inode). */
static bool chain_uses(const char *top, const struct stat *base)
{
        struct bdev *bd = NULL;
        struct isola_err err = {0};
        struct stat sb;
        bool used = false;

        if (bdev_open(top, BDEV_FMT_AUTO, BDEV_RDONLY, &bd, &err) < 0)
                return false;
        for (const struct bdev *b = bd->backing; b && !used; b = b->backing)
                used = stat(b->path, &sb) == 0 && sb.st_dev == base->st_dev &&
                       sb.st_ino == base->st_ino;
        bdev_close(bd);
        return used;
}

/* A frozen qcow2 image of snapshot `dir` that the VM's disks or another
 * snapshot's images are built on cannot go (no block commit yet): names the
 * user of it in err. */
static int check_unused(struct vm_mgr *m, const char *ref, const char *dir, struct isola_err *err)
{
        struct json_object *o = NULL, *cfgj, *disks, *path;
        char base[PATH_MAX], other[PATH_MAX], sdir[PATH_MAX];
        struct stat sb;
        int rc = 0;

        if (vm_mgr_inspect(m, ref, &o, err) < 0)
                return -1;
        struct json_object *vm =
            json_object_is_type(o, json_type_array) ? json_object_array_get_idx(o, 0) : o;
        snprintf(sdir, sizeof(sdir), "%s", dir);
        char *slash = strrchr(sdir, '/');
        if (slash)
                *slash = 0;
        for (unsigned i = 0; i < SNAP_MAX_DISKS && rc == 0; i++) {
                snprintf(base, sizeof(base), "%s/disk%u.qcow2", dir, i);
                if (stat(base, &sb) < 0)
                        continue;
                if (vm && json_object_object_get_ex(vm, "config", &cfgj) &&
                    json_object_object_get_ex(cfgj, "disks", &disks)) {
                        for (size_t k = 0; k < json_object_array_length(disks); k++)
                                if (json_object_object_get_ex(json_object_array_get_idx(disks, k),
                                                              "path", &path) &&
                                    chain_uses(json_object_get_string(path), &sb))
                                        rc = err_set(err, EBUSY,
                                                     "snapshot holds the base image of the VM's "
                                                     "disk '%s' (revert to an older snapshot "
                                                     "first)",
                                                     json_object_get_string(path));
                }
                DIR *d = opendir(sdir);
                struct dirent *e;
                while (rc == 0 && d && (e = readdir(d))) {
                        snprintf(other, sizeof(other), "%s/%s/disk%u.qcow2", sdir, e->d_name, i);
                        if (e->d_name[0] != '.' && chain_uses(other, &sb))
                                rc = err_set(err, EBUSY,
                                             "snapshot holds the base image of snapshot '%s'",
                                             e->d_name);
                }
                if (d)
                        closedir(d);
        }
        json_object_put(o);
        return rc;
}

static int snapshot_rm(struct vm_mgr *m, int argc, char **argv)
{
        struct isola_err err = {0};
        char path[PATH_MAX];
        int rc = 0;

        if (argc < 3)
                return usage_error("snapshot rm", "expected NAME SNAP...");
        for (int i = 2; i < argc; i++) {
                struct stat sb;
                if (snap_path(m, argv[1], argv[i], path, sizeof(path), &err) < 0 ||
                    (stat(path, &sb) < 0 && err_sys(&err, "no snapshot '%s'", argv[i]) < 0) ||
                    (check_unused(m, argv[1], path, &err) < 0 &&
                     err_prefix(&err, "snapshot '%s'", argv[i]) < 0) ||
                    remove_snapshot(path, &err) < 0) {
                        rc = fail("snapshot rm", &err);
                        continue;
                }
                printf("%s\n", argv[i]);
        }
        return rc;
}

/* ---- restore / revert ---- */

static int vm_state(struct vm_mgr *m, const char *ref, char *out, size_t len, struct isola_err *err)
{
        struct json_object *o = NULL, *st;

        if (vm_mgr_inspect(m, ref, &o, err) < 0)
                return -1;
        struct json_object *first =
            json_object_is_type(o, json_type_array) ? json_object_array_get_idx(o, 0) : o;
        snprintf(out, len, "%s",
                 first && json_object_object_get_ex(first, "state", &st)
                     ? json_object_get_string(st)
                     : "unknown");
        json_object_put(o);
        return 0;
}

static bool is_running(const char *state)
{
        return !strcmp(state, "running") || !strcmp(state, "paused");
}

/* Kills a running VM (its state is about to be replaced) and waits until
 * the manager sees it stopped. */
static int kill_and_wait(struct vm_mgr *m, const char *ref, struct isola_err *err)
{
        char state[32];

        if (vm_state(m, ref, state, sizeof(state), err) < 0)
                return -1;
        if (!is_running(state))
                return 0;
        if (vm_mgr_kill(m, ref, SIGKILL, err) < 0)
                return -1;
        for (int i = 0; i < 200; i++) {
                if (vm_state(m, ref, state, sizeof(state), err) < 0)
                        return -1;
                if (!is_running(state))
                        return 0;
                struct timespec ts = {0, 50 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        return err_set(err, ETIMEDOUT, "VM '%s' did not stop", ref);
}

/* The snapshot's disk i goes back to where the VM reads it (revert), or
 * next to it under a new VM's name (clone): a new overlay over a frozen
 * qcow2 image (what was above it is dropped), or a copy of a raw copy. */
static int put_disks(struct machine_config *cfg, const char *snap, const char *clone,
                     struct isola_err *err)
{
        char dst[PATH_MAX];

        for (unsigned i = 0; i < cfg->n_disks; i++) {
                if (cfg->disks[i].readonly)
                        continue;
                if (clone)
                        snprintf(dst, sizeof(dst), "%s.%s", cfg->disks[i].path, clone);
                else
                        snprintf(dst, sizeof(dst), "%s", cfg->disks[i].path);
                if (snap_disk_put(snap, i, dst, err) < 0)
                        return -1;
                if (clone && machine_config_set_str(&cfg->disks[i].path, dst, err) < 0)
                        return -1;
        }
        return 0;
}

static int data_dir(struct vm_mgr *m, const char *ref, char *out, size_t len, struct isola_err *err)
{
        if (vm_mgr_path(m, ref, "log", out, len, err) < 0)
                return -1;
        char *slash = strrchr(out, '/');
        if (slash)
                *slash = 0;
        return 0;
}

static int restore_into(struct vm_mgr *m, const char *ref, const char *snap, const char *clone,
                        struct isola_err *err)
{
        struct machine_config cfg;
        char dir[PATH_MAX], id[65] = "";
        const char *target = clone ? clone : ref;

        machine_config_init(&cfg);
        int rc = snapshot_read_config(snap, &cfg, err);
        if (rc == 0)
                rc = put_disks(&cfg, snap, clone, err);
        if (rc == 0 && clone)
                rc = vm_mgr_create(m, clone, &cfg, id, err);
        if (rc == 0)
                rc = data_dir(m, target, dir, sizeof(dir), err);
        if (rc == 0)
                rc = snapshot_request_restore(dir, snap, err);
        if (rc == 0)
                rc = vm_mgr_start(m, target, err);
        if (rc < 0 && clone && id[0]) /* no half-made second VM */
                (void)vm_mgr_rm(m, clone, true, NULL);
        machine_config_free(&cfg);
        return rc;
}

/* restore NAME SNAP [--name NEW]; revert NAME SNAP */
static int restore_cmd(const char *verb, int argc, char **argv, bool revert)
{
        struct isola_err err = {0};
        struct vm_mgr *m = NULL;
        char snap[PATH_MAX], state[32];
        const char *clone = NULL;

        if (!revert && argc == 5 && !strcmp(argv[3], "--name"))
                clone = argv[4];
        else if (argc != 3)
                return usage_error(verb, revert ? "expected NAME SNAP"
                                                : "expected NAME SNAP [--name NEW]");
        if (vm_mgr_open(NULL, &m, &err) < 0)
                return fail(verb, &err);
        int rc = snap_path(m, argv[1], argv[2], snap, sizeof(snap), &err);
        struct stat sb;
        if (rc == 0 && stat(snap, &sb) < 0)
                rc = err_sys(&err, "VM '%s': no snapshot '%s'", argv[1], argv[2]);
        if (rc == 0 && !clone && !revert) {
                rc = vm_state(m, argv[1], state, sizeof(state), &err);
                if (rc == 0 && is_running(state))
                        rc = err_set(&err, EBUSY,
                                     "VM '%s' is running: use `isola vm revert`, or "
                                     "`--name NEW` for a second VM",
                                     argv[1]);
        }
        if (rc == 0 && revert)
                rc = kill_and_wait(m, argv[1], &err);
        if (rc == 0)
                rc = restore_into(m, argv[1], snap, clone, &err);
        if (rc == 0)
                printf("%s\n", clone ? clone : argv[1]);
        vm_mgr_close(m);
        return rc == 0 ? 0 : fail(verb, &err);
}

int cli_vm_restore(int argc, char **argv)
{
        return restore_cmd("restore", argc, argv, false);
}

int cli_vm_revert(int argc, char **argv)
{
        return restore_cmd("revert", argc, argv, true);
}

int cli_vm_snapshot(int argc, char **argv)
{
        struct isola_err err = {0};
        struct vm_mgr *m = NULL;
        int rc;

        if (argc < 2)
                return usage_error("snapshot", "expected create, ls or rm");
        if (vm_mgr_open(NULL, &m, &err) < 0)
                return fail("snapshot", &err);
        if (!strcmp(argv[1], "create"))
                rc = snapshot_create(m, argc - 1, argv + 1);
        else if (!strcmp(argv[1], "ls"))
                rc = snapshot_ls(m, argc - 1, argv + 1);
        else if (!strcmp(argv[1], "rm"))
                rc = snapshot_rm(m, argc - 1, argv + 1);
        else
                rc = usage_error("snapshot", "expected create, ls or rm");
        vm_mgr_close(m);
        return rc;
}

int cli_vm_snap(int argc, char **argv)
{
        if (!strcmp(argv[0], "snapshot"))
                return cli_vm_snapshot(argc, argv);
        if (!strcmp(argv[0], "restore"))
                return cli_vm_restore(argc, argv);
        if (!strcmp(argv[0], "revert"))
                return cli_vm_revert(argc, argv);
        if (!strcmp(argv[0], "migrate"))
                return cli_vm_migrate(argc, argv);
        if (!strcmp(argv[0], "receive"))
                return cli_vm_receive(argc, argv);
        return -1;
}
