/* The build plan: the Containerfile split into stages, the ARGs before the
 * first FROM resolved, the target stage chosen, and the stages it needs
 * (through FROM <stage> and COPY --from=<stage>) marked, so only those are
 * built and the step count N of "STEP n/N" is known up front. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "build/build_internal.h"
#include "util/cleanup.h"

struct bld_stage *bld_stage_find(struct bld_ctx *c, const char *ref, size_t before)
{
        if (!ref || !*ref)
                return NULL;
        bool digits = true;
        for (const char *p = ref; *p; p++)
                digits = digits && isdigit((unsigned char)*p);
        if (digits && strlen(ref) < 6) {
                size_t i = (size_t)atoi(ref);
                return i < before && i < c->n_stages ? &c->stages[i] : NULL;
        }
        for (size_t i = 0; i < before && i < c->n_stages; i++) {
                if (c->stages[i].name && !strcasecmp(c->stages[i].name, ref))
                        return &c->stages[i];
        }
        return NULL;
}

/* The value an ARG gets: --build-arg, else its default expanded with vars. */
int bld_arg_value(struct bld_ctx *c, const struct bld_kv *kv, const struct bld_vars *vars,
                  char **out, struct isola_err *err)
{
        const char *given = bld_vars_get(&c->build_args, kv->key);
        *out = NULL;
        if (given) {
                *out = strdup(given);
                return *out ? 0 : err_set(err, ENOMEM, "out of memory");
        }
        if (!kv->value)
                return 0;
        return bld_expand_word(kv->value, vars, c->file.escape, out, err);
}

static int global_args(struct bld_ctx *c, size_t end, struct isola_err *err)
{
        for (size_t i = 0; i < end; i++) {
                const struct bld_instr *in = &c->file.instrs[i];
                if (in->op != BLD_OP_ARG)
                        return err_set(err, EINVAL, "%s:%d: %s before the first FROM", c->file.path,
                                       in->line, bld_op_name(in->op));
                for (size_t k = 0; k < in->n_kv; k++) {
                        char *v = NULL;
                        int rc = bld_arg_value(c, &in->kv[k], &c->global, &v, err);
                        if (rc < 0)
                                err_prefix(err, "%s:%d", c->file.path, in->line);
                        else if (v)
                                rc = bld_vars_set(&c->global, in->kv[k].key, v, err);
                        free(v);
                        if (rc < 0)
                                return -1;
                }
        }
        return 0;
}

static int add_stage(struct bld_ctx *c, size_t first, struct isola_err *err)
{
        const struct bld_instr *in = &c->file.instrs[first];
        struct bld_stage *v = realloc(c->stages, (c->n_stages + 1) * sizeof(*v));
        if (!v)
                return err_set(err, ENOMEM, "out of memory");
        c->stages = v;
        struct bld_stage *st = &v[c->n_stages++];
        memset(st, 0, sizeof(*st));
        st->first = st->last = first;
        if (bld_expand_word(in->kv[0].key, &c->global, c->file.escape, &st->base, err) < 0)
                return err_prefix(err, "%s:%d: FROM", c->file.path, in->line);
        if (!*st->base)
                return err_set(err, EINVAL, "%s:%d: FROM: the image name is empty", c->file.path,
                               in->line);
        if (in->kv[0].value) {
                if (bld_stage_find(c, in->kv[0].value, c->n_stages - 1) &&
                    !isdigit((unsigned char)in->kv[0].value[0]))
                        return err_set(err, EINVAL, "%s:%d: duplicate stage name '%s'",
                                       c->file.path, in->line, in->kv[0].value);
                st->name = strdup(in->kv[0].value);
                if (!st->name)
                        return err_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

/* Marks stage i and, recursively, the earlier stages it uses. */
static void mark_needed(struct bld_ctx *c, size_t i, int depth)
{
        struct bld_stage *st = &c->stages[i];
        if (st->needed || depth > 1000)
                return;
        st->needed = true;
        struct bld_stage *dep = bld_stage_find(c, st->base, i);
        if (dep)
                mark_needed(c, (size_t)(dep - c->stages), depth + 1);
        for (size_t k = st->first + 1; k <= st->last; k++) {
                const struct bld_instr *in = &c->file.instrs[k];
                if (in->op != BLD_OP_COPY)
                        continue;
                const char *from = bld_instr_flag(in, "from", NULL);
                _cleanup_free_ char *ref = NULL;
                struct isola_err err = {0};
                if (!from || bld_expand_word(from, &c->global, c->file.escape, &ref, &err) < 0)
                        continue;
                dep = bld_stage_find(c, ref, i);
                if (dep)
                        mark_needed(c, (size_t)(dep - c->stages), depth + 1);
        }
}

int bld_plan(struct bld_ctx *c, struct isola_err *err)
{
        size_t first_from = c->file.n;
        for (size_t i = 0; i < c->file.n; i++) {
                if (c->file.instrs[i].op == BLD_OP_FROM) {
                        first_from = i;
                        break;
                }
        }
        if (first_from == c->file.n)
                return err_set(err, EINVAL, "%s: no FROM instruction", c->file.path);
        if (global_args(c, first_from, err) < 0)
                return -1;
        for (size_t i = first_from; i < c->file.n; i++) {
                if (c->file.instrs[i].op == BLD_OP_FROM) {
                        if (add_stage(c, i, err) < 0)
                                return -1;
                } else {
                        c->stages[c->n_stages - 1].last = i;
                }
        }
        c->target = c->n_stages - 1;
        if (c->o->target) {
                bool found = false;
                for (size_t i = 0; i < c->n_stages && !found; i++) {
                        if (c->stages[i].name && !strcasecmp(c->stages[i].name, c->o->target)) {
                                c->target = i;
                                found = true;
                        }
                }
                if (!found)
                        return err_set(err, ENOENT, "target stage '%s' not found in %s",
                                       c->o->target, c->file.path);
        }
        mark_needed(c, c->target, 0);
        c->n_steps = 0;
        for (size_t i = 0; i <= c->target; i++) {
                if (c->stages[i].needed)
                        c->n_steps += c->stages[i].last - c->stages[i].first + 1;
        }
        return 0;
}
