/* `create` and `run`: flags as runc's, then ctr_create / ctr_run. */
#include <stdio.h>
#include <string.h>

#include "cli/runtime_args.h"

static int create_or_run(struct rt_ctx *ctx, int argc, char **argv, bool run)
{
        struct ctr_create_args a = {0};
        bool no_subreaper = false, keep = false;
        const char *criu_opts = NULL;
        struct isola_err err = {0};
        const struct rt_opt opts[] = {
            {"bundle", 'b', RT_STR, &a.bundle},
            {"pid-file", 0, RT_STR, &a.pid_file},
            {"console-socket", 0, RT_STR, &a.console_socket},
            {"no-pivot", 0, RT_BOOL, &a.no_pivot},
            {"no-new-keyring", 0, RT_BOOL, &a.no_new_keyring},
            {"preserve-fds", 0, RT_INT, &a.preserve_fds},
            {"detach", 'd', RT_BOOL, &a.detach},
            {"no-subreaper", 0, RT_BOOL, &no_subreaper},
            {"keep", 0, RT_BOOL, &keep},
            {"pidfd-socket", 0, RT_STR, &criu_opts},
            {NULL, 0, 0, NULL},
        };
        int next, status = 0;

        if (rt_parse(argv[0], argc, argv, opts, &next) < 0)
                return 1;
        if (!run)
                a.detach = true;
        if (next != argc - 1)
                return rt_usage(ctx, argv[0], "expects exactly one argument: <container-id>");
        if (a.preserve_fds < 0)
                return rt_usage(ctx, argv[0], "--preserve-fds must not be negative");
        if (!run) {
                if (ctr_create(&ctx->opts, argv[next], &a, &err) < 0)
                        return rt_fail(ctx, &err);
                return 0;
        }
        if (ctr_run(&ctx->opts, argv[next], &a, &status, &err) < 0)
                return rt_fail(ctx, &err);
        return status;
}

int rt_cmd_create(struct rt_ctx *ctx, int argc, char **argv)
{
        return create_or_run(ctx, argc, argv, false);
}

int rt_cmd_run(struct rt_ctx *ctx, int argc, char **argv)
{
        return create_or_run(ctx, argc, argv, true);
}
