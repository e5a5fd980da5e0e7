/* runc-compatible flag parsing and error output for the runtime CLI. */
#include "cli/runtime_args.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct rt_opt *find_long(const struct rt_opt *opts, const char *name, size_t len)
{
        for (const struct rt_opt *o = opts; o && o->name; o++)
                if (strlen(o->name) == len && !strncmp(o->name, name, len))
                        return o;
        return NULL;
}

static const struct rt_opt *find_short(const struct rt_opt *opts, char c)
{
        for (const struct rt_opt *o = opts; o && o->name; o++)
                if (o->short_name == c)
                        return o;
        return NULL;
}

static int set_value(const char *cmd, const struct rt_opt *o, const char *val)
{
        char *end;

        switch (o->type) {
        case RT_BOOL:
                if (!val || !strcmp(val, "true") || !strcmp(val, "1"))
                        *(bool *)o->target = true;
                else if (!strcmp(val, "false") || !strcmp(val, "0"))
                        *(bool *)o->target = false;
                else
                        goto bad;
                return 0;
        case RT_STR:
                *(const char **)o->target = val;
                return 0;
        case RT_INT:
                errno = 0;
                *(int *)o->target = (int)strtol(val, &end, 10);
                if (errno || *end || !*val)
                        goto bad;
                return 0;
        case RT_LIST: {
                struct rt_list *l = o->target;
                char **grown = realloc(l->items, (l->n + 2) * sizeof(char *));
                if (!grown)
                        return -1;
                l->items = grown;
                l->items[l->n++] = (char *)val;
                l->items[l->n] = NULL;
                return 0;
        }
        }
bad:
        fprintf(stderr, "%s: invalid value '%s' for flag --%s\n", cmd, val, o->name);
        return -1;
}

int rt_parse(const char *cmd, int argc, char **argv, const struct rt_opt *opts, int *next)
{
        int i;

        for (i = 1; i < argc; i++) {
                const char *a = argv[i], *name, *eq;
                const struct rt_opt *o;

                if (!strcmp(a, "--")) {
                        i++;
                        break;
                }
                if (a[0] != '-' || !a[1])
                        break;
                name = a + (a[1] == '-' ? 2 : 1);
                eq = strchr(name, '=');
                o = find_long(opts, name, eq ? (size_t)(eq - name) : strlen(name));
                if (!o && a[1] != '-' && (eq ? eq - name : (ptrdiff_t)strlen(name)) == 1)
                        o = find_short(opts, name[0]);
                if (!o) {
                        fprintf(stderr, "%s: flag provided but not defined: %s\n", cmd, a);
                        return -1;
                }
                if (eq) {
                        if (set_value(cmd, o, eq + 1) < 0)
                                return -1;
                } else if (o->type == RT_BOOL) {
                        set_value(cmd, o, NULL);
                } else {
                        if (i + 1 >= argc) {
                                fprintf(stderr, "%s: flag needs an argument: %s\n", cmd, a);
                                return -1;
                        }
                        if (set_value(cmd, o, argv[++i]) < 0)
                                return -1;
                }
        }
        *next = i;
        return 0;
}

int rt_fail(struct rt_ctx *ctx, const struct isola_err *err)
{
        fprintf(stderr, "%s: %s\n", ctx->prog, err->msg);
        ctr_log(&ctx->log, CTR_LOG_ERROR, "%s", err->msg);
        return 1;
}

int rt_usage(struct rt_ctx *ctx, const char *cmd, const char *msg)
{
        fprintf(stderr, "%s %s: %s\n", ctx->prog, cmd, msg);
        ctr_log(&ctx->log, CTR_LOG_ERROR, "%s: %s", cmd, msg);
        return 1;
}

void rt_list_free(struct rt_list *l)
{
        free(l->items);
        l->items = NULL;
        l->n = 0;
}
