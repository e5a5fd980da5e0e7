/* Operations on an existing container: state, kill, delete, ps, list,
 * pause/resume, update, plus the shared handle helpers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctr/container_internal.h"
#include "ctr/hooks.h"
#include "util/cleanup.h"
#include "util/fs.h"

int ctr_handle_open(const struct ctr_opts *o, const char *id, int lock, struct ctr_handle *h,
                    struct isola_err *err)
{
        h->st = NULL;
        h->cg = NULL;
        h->lock = lock;
        h->dirfd = state_dir_open(o->root, id, lock, err);
        if (h->dirfd < 0)
                return -1;
        if (state_load(h->dirfd, &h->st, err) < 0) {
                /* A create that died before recording anything. */
                if (err->errnum == ENOENT)
                        err_set(err, ENOENT, "container '%s' does not exist", id);
                else
                        err_prefix(err, "container '%s'", id);
                ctr_handle_close(h);
                return -1;
        }
        if (h->st->cgroup && cgroup_open(h->st->cgroup, &h->cg, err) < 0) {
                err_prefix(err, "container '%s' cgroup", id);
                ctr_handle_close(h);
                return -1;
        }
        return 0;
}

void ctr_handle_close(struct ctr_handle *h)
{
        if (h->dirfd >= 0)
                close(h->dirfd);
        h->dirfd = -1;
        state_free(h->st);
        h->st = NULL;
        if (h->cg)
                cgroup_free(h->cg);
        h->cg = NULL;
}

/* create records "creating" once and never rewrites state.json (a write
 * per create saved); whether it is still at work shows in its flock. */
static bool create_in_progress(const struct ctr_handle *h)
{
        if (h->st->status != CTR_CREATING || h->lock)
                return false;
        if (flock(h->dirfd, LOCK_SH | LOCK_NB) == 0) {
                flock(h->dirfd, LOCK_UN);
                return false;
        }
        return errno == EWOULDBLOCK;
}

enum ctr_status ctr_handle_status(const struct ctr_handle *h)
{
        if (create_in_progress(h))
                return proc_is_same(h->st->pid, h->st->pid_start) ? CTR_CREATING : CTR_STOPPED;
        if (!proc_is_same(h->st->pid, h->st->pid_start))
                return CTR_STOPPED;
        if (h->cg && cgroup_is_frozen(h->cg))
                return CTR_PAUSED;
        if (faccessat(h->dirfd, STATE_FIFO_FILE, F_OK, 0) == 0)
                return CTR_CREATED;
        return CTR_RUNNING;
}

int ctr_handle_spec(const struct ctr_handle *h, struct spec **spec_out, struct isola_err *err)
{
        if (!h->st->config)
                return err_set(err, ENOENT, "container '%s': no saved config", h->st->id);
        if (spec_parse(h->st->config, strlen(h->st->config), spec_out, err) < 0)
                return err_prefix(err, "container '%s': saved config", h->st->id);
        return 0;
}

void ctr_wait_pid_gone(pid_t pid)
{
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        struct pollfd pf = {.fd = pidfd, .events = POLLIN};

        if (pidfd < 0)
                return;
        while (poll(&pf, 1, -1) < 0 && errno == EINTR)
                ;
        close(pidfd);
}

int ctr_write_pid_file(const char *path, pid_t pid, struct isola_err *err)
{
        char tmp[4096], buf[32];
        int n = snprintf(buf, sizeof(buf), "%d", pid);

        snprintf(tmp, sizeof(tmp), "%s.isola-tmp", path);
        /* The message names the user's path, not our temporary one. */
        if (fs_write_file(tmp, buf, (size_t)n, O_WRONLY | O_CREAT | O_TRUNC, 0644, err) < 0)
                return err_set(err, err->errnum, "--pid-file '%s': %s", path,
                               strerror(err->errnum));
        if (rename(tmp, path) < 0) {
                unlink(tmp);
                return err_sys(err, "--pid-file '%s'", path);
        }
        return 0;
}

static void run_poststop(const struct ctr_opts *o, struct ctr_handle *h)
{
        struct isola_err err = {0};
        struct spec *spec;
        char *json;

        if (!(h->st->hook_mask & (1u << HOOK_POSTSTOP)))
                return;
        if (ctr_handle_spec(h, &spec, &err) < 0) {
                ctr_log(o->log, CTR_LOG_WARN, "poststop hooks: %s", err.msg);
                return;
        }
        json = state_oci_json(h->st, CTR_STOPPED, false);
        if (json && hooks_run(spec, HOOK_POSTSTOP, json, &err) < 0)
                ctr_log(o->log, CTR_LOG_WARN, "%s", err.msg);
        free(json);
        spec_free(spec);
}

int ctr_destroy(const struct ctr_opts *o, struct ctr_handle *h, struct isola_err *err)
{
        char *id = strdup(h->st->id);
        int rc = 0;

        if (proc_is_same(h->st->pid, h->st->pid_start)) {
                if (h->cg)
                        cgroup_freeze(h->cg, false, err);
                kill(h->st->pid, SIGKILL);
                ctr_wait_pid_gone(h->st->pid);
        }
        if (h->cg && cgroup_destroy(h->cg, true, err) < 0)
                rc = err_prefix(err, "delete container '%s'", id);
        run_poststop(o, h);
        ctr_handle_close(h);
        if (rc == 0 && state_dir_remove(o->root, id, err) < 0)
                rc = -1;
        free(id);
        return rc;
}

int ctr_state(const struct ctr_opts *o, const char *id, char **json_out, struct isola_err *err)
{
        struct ctr_handle h;

        if (state_validate_id(id, err) < 0 || ctr_handle_open(o, id, 0, &h, err) < 0)
                return -1;
        *json_out = state_oci_json(h.st, ctr_handle_status(&h), true);
        ctr_handle_close(&h);
        return *json_out ? 0 : err_set(err, ENOMEM, "out of memory");
}

int ctr_kill(const struct ctr_opts *o, const char *id, int sig, bool all, struct isola_err *err)
{
        struct ctr_handle h;
        enum ctr_status status;
        int rc = 0;

        if (state_validate_id(id, err) < 0 || ctr_handle_open(o, id, 0, &h, err) < 0)
                return -1;
        status = ctr_handle_status(&h);
        if (status == CTR_STOPPED && !(all && h.cg)) {
                ctr_handle_close(&h);
                return err_set(err, ESRCH, "cannot kill container '%s': container not running", id);
        }
        if (all && h.cg)
                rc = cgroup_kill_all(h.cg, sig, err);
        else if (kill(h.st->pid, sig) < 0)
                rc = err_sys(err, "kill container '%s'", id);
        ctr_handle_close(&h);
        return rc;
}

int ctr_delete(const struct ctr_opts *o, const char *id, bool force, struct isola_err *err)
{
        struct ctr_handle h;
        enum ctr_status status;

        if (state_validate_id(id, err) < 0)
                return -1;
        h.lock = LOCK_EX;
        h.dirfd = state_dir_open(o->root, id, LOCK_EX, err);
        /* As runc: --force makes deleting what is already gone a success,
         * which podman and containerd rely on when they clean up. */
        if (h.dirfd < 0)
                return force && err->errnum == ENOENT ? 0 : -1;
        if (state_load(h.dirfd, &h.st, err) < 0) {
                /* create died before writing its state: nothing runs. */
                close(h.dirfd);
                return state_dir_remove(o->root, id, err);
        }
        h.cg = NULL;
        if (h.st->cgroup && cgroup_open(h.st->cgroup, &h.cg, err) < 0)
                ctr_log(o->log, CTR_LOG_WARN, "container '%s': %s", id, err->msg);
        status = ctr_handle_status(&h);
        if (!force && status != CTR_STOPPED && status != CTR_CREATED) {
                err_set(err, EBUSY,
                        "cannot delete container '%s' that is not stopped (status: %s); "
                        "use --force",
                        id, ctr_status_name(status));
                ctr_handle_close(&h);
                return -1;
        }
        return ctr_destroy(o, &h, err);
}

int ctr_ps(const struct ctr_opts *o, const char *id, pid_t **pids_out, size_t *n_out,
           struct isola_err *err)
{
        struct ctr_handle h;
        int rc = 0;

        *pids_out = NULL;
        *n_out = 0;
        if (state_validate_id(id, err) < 0 || ctr_handle_open(o, id, 0, &h, err) < 0)
                return -1;
        if (h.cg) {
                rc = cgroup_pids(h.cg, pids_out, n_out, err);
        } else if (ctr_handle_status(&h) != CTR_STOPPED) {
                *pids_out = malloc(sizeof(pid_t));
                if (*pids_out) {
                        **pids_out = h.st->pid;
                        *n_out = 1;
                }
        }
        ctr_handle_close(&h);
        return rc;
}

int ctr_list(const struct ctr_opts *o, struct ctr_list_entry **out, size_t *n_out,
             struct isola_err *err)
{
        _cleanup_closedir_ DIR *d = opendir(o->root);
        struct ctr_list_entry *list = NULL;
        size_t n = 0;
        struct dirent *de;

        *out = NULL;
        *n_out = 0;
        if (!d)
                return errno == ENOENT ? 0 : err_sys(err, "open state root '%s'", o->root);
        while ((de = readdir(d))) {
                struct ctr_handle h;
                struct isola_err ignore = {0};
                struct ctr_list_entry *grown;

                if (de->d_name[0] == '.' || ctr_handle_open(o, de->d_name, 0, &h, &ignore) < 0)
                        continue;
                grown = realloc(list, (n + 1) * sizeof(*list));
                if (!grown) {
                        ctr_handle_close(&h);
                        break;
                }
                list = grown;
                list[n].status = ctr_handle_status(&h);
                list[n].state = steal_ptr(&h.st);
                n++;
                ctr_handle_close(&h);
        }
        *out = list;
        *n_out = n;
        return 0;
}

void ctr_list_free(struct ctr_list_entry *l, size_t n)
{
        for (size_t i = 0; i < n; i++)
                state_free(l[i].state);
        free(l);
}

static int freeze(const struct ctr_opts *o, const char *id, bool frozen, struct isola_err *err)
{
        struct ctr_handle h;
        enum ctr_status status;
        int rc = -1;

        if (state_validate_id(id, err) < 0 || ctr_handle_open(o, id, LOCK_EX, &h, err) < 0)
                return -1;
        status = ctr_handle_status(&h);
        if (!h.cg)
                err_set(err, ENOTSUP, "container '%s' has no cgroup to freeze", id);
        else if (frozen && status != CTR_RUNNING && status != CTR_CREATED)
                err_set(err, EINVAL, "container '%s' is not running (status: %s)", id,
                        ctr_status_name(status));
        else if (!frozen && status != CTR_PAUSED)
                err_set(err, EINVAL, "container '%s' is not paused (status: %s)", id,
                        ctr_status_name(status));
        else
                rc = cgroup_freeze(h.cg, frozen, err);
        ctr_handle_close(&h);
        return rc;
}

int ctr_pause(const struct ctr_opts *o, const char *id, struct isola_err *err)
{
        return freeze(o, id, true, err);
}

int ctr_resume(const struct ctr_opts *o, const char *id, struct isola_err *err)
{
        return freeze(o, id, false, err);
}

int ctr_update(const struct ctr_opts *o, const char *id, const struct spec_resources *res,
               struct isola_err *err)
{
        struct ctr_handle h;
        int rc;

        if (state_validate_id(id, err) < 0 || ctr_handle_open(o, id, LOCK_EX, &h, err) < 0)
                return -1;
        if (!h.cg)
                rc = err_set(err, ENOTSUP, "container '%s' has no cgroup to update", id);
        else if (ctr_handle_status(&h) == CTR_STOPPED)
                rc = err_set(err, EINVAL, "container '%s' is not running", id);
        else {
                /* As runc: update never changes device access (containerd sends
                 * the spec's rules, which alone, without the defaults added at
                 * create, would cut the container off /dev/null). */
                struct spec_resources r = *res;
                r.device_rules = NULL;
                r.n_device_rules = 0;
                rc = cgroup_apply(h.cg, &r, err);
        }
        ctr_handle_close(&h);
        return rc;
}
