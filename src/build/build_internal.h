/* Shared between the builder's files (plan, exec, config, run, copy,
 * commit, rootfs). Not part of the public API. */
#ifndef ISOLA_BUILD_BUILD_INTERNAL_H
#define ISOLA_BUILD_BUILD_INTERNAL_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "build/build.h"
#include "build/cache.h"
#include "build/containerfile.h"
#include "build/ignore.h"
#include "build/layer.h"

#define BLD_HISTORY_TAIL 2048 /* bytes of a failing RUN's output kept for the error */

struct bld_layer {
        char diff_id[IMG_DIGEST_MAX];
        char blob[IMG_DIGEST_MAX];
        char media_type[128];
        int64_t size;
};

/* A stage while it is built, and its result for FROM stage / COPY --from. */
struct bld_state {
        json_object *cfg; /* the image config: architecture, os, config, rootfs, history */
        struct bld_layer *layers;
        size_t n_layers;
        char key[BLD_KEY_HEX]; /* cache key of the last step */
        struct bld_vars args;  /* ARGs this stage declared, with their values */
        int64_t created;       /* time of the newest history entry */
        bool cmd_set;          /* CMD given in this stage (ENTRYPOINT keeps it) */
};

struct bld_stage {
        size_t first, last; /* instruction indexes, FROM .. last */
        char *name;         /* AS name (lower case) or NULL */
        char *base;         /* FROM image after expansion */
        bool needed, built;
        struct bld_state st;
};

struct bld_ctx {
        struct img_store *s;
        const struct bld_opts *o;
        struct bld_file file;
        struct bld_ignore ignore;
        int ctx_fd;
        char context[PATH_MAX];
        struct bld_vars build_args; /* --build-arg */
        struct bld_vars global;     /* ARGs before the first FROM */
        struct bld_stage *stages;
        size_t n_stages, target;
        size_t step, n_steps;
        bool host_network;
        int64_t epoch;           /* layer mtimes and history times when SOURCE_DATE_EPOCH is set */
        bool use_epoch;          /* SOURCE_DATE_EPOCH given */
        char tmp[PATH_MAX];      /* this build's scratch: <root>/tmp/build-XXXXXX */
        char ctr_root[PATH_MAX]; /* runtime state of RUN containers */
        unsigned seq;            /* names inside tmp */
};

/* ---- plan.c: stages, the target, which stages it needs ---- */
int bld_plan(struct bld_ctx *c, struct isola_err *err);
/* The value an ARG gets: --build-arg, else its default expanded with vars
 * (*out NULL: neither). */
int bld_arg_value(struct bld_ctx *c, const struct bld_kv *kv, const struct bld_vars *vars,
                  char **out, struct isola_err *err);

/* ---- state.c: stage state, config edits, history ---- */
void bld_state_free(struct bld_state *st);
int bld_state_copy(struct bld_state *dst, const struct bld_state *src, struct isola_err *err);
int bld_state_scratch(struct bld_state *st, struct isola_err *err);
int bld_state_from_image(struct bld_state *st, const struct img_image *img, struct isola_err *err);
json_object *bld_cfg_config(struct bld_state *st); /* the "config" object, created if absent */
/* Variables for expansion: the stage's ARGs, then its Env over them. */
int bld_state_vars(struct bld_state *st, struct bld_vars *out, struct isola_err *err);
/* The process environment of RUN: Env plus ARGs Env does not set ("K=V"). */
int bld_state_env(struct bld_state *st, char ***out, struct isola_err *err);
int bld_state_add_history(struct bld_state *st, const char *created_by, bool empty_layer,
                          int64_t created, struct isola_err *err);
/* Puts the default PATH first in Env when the image has none (at FROM). */
int bld_state_default_path(struct bld_state *st, struct isola_err *err);
int bld_state_add_layer(struct bld_state *st, const struct bld_layer *l, struct isola_err *err);
/* Applies a config-only instruction (ENV, LABEL, CMD, ...) after expansion;
 * *text_out gets the expanded instruction for the cache key and history. */
int bld_config_apply(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                     char **text_out, struct isola_err *err);
const char *bld_state_workdir(struct bld_state *st); /* "/" when unset */
/* The SHELL (default /bin/sh -c), NULL-terminated, borrowed from the config. */
int bld_state_shell(struct bld_state *st, char ***out, struct isola_err *err);

/* ---- rootfs.c: overlay mounts and scratch dirs ---- */
struct bld_mount {
        char dir[PATH_MAX]; /* scratch dir holding upper/ work/ merged/ */
        char upper[PATH_MAX];
        char merged[PATH_MAX];
        bool mounted;
};
/* Lower layers of st (bottom first) with a fresh upper dir, at merged. */
int bld_mount(struct bld_ctx *c, const struct bld_state *st, struct bld_mount *m,
              struct isola_err *err);
void bld_unmount(struct bld_mount *m);    /* the upper dir stays */
void bld_mount_free(struct bld_mount *m); /* unmounts, removes the scratch dir */
int bld_mkscratch(struct bld_ctx *c, const char *what, char *buf, size_t len,
                  struct isola_err *err);
void bld_rmtree(const char *path);

/* ---- commit.c: layers into the store, the final image ---- */
/* Turns the upper dir into a stored, unpacked layer. */
int bld_commit_layer(struct bld_ctx *c, const char *upper, struct bld_layer *out,
                     struct isola_err *err);
/* Whether a cached layer is still usable (blob and unpacked dir present;
 * unpacks again when only the dir went). */
bool bld_layer_usable(struct bld_ctx *c, const struct bld_cache_entry *e);
int bld_commit_image(struct bld_ctx *c, struct bld_state *st, char id_out[IMG_DIGEST_MAX],
                     struct isola_err *err);

/* ---- run.c / copy.c: the steps that make layers ---- */
int bld_step_run(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                 const char *cmd_text, struct bld_layer *out, struct isola_err *err);
/* COPY/ADD. Computes the key first (content hash); *hit tells whether the
 * cache had it (then out comes from the cache and nothing is copied). */
struct bld_copy_plan;
int bld_copy_prepare(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                     struct bld_copy_plan **out, struct isola_err *err);
/* Adds the plan's sources (content hash) and destination to the key. */
int bld_copy_key(struct bld_copy_plan *p, struct bld_key *k, struct isola_err *err);
const char *bld_copy_text(const struct bld_copy_plan *p); /* expanded instruction */
int bld_copy_run(struct bld_ctx *c, struct bld_state *st, struct bld_copy_plan *p,
                 struct bld_layer *out, struct isola_err *err);
void bld_copy_free(struct bld_copy_plan *p);

/* ---- reap.c ---- */
/* Removes scratch dirs, mounts and RUN containers of killed builds. */
void bld_reap(struct bld_ctx *c, const char *tmpdir);

/* ---- exec.c ---- */
/* Builds the needed stages and commits the target. */
int bld_exec(struct bld_ctx *c, char id_out[IMG_DIGEST_MAX], struct isola_err *err);
/* The stage with that name or index (FROM x / COPY --from=x), or NULL. */
struct bld_stage *bld_stage_find(struct bld_ctx *c, const char *ref, size_t before);
/* The state of a stage or image for COPY --from (builds the stage). */
int bld_source_state(struct bld_ctx *c, const char *ref, size_t before, struct bld_state **out,
                     struct bld_state *own, struct isola_err *err);

#endif
