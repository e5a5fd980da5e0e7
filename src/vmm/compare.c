/* `isola vm compare` (see compare.h): runs the two machines in-process one
 * after the other with the console on a pipe; a reader thread timestamps
 * the workload markers as they arrive and samples the counters; the
 * baseline runs the same script on the host through busybox. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/compare.h"
#include "vmm/machine.h"

#define MAX_WORKLOADS 16
#define LINE_MAX_LEN  512

struct sample {
        char name[32], unit[16];
        uint64_t amount;
        double t_begin, t_end;               /* ms, CLOCK_MONOTONIC */
        struct json_object *s_begin, *s_end; /* machine stats (NULL on the host) */
        bool done;
};

struct run {
        struct machine *m; /* NULL for the host */
        int fd;            /* console / script output */
        FILE *log;
        struct sample w[MAX_WORKLOADS];
        unsigned n;
        bool finished;      /* ISOLA-BENCH-DONE seen */
        double t0, t_first; /* start, first marker: the boot time */
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

static int run_machine(const struct compare_opts *o, bool pv, const char *disk, struct run *r,
                       struct isola_err *err)
{
        struct machine_config cfg;
        char cmdline[256];
        int pipefd[2];
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
            machine_config_set_str(&cfg.cmdline, cmdline, err) < 0 ||
            machine_config_set_str(&cfg.disks[0].path, disk, err) < 0)
                goto out;
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                err_sys(err, "pipe");
                goto out;
        }
        r->fd = pipefd[0];
        r->t0 = now_ms();
        if (machine_create(&cfg, -1, pipefd[1], &r->m, err) < 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                goto out;
        }
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
        machine_config_free(&cfg);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
}

static int run_host(const struct compare_opts *o, const char *disk, struct run *r,
                    struct isola_err *err)
{
        char scale[16];
        int pipefd[2], status;

        snprintf(scale, sizeof(scale), "%u", o->scale);
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return err_sys(err, "pipe");
        pid_t pid = fork();
        if (pid < 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                return err_sys(err, "fork");
        }
        if (pid == 0) {
                dup2(pipefd[1], STDOUT_FILENO);
                const char *bb = o->busybox ? o->busybox : "busybox";
                execlp(bb, bb, "sh", o->workloads, disk, scale, (char *)NULL);
                _exit(127);
        }
        close(pipefd[1]);
        r->fd = pipefd[0];
        r->t0 = now_ms();
        reader(r);
        close(pipefd[0]);
        waitpid(pid, &status, 0);
        if (!r->finished)
                return err_set(err, EIO, "the host's run of '%s' did not finish (exit status %d)",
                               o->workloads, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 0;
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

static struct json_object *figure(const struct sample *s, const struct sample *base)
{
        struct json_object *o = json_object_new_object();
        double ms = s->t_end - s->t_begin;

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
        for (unsigned i = 0; i < full->n; i++) {
                const struct sample *f = &full->w[i], *p = find(para, f->name),
                                    *h = host ? find(host, f->name) : NULL;
                if (!f->done)
                        continue;
                struct json_object *w = json_object_new_object();
                json_object_object_add(w, "name", json_object_new_string(f->name));
                json_object_object_add(w, "unit", json_object_new_string(f->unit));
                json_object_object_add(w, "amount", json_object_new_uint64(f->amount));
                if (h && h->done)
                        json_object_object_add(w, "host", figure(h, NULL));
                json_object_object_add(w, "full", figure(f, h));
                if (p && p->done)
                        json_object_object_add(w, "para", figure(p, h));
                json_object_array_add(arr, w);
        }
        json_object_object_add(out, "workloads", arr);
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
