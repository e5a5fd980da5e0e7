/* Private to unpack.c / unpack_entry.c: the state of one layer unpack. */
#ifndef ISOLA_IMAGE_UNPACK_INTERNAL_H
#define ISOLA_IMAGE_UNPACK_INTERNAL_H

#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "image/image.h"

#define UNPACK_DEPTH_MAX 256 /* path components of one entry */
/* Memory for remembered directory names; past it, later directories keep
 * the time their unpacking gave them (a hostile layer cannot make the
 * unpacker hold gigabytes). */
#define UNPACK_DIR_NAMES_MAX (64u << 20)

struct unpack_dir_time {
        char *name;
        struct timespec ts[2];
};

struct unpack_ctx {
        int root; /* the layer directory: nothing is written outside it */
        const struct img_unpack_limits *lim;
        uint64_t bytes, entries;
        bool chown_ok;
        /* directory times, applied after their contents were written */
        struct unpack_dir_time *dirs;
        size_t n_dirs, cap_dirs, dir_bytes;
        /* the parent directory of the last regular file, reused while the
         * entries stay in one directory */
        char cached_parent[PATH_MAX];
        int cached_fd;
};

/* Applies one archive entry below ctx->root; data is read from a. Errors
 * are "entry '<name>': <reason>". */
int unpack_entry(struct unpack_ctx *ctx, struct archive *a, struct archive_entry *e,
                 struct isola_err *err);
/* Sets the deferred directory times and frees the list. */
void unpack_finish_dirs(struct unpack_ctx *ctx);
void unpack_ctx_release(struct unpack_ctx *ctx);

#endif
