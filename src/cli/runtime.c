/* isola-runtime: global flags (runc's), then dispatch to one command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/runtime_args.h"
#include "cli/verbs.h"

struct rt_command {
        const char *name;
        int (*run)(struct rt_ctx *ctx, int argc, char **argv);
        const char *help;
};

static const struct rt_command commands[] = {
    {"create", rt_cmd_create, "create a container"},
    {"run", rt_cmd_run, "create and run a container"},
    {"start", rt_cmd_start, "execute the user process in a created container"},
    {"state", rt_cmd_state, "output the state of a container"},
    {"list", rt_cmd_list, "list containers"},
    {"ps", rt_cmd_ps, "list processes running inside a container"},
    {"kill", rt_cmd_kill, "send a signal to the container's init (or all processes)"},
    {"delete", rt_cmd_delete, "delete a container"},
    {"exec", rt_cmd_exec, "execute a new process inside a container"},
    {"pause", rt_cmd_pause, "suspend all processes of a container"},
    {"resume", rt_cmd_resume, "resume a paused container"},
    {"update", rt_cmd_update, "update container resource limits"},
    {"spec", rt_cmd_spec, "create a new specification file"},
    {"features", rt_cmd_features, "show the enabled features"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out, const char *prog)
{
        fprintf(out,
                "usage: %s [global options] command [options] [arguments]\n\n"
                "global options:\n"
                "  --root DIR          state directory (default /run/isola)\n"
                "  --log FILE          log file\n"
                "  --log-format FMT    text or json\n"
                "  --debug             debug logging\n"
                "  --systemd-cgroup    accepted for compatibility\n"
                "  --rootless VALUE    accepted for compatibility\n"
                "  --version, -v       print the version\n\ncommands:\n",
                prog);
        for (const struct rt_command *c = commands; c->name; c++)
                fprintf(out, "  %-10s %s\n", c->name, c->help);
}

static const char *default_root(void)
{
        static char buf[4096];
        const char *xdg = getenv("XDG_RUNTIME_DIR");

        if (geteuid() == 0 || !xdg || !*xdg)
                return "/run/isola";
        snprintf(buf, sizeof(buf), "%s/isola", xdg);
        return buf;
}

int runtime_main(int argc, char **argv)
{
        const char *root = NULL, *log_path = NULL, *log_format = "text", *rootless = NULL;
        const char *criu = NULL;
        bool debug = false, systemd = false, version = false, help = false;
        const struct rt_opt globals[] = {
            {"root", 0, RT_STR, &root},
            {"log", 0, RT_STR, &log_path},
            {"log-format", 0, RT_STR, &log_format},
            {"debug", 0, RT_BOOL, &debug},
            {"systemd-cgroup", 0, RT_BOOL, &systemd},
            {"rootless", 0, RT_STR, &rootless},
            {"criu", 0, RT_STR, &criu},
            {"version", 'v', RT_BOOL, &version},
            {"help", 'h', RT_BOOL, &help},
            {NULL, 0, 0, NULL},
        };
        struct rt_ctx ctx = {.prog = "isola-runtime"};
        int next, rc;

        if (rt_parse(ctx.prog, argc, argv, globals, &next) < 0)
                return 1;
        if (version) {
                printf("isola-runtime version %s\nspec: 1.1.0\n", ISOLA_VERSION);
                return 0;
        }
        if (next < argc && !strcmp(argv[next], "help"))
                help = true;
        if (help || next >= argc) {
                usage(help ? stdout : stderr, ctx.prog);
                return help ? 0 : 1;
        }
        if (strcmp(log_format, "text") != 0 && strcmp(log_format, "json") != 0) {
                fprintf(stderr, "%s: --log-format '%s': expected text or json\n", ctx.prog,
                        log_format);
                return 1;
        }
        if (ctr_log_open(&ctx.log, log_path, !strcmp(log_format, "json"), debug) < 0) {
                fprintf(stderr, "%s: --log '%s': %m\n", ctx.prog, log_path);
                return 1;
        }
        ctx.opts.root = root ? root : default_root();
        ctx.opts.log = &ctx.log;
        ctx.opts.systemd_cgroup = systemd;
        ctx.opts.rootless = rootless && strcmp(rootless, "false") != 0;
        rc = -1;
        for (const struct rt_command *c = commands; c->name; c++) {
                if (!strcmp(argv[next], c->name)) {
                        rc = c->run(&ctx, argc - next, argv + next);
                        break;
                }
        }
        if (rc < 0) {
                fprintf(stderr, "%s: unknown command '%s'\n", ctx.prog, argv[next]);
                usage(stderr, ctx.prog);
                rc = 1;
        }
        ctr_log_close(&ctx.log);
        return rc;
}
