/* `isola vm compare` (see compare.h): runs the two machines in-process one
 * after the other with the console on a pipe; a reader thread timestamps
 * the workload markers as they arrive and samples the counters; the
 * baseline runs the same script on the host through busybox.
 *
 * The network workload sends to a receiver thread of this process. For the
 * para machine the calling thread steps into a network namespace of its
 * own (unshare), where the TAP is created and the receiver listens, and
 * steps back: the namespace is anonymous, so it and the TAP go away with
 * the last socket and the TAP's fd on every path, a crash included. The
 * host's baseline does the same over the namespace's loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/compare.h"
#include "vmm/machine.h"

#define MAX_WORKLOADS 16
#define LINE_MAX_LEN  512
/* The para machine's TAP and addresses, inside its own namespace. */
#define NET_TAP      "isolacmp0"
#define NET_HOST_IP  "10.199.0.1"
#define NET_GUEST_IP "10.199.0.2/24"
#define NET_NO_NIC   "no emulated NIC"

struct sample {
        char name[32], unit[16];
        uint64_t amount;
        double t_begin, t_end;               /* ms, CLOCK_MONOTONIC */
        struct json_object *s_begin, *s_end; /* machine stats (NULL on the host) */
        bool done;
};

/* The receiver of the network workload: accepts connections one after
 * the other and counts what arrives until the sender closes. */
struct sink {
        int fd; /* listening, -1 when not started */
        pthread_t th;
        atomic_bool stop;
        atomic_uint_least64_t bytes;
        char addr[32]; /* "IP:PORT" for the script */
};

struct run {
        struct machine *m; /* NULL for the host */
        int fd;            /* console / script output */
        FILE *log;
        struct sample w[MAX_WORKLOADS];
        unsigned n;
        bool finished;      /* ISOLA-BENCH-DONE seen */
        double t0, t_first; /* start, first marker: the boot time */
        int64_t net_bytes;  /* what the receiver got; -1: no network workload */
        char net_note[160]; /* why there was none ("" when there was) */
};

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct sample *find(struct run *r, const char *name)
{
        for (unsigned i = 0; i < r->n; i++)
                if (!strcmp(r->w[i].name, name))
                        return &r->w[i];
        return NULL;
}

static void on_line(struct run *r, char *line)
{
        double t = now_ms();
        char name[32], unit[16];
        unsigned long long amount;

        line[strcspn(line, "\r")] = '\0';
        if (r->log)
                fprintf(r->log, "%s\n", line);
        char *p = strstr(line, "ISOLA-BENCH-");
        if (!p)
                return;
        if (r->t_first == 0)
                r->t_first = t;
        if (sscanf(p, "ISOLA-BENCH-BEGIN %31s", name) == 1 && !find(r, name) &&
            r->n < MAX_WORKLOADS) {
                struct sample *s = &r->w[r->n++];
                snprintf(s->name, sizeof(s->name), "%s", name);
                s->s_begin = r->m ? machine_stats_json(r->m) : NULL;
                s->t_begin = now_ms();
        } else if (sscanf(p, "ISOLA-BENCH-END %31s %llu %15s", name, &amount, unit) == 3) {
                struct sample *s = find(r, name);
                if (!s || s->done)
                        return;
                s->t_end = t;
                s->s_end = r->m ? machine_stats_json(r->m) : NULL;
                s->amount = amount;
                snprintf(s->unit, sizeof(s->unit), "%s", unit);
                s->done = true;
        } else if (!strncmp(p, "ISOLA-BENCH-DONE", 16)) {
                r->finished = true;
        }
}

/* Splits the stream into lines (bounded; longer lines are cut). */
static void *reader(void *arg)
{
        struct run *r = arg;
        char line[LINE_MAX_LEN];
        size_t len = 0;
        char buf[4096];
        ssize_t n;

        while ((n = read(r->fd, buf, sizeof(buf))) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n' || len == sizeof(line) - 1) {
                                line[len] = '\0';
                                on_line(r, line);
                                len = 0;
                        }
                        if (buf[i] != '\n')
                                line[len++] = buf[i];
                }
        }
        return NULL;
}

static void free_run(struct run *r)
{
        for (unsigned i = 0; i < r->n; i++) {
                json_object_put(r->w[i].s_begin);
                json_object_put(r->w[i].s_end);
        }
        if (r->log)
                fclose(r->log);
}

static void *sink_main(void *arg)
{
        struct sink *s = arg;
        static const struct timeval tick = {.tv_usec = 200000};
        char buf[65536];

        while (!atomic_load(&s->stop)) {
                struct pollfd p = {.fd = s->fd, .events = POLLIN};
                if (poll(&p, 1, 200) <= 0)
                        continue;
                int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                /* A sender that dies without closing must not hold us. */
                (void)setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick));
                for (;;) {
                        ssize_t n = read(c, buf, sizeof(buf));
                        if (n > 0)
                                atomic_fetch_add(&s->bytes, (uint64_t)n);
                        else if (n < 0 && (errno == EAGAIN || errno == EINTR) &&
                                 !atomic_load(&s->stop))
                                continue;
                        else
                                break;
                }
                close(c);
        }
        return NULL;
}

/* Listens on any address of the calling thread's namespace, port picked by
 * the kernel; the script is told HOST_IP:PORT. */
static int sink_start(struct sink *s, const char *host_ip, struct isola_err *err)
{
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);

        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s->fd < 0)
                return err_sys(err, "receiver socket");
        if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s->fd, 4) < 0 ||
            getsockname(s->fd, (struct sockaddr *)&sa, &len) < 0) {
                err_sys(err, "receiver socket");
                goto fail;
        }
        snprintf(s->addr, sizeof(s->addr), "%s:%u", host_ip, ntohs(sa.sin_port));
        atomic_store(&s->stop, false);
        atomic_store(&s->bytes, 0);
        if (pthread_create(&s->th, NULL, sink_main, s) != 0) {
                err_set(err, EAGAIN, "cannot start the receiver thread");
                goto fail;
        }
        return 0;
fail:
        close(s->fd);
        s->fd = -1;
        return -1;
}

static uint64_t sink_stop(struct sink *s)
{
        if (s->fd < 0)
                return 0;
        atomic_store(&s->stop, true);
        pthread_join(s->th, NULL);
        close(s->fd);
        s->fd = -1;
        return atomic_load(&s->bytes);
}

/* Moves the calling thread into a new, anonymous network namespace; *orig
 * keeps the old one for net_leave. */
static int net_enter(int *orig, struct isola_err *err)
{
        *orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (*orig < 0)
                return err_sys(err, "/proc/thread-self/ns/net");
        if (unshare(CLONE_NEWNET) < 0) {
                err_sys(err, "a network namespace for the transfer (unshare)");
                close(*orig);
                *orig = -1;
                return -1;
        }
        return 0;
}

static void net_leave(int orig)
{
        if (orig < 0)
                return;
        /* Cannot fail for a namespace we came from; nothing else to do. */
        (void)setns(orig, CLONE_NEWNET);
        close(orig);
}

/* Brings NAME up with ADDR/24 (NULL: up only), in the thread's namespace. */
static int if_up(const char *name, const char *addr, struct isola_err *err)
{
        struct ifreq ifr = {0};
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

        if (fd < 0)
                return err_sys(err, "socket");
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
        if (addr) {
                struct sockaddr_in *sa = (struct sockaddr_in *)&ifr.ifr_addr;
                sa->sin_family = AF_INET;
                inet_pton(AF_INET, addr, &sa->sin_addr);
                if (ioctl(fd, SIOCSIFADDR, &ifr) < 0) {
                        err_sys(err, "%s: address %s", name, addr);
                        goto out;
                }
                inet_pton(AF_INET, "255.255.255.0", &sa->sin_addr);
                if (ioctl(fd, SIOCSIFNETMASK, &ifr) < 0) {
                        err_sys(err, "%s: netmask", name);
                        goto out;
                }
        }
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
                err_sys(err, "%s: flags", name);
                goto out;
        }
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
                err_sys(err, "%s: up", name);
                goto out;
        }
        rc = 0;
out:
        close(fd);
        return rc;
}

static int make_scratch(const char *dir, const char *name, unsigned scale, char *path, size_t len,
                        struct isola_err *err)
{
        snprintf(path, len, "%s/%s", dir, name);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return err_sys(err, "scratch disk '%s'", path);
        /* 8 MiB per scale unit, plus room. */
        int rc = ftruncate(fd, (off_t)(8 * scale + 8) << 20);
        close(fd);
        return rc < 0 ? err_sys(err, "scratch disk '%s'", path) : 0;
}

/* The para machine's NIC: a TAP in a namespace of its own with the
 * receiver listening there. Called inside that namespace. */
static int net_attach(struct machine_config *cfg, struct sink *sink, char *cmdline, size_t len,
                      struct isola_err *err)
{
        size_t used = strlen(cmdline);

        if (sink_start(sink, NET_HOST_IP, err) < 0)
                return -1;
        cfg->n_nets = 1;
        cfg->nets[0].has_mac = false;
        snprintf(cmdline + used, len - used, " isola.net=%s isola.ip=%s", sink->addr, NET_GUEST_IP);
        return machine_config_set_str(&cfg->nets[0].tap, NET_TAP, err);
}

static int run_machine(const struct compare_opts *o, bool pv, const char *disk, struct run *r,
                       struct isola_err *err)
{
        struct machine_config cfg;
        struct sink sink = {.fd = -1};
        char cmdline[256];
        int pipefd[2], ns = -1;
        pthread_t th;
        sigset_t sigs, old;
        int signo = 0, rc = -1;

        /* Blocked before any thread exists: machine_run waits for them on
         * a signalfd (SIGALRM is the time limit). */
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGALRM);
        pthread_sigmask(SIG_BLOCK, &sigs, &old);
        machine_config_init(&cfg);
        snprintf(cmdline, sizeof(cmdline), "console=ttyS0 quiet isola.scale=%u%s", o->scale,
                 pv ? "" : " reboot=k");
        cfg.cpus = o->cpus;
        cfg.memory_mib = o->memory_mib;
        cfg.pv = pv;
        cfg.n_disks = 1;
        cfg.disks[0].bus = pv ? MACHINE_DISK_VIRTIO : MACHINE_DISK_IDE;
        if (machine_config_set_str(&cfg.kernel, pv && o->kernel_pv ? o->kernel_pv : o->kernel,
                                   err) < 0 ||
            machine_config_set_str(&cfg.initrd, o->initrd, err) < 0 ||
            machine_config_set_str(&cfg.disks[0].path, disk, err) < 0)
                goto out;
        r->net_bytes = -1;
        snprintf(r->net_note, sizeof(r->net_note), "%s", NET_NO_NIC);
        if (pv && net_enter(&ns, err) == 0) {
                if (net_attach(&cfg, &sink, cmdline, sizeof(cmdline), err) < 0)
                        goto out;
                r->net_note[0] = '\0';
        } else if (pv) {
                /* Not allowed to make a namespace (not root): no transfer. */
                snprintf(r->net_note, sizeof(r->net_note), "%s", err->msg);
        }
        if (machine_config_set_str(&cfg.cmdline, cmdline, err) < 0)
                goto out;
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                err_sys(err, "pipe");
                goto out;
        }
        r->fd = pipefd[0];
        r->t0 = now_ms();
        if (machine_create(&cfg, -1, pipefd[1], &r->m, err) < 0 ||
            (ns >= 0 && if_up(NET_TAP, NET_HOST_IP, err) < 0)) {
                if (r->m)
                        machine_destroy(r->m);
                r->m = NULL;
                close(pipefd[0]);
                close(pipefd[1]);
                goto out;
        }
        /* The TAP and the receiver's socket keep the namespace. */
        net_leave(ns);
        ns = -1;
        if (pthread_create(&th, NULL, reader, r) != 0) {
                err_set(err, EAGAIN, "cannot start the console reader");
                machine_destroy(r->m);
                close(pipefd[0]);
                close(pipefd[1]);
                goto out;
        }
        alarm(o->timeout_s);
        enum vm_exit_reason reason = machine_run(r->m, &sigs, &signo, err);
        alarm(0);
        close(pipefd[1]);
        pthread_join(th, NULL);
        close(pipefd[0]);
        if (reason == VM_EXIT_SIGNAL)
                err_set(err, ETIMEDOUT, "%s machine: %s", pv ? "para" : "full",
                        signo == SIGALRM ? "did not finish in time" : "interrupted");
        else if (reason != VM_EXIT_POWEROFF && reason != VM_EXIT_RESET)
                err_set(err, EIO, "%s machine stopped: %s", pv ? "para" : "full",
                        machine_failure(r->m)[0] ? machine_failure(r->m) : err->msg);
        else if (!r->finished)
                err_set(err, EIO, "%s machine: the workloads did not finish (see the log)",
                        pv ? "para" : "full");
        else
                rc = 0;
        /* The samples are taken; the machine's stats objects stay valid. */
        machine_destroy(r->m);
        r->m = NULL;
out:
        net_leave(ns);
        if (sink.fd >= 0)
                r->net_bytes = (int64_t)sink_stop(&sink);
        machine_config_free(&cfg);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
}

static int run_host(const struct compare_opts *o, const char *disk, struct run *r,
                    struct isola_err *err)
{
        struct sink sink = {.fd = -1};
        char scale[16];
        int pipefd[2], status, ns = -1;

        snprintf(scale, sizeof(scale), "%u", o->scale);
        /* The same transfer over the loopback of a namespace of its own
         * (the script inherits it), to a receiver like the para machine's. */
        r->net_bytes = -1;
        if (net_enter(&ns, err) < 0) {
                snprintf(r->net_note, sizeof(r->net_note), "%s", err->msg);
        } else if (if_up("lo", NULL, err) < 0 || sink_start(&sink, "127.0.0.1", err) < 0) {
                net_leave(ns);
                return -1;
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                err_sys(err, "pipe");
                goto fail;
        }
        pid_t pid = fork();
        if (pid < 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                err_sys(err, "fork");
                goto fail;
        }
        if (pid == 0) {
                dup2(pipefd[1], STDOUT_FILENO);
                const char *bb = o->busybox ? o->busybox : "busybox";
                execlp(bb, bb, "sh", o->workloads, disk, scale, sink.fd >= 0 ? sink.addr : "",
                       (char *)NULL);
                _exit(127);
        }
        net_leave(ns);
        ns = -1;
        close(pipefd[1]);
        r->fd = pipefd[0];
        r->t0 = now_ms();
        reader(r);
        close(pipefd[0]);
        waitpid(pid, &status, 0);
        if (sink.fd >= 0)
                r->net_bytes = (int64_t)sink_stop(&sink);
        if (!r->finished)
                return err_set(err, EIO, "the host's run of '%s' did not finish (exit status %d)",
                               o->workloads, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 0;
fail:
        net_leave(ns);
        sink_stop(&sink);
        return -1;
}

/* kvm counters at the end minus at the beginning, non-zero ones. */
static struct json_object *exits_between(const struct sample *s)
{
        struct json_object *o = json_object_new_object(), *kb, *ke;

        if (!s->s_begin || !s->s_end || !json_object_object_get_ex(s->s_begin, "kvm", &kb) ||
            !json_object_object_get_ex(s->s_end, "kvm", &ke))
                return o;
        json_object_object_foreach(ke, k, v)
        {
                struct json_object *b;
                uint64_t e = json_object_get_uint64(v),
                         x = json_object_object_get_ex(kb, k, &b) ? json_object_get_uint64(b) : 0;
                if (e > x)
                        json_object_object_add(o, k, json_object_new_uint64(e - x));
        }
        struct json_object *ub, *ue;
        if (json_object_object_get_ex(s->s_begin, "exits_total", &ub) &&
            json_object_object_get_ex(s->s_end, "exits_total", &ue))
                json_object_object_add(o, "user_space_exits",
                                       json_object_new_uint64(json_object_get_uint64(ue) -
                                                              json_object_get_uint64(ub)));
        return o;
}

static struct json_object *figure(const struct run *r, const struct sample *s,
                                  const struct sample *base)
{
        struct json_object *o = json_object_new_object();
        double ms = s->t_end - s->t_begin;

        if (!strncmp(s->name, "net-", 4) && r->net_bytes >= 0)
                json_object_object_add(o, "received_bytes", json_object_new_int64(r->net_bytes));

        json_object_object_add(o, "ms", json_object_new_double(ms));
        json_object_object_add(o, "rate",
                               json_object_new_double(ms > 0 ? (double)s->amount / ms * 1e3 : 0));
        if (base && base->done && base->t_end > base->t_begin)
                json_object_object_add(
                    o, "overhead_pct",
                    json_object_new_double((ms / (base->t_end - base->t_begin) - 1) * 100));
        if (s->s_begin)
                json_object_object_add(o, "exits", exits_between(s));
        return o;
}

static void source(struct json_object *out)
{
        struct stat st;
        const char *src = "hardware", *note =
                                          "hardware virtualization: exits cost what the CPU's VM "
                                          "exit and isola's handling cost";
        char line[1024];
        bool hv = false;
        FILE *f = fopen("/proc/cpuinfo", "re");

        while (f && fgets(line, sizeof(line), f))
                if (!strncmp(line, "flags", 5) && strstr(line, " hypervisor")) {
                        hv = true;
                        break;
                }
        if (f)
                fclose(f);
        if (stat("/sys/module/kvm_pvm", &st) == 0) {
                src = "kvm-pvm";
                note = "kvm-pvm: KVM runs its guests with shadow paging inside a VM; every exit "
                       "and page fault is a trip through the host kernel, so overheads are far "
                       "above hardware's";
        } else if (hv) {
                src = "nested";
                note = "nested virtualization: this host is itself a VM (the KVM sandbox or a "
                       "cloud VM); each exit goes through the outer hypervisor, so exit-heavy "
                       "workloads look much worse than on hardware";
        }
        json_object_object_add(out, "source", json_object_new_string(src));
        json_object_object_add(out, "source_note", json_object_new_string(note));
}

/* {"na": WHY}: the machine cannot run this workload. */
static struct json_object *not_run(const char *why)
{
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "na", json_object_new_string(why[0] ? why : NET_NO_NIC));
        return o;
}

/* One workload's row; S is the full or the para machine's sample of it. */
static void add_workload(struct json_object *arr, const struct sample *s, struct run *host,
                         struct run *full, struct run *para)
{
        const struct sample *f = find(full, s->name), *p = find(para, s->name),
                            *h = host ? find(host, s->name) : NULL;

        if (!s->done)
                return;
        struct json_object *w = json_object_new_object();
        json_object_object_add(w, "name", json_object_new_string(s->name));
        json_object_object_add(w, "unit", json_object_new_string(s->unit));
        json_object_object_add(w, "amount", json_object_new_uint64(s->amount));
        if (h && h->done)
                json_object_object_add(w, "host", figure(host, h, NULL));
        json_object_object_add(w, "full", f ? figure(full, f, h) : not_run(full->net_note));
        if (p && p->done)
                json_object_object_add(w, "para", figure(para, p, h));
        json_object_array_add(arr, w);
}

static struct json_object *result(const struct compare_opts *o, struct run *host, struct run *full,
                                  struct run *para)
{
        struct json_object *out = json_object_new_object(), *arr = json_object_new_array(),
                           *boot = json_object_new_object();

        source(out);
        json_object_object_add(out, "scale", json_object_new_int((int)o->scale));
        json_object_object_add(boot, "full", json_object_new_double(full->t_first - full->t0));
        json_object_object_add(boot, "para", json_object_new_double(para->t_first - para->t0));
        json_object_object_add(out, "boot_ms", boot);
        /* The full machine's workloads in order, then those only the para
         * machine ran (the network transfer: the full one has no NIC). */
        for (unsigned i = 0; i < full->n; i++)
                add_workload(arr, &full->w[i], host, full, para);
        for (unsigned i = 0; i < para->n; i++)
                if (!find(full, para->w[i].name))
                        add_workload(arr, &para->w[i], host, full, para);
        json_object_object_add(out, "workloads", arr);
        if (para->net_note[0])
                json_object_object_add(out, "net_note", json_object_new_string(para->net_note));
        return out;
}

int vm_compare(const struct compare_opts *o, struct json_object **out, struct isola_err *err)
{
        struct run host = {0}, full = {0}, para = {0};
        char disk[4096], log[4200];
        int rc = -1;

        if (make_scratch(o->scratch_dir, "disk-full.img", o->scale, disk, sizeof(disk), err) < 0)
                return -1;
        snprintf(log, sizeof(log), "%s/full.log", o->scratch_dir);
        full.log = fopen(log, "we");
        if (run_machine(o, false, disk, &full, err) < 0)
                goto out;
        if (make_scratch(o->scratch_dir, "disk-para.img", o->scale, disk, sizeof(disk), err) < 0)
                goto out;
        snprintf(log, sizeof(log), "%s/para.log", o->scratch_dir);
        para.log = fopen(log, "we");
        if (run_machine(o, true, disk, &para, err) < 0)
                goto out;
        if (o->workloads) {
                if (make_scratch(o->scratch_dir, "disk-host.img", o->scale, disk, sizeof(disk),
                                 err) < 0 ||
                    run_host(o, disk, &host, err) < 0)
                        goto out;
        }
        *out = result(o, o->workloads ? &host : NULL, &full, &para);
        rc = 0;
out:
        free_run(&host);
        free_run(&full);
        free_run(&para);
        return rc;
}
