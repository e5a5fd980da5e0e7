/* `isola create`, `isola run`, `isola start`: flags into an eng_config,
 * then the engine. A foreground run waits on the monitor's notify pipe
 * (exit code, then EOF once the cleanup is done), forwarding signals. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cli/ctr_common.h"
#include "cli/healthcheck.h"
#include "cli/verbs.h"
#include "util/fs.h"

enum {
        OPT_RM = 256,
        OPT_NAME,
        OPT_ENV_FILE,
        OPT_TMPFS,
        OPT_ENTRYPOINT,
        OPT_HOSTNAME,
        OPT_MEMORY,
        OPT_CPUS,
        OPT_PIDS,
        OPT_READ_ONLY,
        OPT_CAP_ADD,
        OPT_CAP_DROP,
        OPT_SECOPT,
        OPT_ULIMIT,
        OPT_RESTART,
        OPT_NETWORK,
        OPT_INIT,
        OPT_DNS,
        OPT_ADD_HOST,
        OPT_ALIAS,
        OPT_IP,
        OPT_ROOTFS,
        OPT_ROOT,
        OPT_STOP_SIGNAL,
        OPT_STOP_TIMEOUT,
        /* health: in the order of cli_health_flag's kinds (healthcheck.h) */
        OPT_HEALTH_CMD,
        OPT_HEALTH_INTERVAL,
        OPT_HEALTH_TIMEOUT,
        OPT_HEALTH_RETRIES,
        OPT_HEALTH_START_PERIOD,
        OPT_HEALTH_START_INTERVAL,
        OPT_NO_HEALTHCHECK,
};

static const struct option run_opts[] = {
    {"detach", no_argument, NULL, 'd'},
    {"interactive", no_argument, NULL, 'i'},
    {"tty", no_argument, NULL, 't'},
    {"rm", no_argument, NULL, OPT_RM},
    {"name", required_argument, NULL, OPT_NAME},
    {"env", required_argument, NULL, 'e'},
    {"env-file", required_argument, NULL, OPT_ENV_FILE},
    {"volume", required_argument, NULL, 'v'},
    {"tmpfs", required_argument, NULL, OPT_TMPFS},
    {"workdir", required_argument, NULL, 'w'},
    {"user", required_argument, NULL, 'u'},
    {"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
    {"hostname", required_argument, NULL, OPT_HOSTNAME},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"pids-limit", required_argument, NULL, OPT_PIDS},
    {"read-only", no_argument, NULL, OPT_READ_ONLY},
    {"cap-add", required_argument, NULL, OPT_CAP_ADD},
    {"cap-drop", required_argument, NULL, OPT_CAP_DROP},
    {"security-opt", required_argument, NULL, OPT_SECOPT},
    {"ulimit", required_argument, NULL, OPT_ULIMIT},
    {"restart", required_argument, NULL, OPT_RESTART},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"net", required_argument, NULL, OPT_NETWORK},
    {"init", no_argument, NULL, OPT_INIT},
    {"publish", required_argument, NULL, 'p'},
    {"publish-all", no_argument, NULL, 'P'},
    {"dns", required_argument, NULL, OPT_DNS},
    {"add-host", required_argument, NULL, OPT_ADD_HOST},
    {"network-alias", required_argument, NULL, OPT_ALIAS},
    {"ip", required_argument, NULL, OPT_IP},
    {"rootfs", no_argument, NULL, OPT_ROOTFS},
    {"root", required_argument, NULL, OPT_ROOT},
    {"stop-signal", required_argument, NULL, OPT_STOP_SIGNAL},
    {"stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT},
    {"health-cmd", required_argument, NULL, OPT_HEALTH_CMD},
    {"health-interval", required_argument, NULL, OPT_HEALTH_INTERVAL},
    {"health-timeout", required_argument, NULL, OPT_HEALTH_TIMEOUT},
    {"health-retries", required_argument, NULL, OPT_HEALTH_RETRIES},
    {"health-start-period", required_argument, NULL, OPT_HEALTH_START_PERIOD},
    {"health-start-interval", required_argument, NULL, OPT_HEALTH_START_INTERVAL},
    {"no-healthcheck", no_argument, NULL, OPT_NO_HEALTHCHECK},
    {NULL, 0, NULL, 0},
};

struct run_args {
        struct eng_config cfg;
        bool detach, rootfs;
        const char *root;
};

static int env_file(struct eng_config *cfg, const char *path, struct isola_err *err)
{
        char *text = NULL;
        size_t len;

        if (fs_read_file(path, &text, &len, err) < 0)
                return err_prefix(err, "--env-file");
        for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
                while (*l == ' ' || *l == '\t')
                        l++;
                if (!*l || *l == '#')
                        continue;
                if (strchr(l, '=')) {
                        cli_strv_add(&cfg->env, l);
                } else if (getenv(l)) { /* KEY alone: from our environment */
                        char kv[4096];
                        snprintf(kv, sizeof(kv), "%s=%s", l, getenv(l));
                        cli_strv_add(&cfg->env, kv);
                }
        }
        free(text);
        return 0;
}

static int restart_policy(struct eng_config *cfg, const char *s, struct isola_err *err)
{
        if (!strcmp(s, "no")) {
                cfg->restart = ENG_RESTART_NO;
        } else if (!strcmp(s, "always") || !strcmp(s, "unless-stopped")) {
                cfg->restart = ENG_RESTART_ALWAYS;
        } else if (!strncmp(s, "on-failure", 10) && (s[10] == '\0' || s[10] == ':')) {
                cfg->restart = ENG_RESTART_ON_FAILURE;
                cfg->restart_max = s[10] ? atoi(s + 11) : 0;
                if (s[10] && cfg->restart_max <= 0)
                        return err_set(err, EINVAL, "--restart '%s': bad retry count", s);
        } else {
                return err_set(err, EINVAL, "--restart '%s': expected no|on-failure[:N]|always", s);
        }
        return 0;
}

static int security_opt(struct eng_config *cfg, const char *s, struct isola_err *err)
{
        if (!strcmp(s, "no-new-privileges") || !strcmp(s, "no-new-privileges=true")) {
                cfg->no_new_privs = true;
        } else if (!strncmp(s, "seccomp=", 8) || !strncmp(s, "seccomp:", 8)) {
                free(cfg->seccomp);
                cfg->seccomp = strdup(s + 8);
        } else if (!strncmp(s, "label=", 6) || !strncmp(s, "apparmor=", 9)) {
                return 0; /* no LSM here: accepted as podman does without one */
        } else {
                return err_set(err, EINVAL, "--security-opt '%s': unknown option", s);
        }
        return 0;
}

static int parse_one(struct run_args *r, int opt, const char *arg, struct isola_err *err)
{
        struct eng_config *cfg = &r->cfg;
        char *end;

        switch (opt) {
        case 'd':
                r->detach = true;
                break;
        case 'i':
                cfg->interactive = true;
                break;
        case 't':
                cfg->tty = true;
                break;
        case OPT_RM:
                cfg->auto_remove = true;
                break;
        case OPT_NAME:
                free(cfg->name);
                cfg->name = strdup(arg);
                break;
        case 'e':
                if (strchr(arg, '=')) {
                        cli_strv_add(&cfg->env, arg);
                } else if (getenv(arg)) {
                        char kv[4096];
                        snprintf(kv, sizeof(kv), "%s=%s", arg, getenv(arg));
                        cli_strv_add(&cfg->env, kv);
                }
                break;
        case OPT_ENV_FILE:
                return env_file(cfg, arg, err);
        case 'v':
                cli_strv_add(&cfg->volumes, arg);
                break;
        case OPT_TMPFS:
                cli_strv_add(&cfg->tmpfs, arg);
                break;
        case 'w':
                free(cfg->workdir);
                cfg->workdir = strdup(arg);
                break;
        case 'u':
                free(cfg->user);
                cfg->user = strdup(arg);
                break;
        case OPT_ENTRYPOINT:
                cfg->entrypoint_set = true;
                if (*arg)
                        cli_strv_add(&cfg->entrypoint, arg);
                break;
        case OPT_HOSTNAME:
                free(cfg->hostname);
                cfg->hostname = strdup(arg);
                break;
        case OPT_MEMORY:
                cfg->memory = cli_parse_size(arg);
                if (cfg->memory <= 0)
                        return err_set(err, EINVAL, "--memory '%s': expected a size", arg);
                break;
        case OPT_CPUS:
                cfg->cpus = strtod(arg, &end);
                if (*end || cfg->cpus <= 0)
                        return err_set(err, EINVAL, "--cpus '%s': expected a number", arg);
                break;
        case OPT_PIDS:
                cfg->pids_limit = strtoll(arg, &end, 10);
                if (*end || cfg->pids_limit == 0 || cfg->pids_limit < -1)
                        return err_set(err, EINVAL, "--pids-limit '%s': expected a number", arg);
                break;
        case OPT_READ_ONLY:
                cfg->read_only = true;
                break;
        case OPT_CAP_ADD:
                cli_strv_add(&cfg->cap_add, arg);
                break;
        case OPT_CAP_DROP:
                cli_strv_add(&cfg->cap_drop, arg);
                break;
        case OPT_SECOPT:
                return security_opt(cfg, arg, err);
        case OPT_ULIMIT:
                cli_strv_add(&cfg->ulimits, arg);
                break;
        case OPT_RESTART:
                return restart_policy(cfg, arg, err);
        case OPT_NETWORK: /* the first is the primary; more join further networks */
                if (cfg->network)
                        cli_strv_add(&cfg->networks, arg);
                else
                        cfg->network = strdup(arg);
                break;
        case OPT_IP:
                free(cfg->ip);
                cfg->ip = strdup(arg);
                break;
        case OPT_INIT:
                cfg->init = true;
                break;
        case 'p':
                cli_strv_add(&cfg->ports, arg);
                break;
        case 'P':
                cfg->publish_all = true;
                break;
        case OPT_DNS:
                cli_strv_add(&cfg->dns, arg);
                break;
        case OPT_ADD_HOST:
                cli_strv_add(&cfg->add_hosts, arg);
                break;
        case OPT_ALIAS:
                cli_strv_add(&cfg->aliases, arg);
                break;
        case OPT_ROOTFS:
                r->rootfs = true;
                break;
        case OPT_ROOT:
                r->root = arg;
                break;
        case OPT_STOP_SIGNAL:
                free(cfg->stop_signal);
                cfg->stop_signal = strdup(arg);
                break;
        case OPT_STOP_TIMEOUT:
                cfg->stop_timeout = atoi(arg);
                break;
        case OPT_HEALTH_CMD:
        case OPT_HEALTH_INTERVAL:
        case OPT_HEALTH_TIMEOUT:
        case OPT_HEALTH_RETRIES:
        case OPT_HEALTH_START_PERIOD:
        case OPT_HEALTH_START_INTERVAL:
        case OPT_NO_HEALTHCHECK:
                return cli_health_flag(cfg, opt - OPT_HEALTH_CMD, arg, err);
        default:
                return err_set(err, EINVAL, "unknown option (see 'isola run --help')");
        }
        return 0;
}

static int parse_run(int argc, char **argv, struct run_args *r, struct isola_err *err)
{
        int opt;

        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, "+dite:v:w:u:p:P", run_opts, NULL)) != -1) {
                if (opt == '?')
                        return err_set(err, EINVAL, "unknown option '%s'", argv[optind - 1]);
                if (parse_one(r, opt, optarg, err) < 0)
                        return -1;
        }
        if (optind >= argc)
                return err_set(err, EINVAL, "usage: isola %s [OPTIONS] IMAGE [COMMAND [ARG...]]",
                               argv[0]);
        if (r->rootfs)
                r->cfg.rootfs = strdup(argv[optind]);
        else
                r->cfg.image = strdup(argv[optind]);
        for (int i = optind + 1; i < argc; i++)
                cli_strv_add(&r->cfg.cmd, argv[i]);
        return 0;
}

int cli_create(int argc, char **argv)
{
        struct run_args r = {0};
        struct isola_err err = {0};
        struct eng_ctx c;
        char id[ENG_ID_LEN + 1];
        int rc = 0;

        if (parse_run(argc, argv, &r, &err) < 0) {
                eng_config_free(&r.cfg);
                return cli_fail("create", &err);
        }
        if (cli_eng_open(r.root, &c) < 0) {
                eng_config_free(&r.cfg);
                return 125;
        }
        if (eng_create(&c, &r.cfg, id, &err) < 0)
                rc = cli_fail("create", &err);
        else
                printf("%s\n", id);
        eng_close(&c);
        eng_config_free(&r.cfg);
        return rc;
}

/* Waits for "code\n" on the notify socket, forwarding signals; -1 when
 * the monitor died without one. */
static int wait_foreground(int notify_fd, pid_t pid, bool tty)
{
        static const int fwd[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
        char buf[64];
        size_t len = 0;
        sigset_t set, old;
        int sfd;

        sigemptyset(&set);
        for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
                sigaddset(&set, fwd[i]);
        sigprocmask(SIG_BLOCK, &set, &old);
        sfd = signalfd(-1, &set, SFD_CLOEXEC);
        for (;;) {
                struct pollfd pf[2] = {{.fd = notify_fd, .events = POLLIN},
                                       {.fd = sfd, .events = POLLIN}};
                if (poll(pf, sfd >= 0 ? 2 : 1, -1) < 0)
                        continue;
                if (pf[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(sfd, &si, sizeof(si)) == sizeof(si) && !tty && pid > 0)
                                kill(pid, (int)si.ssi_signo);
                }
                if (pf[0].revents) {
                        ssize_t n = read(notify_fd, buf + len, sizeof(buf) - 1 - len);
                        if (n <= 0)
                                break;
                        len += (size_t)n;
                        if (memchr(buf, '\n', len))
                                break;
                        if (len >= sizeof(buf) - 1)
                                len = 0;
                }
        }
        if (sfd >= 0)
                close(sfd);
        sigprocmask(SIG_SETMASK, &old, NULL);
        buf[len] = '\0';
        return memchr(buf, '\n', len) ? atoi(buf) : -1;
}

static int run_attached(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                        struct isola_err *err)
{
        struct termios saved, raw;
        bool restore = false;
        int notify_fd = -1, code;
        pid_t pid = -1;
        struct eng_start_opts so = {.attach = true, .notify_fd_out = &notify_fd, .pid_out = &pid};

        if (cfg->tty && isatty(0) && tcgetattr(0, &saved) == 0) {
                raw = saved;
                cfmakeraw(&raw);
                restore = tcsetattr(0, TCSANOW, &raw) == 0;
        }
        if (eng_start(c, id, &so, err) < 0) {
                if (restore)
                        tcsetattr(0, TCSANOW, &saved);
                return -1;
        }
        code = wait_foreground(notify_fd, pid, cfg->tty);
        if (restore)
                tcsetattr(0, TCSANOW, &saved);
        if (code < 0) {
                close(notify_fd);
                err_set(err, EIO, "the monitor of container '%.12s' died", id);
                return -1;
        }
        if (eng_attach_finish(c, id, notify_fd, code, err) < 0) {
                close(notify_fd);
                return -1;
        }
        close(notify_fd);
        return code;
}

int cli_run(int argc, char **argv)
{
        struct run_args r = {0};
        struct isola_err err = {0};
        struct eng_ctx c;
        char id[ENG_ID_LEN + 1] = "";
        bool started = false;
        int rc = 0;

        if (parse_run(argc, argv, &r, &err) < 0) {
                eng_config_free(&r.cfg);
                return cli_fail("run", &err);
        }
        if (cli_eng_open(r.root, &c) < 0) {
                eng_config_free(&r.cfg);
                return 125;
        }
        if (eng_create(&c, &r.cfg, id, &err) < 0) {
                rc = cli_fail("run", &err);
        } else if (r.detach) {
                if (eng_start(&c, id, &(struct eng_start_opts){0}, &err) < 0)
                        rc = cli_fail("run", &err);
                else
                        started = printf("%s\n", id) > 0;
        } else {
                rc = run_attached(&c, id, &r.cfg, &err);
                if (rc < 0)
                        rc = cli_fail("run", &err);
                else
                        started = true;
        }
        if (!started && id[0] && r.cfg.auto_remove) {
                struct isola_err ignore = {0};
                eng_remove(&c, id, true, true, &ignore);
        }
        eng_close(&c);
        eng_config_free(&r.cfg);
        return rc;
}

int cli_start(int argc, char **argv)
{
        static const struct option opts[] = {{"root", required_argument, NULL, OPT_ROOT},
                                             {NULL, 0, NULL, 0}};
        const char *root = NULL;
        struct isola_err err = {0};
        struct eng_ctx c;
        int opt, rc = 0;

        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                if (opt != OPT_ROOT) {
                        fprintf(stderr, "isola start: unknown option '%s'\n", argv[optind - 1]);
                        return 125;
                }
                root = optarg;
        }
        if (optind >= argc) {
                fprintf(stderr, "usage: isola start CONTAINER...\n");
                return 125;
        }
        if (cli_eng_open(root, &c) < 0)
                return 125;
        for (int i = optind; i < argc; i++) {
                if (eng_start(&c, argv[i], &(struct eng_start_opts){0}, &err) < 0)
                        rc = cli_fail("start", &err);
                else
                        printf("%s\n", argv[i]);
        }
        eng_close(&c);
        return rc;
}
