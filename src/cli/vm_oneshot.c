/* isola-vmm: a one-shot VM restored from a snapshot, in the foreground
 * (`isola vm run --restore SNAPDIR` without the rest of isola). It links
 * only the VMM and its few libraries, so exec to the guest's first
 * instruction is not spent loading the container, image, network and API
 * libraries that `isola` carries (bench/vm-snapshot measures both).
 *
 *   isola-vmm --restore SNAPDIR [--console-log FILE] [--stats FILE]
 *
 * Exit status as `isola vm run`. The snapshot's writable disks are refused
 * (they belong to the VM it was taken of; `isola vm restore --name` gives a
 * copy its own). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/machine.h"
#include "vmm/snapshot.h"

#define EXIT_USAGE 2

struct oneshot {
        const char *dir, *log, *stats;
};

static int parse(int argc, char **argv, struct oneshot *o)
{
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (!a)
                        return -1;
                if (!strcmp(a, "--restore") && v)
                        o->dir = argv[++i];
                else if (!strcmp(a, "--console-log") && v)
                        o->log = argv[++i];
                else if (!strcmp(a, "--stats") && v)
                        o->stats = argv[++i];
                else if (!strncmp(a, "--stats=", 8))
                        o->stats = a + 8;
                else
                        return -1;
        }
        return o->dir ? 0 : -1;
}

static int load(const struct oneshot *o, struct machine_config *cfg, struct isola_err *err)
{
        if (snapshot_read_config(o->dir, cfg, err) < 0)
                return -1;
        for (unsigned i = 0; i < cfg->n_disks; i++)
                if (!cfg->disks[i].readonly)
                        return err_set(err, EINVAL,
                                       "'%s': the VM has a writable disk (%s); use `isola vm "
                                       "restore NAME SNAP --name NEW`",
                                       o->dir, cfg->disks[i].path);
        cfg->restore_dir = o->dir;
        return 0;
}

static void write_stats(struct machine *m, const char *path)
{
        FILE *f = path ? fopen(path, "we") : NULL;
        if (!f) {
                if (path)
                        fprintf(stderr, "isola-vmm: --stats '%s': %s\n", path, strerror(errno));
                return;
        }
        machine_write_stats(m, f);
        fclose(f);
}

static int status_of(enum vm_exit_reason reason, int signo, struct machine *m,
                     const struct isola_err *err)
{
        if (reason == VM_EXIT_SIGNAL)
                return 128 + signo;
        if (reason == VM_EXIT_TRIPLE_FAULT || reason == VM_EXIT_INTERNAL)
                fprintf(stderr, "isola-vmm: guest stopped: %s\n", machine_failure(m));
        else if (reason == VM_EXIT_VMM_ERROR)
                fprintf(stderr, "isola-vmm: %s\n", err->msg);
        return (int)reason;
}

int main(int argc, char **argv)
{
        struct oneshot o = {0};
        struct machine_config cfg;
        struct isola_err err = {0};
        struct machine *m = NULL;
        sigset_t sigs, old;
        int signo = 0, status = VM_EXIT_VMM_ERROR, out = STDOUT_FILENO;

        if (parse(argc, argv, &o) < 0) {
                fprintf(stderr, "usage: isola-vmm --restore SNAPDIR [--console-log FILE] "
                                "[--stats FILE]\n");
                return EXIT_USAGE;
        }
        machine_config_init(&cfg);
        /* Blocked before any thread exists: only machine_run's signalfd
         * sees them. */
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGHUP);
        sigprocmask(SIG_BLOCK, &sigs, &old);
        if (o.log) {
                out = open(o.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (out < 0)
                        err_sys(&err, "--console-log '%s'", o.log);
        }
        if (out >= 0 && load(&o, &cfg, &err) == 0 && machine_create(&cfg, -1, out, &m, &err) == 0) {
                enum vm_exit_reason reason = machine_run(m, &sigs, &signo, &err);
                status = status_of(reason, signo, m, &err);
                write_stats(m, o.stats);
        } else {
                fprintf(stderr, "isola-vmm: %s\n", err.msg);
        }
        machine_destroy(m);
        if (out >= 0 && out != STDOUT_FILENO)
                close(out);
        machine_config_free(&cfg);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return status;
}
