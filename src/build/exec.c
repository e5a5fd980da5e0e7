/* The executor: runs the needed stages in order, one step per instruction.
 * Each step computes its cache key from the parent step's key (cache.h),
 * probes the cache, and on a miss runs (RUN), copies (COPY/ADD) or edits
 * the config, then records the result. The log shows "STEP n/N: ..." and
 * "--> CACHED" or the time the step took. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build/build_internal.h"
#include "build/strbuf.h"
#include "util/cleanup.h"

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void logf_(struct bld_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct bld_ctx *c, const char *fmt, ...)
{
        if (!c->o->log)
                return;
        va_list ap;
        va_start(ap, fmt);
        vfprintf(c->o->log, fmt, ap);
        va_end(ap);
        fflush(c->o->log);
}

static int64_t step_time(struct bld_ctx *c)
{
        return c->use_epoch ? c->epoch : (int64_t)time(NULL);
}

static int image_state(struct bld_ctx *c, const char *ref, struct bld_state *out,
                       char id_out[IMG_DIGEST_MAX], struct isola_err *err)
{
        struct img_image *img = NULL;
        struct isola_err lerr = {0};
        int rc = c->o->pull ? -1 : img_lookup(c->s, ref, &img, &lerr);
        if (rc < 0 && (c->o->pull || lerr.errnum == ENOENT)) {
                char id[IMG_DIGEST_MAX];
                if (!c->o->reg)
                        return err_set(err, ENOENT, "image '%s': not known", ref);
                logf_(c, "pulling %s\n", ref);
                if (reg_pull(c->s, ref, c->o->reg, id, err) < 0)
                        return err_prefix(err, "image '%s': not known locally, pull failed", ref);
                rc = img_lookup(c->s, id, &img, err);
        } else if (rc < 0) {
                *err = lerr;
        }
        if (rc < 0)
                return -1;
        rc = bld_state_from_image(out, img, err);
        snprintf(id_out, IMG_DIGEST_MAX, "%s", img->id);
        img_image_free(img);
        return rc;
}

int bld_source_state(struct bld_ctx *c, const char *ref, size_t before, struct bld_state **out,
                     struct bld_state *own, struct isola_err *err)
{
        struct bld_stage *sg = bld_stage_find(c, ref, before);
        if (sg) {
                if (!sg->built)
                        return err_set(err, EINVAL, "stage '%s' is not built yet", ref);
                *out = &sg->st;
                return 0;
        }
        char id[IMG_DIGEST_MAX];
        if (image_state(c, ref, own, id, err) < 0)
                return err_prefix(err, "--from");
        *out = own;
        return 0;
}

static int key_start(struct bld_key *k, const char *parent, struct isola_err *err)
{
        if (bld_key_init(k, err) < 0)
                return -1;
        bld_key_add_str(k, "parent", parent);
        return 0;
}

static int from_step(struct bld_ctx *c, size_t idx, struct isola_err *err)
{
        struct bld_stage *sg = &c->stages[idx];
        const struct bld_instr *in = &c->file.instrs[sg->first];
        struct bld_key k;
        const char *plat = bld_instr_flag(in, "platform", NULL);
        _cleanup_free_ char *platform = NULL;
        if (plat && bld_expand_word(plat, &c->global, c->file.escape, &platform, err) < 0)
                return -1;
        if (platform && strcmp(platform, "linux/amd64") != 0 &&
            strcmp(platform, "linux/x86_64") != 0 && strcmp(platform, "amd64") != 0)
                return err_set(err, ENOTSUP, "--platform=%s: only linux/amd64 can be built",
                               platform);
        struct bld_stage *dep = bld_stage_find(c, sg->base, idx);
        char id[IMG_DIGEST_MAX] = "";
        if (!strcasecmp(sg->base, "scratch")) {
                if (bld_state_scratch(&sg->st, err) < 0)
                        return -1;
                snprintf(id, sizeof(id), "scratch");
        } else if (dep) {
                if (bld_state_copy(&sg->st, &dep->st, err) < 0)
                        return -1;
                snprintf(id, sizeof(id), "stage:%s", dep->st.key);
        } else if (image_state(c, sg->base, &sg->st, id, err) < 0) {
                return -1;
        }
        if (bld_state_default_path(&sg->st, err) < 0 || key_start(&k, id, err) < 0)
                return -1;
        bld_key_final(&k, sg->st.key);
        if (!dep && strcmp(id, "scratch") != 0)
                logf_(c, "--> %.19s\n", id);
        return 0;
}

/* The RUN text for key and history: flags and command as written. */
static char *run_text(const struct bld_instr *in)
{
        return strdup(in->text);
}

/* Probes the cache for key; on a hit fills layer. */
static int probe(struct bld_ctx *c, const char *key, struct bld_cache_entry *e,
                 struct isola_err *err)
{
        if (c->o->no_cache)
                return 0;
        int hit = bld_cache_get(c->s->db, key, e, err);
        if (hit <= 0)
                return hit;
        return bld_layer_usable(c, e) ? 1 : 0;
}

static int record(struct bld_ctx *c, struct bld_state *st, const char *key,
                  const struct bld_layer *l, int64_t created, struct isola_err *err)
{
        struct bld_cache_entry e = {.created = created};
        snprintf(e.key, sizeof(e.key), "%s", key);
        snprintf(e.parent, sizeof(e.parent), "%s", st->key);
        if (l) {
                snprintf(e.diff_id, sizeof(e.diff_id), "%s", l->diff_id);
                snprintf(e.blob_digest, sizeof(e.blob_digest), "%s", l->blob);
                snprintf(e.media_type, sizeof(e.media_type), "%s", l->media_type);
                e.blob_size = l->size;
        }
        return bld_cache_put(c->s->db, &e, err);
}

static void layer_of(const struct bld_cache_entry *e, struct bld_layer *l)
{
        memset(l, 0, sizeof(*l));
        snprintf(l->diff_id, sizeof(l->diff_id), "%s", e->diff_id);
        snprintf(l->blob, sizeof(l->blob), "%s", e->blob_digest);
        snprintf(l->media_type, sizeof(l->media_type), "%s", e->media_type);
        l->size = e->blob_size;
}

/* A step: key computed, cache probed, work done on a miss, state advanced. */
static int step(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                struct isola_err *err)
{
        struct bld_key k;
        char key[BLD_KEY_HEX];
        char *text = NULL;
        struct bld_copy_plan *plan = NULL;
        struct bld_cache_entry e;
        bool layer = in->op == BLD_OP_RUN || in->op == BLD_OP_COPY || in->op == BLD_OP_ADD;
        int rc = 0;
        if (key_start(&k, st->key, err) < 0)
                return -1;
        if (in->op == BLD_OP_RUN) {
                text = run_text(in);
                bld_key_add_str(&k, "instr", text);
                /* the command sees the stage's build args in its environment */
                for (size_t i = 0; i < st->args.n; i++) {
                        bld_key_add_str(&k, "arg", st->args.names[i]);
                        bld_key_add_str(&k, "val", st->args.values[i]);
                }
                bld_key_add_str(&k, "net", c->host_network ? "host" : "none");
        } else if (layer) {
                rc = bld_copy_prepare(c, st, in, &plan, err);
                if (rc == 0)
                        rc = bld_copy_key(plan, &k, err);
                if (rc == 0 && !(text = strdup(bld_copy_text(plan))))
                        rc = err_set(err, ENOMEM, "out of memory");
        } else {
                rc = bld_config_apply(c, st, in, &text, err);
                if (rc == 0)
                        bld_key_add_str(&k, "instr", text);
        }
        if (rc < 0) {
                bld_key_free(&k);
                bld_copy_free(plan);
                free(text);
                return -1;
        }
        bld_key_final(&k, key);
        double t0 = now_s();
        int hit = probe(c, key, &e, err);
        struct bld_layer l;
        int64_t created = step_time(c);
        if (hit < 0) {
                rc = -1;
        } else if (hit) {
                created = e.created;
                layer_of(&e, &l);
                logf_(c, "--> CACHED\n");
        } else if (in->op == BLD_OP_RUN) {
                rc = bld_step_run(c, st, in, text, &l, err);
                if (rc < 0)
                        err_prefix(err, "%s:%d", c->file.path, in->line);
        } else if (layer) {
                rc = bld_copy_run(c, st, plan, &l, err);
        }
        bld_copy_free(plan);
        if (rc == 0 && !hit)
                rc = record(c, st, key, layer ? &l : NULL, created, err);
        if (rc == 0 && layer)
                rc = bld_state_add_layer(st, &l, err);
        if (rc == 0)
                rc = bld_state_add_history(st, text, !layer, created, err);
        if (rc == 0 && !hit)
                logf_(c, "--> %.2fs\n", now_s() - t0);
        if (rc == 0)
                memcpy(st->key, key, sizeof(st->key));
        free(text);
        return rc;
}

static int stage_run(struct bld_ctx *c, size_t idx, struct isola_err *err)
{
        struct bld_stage *sg = &c->stages[idx];
        for (size_t i = sg->first; i <= sg->last; i++) {
                const struct bld_instr *in = &c->file.instrs[i];
                logf_(c, "STEP %zu/%zu: %s\n", ++c->step, c->n_steps, in->text);
                int rc = i == sg->first ? from_step(c, idx, err) : step(c, &sg->st, in, err);
                if (rc < 0) {
                        /* errors from the step helpers may lack the location */
                        if (!strstr(err->msg, c->file.path))
                                err_prefix(err, "%s:%d: %s", c->file.path, in->line,
                                           bld_op_name(in->op));
                        return -1;
                }
        }
        sg->built = true;
        return 0;
}

int bld_exec(struct bld_ctx *c, char id_out[IMG_DIGEST_MAX], struct isola_err *err)
{
        for (size_t i = 0; i <= c->target; i++) {
                if (c->stages[i].needed && stage_run(c, i, err) < 0)
                        return -1;
        }
        logf_(c, "COMMIT%s%s\n", c->o->n_tags ? " " : "", c->o->n_tags ? c->o->tags[0] : "");
        return bld_commit_image(c, &c->stages[c->target].st, id_out, err);
}
