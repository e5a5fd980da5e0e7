/* `isola vm run`: parses the flags (over an optional JSON --config), puts
 * the terminal in raw mode while the guest owns the console, runs the
 * machine and turns how it ended into the exit status. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "cli/verbs.h"
#include "cli/vm_cli.h"
#include "vmm/machine.h"
#include "vmm/snapshot.h"

#define EXIT_USAGE 2

static void usage(FILE *out)
{
        fprintf(out,
                "usage: isola vm run --kernel FILE [options]       (one-shot, foreground)\n"
                "       isola vm run --restore SNAPDIR [--console-log F] [--stats[=F]]\n"
                "       isola vm create NAME --kernel FILE [options]  (a managed VM)\n"
                "       isola vm start|pause|resume|console|logs|inspect NAME\n"
                "       isola vm stop [-t|--time SECONDS] NAME...  (default 10)\n"
                "       isola vm kill [-s|--signal SIG] NAME...    (default KILL)\n"
                "       isola vm rm [-f|--force] NAME...  (its snapshots and the disks isola made\n"
                "                                          for it go too)\n"
                "       isola vm ls [--format json]\n"
                "       isola vm snapshot create NAME SNAP [--live] | ls NAME [--format json]\n"
                "                       | rm NAME SNAP...       (isola vm snapshot --help)\n"
                "       isola vm restore NAME SNAP [--name NEW] | revert NAME SNAP\n"
                "       isola vm migrate NAME --to ADDR:PORT [--downtime-ms N] [TLS]\n"
                "       isola vm receive NAME --listen ADDR:PORT [TLS]\n"
                "         TLS: --tls-cert FILE --tls-key FILE --tls-ca FILE (TLS 1.3, each side\n"
                "              verifies the other's certificate against the CA)\n"
                "              [--tls-name NAME] (migrate: the name the destination's\n"
                "              certificate must have; default the ADDR of --to)\n"
                "       isola vm compare --kernel BZIMAGE --initrd INITRAMFS [options]\n"
                "\n"
                "  --kernel FILE          bzImage, PVH ELF (vmlinux) or ELF64 kernel\n"
                "  --initrd FILE          initial ramdisk\n"
                "  --cmdline STR          kernel command line (default \"console=ttyS0\")\n"
                "  --cpus N               vCPUs (1-%d, default 1)\n"
                "  --memory MIB           guest RAM in MiB (default 128)\n"
                "  --disk PATH[,ro][,bus=virtio|ide]   a raw or qcow2 image (repeatable)\n"
                "  --net tap=NAME[,mac=M] a virtio-net NIC on a TAP interface\n"
                "  --console serial|virtio  console device (default serial, COM1)\n"
                "  --console-log FILE     write console output to FILE instead of stdout\n"
                "  --pv on|off            paravirtual CPUID (KVM signature, kvm-clock)\n"
                "  --rng                  a virtio-rng device\n"
                "  --config FILE.json     machine description; flags override it\n"
                "  --stats[=FILE]         isola, KVM and device counters as JSON on exit\n"
                "  --restore SNAPDIR      (vm run) start from a snapshot directory instead of\n"
                "                         booting: its machine, state and memory (mapped)\n"
                "\n"
                "exit status: 0 poweroff, 3 reset, 4 triple fault, 5 internal error,\n"
                "             1 VMM error, 2 usage, 128+N killed by signal N\n",
                MACHINE_MAX_CPUS);
}

enum {
        OPT_KERNEL = 256,
        OPT_INITRD,
        OPT_CMDLINE,
        OPT_CPUS,
        OPT_MEMORY,
        OPT_DISK,
        OPT_NET,
        OPT_CONSOLE,
        OPT_CONSOLE_LOG,
        OPT_PV,
        OPT_RNG,
        OPT_CONFIG,
        OPT_STATS,
        OPT_RESTORE,
        OPT_HELP,
};

static const struct option options[] = {
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"disk", required_argument, NULL, OPT_DISK},
    {"net", required_argument, NULL, OPT_NET},
    {"console", required_argument, NULL, OPT_CONSOLE},
    {"console-log", required_argument, NULL, OPT_CONSOLE_LOG},
    {"pv", required_argument, NULL, OPT_PV},
    {"rng", no_argument, NULL, OPT_RNG},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"stats", optional_argument, NULL, OPT_STATS},
    {"restore", required_argument, NULL, OPT_RESTORE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct run_opts {
        struct machine_config cfg;
        bool managed; /* vm create: no --stats */
        bool stats;
        const char *stats_path;
        bool cli_disks, cli_nets;
};

static int parse_uint(const char *flag, const char *s, uint64_t max, uint64_t *out,
                      struct isola_err *err)
{
        char *end;

        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-' || v < 1 || v > max)
                return err_set(err, EINVAL, "%s '%s': expected a number from 1 to %llu", flag, s,
                               (unsigned long long)max);
        *out = v;
        return 0;
}

static int apply_disk(struct run_opts *o, const char *spec, struct isola_err *err)
{
        struct machine_config *cfg = &o->cfg;

        if (!o->cli_disks) {
                /* Flags replace the file's list rather than extend it. */
                for (unsigned i = 0; i < cfg->n_disks; i++)
                        free(cfg->disks[i].path);
                cfg->n_disks = 0;
                o->cli_disks = true;
        }
        if (cfg->n_disks == MACHINE_MAX_DISKS)
                return err_set(err, E2BIG, "--disk: at most %d disks", MACHINE_MAX_DISKS);
        if (machine_config_parse_disk(spec, &cfg->disks[cfg->n_disks], err) < 0)
                return -1;
        cfg->n_disks++;
        return 0;
}

static int apply_net(struct run_opts *o, const char *spec, struct isola_err *err)
{
        struct machine_config *cfg = &o->cfg;

        if (!o->cli_nets) {
                for (unsigned i = 0; i < cfg->n_nets; i++)
                        free(cfg->nets[i].tap);
                cfg->n_nets = 0;
                o->cli_nets = true;
        }
        if (cfg->n_nets == MACHINE_MAX_NETS)
                return err_set(err, E2BIG, "--net: at most %d NICs", MACHINE_MAX_NETS);
        if (machine_config_parse_net(spec, &cfg->nets[cfg->n_nets], err) < 0)
                return -1;
        cfg->n_nets++;
        return 0;
}

static int apply_opt(struct run_opts *o, int c, const char *arg, struct isola_err *err)
{
        struct machine_config *cfg = &o->cfg;
        uint64_t n;

        /* getopt guarantees a value for required_argument options; say so
         * where a new option without one would otherwise crash. */
        if (!arg && c != OPT_RNG)
                return err_set(err, EINVAL, "option %d needs a value", c);
        switch (c) {
        case OPT_KERNEL:
                return machine_config_set_str(&cfg->kernel, arg, err);
        case OPT_INITRD:
                return machine_config_set_str(&cfg->initrd, arg, err);
        case OPT_CMDLINE:
                return machine_config_set_str(&cfg->cmdline, arg, err);
        case OPT_CONSOLE_LOG:
                return machine_config_set_str(&cfg->console_log, arg, err);
        case OPT_CPUS:
                if (parse_uint("--cpus", arg, MACHINE_MAX_CPUS, &n, err) < 0)
                        return -1;
                cfg->cpus = (unsigned)n;
                return 0;
        case OPT_MEMORY:
                if (parse_uint("--memory", arg, MACHINE_MAX_MEMORY_MIB, &n, err) < 0)
                        return -1;
                cfg->memory_mib = n;
                return 0;
        case OPT_DISK:
                return apply_disk(o, arg, err);
        case OPT_NET:
                return apply_net(o, arg, err);
        case OPT_CONSOLE:
                if (!strcmp(arg, "serial"))
                        cfg->console = MACHINE_CONSOLE_SERIAL;
                else if (!strcmp(arg, "virtio"))
                        cfg->console = MACHINE_CONSOLE_VIRTIO;
                else
                        return err_set(err, EINVAL, "--console '%s': expected serial or virtio",
                                       arg);
                return 0;
        case OPT_PV:
                if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
                        return err_set(err, EINVAL, "--pv '%s': expected on or off", arg);
                cfg->pv = !strcmp(arg, "on");
                return 0;
        case OPT_RNG:
                cfg->rng = true;
                return 0;
        default:
                return 0;
        }
}

/* The JSON file (or the snapshot's) is read first so that flags, wherever
 * they appear, win. flag: "--config" or "--restore". */
static const char *find_config(int argc, char **argv, const char *flag)
{
        const char *path = NULL;
        size_t n = strlen(flag);

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--"))
                        break;
                if (!strcmp(argv[i], flag) && i + 1 < argc)
                        path = argv[++i];
                else if (!strncmp(argv[i], flag, n) && argv[i][n] == '=')
                        path = argv[i] + n + 1;
        }
        return path;
}

/* snap: `vm run --restore SNAPDIR`, a one-shot VM from a snapshot (its
 * config.json, then the state and memory; no kernel is loaded). The VM's
 * writable disks stay with `isola vm restore`, which gives a copy its own. */
static int load_restore(struct run_opts *o, const char *dir, struct isola_err *err)
{
        if (snapshot_read_config(dir, &o->cfg, err) < 0)
                return err_prefix(err, "--restore");
        for (unsigned i = 0; i < o->cfg.n_disks; i++)
                if (!o->cfg.disks[i].readonly)
                        return err_set(err, EINVAL,
                                       "--restore '%s': the VM has a writable disk (%s); use "
                                       "`isola vm restore NAME SNAP --name NEW`",
                                       dir, o->cfg.disks[i].path);
        o->cfg.restore_dir = dir;
        return 0;
}

/* Returns 0, or the exit status for --help (-1 with err for bad usage). */
static int parse_args(int argc, char **argv, struct run_opts *o, struct isola_err *err)
{
        const char *config = find_config(argc, argv, "--config");
        const char *restore = o->managed ? NULL : find_config(argc, argv, "--restore");
        int c;

        if (config && restore)
                return err_set(err, EINVAL,
                               "--restore takes the machine from the snapshot: "
                               "no --config");
        if (config && machine_config_load_json(&o->cfg, config, err) < 0)
                return -1;
        if (restore && load_restore(o, restore, err) < 0)
                return -1;
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
                if (c == '?')
                        return err_set(err, EINVAL, "unknown or incomplete option '%s'",
                                       argv[optind - 1]);
                if (c == OPT_HELP || c == 'h')
                        return 1;
                if (c == OPT_RESTORE && o->managed)
                        return err_set(err, EINVAL,
                                       "--restore: only `vm run` takes it (see `isola vm "
                                       "restore`)");
                if (c == OPT_RESTORE)
                        continue;
                if (c == OPT_STATS && o->managed)
                        return err_set(err, EINVAL,
                                       "--stats: only `vm run` takes it (see "
                                       "`isola vm inspect` for a managed VM)");
                if (c == OPT_STATS) {
                        o->stats = true;
                        o->stats_path = optarg;
                        if (!optarg && optind < argc && argv[optind][0] != '-')
                                o->stats_path = argv[optind++];
                        continue;
                }
                if (apply_opt(o, c, optarg, err) < 0)
                        return -1;
        }
        if (optind < argc)
                return err_set(err, EINVAL, "unexpected argument '%s'", argv[optind]);
        return machine_config_validate(&o->cfg, err);
}

int vm_cli_parse_machine(int argc, char **argv, struct machine_config *cfg, struct isola_err *err)
{
        struct run_opts o = {.managed = true};

        o.cfg = *cfg;
        int rc = parse_args(argc, argv, &o, err);
        *cfg = o.cfg;
        return rc;
}

struct console {
        int in_fd, out_fd;
        int log_fd;
        bool raw;
        struct termios saved;
};

/* Regular files and /dev/null cannot be polled; the guest then gets no
 * input rather than a start-up failure. */
static bool fd_pollable(int fd)
{
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN};
        bool ok;

        if (ep < 0)
                return false;
        ok = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
        close(ep);
        return ok;
}

static int console_open(struct console *con, const struct machine_config *cfg,
                        struct isola_err *err)
{
        con->in_fd = fd_pollable(STDIN_FILENO) ? STDIN_FILENO : -1;
        con->out_fd = STDOUT_FILENO;
        con->log_fd = -1;
        con->raw = false;
        if (cfg->console_log) {
                con->log_fd =
                    open(cfg->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (con->log_fd < 0)
                        return err_sys(err, "--console-log '%s'", cfg->console_log);
                con->out_fd = con->log_fd;
        }
        return 0;
}

/* Raw input so the guest sees every key, except that ^C/^\ still signal
 * isola, which then stops the VM cleanly. */
static void console_raw(struct console *con)
{
        struct termios t;

        if (con->in_fd < 0 || !isatty(con->in_fd) || tcgetattr(con->in_fd, &con->saved) < 0)
                return;
        t = con->saved;
        cfmakeraw(&t);
        t.c_lflag |= ISIG;
        t.c_oflag |= OPOST | ONLCR;
        if (tcsetattr(con->in_fd, TCSANOW, &t) == 0)
                con->raw = true;
}

static void console_close(struct console *con)
{
        if (con->raw)
                tcsetattr(con->in_fd, TCSANOW, &con->saved);
        con->raw = false;
        if (con->log_fd >= 0)
                close(con->log_fd);
        con->log_fd = -1;
}

static void write_stats(struct machine *m, const struct run_opts *o)
{
        FILE *f = stderr;

        if (!o->stats)
                return;
        if (o->stats_path) {
                f = fopen(o->stats_path, "we");
                if (!f) {
                        fprintf(stderr, "isola: --stats '%s': %s\n", o->stats_path,
                                strerror(errno));
                        return;
                }
        }
        machine_write_stats(m, f);
        if (f != stderr)
                fclose(f);
}

static int exit_status(enum vm_exit_reason reason, int signo, struct machine *m,
                       const struct isola_err *err)
{
        switch (reason) {
        case VM_EXIT_SIGNAL:
                return 128 + signo;
        case VM_EXIT_TRIPLE_FAULT:
        case VM_EXIT_INTERNAL:
                fprintf(stderr, "isola: guest stopped: %s\n", machine_failure(m));
                return reason;
        case VM_EXIT_VMM_ERROR:
                fprintf(stderr, "isola: %s\n", err->msg);
                return reason;
        default:
                return reason;
        }
}

static int vm_run(int argc, char **argv)
{
        struct run_opts o = {0};
        struct isola_err err = {0};
        struct console con = {.log_fd = -1};
        struct machine *m = NULL;
        sigset_t sigs, old;
        int signo = 0, status;

        machine_config_init(&o.cfg);
        int rc = parse_args(argc, argv, &o, &err);
        if (rc != 0) {
                if (rc > 0)
                        usage(stdout);
                else
                        fprintf(stderr, "isola vm run: %s\n", err.msg);
                machine_config_free(&o.cfg);
                return rc > 0 ? 0 : EXIT_USAGE;
        }
        /* Blocked before any thread exists so that only the main thread's
         * signalfd sees them. */
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGHUP);
        sigprocmask(SIG_BLOCK, &sigs, &old);
        if (console_open(&con, &o.cfg, &err) < 0 ||
            machine_create(&o.cfg, con.in_fd, con.out_fd, &m, &err) < 0) {
                fprintf(stderr, "isola vm run: %s\n", err.msg);
                status = VM_EXIT_VMM_ERROR;
                goto out;
        }
        console_raw(&con);
        enum vm_exit_reason reason = machine_run(m, &sigs, &signo, &err);
        console_close(&con);
        status = exit_status(reason, signo, m, &err);
        write_stats(m, &o);
out:
        console_close(&con);
        machine_destroy(m);
        machine_config_free(&o.cfg);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return status;
}

int cli_vm(int argc, char **argv)
{
        if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? EXIT_USAGE : 0;
        }
        if (!strcmp(argv[1], "run"))
                return vm_run(argc - 1, argv + 1);
        int rc = cli_vm_managed(argc - 1, argv + 1);
        if (rc < 0)
                rc = cli_vm_snap(argc - 1, argv + 1); /* snap: snapshot, restore, revert */
        if (rc >= 0)
                return rc;
        fprintf(stderr, "isola vm: unknown command '%s' (try 'isola vm --help')\n", argv[1]);
        return EXIT_USAGE;
}
