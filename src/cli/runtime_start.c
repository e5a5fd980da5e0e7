/* `start <id>`: release a created container. */
#include "cli/runtime_args.h"

int rt_cmd_start(struct rt_ctx *ctx, int argc, char **argv)
{
        struct isola_err err = {0};
        const struct rt_opt opts[] = {{NULL, 0, 0, NULL}};
        int next;

        if (rt_parse(argv[0], argc, argv, opts, &next) < 0)
                return 1;
        if (next != argc - 1)
                return rt_usage(ctx, argv[0], "expects exactly one argument: <container-id>");
        if (ctr_start(&ctx->opts, argv[next], &err) < 0)
                return rt_fail(ctx, &err);
        return 0;
}
