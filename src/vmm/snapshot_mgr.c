/* Snapshots of managed VMs: create through the VM's control socket, list,
 * remove, restore and revert (vmm/snapshot_mgr.h). The CLI and `isola
 * serve` both call these. */
#include "vmm/snapshot_mgr.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/ctl.h"
#include "vmm/mgr.h"
#include "vmm/snapshot.h"

bool vm_snap_name_ok(const char *s)
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

/* The VM's data directory <root>/vms/<id12>. */
static int data_dir(struct vm_mgr *m, const char *ref, char *out, size_t len, struct isola_err *err)
{
        if (vm_mgr_path(m, ref, "log", out, len, err) < 0)
                return -1;
        char *slash = strrchr(out, '/');
        if (!slash || out[0] != '/')
                return err_set(err, EINVAL, "VM '%s': unexpected data path '%s'", ref, out);
        *slash = 0;
        return 0;
}

/* <root>/vms/<id12>/snapshots of VM ref; made when missing (a VM never
 * started has no data directory yet either). */
static int snaps_dir(struct vm_mgr *m, const char *ref, char *out, size_t len,
                     struct isola_err *err)
{
        char dir[PATH_MAX];

        if (data_dir(m, ref, dir, sizeof(dir), err) < 0)
                return -1;
        if (snprintf(out, len, "%s/snapshots", dir) >= (int)len)
                return err_set(err, ENAMETOOLONG, "VM '%s': path too long", ref);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return err_sys(err, "'%s'", dir);
        if (mkdir(out, 0700) < 0 && errno != EEXIST)
                return err_sys(err, "'%s'", out);
        return 0;
}

static int snap_path(struct vm_mgr *m, const char *ref, const char *snap, char *out, size_t len,
                     struct isola_err *err)
{
        char dir[PATH_MAX];

        if (!vm_snap_name_ok(snap))
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

/* The VMM's answer to PUT /snapshot as an error with an errno. */
static int ctl_failure(int status, const char *answer, struct isola_err *err)
{
        return ctl_fault(status == 409 ? EEXIST : status == 400 ? EINVAL : EIO, answer, err);
}

int vm_snap_create(struct vm_mgr *m, const char *ref, const char *snap, bool live,
                   json_object **out, struct isola_err *err)
{
        char path[PATH_MAX], sock[PATH_MAX], body[PATH_MAX + 32], state[32];
        char *answer = NULL;
        struct stat sb;
        int status = 0;

        *out = NULL;
        if (vm_state(m, ref, state, sizeof(state), err) < 0)
                return -1;
        if (!vm_snap_name_ok(snap))
                return snap_path(m, ref, snap, path, sizeof(path), err); /* the message */
        if (!is_running(state))
                return err_set(err, EINVAL, "VM '%s' is not running", ref);
        if (snap_path(m, ref, snap, path, sizeof(path), err) < 0)
                return -1;
        if (stat(path, &sb) == 0)
                return err_set(err, EEXIST, "VM '%s': snapshot '%s' exists", ref, snap);
        if (vm_mgr_ctl_path(m, ref, sock, sizeof(sock), err) < 0)
                return -1;
        json_object *req = json_object_new_object();
        json_object_object_add(req, "snapshot_path", json_object_new_string(path));
        if (live)
                json_object_object_add(req, "live", json_object_new_boolean(true));
        snprintf(body, sizeof(body), "%s", json_object_to_json_string(req));
        json_object_put(req);
        if (ctl_request_wait(sock, "PUT", "/snapshot", body, -1, &status, &answer, err) < 0)
                return -1;
        if (status != 200) {
                ctl_failure(status, answer, err);
                free(answer);
                return -1;
        }
        *out = json_tokener_parse(answer);
        free(answer);
        if (!json_object_is_type(*out, json_type_object)) {
                json_object_put(*out);
                *out = json_object_new_object();
        }
        json_object_object_add(*out, "name", json_object_new_string(snap));
        return 0;
}

static long long file_size(const char *dir, const char *name)
{
        char p[PATH_MAX];
        struct stat sb;
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

int vm_snap_list(struct vm_mgr *m, const char *ref, json_object **out, struct isola_err *err)
{
        char dir[PATH_MAX], p[PATH_MAX];
        struct dirent **ents = NULL;

        *out = NULL;
        if (snaps_dir(m, ref, dir, sizeof(dir), err) < 0)
                return -1;
        int n = scandir(dir, &ents, NULL, alphasort);
        if (n < 0)
                return err_sys(err, "'%s'", dir);
        *out = json_object_new_array();
        for (int i = 0; i < n; i++) {
                const char *name = ents[i]->d_name;
                struct stat sb;
                clean_stale(dir, name);
                snprintf(p, sizeof(p), "%s/%s/state", dir, name);
                if (name[0] != '.' && !strstr(name, ".tmp-") && stat(p, &sb) == 0) {
                        snprintf(p, sizeof(p), "%s/%s", dir, name);
                        struct json_object *o = json_object_new_object();
                        json_object_object_add(o, "name", json_object_new_string(name));
                        json_object_object_add(o, "created", json_object_new_int64(sb.st_mtime));
                        json_object_object_add(o, "memory_bytes",
                                               json_object_new_int64(file_size(p, "memory")));
                        json_object_object_add(o, "path", json_object_new_string(p));
                        json_object_array_add(*out, o);
                }
                free(ents[i]);
        }
        free(ents);
        return 0;
}

int vm_snap_rm(struct vm_mgr *m, const char *ref, const char *snap, struct isola_err *err)
{
        char path[PATH_MAX];
        struct stat sb;

        if (snap_path(m, ref, snap, path, sizeof(path), err) < 0)
                return -1;
        if (stat(path, &sb) < 0)
                return err_sys(err, "VM '%s': no snapshot '%s'", ref, snap);
        if (vm_snap_release(m, ref, path, snap, err) < 0)
                return err_prefix(err, "snapshot '%s'", snap);
        return remove_snapshot(path, err);
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
        if (rc == 0 && clone) /* its disk files go with it */
                rc = vm_snap_own_disks(m, clone, &cfg, err);
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

int vm_snap_restore(struct vm_mgr *m, const char *ref, const char *snap, const char *clone,
                    bool revert, struct isola_err *err)
{
        char path[PATH_MAX], state[32];
        struct stat sb;

        if (vm_state(m, ref, state, sizeof(state), err) < 0 ||
            snap_path(m, ref, snap, path, sizeof(path), err) < 0)
                return -1;
        if (stat(path, &sb) < 0)
                return err_sys(err, "VM '%s': no snapshot '%s'", ref, snap);
        if (clone && !vm_snap_name_ok(clone))
                return err_set(err, EINVAL, "bad VM name '%s'", clone);
        if (!clone && !revert && is_running(state))
                return err_set(err, EBUSY,
                               "VM '%s' is running: use `isola vm revert`, or `--name NEW` "
                               "for a second VM",
                               ref);
        if (revert && kill_and_wait(m, ref, err) < 0)
                return -1;
        return restore_into(m, ref, path, clone, err);
}
