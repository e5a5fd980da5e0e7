/* create / run / start: bring a bundle to a parked init, then release it.
 * Every failure after the state dir exists unwinds everything create made
 * (init, cgroup, state dir), so a failed create leaves nothing behind. */
#include "ctr/container.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctr/container_internal.h"
#include "ctr/hooks.h"
#include "ctr/init.h"
#include "ctr/terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"

struct create_ctx {
        const struct ctr_opts *o;
        const char *id;
        const struct ctr_create_args *a;
        bool foreground; /* run without -d: we keep the init as our child */
        bool unparked;   /* run: the init execs right after set-up */
        char bundle[PATH_MAX];
        char rootfs[PATH_MAX];
        char *config_text;
        size_t config_len;
        struct spec *spec;
        int dirfd, fifo_fd, console_fd;
        struct cgroup *cg;
        struct init_handle init;
        struct ctr_state st;
};

static int load_bundle(struct create_ctx *c, struct isola_err *err)
{
        char path[PATH_MAX + 32];
        struct stat sb;

        if (!realpath(c->a->bundle ? c->a->bundle : ".", c->bundle))
                return err_sys(err, "bundle '%s'", c->a->bundle ? c->a->bundle : ".");
        snprintf(path, sizeof(path), "%s/config.json", c->bundle);
        if (fs_read_file(path, &c->config_text, &c->config_len, err) < 0)
                return -1;
        if (spec_parse(c->config_text, c->config_len, &c->spec, err) < 0)
                return err_prefix(err, "'%s'", path);
        if (!c->spec->root_path)
                return err_set(err, EINVAL, "'%s': root.path is missing", path);
        if (c->spec->root_path[0] == '/')
                snprintf(path, sizeof(path), "%s", c->spec->root_path);
        else
                snprintf(path, sizeof(path), "%s/%s", c->bundle, c->spec->root_path);
        if (!realpath(path, c->rootfs) || stat(c->rootfs, &sb) < 0)
                return err_sys(err, "root.path '%s'", c->spec->root_path);
        if (!S_ISDIR(sb.st_mode))
                return err_set(err, ENOTDIR, "root.path '%s' is not a directory",
                               c->spec->root_path);
        if (!c->spec->process)
                return err_set(err, EINVAL, "'%s': process is missing", path);
        /* Without its own UTS namespace the container would rename the host. */
        if (!spec_has_namespace(c->spec, NS_UTS) && (c->spec->hostname || c->spec->domainname))
                return err_set(err, EINVAL,
                               "%s: unable to set it without a private UTS namespace "
                               "(linux.namespaces has no \"uts\")",
                               c->spec->hostname ? "hostname" : "domainname");
        if (c->spec->process->terminal && !c->a->console_socket && !c->foreground)
                return err_set(err, EINVAL,
                               "process.terminal is set: a detached container needs "
                               "--console-socket");
        return 0;
}

/* State dir and exec fifo. The fifo is opened O_RDWR by us and
 * inherited by the init: it then never sees EOF and blocks in read() until
 * `start` writes, and `start` finds a reader as long as the init lives. */
static int make_state_dir(struct create_ctx *c, struct isola_err *err)
{
        c->dirfd = state_dir_create(c->o->root, c->id, err);
        if (c->dirfd < 0)
                return -1;
        /* run releases the init itself: no fifo, no parking. */
        if (c->unparked)
                return 0;
        if (mkfifoat(c->dirfd, STATE_FIFO_FILE, 0600) < 0)
                return err_sys(err, "create exec fifo");
        c->fifo_fd = openat(c->dirfd, STATE_FIFO_FILE, O_RDWR | O_CLOEXEC);
        if (c->fifo_fd < 0)
                return err_sys(err, "open exec fifo");
        return 0;
}

/* As runc: after the spec's device rules (deny-all when there are none),
 * allow what every container needs
 * (mknod of anything, the standard /dev nodes, ptys, tun) and the nodes
 * listed in linux.devices; a spec that denies everything (the default
 * config) otherwise cannot even create /dev/null. */
static int device_rules_with_defaults(const struct spec_linux *l, struct spec_resources *res,
                                      struct isola_err *err)
{
        static const struct spec_device_rule defaults[] = {
            {true, 'c', -1, -1, "m"},    {true, 'b', -1, -1, "m"},    {true, 'c', 1, 3, "rwm"},
            {true, 'c', 1, 5, "rwm"},    {true, 'c', 1, 7, "rwm"},    {true, 'c', 1, 8, "rwm"},
            {true, 'c', 1, 9, "rwm"},    {true, 'c', 5, 0, "rwm"},    {true, 'c', 5, 2, "rwm"},
            {true, 'c', 136, -1, "rwm"}, {true, 'c', 10, 200, "rwm"},
        };
        static const struct spec_device_rule deny_all = {false, 'a', -1, -1, "rwm"};
        size_t n = l->resources.n_device_rules + ARRAY_SIZE(defaults) + l->n_devices + 1;
        struct spec_device_rule *r = calloc(n, sizeof(*r));
        size_t k = 0;

        if (!r)
                return err_set(err, ENOMEM, "out of memory");
        /* No rules at all means no device access beyond the defaults. */
        if (!l->resources.n_device_rules)
                r[k++] = deny_all;
        for (size_t i = 0; i < l->resources.n_device_rules; i++)
                r[k++] = l->resources.device_rules[i];
        for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
                r[k++] = defaults[i];
        for (size_t i = 0; i < l->n_devices; i++) {
                const struct spec_device *d = &l->devices[i];
                if (d->type != 'c' && d->type != 'b' && d->type != 'u')
                        continue;
                r[k++] = (struct spec_device_rule){true, d->type == 'b' ? 'b' : 'c', d->major,
                                                   d->minor, "rwm"};
        }
        if (l->has_resources)
                *res = l->resources;
        else
                memset(res, 0, sizeof(*res));
        res->device_rules = r;
        res->n_device_rules = k;
        return 0;
}

/* Rootless runtimes often cannot write the cgroup tree; like runc and crun
 * we then run without a cgroup instead of failing. */
static int make_cgroup(struct create_ctx *c, struct isola_err *err)
{
        const struct spec_linux *l = &c->spec->linux;

        if (cgroup_create(l->cgroups_path, c->id, &c->cg, err) < 0) {
                if (geteuid() != 0 &&
                    (err->errnum == EACCES || err->errnum == EPERM || err->errnum == EROFS)) {
                        ctr_log(c->o->log, CTR_LOG_WARN, "running without cgroup: %s", err->msg);
                        c->cg = NULL;
                        return 0;
                }
                return err_prefix(err, "cgroup");
        }
        struct spec_resources res;
        int rc;
        /* Device rules apply even without linux.resources, as with runc. */
        if (device_rules_with_defaults(l, &res, err) < 0)
                return -1;
        rc = cgroup_apply(c->cg, &res, err);
        free(res.device_rules);
        return rc < 0 ? err_prefix(err, "linux.resources") : 0;
}

static void fill_state(struct create_ctx *c)
{
        char now[64];

        state_now_rfc3339(now, sizeof(now));
        c->st.id = (char *)c->id;
        c->st.bundle = c->bundle;
        c->st.rootfs = c->rootfs;
        c->st.created = strdup(now);
        c->st.status = CTR_CREATING;
        c->st.owner = geteuid();
        c->st.config = c->config_text;
        c->st.annotation_keys = c->spec->annotation_keys;
        c->st.annotation_values = c->spec->annotation_values;
        c->st.n_annotations = c->spec->n_annotations;
        for (int k = 0; k < HOOK_KIND_COUNT; k++)
                if (c->spec->n_hooks[k])
                        c->st.hook_mask |= 1u << k;
}

static int spawn_init(struct create_ctx *c, struct isola_err *err)
{
        struct isola_err cg_err = {0};
        char seccomp_cache[PATH_MAX];

        snprintf(seccomp_cache, sizeof(seccomp_cache), "%s/seccomp-cache", c->o->root);
        struct init_config cfg = {
            .spec = c->spec,
            .rootfs = c->rootfs,
            .fifo_fd = c->fifo_fd,
            .console_fd = c->console_fd,
            .pty_to_parent = c->console_fd < 0,
            .no_pivot = c->a->no_pivot,
            .no_new_keyring = c->a->no_new_keyring,
            .preserve_fds = c->a->preserve_fds,
            .close_fd = c->dirfd,
            .cg = c->cg,
            .cgroup_fd = c->cg ? cgroup_unified_fd(c->cg, &cg_err) : -1,
            .seccomp_cache = seccomp_cache,
        };
        int rc = init_spawn(&cfg, &c->init, err);

        if (cfg.cgroup_fd >= 0)
                close(cfg.cgroup_fd);
        if (rc < 0)
                return err_prefix(err, "create container '%s'", c->id);
        ctr_log(c->o->log, CTR_LOG_DEBUG, "container '%s': init pid %d", c->id, c->init.pid);
        c->st.pid = c->init.pid;
        if (proc_start_time(c->init.pid, &c->st.pid_start) < 0)
                return init_collect_error(&c->init, err);
        return 0;
}

static int run_create_hooks(struct create_ctx *c, const char *json, struct isola_err *err)
{
        if (hooks_run(c->spec, HOOK_PRESTART, json, err) < 0 ||
            hooks_run(c->spec, HOOK_CREATE_RUNTIME, json, err) < 0)
                return -1;
        return 0;
}

static int create_steps(struct create_ctx *c, struct isola_err *err)
{
        _cleanup_free_ char *json = NULL;

        if (make_state_dir(c, err) < 0 || make_cgroup(c, err) < 0)
                return -1;
        if (c->a->console_socket) {
                c->console_fd = terminal_connect(c->a->console_socket, err);
                if (c->console_fd < 0)
                        return -1;
        }
        if (spawn_init(c, err) < 0)
                return -1;
        /* Only the init may hold the fifo open: see release_fifo. */
        if (c->fifo_fd >= 0)
                close(c->fifo_fd);
        c->fifo_fd = -1;
        if (c->console_fd >= 0) {
                close(c->console_fd);
                c->console_fd = -1;
        }
        c->st.cgroup = c->cg ? cgroup_to_string(c->cg) : NULL;
        if (state_save(c->dirfd, &c->st, err) < 0)
                return -1;
        json = state_oci_json(&c->st, CTR_CREATING, false);
        if (!json)
                return err_set(err, ENOMEM, "out of memory");
        if (run_create_hooks(c, json, err) < 0 || init_release(&c->init, json, err) < 0)
                return err_prefix(err, "create container '%s'", c->id);
        if (c->a->pid_file && ctr_write_pid_file(c->a->pid_file, c->init.pid, err) < 0)
                return -1;
        return 0;
}

static void create_unwind(struct create_ctx *c)
{
        struct isola_err ignore = {0};

        init_abort(&c->init);
        if (c->cg)
                cgroup_destroy(c->cg, true, &ignore);
        if (c->dirfd >= 0)
                state_dir_remove(c->o->root, c->id, &ignore);
}

static void create_ctx_free(struct create_ctx *c)
{
        init_handle_close(&c->init);
        if (c->init.pty_master >= 0)
                close(c->init.pty_master);
        if (c->fifo_fd >= 0)
                close(c->fifo_fd);
        if (c->console_fd >= 0)
                close(c->console_fd);
        if (c->dirfd >= 0)
                close(c->dirfd);
        if (c->cg)
                cgroup_free(c->cg);
        spec_free(c->spec);
        free(c->config_text);
        free(c->st.created);
        free(c->st.cgroup);
}

static int do_create(struct create_ctx *c, struct isola_err *err)
{
        c->dirfd = c->fifo_fd = c->console_fd = -1;
        c->init.pid = -1;
        c->init.sync_fd = c->init.pty_master = -1;
        if (state_validate_id(c->id, err) < 0 || load_bundle(c, err) < 0)
                return -1;
        fill_state(c);
        if (create_steps(c, err) < 0) {
                create_unwind(c);
                return -1;
        }
        return 0;
}

int ctr_create(const struct ctr_opts *o, const char *id, const struct ctr_create_args *a,
               struct isola_err *err)
{
        struct create_ctx c = {.o = o, .id = id, .a = a};
        int rc = do_create(&c, err);

        create_ctx_free(&c);
        return rc;
}

/* Releases the init parked on the fifo (of an opened container). */
static int release_fifo(int dirfd, const char *id, struct isola_err *err)
{
        int fd = openat(dirfd, STATE_FIFO_FILE, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

        if (fd < 0) {
                if (errno == ENXIO)
                        return err_set(err, ESRCH, "container '%s' init has exited", id);
                return err_sys(err, "open exec fifo of container '%s'", id);
        }
        if (write(fd, "0", 1) != 1) {
                err_sys(err, "release container '%s'", id);
                close(fd);
                return -1;
        }
        /* The init's fifo fd is close-on-exec: once no reader is left (POLLERR
         * on our write end) the init has run startContainer hooks and
         * exec'd (or died), so poststart hooks run after the user process
         * started, as the spec orders them. */
        struct pollfd pf = {.fd = fd, .events = 0};
        while (poll(&pf, 1, -1) < 0 && errno == EINTR)
                ;
        close(fd);
        unlinkat(dirfd, STATE_FIFO_FILE, 0);
        return 0;
}

static void run_poststart(const struct ctr_opts *o, struct ctr_handle *h, const struct spec *spec)
{
        struct isola_err err = {0};
        _cleanup_free_ char *json = state_oci_json(h->st, CTR_RUNNING, false);

        if (json && hooks_run(spec, HOOK_POSTSTART, json, &err) < 0)
                ctr_log(o->log, CTR_LOG_WARN, "%s", err.msg);
}

int ctr_start(const struct ctr_opts *o, const char *id, struct isola_err *err)
{
        struct ctr_handle h;
        enum ctr_status status;
        int rc = -1;

        if (state_validate_id(id, err) < 0 || ctr_handle_open(o, id, LOCK_EX, &h, err) < 0)
                return -1;
        status = ctr_handle_status(&h);
        if (status != CTR_CREATED) {
                err_set(err, EINVAL, "container '%s' is not in created state (status: %s)", id,
                        ctr_status_name(status));
                goto out;
        }
        if (release_fifo(h.dirfd, id, err) < 0)
                goto out;
        if (h.st->hook_mask & (1u << HOOK_POSTSTART)) {
                struct spec *spec;
                if (ctr_handle_spec(&h, &spec, err) < 0)
                        goto out;
                run_poststart(o, &h, spec);
                spec_free(spec);
        }
        /* No state write: "running" is derived from the fifo being gone. */
        rc = 0;
out:
        ctr_handle_close(&h);
        return rc;
}

static int wait_status_to_code(int status)
{
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return WEXITSTATUS(status);
}

/* Waits for our child pid, forwarding signals and relaying a pty. */
int ctr_wait_foreground(pid_t pid, int pty_master, int *exit_status, struct isola_err *err)
{
        static const int fwd[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH};
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), sigfd, status;
        sigset_t set, old;

        sigemptyset(&set);
        for (size_t i = 0; i < ARRAY_SIZE(fwd); i++)
                sigaddset(&set, fwd[i]);
        sigprocmask(SIG_BLOCK, &set, &old);
        sigfd = signalfd(-1, &set, SFD_CLOEXEC);
        if (pty_master >= 0) {
                terminal_relay(pty_master, pidfd, sigfd, pid, err);
        } else {
                struct pollfd pf[2] = {{.fd = pidfd, .events = POLLIN},
                                       {.fd = sigfd, .events = POLLIN}};
                while (pidfd >= 0 && poll(pf, 2, -1) >= 0 && !(pf[0].revents & POLLIN)) {
                        struct signalfd_siginfo si;
                        if ((pf[1].revents & POLLIN) &&
                            read(sigfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGWINCH)
                                kill(pid, (int)si.ssi_signo);
                }
        }
        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        status = 0;
                        break;
                }
        }
        if (sigfd >= 0)
                close(sigfd);
        if (pidfd >= 0)
                close(pidfd);
        sigprocmask(SIG_SETMASK, &old, NULL);
        *exit_status = wait_status_to_code(status);
        return 0;
}

int ctr_run(const struct ctr_opts *o, const char *id, const struct ctr_create_args *a,
            int *exit_status, struct isola_err *err)
{
        struct create_ctx c = {
            .o = o, .id = id, .a = a, .foreground = !a->detach, .unparked = true};
        struct ctr_handle h;
        int rc = do_create(&c, err);
        pid_t pid = c.init.pid;
        int pty = c.init.pty_master;

        c.init.pty_master = -1;
        if (rc == 0)
                init_wait_exec(&c.init);
        if (rc == 0 && c.spec->n_hooks[HOOK_POSTSTART]) {
                struct isola_err hook_err = {0};
                _cleanup_free_ char *json = state_oci_json(&c.st, CTR_RUNNING, false);
                if (json && hooks_run(c.spec, HOOK_POSTSTART, json, &hook_err) < 0)
                        ctr_log(o->log, CTR_LOG_WARN, "%s", hook_err.msg);
        }
        create_ctx_free(&c);
        *exit_status = 0;
        if (rc < 0 || a->detach) {
                if (pty >= 0)
                        close(pty);
                return rc;
        }
        ctr_wait_foreground(pid, pty, exit_status, err);
        if (pty >= 0)
                close(pty);
        /* As runc: a foreground container is deleted once it exits. */
        if (ctr_handle_open(o, id, LOCK_EX, &h, err) < 0)
                return -1;
        return ctr_destroy(o, &h, err);
}
