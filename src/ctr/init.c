/* The container init and its parent-side spawning.
 *
 * Protocol (SOCK_SEQPACKET, one message per step):
 *   fast path (no namespace to join that needs an extra process):
 *     parent clone3(CLONE_NEW*) -> init; parent writes the id maps;
 *   stage1 path (joining a pid or user namespace, or a new user namespace
 *   plus joined namespaces, which must be entered before it):
 *     parent clone3() -> stage1; stage1 setns()es the paths (user first),
 *     unshare(CLONE_NEWUSER) + MAPS_REQ -> parent writes maps -> MAPS_DONE,
 *     unshare(the other new namespaces), clone3(CLONE_PARENT) -> init (so the
 *     init is the parent's child and pid 1 of a new/joined pid namespace),
 *     PID(init) -> parent; stage1 exits.
 *   The child (stage1 or init) first moves itself into the container's
 *   cgroup (cgroup_join_self: a process moving itself skips the kernel's
 *   global threadgroup lock, which costs an RCU grace period, ~5-15 ms here,
 *   when the parent moves it; the cgroup2 part comes from CLONE_INTO_CGROUP).
 *   then: parent runs createRuntime hooks,
 *   GO(state) -> init sets everything up, READY (or ERROR "step: why") ->
 *   parent; init blocks reading the exec fifo until `start` writes to it,
 *   then execve()s the user process, so the container's pid 1 is the user
 *   process and nothing of the runtime stays inside.
 *
 * No re-exec and no memfd copy of the runtime binary: the init is a plain
 * clone of the runtime. The CVE-2019-5736 attack (a container process
 * opening /proc/<runtime pid>/exe and rewriting the host binary) needs the
 * runtime process to be ptrace/proc-accessible from the container. We make
 * the runtime non-dumpable before any namespace is created or joined: the
 * kernel then lets /proc/<pid>/{exe,mem,fd,...} of the init (and of exec's
 * helpers) be opened only with CAP_SYS_PTRACE in the host user namespace
 * (ptrace_may_access on a non-dumpable mm), which container processes do
 * not have. From execve() on, /proc/<pid>/exe is the user's own binary and
 * the kernel resets dumpability for it. Rootless parents must write the id
 * maps of the child, which a non-dumpable child forbids, so there the child
 * turns non-dumpable right after its maps are written, before it joins or
 * sees anything of the container. */
#include "ctr/init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
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

#include "ctr/caps.h"
#include "ctr/devices.h"
#include "ctr/hooks.h"
#include "ctr/init_process.h"
#include "ctr/process_attrs.h"
#include "ctr/rootfs.h"
#include "ctr/seccomp.h"
#include "ctr/terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define MSG_MAX 65536

int init_ns_flag(enum spec_ns_kind kind)
{
        static const int flags[NS_KIND_COUNT] = {
            [NS_PID] = CLONE_NEWPID,       [NS_NET] = CLONE_NEWNET,   [NS_MNT] = CLONE_NEWNS,
            [NS_IPC] = CLONE_NEWIPC,       [NS_UTS] = CLONE_NEWUTS,   [NS_USER] = CLONE_NEWUSER,
            [NS_CGROUP] = CLONE_NEWCGROUP, [NS_TIME] = CLONE_NEWTIME,
        };
        return flags[kind];
}

int init_msg_send(int fd, uint32_t type, int32_t value, const char *payload)
{
        struct init_msg m = {.type = type, .value = value};
        struct iovec iov[2] = {{&m, sizeof(m)}, {(void *)payload, payload ? strlen(payload) : 0}};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};

        return sendmsg(fd, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

int init_msg_send_pty(int fd, int master)
{
        struct init_msg m = {.type = INIT_MSG_PTY};

        return unix_send_fd(fd, master, &m, sizeof(m));
}

int init_msg_recv(int fd, struct init_msg *m, char *buf, size_t len, int *fd_out)
{
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov[2] = {{NULL, sizeof(*m)}, {buf, len - 1}};
        struct msghdr msg = {
            .msg_iov = iov, .msg_iovlen = 2, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        ssize_t n;

        /* m is only written: clear it so a short read leaves nothing undefined. */
        *m = (struct init_msg){0};
        iov[0].iov_base = m;
        if (fd_out)
                *fd_out = -1;
        do
                n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < (ssize_t)sizeof(*m))
                return -1;
        buf[n - (ssize_t)sizeof(*m)] = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        int got;
                        memcpy(&got, CMSG_DATA(c), sizeof(int));
                        if (fd_out)
                                *fd_out = got;
                        else
                                close(got);
                }
        }
        return 0;
}

/* Reports err to the parent as "<step>: <message>" and ends the process. */
static _Noreturn void child_fail(int sync_fd, const char *step, struct isola_err *err)
{
        char msg[ISOLA_ERR_MSG_MAX + 64];

        snprintf(msg, sizeof(msg), "%s: %s", step, err->msg);
        if (init_msg_send(sync_fd, INIT_MSG_ERROR, err->errnum, msg) < 0)
                dprintf(STDERR_FILENO, "isola init: %s\n", msg);
        _exit(1);
}

pid_t init_clone3(uint64_t flags, int cgroup_fd)
{
        /* With CLONE_PARENT the kernel wants exit_signal 0 and uses ours. */
        struct clone_args args = {.flags = flags,
                                  .exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD};
        long r;

        if (cgroup_fd >= 0) {
                args.flags |= CLONE_INTO_CGROUP;
                args.cgroup = (uint64_t)cgroup_fd;
        }
        r = syscall(SYS_clone3, &args, sizeof(args));
        if (r < 0 && errno == ENOSYS && cgroup_fd < 0)
                r = syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0, 0, 0, 0);
        return (pid_t)r;
}

static int write_map(pid_t pid, const char *file, const struct spec_id_mapping *m, size_t n,
                     struct isola_err *err)
{
        char path[64], buf[4096];
        size_t used = 0;

        for (size_t i = 0; i < n; i++) {
                int w = snprintf(buf + used, sizeof(buf) - used, "%u %u %u\n", m[i].container_id,
                                 m[i].host_id, m[i].size);
                if (w < 0 || (size_t)w >= sizeof(buf) - used)
                        return err_set(err, E2BIG, "too many mappings");
                used += (size_t)w;
        }
        snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
        if (fs_write_file(path, buf, used, O_WRONLY, 0, err) < 0)
                return err_prefix(err, "write %s", file);
        return 0;
}

/* An unprivileged process may only map its own id, once; anything else
 * (subordinate ranges from /etc/subuid) goes through the setuid helpers
 * newuidmap/newgidmap, as with runc and crun. */
static bool needs_helper(const struct spec_id_mapping *m, size_t n, unsigned own)
{
        return geteuid() != 0 && !(n == 1 && m[0].host_id == own && m[0].size == 1);
}

static int run_map_helper(const char *prog, pid_t pid, const struct spec_id_mapping *m, size_t n,
                          struct isola_err *err)
{
        char **argv = calloc(3 * n + 3, sizeof(char *));
        char *nums = malloc((3 * n + 1) * 16);
        size_t k = 0;
        int status = 0;
        pid_t child;

        if (!argv || !nums) {
                free(argv);
                free(nums);
                return err_set(err, ENOMEM, "out of memory");
        }
        argv[k++] = (char *)prog;
        snprintf(nums, 16, "%d", pid);
        argv[k++] = nums;
        for (size_t i = 0; i < n; i++) {
                const uint32_t v[3] = {m[i].container_id, m[i].host_id, m[i].size};
                for (int j = 0; j < 3; j++) {
                        char *slot = nums + 16 * (1 + 3 * i + (size_t)j);
                        snprintf(slot, 16, "%u", v[j]);
                        argv[k++] = slot;
                }
        }
        child = fork();
        if (child == 0) {
                execvp(prog, argv);
                _exit(127);
        }
        free(argv);
        free(nums);
        if (child < 0)
                return err_sys(err, "%s", prog);
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return err_set(err, EPERM, "%s failed (status %d): check /etc/sub%cid", prog,
                               WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                               prog[3] == 'u' ? 'u' : 'g');
        return 0;
}

int init_write_id_maps(pid_t pid, const struct spec *spec, struct isola_err *err)
{
        const struct spec_linux *l = &spec->linux;
        bool uid_helper = needs_helper(l->uid_mappings, l->n_uid_mappings, geteuid());
        bool gid_helper = needs_helper(l->gid_mappings, l->n_gid_mappings, getegid());

        /* Without privilege (and without newgidmap) the kernel accepts a gid
         * map only once setgroups is denied. */
        if (geteuid() != 0 && !gid_helper) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
                if (fs_write_str(path, "deny", err) < 0)
                        return err_prefix(err, "user namespace");
        }
        if (l->n_uid_mappings &&
            (uid_helper ? run_map_helper("newuidmap", pid, l->uid_mappings, l->n_uid_mappings, err)
                        : write_map(pid, "uid_map", l->uid_mappings, l->n_uid_mappings, err)) < 0)
                return err_prefix(err, "linux.uidMappings");
        if (l->n_gid_mappings &&
            (gid_helper ? run_map_helper("newgidmap", pid, l->gid_mappings, l->n_gid_mappings, err)
                        : write_map(pid, "gid_map", l->gid_mappings, l->n_gid_mappings, err)) < 0)
                return err_prefix(err, "linux.gidMappings");
        return 0;
}

int init_find_executable(const char *file, char *const *env, char **path_out, struct isola_err *err)
{
        const char *path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        char cand[4096];
        struct stat st;

        if (!file || !*file)
                return err_set(err, EINVAL, "process.args is empty");
        if (strchr(file, '/')) {
                if (stat(file, &st) < 0)
                        return err_sys(err, "exec '%s'", file);
                if (!S_ISREG(st.st_mode) || access(file, X_OK) < 0)
                        return err_set(err, EACCES,
                                       "exec '%s': permission denied (not an executable file)",
                                       file);
                *path_out = strdup(file);
                return 0;
        }
        for (char *const *e = env; e && *e; e++)
                if (!strncmp(*e, "PATH=", 5))
                        path_env = *e + 5;
        for (const char *p = path_env; *p;) {
                const char *end = strchrnul(p, ':');
                int n = snprintf(cand, sizeof(cand), "%.*s/%s", (int)(end - p), p, file);
                if (n > 0 && (size_t)n < sizeof(cand) && stat(cand, &st) == 0 &&
                    S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
                        *path_out = strdup(cand);
                        return 0;
                }
                p = *end ? end + 1 : end;
        }
        return err_set(err, ENOENT, "exec '%s': executable file not found in $PATH", file);
}

/* setns() into every namespace of the spec that has a path and matches
 * `want` (user namespaces first, as they grant the rights for the rest). */
static int join_paths(const struct spec *spec, bool users, struct isola_err *err)
{
        const struct spec_linux *l = &spec->linux;

        for (size_t i = 0; i < l->n_namespaces; i++) {
                const struct spec_namespace *ns = &l->namespaces[i];
                int fd;

                if (!ns->path || (ns->kind == NS_USER) != users)
                        continue;
                fd = open(ns->path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return err_sys(err, "open %s namespace '%s'", spec_ns_name(ns->kind),
                                       ns->path);
                if (setns(fd, init_ns_flag(ns->kind)) < 0) {
                        err_sys(err, "join %s namespace '%s'", spec_ns_name(ns->kind), ns->path);
                        close(fd);
                        return -1;
                }
                close(fd);
        }
        return 0;
}

static uint64_t new_ns_flags(const struct spec *spec)
{
        uint64_t f = 0;

        for (size_t i = 0; i < spec->linux.n_namespaces; i++)
                if (!spec->linux.namespaces[i].path)
                        f |= (uint64_t)init_ns_flag(spec->linux.namespaces[i].kind);
        return f;
}

static bool has_path(const struct spec *spec, enum spec_ns_kind kind)
{
        const struct spec_namespace *ns = spec_namespace(spec, kind);
        return ns && ns->path;
}

static bool has_any_path(const struct spec *spec)
{
        for (size_t i = 0; i < spec->linux.n_namespaces; i++)
                if (spec->linux.namespaces[i].path)
                        return true;
        return false;
}

static bool rootless_userns(const struct spec *spec)
{
        return geteuid() != 0 && (new_ns_flags(spec) & CLONE_NEWUSER);
}

static int wait_go(int sync_fd, char *state_json, size_t len)
{
        struct init_msg m;

        if (init_msg_recv(sync_fd, &m, state_json, len, NULL) < 0 || m.type != INIT_MSG_GO)
                _exit(1); /* the parent gave up: nothing to report to */
        return 0;
}

static int setup_terminal(const struct init_config *cfg, int sync_fd, int *slave_out,
                          struct isola_err *err)
{
        const struct spec_process *p = cfg->spec->process;
        int master;

        if (terminal_open(&master, slave_out, p->has_console_size ? p->console_width : 0,
                          p->has_console_size ? p->console_height : 0, err) < 0)
                return -1;
        if (cfg->console_fd >= 0) {
                char name[64] = "/dev/console";
                if (terminal_send_fd(cfg->console_fd, master, name, err) < 0) {
                        close(master);
                        return -1;
                }
                close(cfg->console_fd);
        } else if (init_msg_send_pty(sync_fd, master) < 0) {
                close(master);
                return err_sys(err, "send pty to runtime");
        }
        close(master);
        return 0;
}

/* Everything between GO and READY, in the container's namespaces. */
static _Noreturn void init_child(const struct init_config *cfg, int sync_fd, bool join_rest)
{
        const struct spec *spec = cfg->spec;
        const struct spec_process *p = spec->process;
        static char state_json[MSG_MAX];
        struct isola_err err = {0};
        int slave = -1;
        char *exe = NULL, byte;
        bool in_userns = spec_has_namespace(spec, NS_USER);
        struct seccomp_prog seccomp = {0};

        wait_go(sync_fd, state_json, sizeof(state_json));
        if (rootless_userns(spec))
                prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (spec_namespace(spec, NS_CGROUP) && !has_path(spec, NS_CGROUP) &&
            unshare(CLONE_NEWCGROUP) < 0) {
                err_sys(&err, "unshare");
                child_fail(sync_fd, "cgroup namespace", &err);
        }
        if (join_rest && join_paths(spec, false, &err) < 0)
                child_fail(sync_fd, "namespaces", &err);
        if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0) {
                err_sys(&err, "sethostname '%s'", spec->hostname);
                child_fail(sync_fd, "hostname", &err);
        }
        if (spec->domainname && setdomainname(spec->domainname, strlen(spec->domainname)) < 0) {
                err_sys(&err, "setdomainname '%s'", spec->domainname);
                child_fail(sync_fd, "domainname", &err);
        }
        if (!cfg->no_new_keyring &&
            syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL) < 0 && errno != ENOSYS &&
            errno != EACCES) {
                err_sys(&err, "join session keyring");
                child_fail(sync_fd, "keyring", &err);
        }
        if (hooks_run(spec, HOOK_CREATE_CONTAINER, state_json, &err) < 0)
                child_fail(sync_fd, "createContainer hooks", &err);
        /* Before pivot_root, while the state root's filter cache is reachable:
         * podman's default profile costs ~10-20 ms to compile, a cache hit one
         * small read. */
        if (seccomp_prepare(spec->linux.seccomp, cfg->seccomp_cache, &seccomp, &err) < 0)
                child_fail(sync_fd, "seccomp", &err);
        if (rootfs_setup(spec, cfg->rootfs, -1, cfg->no_pivot, in_userns, &err) < 0)
                child_fail(sync_fd, "rootfs", &err);
        /* As runc: the pty comes from the container's own devpts, so the
         * process sees its terminal as /dev/pts/N (and /dev/console). */
        if (p->terminal && (setup_terminal(cfg, sync_fd, &slave, &err) < 0 ||
                            devices_bind_console(slave, &err) < 0))
                child_fail(sync_fd, "terminal", &err);
        if (process_misc_apply(spec, &err) < 0)
                child_fail(sync_fd, "process", &err);
        if (init_process_prepare(p, &seccomp, &exe, &err) < 0)
                child_fail(sync_fd, "process", &err);
        if (slave >= 0 && terminal_make_stdio(slave, &err) < 0)
                child_fail(sync_fd, "terminal", &err);
        if (init_msg_send(sync_fd, INIT_MSG_READY, 0, NULL) < 0)
                _exit(1);
        if (cfg->fifo_fd >= 0) {
                close(sync_fd);
                /* Parked until `start` writes a byte; EOF means nobody will. */
                while (read(cfg->fifo_fd, &byte, 1) < 0 && errno == EINTR)
                        ;
        }
        /* The fifo fd (or, unparked, the sync socket) stays open
         * (close-on-exec) until execve: the releasing side waits for it to
         * close before running poststart hooks. */
        if (hooks_run(spec, HOOK_START_CONTAINER, state_json, &err) < 0) {
                dprintf(STDERR_FILENO, "isola init: startContainer hooks: %s\n", err.msg);
                _exit(1);
        }
        init_process_exec(p, &seccomp, exe, cfg->preserve_fds);
}

/* Stage 1: enters the joined namespaces, creates the new ones and forks the
 * init into them (see the protocol at the top). */
static _Noreturn void stage1(const struct init_config *cfg, int sync_fd)
{
        const struct spec *spec = cfg->spec;
        uint64_t flags = new_ns_flags(spec) & ~(uint64_t)CLONE_NEWCGROUP;
        struct isola_err err = {0};
        struct init_msg m;
        char buf[16];
        pid_t pid;

        if (join_paths(spec, true, &err) < 0 || join_paths(spec, false, &err) < 0)
                child_fail(sync_fd, "namespaces", &err);
        if (flags & CLONE_NEWUSER) {
                if (unshare(CLONE_NEWUSER) < 0) {
                        err_sys(&err, "unshare");
                        child_fail(sync_fd, "user namespace", &err);
                }
                if (init_msg_send(sync_fd, INIT_MSG_MAPS_REQ, getpid(), NULL) < 0 ||
                    init_msg_recv(sync_fd, &m, buf, sizeof(buf), NULL) < 0 ||
                    m.type != INIT_MSG_MAPS_DONE)
                        _exit(1);
                prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
                flags &= ~(uint64_t)CLONE_NEWUSER;
        }
        if (flags && unshare((int)flags) < 0) {
                err_sys(&err, "unshare");
                child_fail(sync_fd, "namespaces", &err);
        }
        pid = init_clone3(CLONE_PARENT, -1);
        if (pid < 0) {
                err_sys(&err, "clone");
                child_fail(sync_fd, "init", &err);
        }
        if (pid == 0)
                init_child(cfg, sync_fd, false);
        init_msg_send(sync_fd, INIT_MSG_PID, pid, NULL);
        _exit(0);
}

static int await_stage1(struct init_handle *h, pid_t s1, const struct spec *spec,
                        struct isola_err *err)
{
        char buf[ISOLA_ERR_MSG_MAX + 64];
        struct init_msg m;
        int status, rc = -1;

        for (;;) {
                if (init_msg_recv(h->sync_fd, &m, buf, sizeof(buf), NULL) < 0) {
                        err_set(err, EPIPE, "container init exited during set-up");
                        break;
                }
                if (m.type == INIT_MSG_MAPS_REQ) {
                        if (init_write_id_maps(s1, spec, err) < 0)
                                break;
                        init_msg_send(h->sync_fd, INIT_MSG_MAPS_DONE, 0, NULL);
                } else if (m.type == INIT_MSG_PID) {
                        h->pid = m.value;
                        rc = 0;
                        break;
                } else {
                        err_set(err, m.value, "%s", buf);
                        break;
                }
        }
        if (rc < 0)
                kill(s1, SIGKILL);
        while (waitpid(s1, &status, 0) < 0 && errno == EINTR)
                ;
        return rc;
}

int init_spawn(const struct init_config *cfg, struct init_handle *h, struct isola_err *err)
{
        const struct spec *spec = cfg->spec;
        uint64_t flags = new_ns_flags(spec);
        bool need_stage1 = has_path(spec, NS_PID) || has_path(spec, NS_USER) ||
                           ((flags & CLONE_NEWUSER) && has_any_path(spec));
        int sv[2];
        pid_t pid;

        h->pid = -1;
        h->sync_fd = -1;
        h->pty_master = -1;
        if (!spec->process)
                return err_set(err, EINVAL, "config.json has no 'process' to run");
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return err_sys(err, "socketpair");
        if (!rootless_userns(spec))
                prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* The cgroup namespace is unshared by the init once it sits in the
         * container's cgroup, so that cgroup becomes the namespace root. */
        flags &= ~(uint64_t)CLONE_NEWCGROUP;
        pid = init_clone3(need_stage1 ? 0 : flags, cfg->cgroup_fd);
        if (pid < 0) {
                err_sys(err, "create container init (clone3)");
                close(sv[0]);
                close(sv[1]);
                return -1;
        }
        if (pid == 0) {
                struct isola_err cerr = {0};
                /* The state dir fd carries create's flock; `start` needs it. */
                if (cfg->close_fd >= 0)
                        close(cfg->close_fd);
                close(sv[0]);
                if (cfg->cg && cgroup_join_self(cfg->cg, cfg->cgroup_fd >= 0, &cerr) < 0)
                        child_fail(sv[1], "cgroup", &cerr);
                if (need_stage1)
                        stage1(cfg, sv[1]);
                init_child(cfg, sv[1], true);
        }
        close(sv[1]);
        h->sync_fd = sv[0];
        if (need_stage1)
                return await_stage1(h, pid, spec, err) < 0 ? (init_handle_close(h), -1) : 0;
        h->pid = pid;
        if ((flags & CLONE_NEWUSER) && init_write_id_maps(pid, spec, err) < 0) {
                init_abort(h);
                return -1;
        }
        return 0;
}

/* The sync socket closes when the init dies. Say how it died without
 * reaping it (init_abort still owns that): a SIGKILL during set-up is almost
 * always the OOM killer acting on a memory limit too small for the set-up. */
static int init_died(pid_t pid, struct isola_err *err)
{
        siginfo_t si = {0};

        if (pid > 0 && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0 &&
            si.si_code == CLD_KILLED && si.si_status == SIGKILL)
                return err_set(err, EPIPE,
                               "container init was killed (SIGKILL) during set-up: "
                               "OOM-killed? (linux.resources.memory.limit too low?)");
        return err_set(err, EPIPE, "container init exited during set-up");
}

int init_release(struct init_handle *h, const char *state_json, struct isola_err *err)
{
        char buf[ISOLA_ERR_MSG_MAX + 64];
        struct init_msg m;
        int fd;

        if (init_msg_send(h->sync_fd, INIT_MSG_GO, 0, state_json) < 0)
                return err_sys(err, "start container init");
        for (;;) {
                if (init_msg_recv(h->sync_fd, &m, buf, sizeof(buf), &fd) < 0)
                        return init_died(h->pid, err);
                if (m.type == INIT_MSG_PTY) {
                        h->pty_master = fd;
                        continue;
                }
                if (fd >= 0)
                        close(fd);
                if (m.type == INIT_MSG_READY)
                        return 0;
                return err_set(err, m.value, "%s", buf);
        }
}

int init_collect_error(struct init_handle *h, struct isola_err *err)
{
        char buf[ISOLA_ERR_MSG_MAX + 64];
        struct init_msg m = {0};
        ssize_t n;
        struct iovec iov[2] = {{&m, sizeof(m)}, {buf, sizeof(buf) - 1}};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};

        n = recvmsg(h->sync_fd, &msg, MSG_DONTWAIT);
        if (n >= (ssize_t)sizeof(m) && m.type == INIT_MSG_ERROR) {
                buf[n - (ssize_t)sizeof(m)] = 0;
                return err_set(err, m.value, "%s", buf);
        }
        return init_died(h->pid, err);
}

void init_wait_exec(struct init_handle *h)
{
        char buf[64];
        struct init_msg m;

        while (init_msg_recv(h->sync_fd, &m, buf, sizeof(buf), NULL) == 0)
                ;
}

void init_abort(struct init_handle *h)
{
        int status;

        if (h->pid > 0) {
                kill(h->pid, SIGKILL);
                while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
                        ;
                h->pid = -1;
        }
        init_handle_close(h);
}

void init_handle_close(struct init_handle *h)
{
        if (h->sync_fd >= 0)
                close(h->sync_fd);
        h->sync_fd = -1;
}
