/* `features`: the OCI features document. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/runtime_args.h"

int rt_cmd_features(struct rt_ctx *ctx, int argc, char **argv)
{
        struct isola_err err = {0};
        const struct rt_opt opts[] = {{NULL, 0, 0, NULL}};
        char *json;
        int next;

        if (rt_parse(argv[0], argc, argv, opts, &next) < 0)
                return 1;
        if (spec_features_json(&json, &err) < 0)
                return rt_fail(ctx, &err);
        puts(json);
        free(json);
        return 0;
}
