/* `kill [--all] <id> [SIGNAL]`: SIGNAL as a name (KILL, SIGKILL) or number. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/runtime_args.h"

static const struct {
        const char *name;
        int sig;
} signals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

static int parse_signal(const char *s)
{
        char *end;
        long n = strtol(s, &end, 10);

        if (*s && !*end)
                return (n >= 0 && n <= SIGRTMAX) ? (int)n : -1;
        if (!strncasecmp(s, "SIG", 3))
                s += 3;
        for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
                if (!strcasecmp(s, signals[i].name))
                        return signals[i].sig;
        return -1;
}

int rt_cmd_kill(struct rt_ctx *ctx, int argc, char **argv)
{
        struct isola_err err = {0};
        bool all = false;
        const struct rt_opt opts[] = {{"all", 'a', RT_BOOL, &all}, {NULL, 0, 0, NULL}};
        int next, sig = SIGTERM;

        if (rt_parse(argv[0], argc, argv, opts, &next) < 0)
                return 1;
        if (next != argc - 1 && next != argc - 2)
                return rt_usage(ctx, argv[0], "usage: kill [--all] <container-id> [signal]");
        if (next == argc - 2) {
                sig = parse_signal(argv[next + 1]);
                if (sig < 0) {
                        err_set(&err, 0, "unknown signal '%s'", argv[next + 1]);
                        return rt_fail(ctx, &err);
                }
        }
        if (ctr_kill(&ctx->opts, argv[next], sig, all, &err) < 0)
                return rt_fail(ctx, &err);
        return 0;
}
