/* Variables and interpolation: the project environment (process environment
 * over .env / --env-file), ${VAR} expansion, and .env parsing. */
#ifndef ISOLA_COMPOSE_INTERP_H
#define ISOLA_COMPOSE_INTERP_H

#include "compose/tree.h"

#define CMP_ENV_MAX 10000 /* variables in one environment */

struct cmp_env {
        const char **names, **vals;
        size_t n, cap;
};

/* Warnings for the user (unset variables, unknown keys), deduplicated. */
struct cmp_warns {
        char **msgs;
        size_t n, cap;
};
void cmp_warn(struct cmp_arena *a, struct cmp_warns *w, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *cmp_env_get(const struct cmp_env *e, const char *name);
/* Sets name unless already set (earlier sources take precedence) or when replace. */
int cmp_env_put(struct cmp_arena *a, struct cmp_env *e, const char *name, const char *val,
                bool replace);

/* Expands ${...}/$VAR/$$ in s; *out is an arena string. Errors name the
 * input as given by what ("services.web.image"). */
int cmp_interpolate(struct cmp_arena *a, const struct cmp_env *env, struct cmp_warns *w,
                    const char *s, size_t len, char **out, const char *what, struct isola_err *err);

/* Interpolates every scalar value (not keys) of a tree in place. */
int cmp_interpolate_tree(struct cmp_arena *a, const struct cmp_env *env, struct cmp_warns *w,
                         struct cmp_node *root, struct isola_err *err);

/* Parses a .env file: KEY=VALUE lines, `export`, comments, single and double
 * quotes (multi-line), ${VAR} in unquoted and double-quoted values (looked up
 * in lookup, then in the variables read so far). Adds to out without
 * replacing (so earlier sources win unless replace). */
int cmp_dotenv_parse(struct cmp_arena *a, const char *file, const char *data, size_t len,
                     const struct cmp_env *lookup, struct cmp_env *out, bool replace,
                     struct cmp_warns *w, struct isola_err *err);

#endif
