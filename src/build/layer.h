/* Layer diffs: an overlayfs upper directory (what a build step added,
 * changed or deleted) written as an OCI layer tar, compressed with gzip or
 * zstd. Whiteouts (0/0 character devices) become ".wh.NAME" entries and
 * opaque directories (trusted.overlay.opaque=y) a ".wh..wh..opq" entry.
 * The output is reproducible: entries sorted by name, every mtime set to
 * the given epoch (0, or SOURCE_DATE_EPOCH), no atime/ctime, no user or
 * group names; uid, gid, mode and xattrs (except trusted.overlay.*) kept. */
#ifndef ISOLA_BUILD_LAYER_H
#define ISOLA_BUILD_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define BLD_DIGEST_MAX 72

enum bld_compression { BLD_COMP_GZIP, BLD_COMP_ZSTD, BLD_COMP_NONE };

/* Where the compressed bytes go (a store blob writer, a file). */
typedef int (*bld_sink_fn)(void *ctx, const void *buf, size_t len, struct isola_err *err);

struct bld_layer_info {
        char digest[BLD_DIGEST_MAX];  /* sha256 of the bytes given to the sink */
        char diff_id[BLD_DIGEST_MAX]; /* sha256 of the uncompressed tar */
        int64_t size;                 /* bytes given to the sink */
        uint64_t entries;             /* tar entries written */
        const char *media_type;       /* OCI layer media type for the compression */
};

/* Writes the diff in upper_dirfd to sink. */
int bld_layer_write(int upper_dirfd, enum bld_compression comp, int64_t epoch, bld_sink_fn sink,
                    void *sink_ctx, struct bld_layer_info *info, struct isola_err *err);

/* Parses "gzip" / "zstd" / "none". */
int bld_compression_parse(const char *s, enum bld_compression *out, struct isola_err *err);

/* SOURCE_DATE_EPOCH when set and valid, else 0. */
int64_t bld_source_date_epoch(void);

#endif
