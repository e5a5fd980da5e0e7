/* exec: a new process in a running container. A helper child joins the
 * container's cgroup and namespaces (user first; mount last, since joining
 * it changes what /proc and paths mean), then forks the process itself with
 * CLONE_PARENT so that it lands inside a joined pid namespace and is our
 * child; the helper exits. The process gets caps, identity and seccomp of
 * the exec'd process spec plus the container's saved seccomp filter. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctr/container_internal.h"
#include "ctr/init.h"
#include "ctr/init_process.h"
#include "ctr/seccomp.h"
#include "ctr/terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* Joined in this order: the user namespace grants the rights for the rest,
 * mnt goes last because after it the host's /proc is gone. */
static const struct {
        const char *name;
        int flag;
} ns_order[] = {
    {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
    {"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP},
    {"time", CLONE_NEWTIME}, {"mnt", CLONE_NEWNS},
};

#define N_NS (sizeof(ns_order) / sizeof(ns_order[0]))

static bool key_in(const char *kv, char **list)
{
        size_t klen = strcspn(kv, "=");

        for (char **e = list; e && *e; e++)
                if (!strncmp(*e, kv, klen) && (*e)[klen] == '=')
                        return true;
        return false;
}

static json_object *str_array(char **items)
{
        json_object *a = json_object_new_array();

        for (char **i = items; i && *i; i++)
                json_object_array_add(a, json_object_new_string(*i));
        return a;
}

/* The process of `exec <id> args...`: the container's process with the
 * flags' overrides, expressed as process JSON so one parser handles both. */
static int process_from_flags(const struct spec_process *base, const struct ctr_exec_args *a,
                              struct spec_process **p_out, struct isola_err *err)
{
        json_object *o = json_object_new_object(), *env = str_array(a->env), *user;
        unsigned uid = base->user.uid, gid = base->user.gid;
        const char *text;
        int rc;

        for (char **e = base->env; e && *e; e++)
                if (!key_in(*e, a->env))
                        json_object_array_add(env, json_object_new_string(*e));
        if (a->user && sscanf(a->user, "%u:%u", &uid, &gid) < 1)
                return err_set(err, EINVAL, "--user '%s': expected uid[:gid]", a->user);
        json_object_object_add(o, "args", str_array(a->args));
        json_object_object_add(o, "env", env);
        json_object_object_add(o, "cwd",
                               json_object_new_string(a->cwd      ? a->cwd
                                                      : base->cwd ? base->cwd
                                                                  : "/"));
        json_object_object_add(o, "terminal", json_object_new_boolean(a->tty));
        user = json_object_new_object();
        json_object_object_add(user, "uid", json_object_new_int64(uid));
        json_object_object_add(user, "gid", json_object_new_int64(gid));
        if (base->user.n_additional_gids && !a->user) {
                json_object *gids = json_object_new_array();
                for (size_t i = 0; i < base->user.n_additional_gids; i++)
                        json_object_array_add(gids,
                                              json_object_new_int64(base->user.additional_gids[i]));
                json_object_object_add(user, "additionalGids", gids);
        }
        json_object_object_add(o, "user", user);
        if (a->caps) {
                json_object *c = json_object_new_object();
                json_object_object_add(c, "bounding", str_array(a->caps));
                json_object_object_add(c, "effective", str_array(a->caps));
                json_object_object_add(c, "permitted", str_array(a->caps));
                json_object_object_add(o, "capabilities", c);
        }
        text = json_object_to_json_string(o);
        rc = spec_parse_process(text, strlen(text), p_out, err);
        json_object_put(o);
        if (rc < 0)
                return err_prefix(err, "exec");
        (*p_out)->caps.bounding |= base->caps.bounding;
        (*p_out)->caps.effective |= base->caps.effective;
        (*p_out)->caps.permitted |= base->caps.permitted;
        (*p_out)->caps.inheritable |= base->caps.inheritable;
        (*p_out)->caps.ambient |= base->caps.ambient;
        (*p_out)->caps.present = true;
        (*p_out)->no_new_privileges = base->no_new_privileges || a->no_new_privs;
        /* As runc: an exec'd command shares the container's limits. */
        if (base->n_rlimits) {
                (*p_out)->rlimits = malloc(base->n_rlimits * sizeof(*base->rlimits));
                if (!(*p_out)->rlimits)
                        return err_set(err, ENOMEM, "out of memory");
                memcpy((*p_out)->rlimits, base->rlimits, base->n_rlimits * sizeof(*base->rlimits));
                (*p_out)->n_rlimits = base->n_rlimits;
        }
        (*p_out)->has_oom_score_adj = base->has_oom_score_adj;
        (*p_out)->oom_score_adj = base->oom_score_adj;
        if (!(*p_out)->args || !(*p_out)->args[0])
                return err_set(err, EINVAL, "exec: no command given");
        return 0;
}

static int load_process(const struct ctr_exec_args *a, const struct spec *spec,
                        struct spec_process **p_out, struct isola_err *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len;

        if (!a->process_file) {
                if (!spec->process)
                        return err_set(err, EINVAL, "container has no process to copy");
                return process_from_flags(spec->process, a, p_out, err);
        }
        if (fs_read_file(a->process_file, &text, &len, err) < 0)
                return err_prefix(err, "--process");
        if (spec_parse_process(text, len, p_out, err) < 0)
                return err_prefix(err, "--process '%s'", a->process_file);
        if (a->tty)
                (*p_out)->terminal = true;
        if (a->no_new_privs)
                (*p_out)->no_new_privileges = true;
        return 0;
}

struct exec_ctx {
        const struct ctr_exec_args *a;
        const struct spec *spec;
        const struct spec_process *p;
        pid_t target;
        int sync_fd, console_fd;
        char seccomp_cache[PATH_MAX];
        struct seccomp_prog seccomp; /* prepared by the helper before setns */
};

static _Noreturn void fail(int sync_fd, const char *step, struct isola_err *err)
{
        char msg[ISOLA_ERR_MSG_MAX + 64];

        snprintf(msg, sizeof(msg), "%s: %s", step, err->msg);
        init_msg_send(sync_fd, INIT_MSG_ERROR, err->errnum, msg);
        _exit(1);
}

static int send_pty_to_parent(int sync_fd, int master, struct isola_err *err)
{
        return init_msg_send_pty(sync_fd, master) < 0 ? err_sys(err, "send pty") : 0;
}

static _Noreturn void exec_process(struct exec_ctx *x)
{
        const struct spec_process *p = x->p;
        struct isola_err err = {0};
        char *exe = NULL;

        if (p->terminal) {
                int master, slave;
                if (terminal_open(&master, &slave, p->has_console_size ? p->console_width : 0,
                                  p->has_console_size ? p->console_height : 0, &err) < 0)
                        fail(x->sync_fd, "terminal", &err);
                if (x->console_fd >= 0
                        ? terminal_send_fd(x->console_fd, master, "/dev/console", &err)
                        : send_pty_to_parent(x->sync_fd, master, &err))
                        fail(x->sync_fd, "terminal", &err);
                close(master);
                if (terminal_make_stdio(slave, &err) < 0)
                        fail(x->sync_fd, "terminal", &err);
                close(slave);
        }
        if (p->has_oom_score_adj) {
                char buf[16];
                snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
                fs_write_str("/proc/self/oom_score_adj", buf, &err);
        }
        if (init_process_prepare(p, &x->seccomp, &exe, &err) < 0)
                fail(x->sync_fd, "process", &err);
        init_msg_send(x->sync_fd, INIT_MSG_READY, 0, NULL);
        init_process_exec(p, &x->seccomp, exe, x->a->preserve_fds);
}

/* The helper: join everything, fork the process into it, report its pid. */
static _Noreturn void exec_helper(struct exec_ctx *x)
{
        struct isola_err err = {0};
        int fds[N_NS];
        struct init_msg m;
        char buf[16];
        pid_t pid;

        if (init_msg_recv(x->sync_fd, &m, buf, sizeof(buf), NULL) < 0 || m.type != INIT_MSG_GO)
                _exit(1);
        /* While the state root's filter cache is still in our mount namespace. */
        if (seccomp_prepare(x->spec->linux.seccomp, x->seccomp_cache, &x->seccomp, &err) < 0)
                fail(x->sync_fd, "seccomp", &err);
        for (size_t i = 0; i < N_NS; i++) {
                char path[64], self[64];
                struct stat a, b;
                snprintf(path, sizeof(path), "/proc/%d/ns/%s", x->target, ns_order[i].name);
                snprintf(self, sizeof(self), "/proc/self/ns/%s", ns_order[i].name);
                fds[i] = -1;
                if (stat(path, &a) < 0 ||
                    (stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev))
                        continue;
                fds[i] = open(path, O_RDONLY | O_CLOEXEC);
                if (fds[i] < 0) {
                        err_sys(&err, "open '%s'", path);
                        fail(x->sync_fd, "namespaces", &err);
                }
        }
        for (size_t i = 0; i < N_NS; i++) {
                if (fds[i] >= 0 && setns(fds[i], ns_order[i].flag) < 0) {
                        err_sys(&err, "join %s namespace of pid %d", ns_order[i].name, x->target);
                        fail(x->sync_fd, "namespaces", &err);
                }
                if (fds[i] >= 0)
                        close(fds[i]);
        }
        {
                struct clone_args ca = {.flags = CLONE_PARENT}; /* exit_signal must be 0 */
                pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
        }
        if (pid < 0) {
                err_sys(&err, "clone");
                fail(x->sync_fd, "exec", &err);
        }
        if (pid == 0)
                exec_process(x);
        init_msg_send(x->sync_fd, INIT_MSG_PID, pid, NULL);
        _exit(0);
}

/* Parent side: cgroup, GO, then the pid and READY (or the error). */
static int exec_spawn(struct exec_ctx *x, struct ctr_handle *h, pid_t *pid_out, int *pty_out,
                      struct isola_err *err)
{
        char buf[ISOLA_ERR_MSG_MAX + 64];
        struct init_msg m;
        struct isola_err ignore = {0};
        int sv[2], fd, status, unified_fd, rc = 0;
        pid_t helper, pid = -1;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return err_sys(err, "socketpair");
        /* See init.c: nothing of the runtime may be reachable from inside. */
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* Like the init, the helper moves itself into the container's
         * cgroup (cheap) rather than being moved by us (an RCU grace
         * period); the cgroup2 part comes from CLONE_INTO_CGROUP. */
        unified_fd = h->cg ? cgroup_unified_fd(h->cg, &ignore) : -1;
        helper = init_clone3(0, unified_fd);
        if (helper < 0) {
                err_sys(err, "clone");
                close(sv[0]);
                close(sv[1]);
                if (unified_fd >= 0)
                        close(unified_fd);
                return -1;
        }
        if (helper == 0) {
                close(sv[0]);
                close(h->dirfd);
                x->sync_fd = sv[1];
                if (h->cg && cgroup_join_self(h->cg, unified_fd >= 0, &ignore) < 0)
                        fail(sv[1], "cgroup", &ignore);
                exec_helper(x);
        }
        if (unified_fd >= 0)
                close(unified_fd);
        close(sv[1]);
        if (rc == 0 && init_msg_send(sv[0], INIT_MSG_GO, 0, NULL) < 0)
                rc = err_sys(err, "exec");
        /* PID (from the helper) and READY (from the process) may come in
         * either order: both are needed. */
        for (bool ready = false; rc == 0 && (!ready || pid < 0);) {
                if (init_msg_recv(sv[0], &m, buf, sizeof(buf), &fd) < 0) {
                        rc = err_set(err, EPIPE, "exec: process exited during set-up");
                } else if (m.type == INIT_MSG_PID) {
                        pid = m.value;
                } else if (m.type == INIT_MSG_PTY) {
                        *pty_out = fd;
                } else if (m.type == INIT_MSG_READY) {
                        ready = true;
                } else {
                        rc = err_set(err, m.value, "exec: %s", buf);
                }
        }
        if (rc < 0 && helper > 0)
                kill(helper, SIGKILL);
        while (waitpid(helper, &status, 0) < 0 && errno == EINTR)
                ;
        if (rc < 0 && pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
        }
        close(sv[0]);
        *pid_out = pid;
        return rc;
}

int ctr_exec(const struct ctr_opts *o, const char *id, const struct ctr_exec_args *a,
             int *exit_status, struct isola_err *err)
{
        struct ctr_handle h;
        struct spec *spec = NULL;
        struct spec_process *p = NULL;
        struct exec_ctx x = {.a = a, .console_fd = -1};

        snprintf(x.seccomp_cache, sizeof(x.seccomp_cache), "%s/seccomp-cache", o->root);
        enum ctr_status status;
        int rc = -1, pty = -1;
        pid_t pid = -1;

        *exit_status = 0;
        if (state_validate_id(id, err) < 0 || ctr_handle_open(o, id, 0, &h, err) < 0)
                return -1;
        status = ctr_handle_status(&h);
        if (status != CTR_RUNNING && status != CTR_CREATED) {
                err_set(err, EINVAL, "cannot exec in container '%s' (status: %s)", id,
                        ctr_status_name(status));
                goto out;
        }
        if (ctr_handle_spec(&h, &spec, err) < 0 || load_process(a, spec, &p, err) < 0)
                goto out;
        if (p->terminal && a->detach && !a->console_socket) {
                err_set(err, EINVAL, "exec: a detached terminal needs --console-socket");
                goto out;
        }
        if (a->console_socket) {
                x.console_fd = terminal_connect(a->console_socket, err);
                if (x.console_fd < 0)
                        goto out;
        }
        x.spec = spec;
        x.p = p;
        x.target = h.st->pid;
        if (exec_spawn(&x, &h, &pid, &pty, err) < 0)
                goto out;
        if (a->pid_file && ctr_write_pid_file(a->pid_file, pid, err) < 0) {
                kill(pid, SIGKILL);
                goto out;
        }
        ctr_handle_close(&h);
        rc = 0;
        if (!a->detach)
                rc = ctr_wait_foreground(pid, pty, exit_status, err);
out:
        if (pty >= 0)
                close(pty);
        if (x.console_fd >= 0)
                close(x.console_fd);
        ctr_handle_close(&h);
        spec_process_free(p);
        spec_free(spec);
        return rc;
}
