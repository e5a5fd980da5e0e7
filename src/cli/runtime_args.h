/* Shared pieces of the runtime CLI: runc-style flag parsing (urfave/cli:
 * "--flag value", "--flag=value", "-flag value", short "-b value", bools
 * with optional "=true|false"), the command context and error printing. */
#ifndef ISOLA_CLI_RUNTIME_ARGS_H
#define ISOLA_CLI_RUNTIME_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "ctr/container.h"
#include "ctr/log.h"
#include "util/err.h"

enum rt_opt_type { RT_BOOL, RT_STR, RT_INT, RT_LIST };

struct rt_list {
        char **items; /* NULL-terminated (NULL when empty) */
        size_t n;
};

struct rt_opt {
        const char *name; /* long name without dashes */
        char short_name;  /* 0 = none */
        enum rt_opt_type type;
        void *target; /* bool*, const char**, int*, struct rt_list* */
};

struct rt_ctx {
        struct ctr_opts opts;
        struct ctr_log log;
        const char *prog;
};

/* Parses flags of `cmd` from argv[1..]; stops at the first positional
 * argument or "--". *next is the index of the first positional. Prints a
 * message and returns -1 on an unknown flag or a missing value. */
int rt_parse(const char *cmd, int argc, char **argv, const struct rt_opt *opts, int *next);

/* Prints "prog: message" to stderr and the error to the log; returns 1. */
int rt_fail(struct rt_ctx *ctx, const struct isola_err *err);
/* Usage error of `cmd`: prints and logs it; returns 1, as runc does. */
int rt_usage(struct rt_ctx *ctx, const char *cmd, const char *msg);

void rt_list_free(struct rt_list *l);

int rt_cmd_create(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_run(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_start(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_state(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_list(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_ps(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_kill(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_delete(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_exec(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_pause(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_resume(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_update(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_spec(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_features(struct rt_ctx *ctx, int argc, char **argv);

#endif
