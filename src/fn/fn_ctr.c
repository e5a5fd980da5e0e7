/* The container back end: an instance is an OCI container made in-process
 * by the runtime library (src/ctr) on an overlay of the image's unpacked
 * layers, in its own cgroup and a network namespace with loopback only. The
 * gateway reaches the port by creating the socket inside that namespace
 * (setns, socket, setns back): the socket keeps its namespace, so connect()
 * and the whole exchange run from the gateway's own namespace. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctr/container.h"
#include "fn/fn_backend.h"
#include "util/cleanup.h"
#include "util/fs.h"

struct fn_inst {
        char id[128];       /* runtime id, also the cgroup name */
        char dir[PATH_MAX]; /* <runroot>/fn/<name>/<serial> */
        char ctr_root[PATH_MAX];
        char cg[160]; /* absolute cgroupsPath */
        int port;
        int netns_fd, host_netns_fd;
        int cpu_fd, mem_fd;
        bool mounted, started, prepared, v2;
        pid_t pid;
        int pidfd;
};

int64_t fn_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fn_now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A new network namespace with lo up, made on a short-lived thread so the
 * gateway's threads never change namespace for long. */
struct netns_job {
        int fd, errnum;
};

static void *netns_thread(void *arg)
{
        struct netns_job *j = arg;
        struct ifreq ifr = {0};
        int s;

        if (unshare(CLONE_NEWNET) < 0) {
                j->errnum = errno;
                return NULL;
        }
        s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
            (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
                j->errnum = errno;
                if (s >= 0)
                        close(s);
                return NULL;
        }
        close(s);
        j->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (j->fd < 0)
                j->errnum = errno;
        return NULL;
}

static int netns_new(int *fd_out, struct isola_err *err)
{
        struct netns_job j = {.fd = -1};
        pthread_t t;
        int rc = pthread_create(&t, NULL, netns_thread, &j);

        if (rc != 0)
                return err_set(err, rc, "network namespace: cannot start a thread");
        pthread_join(t, NULL);
        if (j.fd < 0)
                return err_set(err, j.errnum, "network namespace: %s", strerror(j.errnum));
        *fd_out = j.fd;
        return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st, (void)flag, (void)ftw;
        remove(path);
        return 0;
}

static void rm_tree(const char *dir)
{
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static int mount_rootfs(struct fn_inst *i, const char *const *layers, struct isola_err *err)
{
        char opts[4096], path[PATH_MAX + 16];
        size_t n = 0, off;

        while (layers[n])
                n++;
        if (n == 0)
                return err_set(err, EINVAL, "image has no layers");
        off = (size_t)snprintf(opts, sizeof(opts), "lowerdir=");
        for (size_t k = n; k-- > 0;) /* overlay wants the top layer first */
                off += (size_t)snprintf(opts + off, off < sizeof(opts) ? sizeof(opts) - off : 0,
                                        "%s%s", layers[k], k ? ":" : "");
        off += (size_t)snprintf(opts + off, off < sizeof(opts) ? sizeof(opts) - off : 0,
                                ",upperdir=%s/upper,workdir=%s/work", i->dir, i->dir);
        if (off >= sizeof(opts))
                return err_set(err, ENAMETOOLONG, "overlay options too long (%zu layers)", n);
        snprintf(path, sizeof(path), "%s/rootfs", i->dir);
        if (mount("overlay", path, "overlay", 0, opts) < 0)
                return err_sys(err, "mount overlay on %s", path);
        i->mounted = true;
        return 0;
}

static void jadd_str(json_object *o, const char *k, const char *v)
{
        json_object_object_add(o, k, json_object_new_string(v));
}

static json_object *mount_obj(const char *dst, const char *type, const char *src, const char *o1,
                              const char *o2)
{
        json_object *m = json_object_new_object(), *opts = json_object_new_array();

        jadd_str(m, "destination", dst);
        jadd_str(m, "type", type);
        jadd_str(m, "source", src);
        json_object_array_add(opts, json_object_new_string(o1));
        if (o2)
                json_object_array_add(opts, json_object_new_string(o2));
        json_object_object_add(m, "options", opts);
        return m;
}

static json_object *process_obj(json_object *p, const struct fn_config *c, const char *const *cmd)
{
        json_object *args = json_object_new_array(), *env = json_object_new_array();
        char buf[64];

        /* http: the init execs the handler itself (its output goes to the log
         * through the stdio the prepare helper hands down); stdio: the shim
         * serves and runs the handler per request */
        if (c->mode == FN_MODE_STDIO || !cmd || !cmd[0]) {
                json_object_array_add(args, json_object_new_string("/.isola-fn/shim"));
                json_object_array_add(
                    args, json_object_new_string(c->mode == FN_MODE_HTTP ? "http" : "stdio"));
                snprintf(buf, sizeof(buf), "%d", c->port);
                json_object_array_add(args, json_object_new_string(buf));
                json_object_array_add(args, json_object_new_string("--"));
        }
        for (size_t k = 0; cmd && cmd[k]; k++)
                json_object_array_add(args, json_object_new_string(cmd[k]));
        json_object_object_add(p, "args", args);
        json_object_array_add(
            env, json_object_new_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                        "/usr/bin:/sbin:/bin"));
        snprintf(buf, sizeof(buf), "PORT=%d", c->port);
        json_object_array_add(env, json_object_new_string(buf));
        for (size_t k = 0; c->env && c->env[k]; k++)
                json_object_array_add(env, json_object_new_string(c->env[k]));
        json_object_object_add(p, "env", env);
        json_object_object_add(p, "terminal", json_object_new_boolean(false));
        return p;
}

static void resources_obj(json_object *lin, const struct fn_config *c)
{
        json_object *r = json_object_new_object(), *mem = json_object_new_object();

        json_object_object_add(mem, "limit", json_object_new_int64((int64_t)c->memory_mib << 20));
        json_object_object_add(r, "memory", mem);
        if (c->cpus > 0) {
                json_object *cpu = json_object_new_object();
                json_object_object_add(cpu, "period", json_object_new_int64(100000));
                json_object_object_add(cpu, "quota",
                                       json_object_new_int64((int64_t)(c->cpus * 100000)));
                json_object_object_add(r, "cpu", cpu);
        }
        json_object_object_add(lin, "resources", r);
}

static int write_spec(struct fn_inst *i, const struct fn_config *c, const char *const *cmd,
                      const char *shim, struct isola_err *err)
{
        _cleanup_free_ char *text = NULL;
        char path[PATH_MAX + 32], nspath[64];
        json_object *spec, *x, *lin, *ns;
        int rc;

        if (spec_default_json(false, &text, err) < 0)
                return -1;
        spec = json_tokener_parse(text);
        if (!spec)
                return err_set(err, EINVAL, "default spec is not JSON");
        json_object_object_get_ex(spec, "root", &x);
        snprintf(path, sizeof(path), "%s/rootfs", i->dir);
        jadd_str(x, "path", path);
        json_object_object_add(x, "readonly", json_object_new_boolean(false));
        json_object_object_get_ex(spec, "process", &x);
        process_obj(x, c, cmd);
        jadd_str(spec, "hostname", c->name);
        json_object_object_get_ex(spec, "mounts", &x);
        json_object_array_add(x, mount_obj("/tmp", "tmpfs", "tmpfs", "nosuid", "nodev"));
        json_object_array_add(x, mount_obj("/.isola-fn/shim", "bind", shim, "bind", "ro"));
        snprintf(path, sizeof(path), "%s/../log", i->dir);
        json_object_array_add(x, mount_obj("/.isola-fn/log", "bind", path, "bind", NULL));
        json_object_object_get_ex(spec, "linux", &lin);
        jadd_str(lin, "cgroupsPath", i->cg);
        resources_obj(lin, c);
        json_object_object_get_ex(lin, "namespaces", &ns);
        snprintf(nspath, sizeof(nspath), "/proc/%d/fd/%d", (int)getpid(), i->netns_fd);
        for (size_t k = 0; k < json_object_array_length(ns); k++) {
                json_object *e = json_object_array_get_idx(ns, k), *t;
                if (json_object_object_get_ex(e, "type", &t) &&
                    !strcmp(json_object_get_string(t), "network"))
                        jadd_str(e, "path", nspath);
        }
        snprintf(path, sizeof(path), "%s/config.json", i->dir);
        const char *out = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN);
        rc = fs_write_file(path, out, strlen(out), O_CREAT | O_TRUNC, 0600, err);
        json_object_put(spec);
        return rc;
}

static void inst_free(struct fn_inst *i)
{
        if (i->netns_fd >= 0)
                close(i->netns_fd);
        if (i->host_netns_fd >= 0)
                close(i->host_netns_fd);
        if (i->cpu_fd >= 0)
                close(i->cpu_fd);
        if (i->mem_fd >= 0)
                close(i->mem_fd);
        if (i->pidfd >= 0)
                close(i->pidfd);
        free(i);
}

static void ctr_destroy(struct fn_inst *i)
{
        struct ctr_opts o = {.root = i->ctr_root};
        struct isola_err ignore = {0};
        char path[PATH_MAX + 16];

        if (i->started) {
                ctr_kill(&o, i->id, SIGKILL, true, &ignore);
                if (i->pid > 0 && i->pidfd >= 0) { /* not ours to reap without subreaper */
                        struct pollfd p = {.fd = i->pidfd, .events = POLLIN};
                        while (poll(&p, 1, 1000) < 0 && errno == EINTR)
                                ;
                        waitpid(i->pid, NULL, WNOHANG);
                }
                ctr_delete(&o, i->id, true, &ignore);
        }
        snprintf(path, sizeof(path), "%s/rootfs", i->dir);
        if (i->mounted)
                umount2(path, MNT_DETACH);
        rm_tree(i->dir);
        inst_free(i);
}

static int ctr_create_inst(const struct db_paths *p, const struct fn_config *c,
                           const char *const *layers, const char *shim, unsigned serial,
                           struct fn_inst **out, struct isola_err *err)
{
        struct fn_inst *i = calloc(1, sizeof(*i));
        char path[PATH_MAX + 16];
        const char *const *cmd = (const char *const *)c->args;

        if (!i)
                return err_set(err, ENOMEM, "out of memory");
        i->netns_fd = i->host_netns_fd = i->cpu_fd = i->mem_fd = i->pidfd = -1;
        i->port = c->port;
        snprintf(i->id, sizeof(i->id), "fn-%s-%d-%u", c->name, (int)getpid(), serial);
        snprintf(i->cg, sizeof(i->cg), "/isola-%s", i->id);
        snprintf(i->ctr_root, sizeof(i->ctr_root), "%s/fn/ctr", p->runroot);
        /* the pid keeps a one-shot `fn invoke` and a gateway apart */
        snprintf(i->dir, sizeof(i->dir), "%s/fn/%s/%d-%u", p->runroot, c->name, (int)getpid(),
                 serial);
        snprintf(path, sizeof(path), "%s/upper", i->dir);
        if (fs_mkdir_p(path, 0700, err) < 0)
                goto fail;
        snprintf(path, sizeof(path), "%s/work", i->dir);
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
                err_sys(err, "mkdir %s", path);
                goto fail;
        }
        snprintf(path, sizeof(path), "%s/rootfs", i->dir);
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                err_sys(err, "mkdir %s", path);
                goto fail;
        }
        if (fs_mkdir_p(i->ctr_root, 0700, err) < 0 || mount_rootfs(i, layers, err) < 0 ||
            netns_new(&i->netns_fd, err) < 0)
                goto fail;
        i->host_netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (i->host_netns_fd < 0) {
                err_sys(err, "open /proc/self/ns/net");
                goto fail;
        }
        if (write_spec(i, c, cmd, shim, err) < 0)
                goto fail;
        *out = i;
        return 0;
fail:
        ctr_destroy(i);
        return err_prefix(err, "function '%s': instance %u", c->name, serial);
}

static bool ctr_alive(struct fn_inst *i)
{
        struct pollfd p = {.fd = i->pidfd, .events = POLLIN};
        int st;

        if (i->pid <= 0)
                return false;
        /* the pidfd turns readable when the init exits, child of ours or not */
        bool gone = i->pidfd >= 0 ? poll(&p, 1, 0) > 0 : kill(i->pid, 0) < 0 && errno == ESRCH;
        pid_t r = waitpid(i->pid, &st, WNOHANG);
        if (gone || r == i->pid) {
                if (r == 0)
                        waitpid(i->pid, &st, WNOHANG);
                i->pid = -1;
                return false;
        }
        return true;
}

/* The runtime library clones the container's init; in a multi-threaded
 * gateway that must happen in a single-threaded process (no locks held by
 * other threads), so a fork()ed helper calls ctr_create and exits. The init
 * stays parked on its exec fifo (a prepared shell) until ctr_start releases
 * it. The gateway follows the init with a pidfd: it is the gateway's child
 * when the gateway is a subreaper, else init(1)'s. */
static int ctr_prepare_inst(struct fn_inst *i, struct isola_err *err)
{
        struct ctr_opts o = {.root = i->ctr_root};
        int pfd[2];
        pid_t h;
        int status;
        char msg[ISOLA_ERR_MSG_MAX] = "";
        ssize_t n;

        if (i->prepared)
                return 0;
        /* non-blocking read end: the parked init holds the write end until it execs */
        if (pipe2(pfd, O_CLOEXEC) < 0 || fcntl(pfd[0], F_SETFL, O_NONBLOCK) < 0)
                return err_sys(err, "pipe");
        h = fork();
        if (h < 0) {
                close(pfd[0]);
                close(pfd[1]);
                return err_sys(err, "fork");
        }
        if (h == 0) {
                struct ctr_create_args a = {.bundle = i->dir};
                struct isola_err e = {0};
                char logp[PATH_MAX + 16];
                snprintf(logp, sizeof(logp), "%s/../log", i->dir);
                int dn = open("/dev/null", O_RDWR),
                    lg = open(logp, O_WRONLY | O_APPEND | O_CLOEXEC);
                if (dn >= 0) {
                        dup2(dn, 0);
                        dup2(lg >= 0 ? lg : dn, 1);
                        dup2(lg >= 0 ? lg : dn, 2);
                }
                /* a parked init must not keep the gateway's sockets open */
                if (pfd[1] > 3)
                        syscall(SYS_close_range, 3u, (unsigned)pfd[1] - 1, 0u);
                syscall(SYS_close_range, (unsigned)pfd[1] + 1, ~0u, 0u);
                if (ctr_create(&o, i->id, &a, &e) < 0) {
                        fs_write_all(pfd[1], e.msg, strlen(e.msg));
                        _exit(1);
                }
                _exit(0);
        }
        close(pfd[1]);
        while (waitpid(h, &status, 0) < 0 && errno == EINTR)
                ;
        n = read(pfd[0], msg, sizeof(msg) - 1);
        close(pfd[0]);
        i->started = true; /* runtime state to delete from here on */
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return err_set(err, EIO, "create: %s", n > 0 ? msg : "runtime helper failed");
        _cleanup_free_ char *state = NULL;
        if (ctr_state(&o, i->id, &state, err) < 0)
                return -1;
        json_object *js = json_tokener_parse(state), *pid;
        if (js && json_object_object_get_ex(js, "pid", &pid))
                i->pid = json_object_get_int(pid);
        json_object_put(js);
        if (i->pid <= 0)
                return err_set(err, ECHILD, "container init exited while being created");
        i->pidfd = (int)syscall(SYS_pidfd_open, i->pid, 0);
        /* counters for metering, opened once */
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "/sys/fs/cgroup/cpuacct%s/cpuacct.usage", i->cg);
        i->cpu_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (i->cpu_fd >= 0) {
                snprintf(path, sizeof(path), "/sys/fs/cgroup/memory%s/memory.max_usage_in_bytes",
                         i->cg);
        } else {
                i->v2 = true;
                snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cpu.stat", i->cg);
                i->cpu_fd = open(path, O_RDONLY | O_CLOEXEC);
                snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.peak", i->cg);
        }
        i->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
        i->prepared = true;
        return 0;
}

/* Releases the parked init: it execs the shim, which execs the handler. */
static int ctr_start_inst(struct fn_inst *i, struct isola_err *err)
{
        struct ctr_opts o = {.root = i->ctr_root};

        if (ctr_prepare_inst(i, err) < 0)
                return -1;
        if (ctr_start(&o, i->id, err) < 0)
                return -1;
        /* marks a started instance apart from a prepared shell (for readers of the dirs) */
        char path[PATH_MAX + 16];
        snprintf(path, sizeof(path), "%s/running", i->dir);
        close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        return ctr_alive(i)
                   ? 0
                   : err_set(err, ECHILD, "process exited before it listened on port %d", i->port);
}

static int ctr_connect(struct fn_inst *i, struct isola_err *err)
{
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)i->port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int s;

        if (setns(i->netns_fd, CLONE_NEWNET) < 0)
                return err_sys(err, "setns into the instance");
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int e = errno;
        if (setns(i->host_netns_fd, CLONE_NEWNET) < 0) {
                /* a thread stuck in the instance's namespace must not go on */
                if (s >= 0)
                        close(s);
                return err_sys(err, "setns back to the host");
        }
        if (s < 0) {
                errno = e;
                return err_sys(err, "socket");
        }
        /* the gateway's recv on it waits at most this long before it
         * looks at the request's deadline again (gw_exchange) */
        struct timeval tv = {0, 250000};
        int one = 1;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
                err_sys(err, "connect to port %d", i->port);
                close(s);
                return -1;
        }
        return s;
}

static int ctr_ready(struct fn_inst *i, int64_t deadline_ms, struct isola_err *err)
{
        /* Probing connect()s answer as soon as the port is bound; between
         * refused probes the process is given 200 µs to run. */
        for (;;) {
                int s = ctr_connect(i, err);
                if (s >= 0) {
                        close(s);
                        return 0;
                }
                if (!ctr_alive(i))
                        return err_set(err, ECHILD, "process exited before it listened on port %d",
                                       i->port);
                if (fn_now_ms() >= deadline_ms)
                        return err_set(err, ETIMEDOUT, "port %d not open after waiting", i->port);
                struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
        }
}

static int64_t read_num(int fd, const char *key)
{
        char buf[1024];
        ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;

        if (n <= 0)
                return 0;
        buf[n] = 0;
        if (!key)
                return strtoll(buf, NULL, 10);
        char *p = strstr(buf, key);
        return p ? strtoll(p + strlen(key), NULL, 10) : 0;
}

static int ctr_usage(struct fn_inst *i, struct fn_usage_sample *out)
{
        if (i->v2)
                out->cpu_us = read_num(i->cpu_fd, "usage_usec ");
        else
                out->cpu_us = read_num(i->cpu_fd, NULL) / 1000;
        out->peak_bytes = read_num(i->mem_fd, NULL);
        return 0;
}

static bool pid_dead(pid_t pid)
{
        return pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH);
}

/* Leftovers of a gateway (or one-shot invoke) that died without cleaning up:
 * runtime state whose id names a dead pid (killed and deleted: processes,
 * cgroup), then instance dirs <runroot>/fn/NAME/<pid>-N of dead pids. */
static void ctr_gc(const struct db_paths *p)
{
        char root[PATH_MAX], path[PATH_MAX + 600];
        struct ctr_opts o = {.root = root};
        struct isola_err ignore = {0};
        struct dirent *e;
        DIR *d;

        snprintf(root, sizeof(root), "%s/fn/ctr", p->runroot);
        if ((d = opendir(root))) {
                while ((e = readdir(d))) {
                        const char *last = strrchr(e->d_name, '-'), *prev = NULL;
                        for (const char *q = e->d_name; last && q < last; q++)
                                if (*q == '-')
                                        prev = q;
                        if (strncmp(e->d_name, "fn-", 3) != 0 || !prev || !pid_dead(atoi(prev + 1)))
                                continue;
                        ctr_kill(&o, e->d_name, SIGKILL, true, &ignore);
                        ctr_delete(&o, e->d_name, true, &ignore);
                }
                closedir(d);
        }
        snprintf(root, sizeof(root), "%s/fn", p->runroot);
        if (!(d = opendir(root)))
                return;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.' || !strcmp(e->d_name, "ctr"))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
                DIR *fd = opendir(path);
                struct dirent *ie;
                while (fd && (ie = readdir(fd))) {
                        if (ie->d_name[0] < '0' || ie->d_name[0] > '9' ||
                            !pid_dead(atoi(ie->d_name)))
                                continue;
                        char inst[PATH_MAX + 900];
                        snprintf(inst, sizeof(inst), "%s/%s/rootfs", path, ie->d_name);
                        umount2(inst, MNT_DETACH);
                        snprintf(inst, sizeof(inst), "%s/%s", path, ie->d_name);
                        rm_tree(inst);
                }
                if (fd)
                        closedir(fd);
        }
        closedir(d);
}

const struct fn_backend fn_backend_container = {
    .gc = ctr_gc,
    .name = "container",
    .create = ctr_create_inst,
    .prepare = ctr_prepare_inst,
    .start = ctr_start_inst,
    .ready = ctr_ready,
    .connect = ctr_connect,
    .alive = ctr_alive,
    .usage = ctr_usage,
    .destroy = ctr_destroy,
};
