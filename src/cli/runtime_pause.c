/* `pause <id>` and `resume <id>`. */
#include "cli/runtime_args.h"

static int freeze_cmd(struct rt_ctx *ctx, int argc, char **argv, bool pause)
{
        struct isola_err err = {0};
        const struct rt_opt opts[] = {{NULL, 0, 0, NULL}};
        int next, rc;

        if (rt_parse(argv[0], argc, argv, opts, &next) < 0)
                return 1;
        if (next != argc - 1)
                return rt_usage(ctx, argv[0], "expects exactly one argument: <container-id>");
        rc = pause ? ctr_pause(&ctx->opts, argv[next], &err)
                   : ctr_resume(&ctx->opts, argv[next], &err);
        return rc < 0 ? rt_fail(ctx, &err) : 0;
}

int rt_cmd_pause(struct rt_ctx *ctx, int argc, char **argv)
{
        return freeze_cmd(ctx, argc, argv, true);
}

int rt_cmd_resume(struct rt_ctx *ctx, int argc, char **argv)
{
        return freeze_cmd(ctx, argc, argv, false);
}
