/* `spec [--rootless] [--bundle DIR]`: write a default config.json. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/runtime_args.h"
#include "util/fs.h"

int rt_cmd_spec(struct rt_ctx *ctx, int argc, char **argv)
{
        struct isola_err err = {0};
        const char *bundle = ".";
        bool rootless = false;
        const struct rt_opt opts[] = {{"bundle", 'b', RT_STR, &bundle},
                                      {"rootless", 0, RT_BOOL, &rootless},
                                      {NULL, 0, 0, NULL}};
        char path[4096], *json;
        int next, rc = 0;

        if (rt_parse(argv[0], argc, argv, opts, &next) < 0)
                return 1;
        if (next != argc)
                return rt_usage(ctx, argv[0], "takes no arguments");
        if (spec_default_json(rootless, &json, &err) < 0)
                return rt_fail(ctx, &err);
        snprintf(path, sizeof(path), "%s/config.json", bundle);
        if (fs_write_file(path, json, strlen(json), O_WRONLY | O_CREAT | O_EXCL, 0644, &err) < 0) {
                if (err.errnum == EEXIST)
                        err_set(&err, EEXIST, "'%s' exists: remove it first", path);
                rc = rt_fail(ctx, &err);
        }
        free(json);
        return rc;
}
