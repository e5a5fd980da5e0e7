/* `isola build`: an image from a Containerfile and a context directory,
 * one layer per RUN/COPY/ADD, the others changing only the config, with a
 * layer cache (cache.h) shared between builds. Prefix bld_. */
#ifndef ISOLA_BUILD_BUILD_H
#define ISOLA_BUILD_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "build/layer.h"
#include "image/image.h"
#include "image/registry.h"
#include "util/err.h"

struct bld_opts {
        const char *context;     /* the context directory */
        const char *file;        /* NULL: Containerfile, else Dockerfile, in it */
        const char *const *tags; /* -t NAME[:TAG] */
        size_t n_tags;
        const char *const *build_args; /* --build-arg K=V (or K: from our env) */
        size_t n_build_args;
        const char *const *labels; /* --label K=V */
        size_t n_labels;
        const char *target;  /* --target STAGE, NULL: the last stage */
        bool no_cache;       /* build every step, still record the cache */
        bool pull;           /* pull FROM images even when present */
        const char *network; /* none | host (NULL: host) */
        enum bld_compression comp;
        const char *output;         /* "type=oci,dest=FILE" or NULL */
        const char *platform;       /* only linux/<host arch> is built */
        FILE *log;                  /* step lines and RUN output; NULL: quiet */
        const struct reg_opts *reg; /* for pulls; NULL: local images only */
};

/* Builds; id_out gets the image id (sha256:<config digest>). */
int bld_build(struct img_store *s, const struct bld_opts *o, char id_out[IMG_DIGEST_MAX],
              struct isola_err *err);

/* `isola builder prune`: deletes the cache rows (all, or those unused for
 * older_than seconds) and the RUN --mount=type=cache directories (all
 * only), then lets img_prune free the layers nothing else keeps. */
int bld_builder_prune(struct img_store *s, bool all, int64_t older_than, int64_t *rows_out,
                      uint64_t *freed_out, struct isola_err *err);

#endif
