/* The layer cache: cache keys and their rows in the state database
 * (table build_cache, db/schema.c).
 *
 * A step's key is sha256 over, each field tagged and length-prefixed:
 *   the parent step's key (at FROM: the base image id, or "scratch"),
 *   the instruction after expansion (flags included),
 *   for RUN the build args the stage has declared (name=value, in order),
 *   for COPY/ADD a content hash of every file it copies: the path relative
 *   to the source, type, permission bits, uid, gid, and the bytes (file
 *   contents, symlink targets) — never the times, so a touch keeps a hit.
 * Keys chain, so a miss rebuilds that step and everything after it. */
#ifndef ISOLA_BUILD_CACHE_H
#define ISOLA_BUILD_CACHE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "build/ignore.h"
#include "build/layer.h"
#include "util/err.h"

#define BLD_KEY_HEX 65 /* 64 hex + NUL */

struct bld_key {
        void *md; /* EVP_MD_CTX */
};
int bld_key_init(struct bld_key *k, struct isola_err *err);
void bld_key_add(struct bld_key *k, const char *tag, const void *p, size_t n);
void bld_key_add_str(struct bld_key *k, const char *tag, const char *s);
/* Adds the content hash of name (relative to dirfd: a file, symlink or
 * directory, walked in sorted order) as it appears under rel. Directory
 * entries excluded by ig (paths ctx_prefix/...) are left out; ig may be
 * NULL. follow: name itself may be a symlink to follow (a COPY source). */
int bld_key_add_tree(struct bld_key *k, int dirfd, const char *name, const char *ctx_path,
                     const struct bld_ignore *ig, bool follow, struct isola_err *err);
/* Finishes into 64 hex digits; frees the context. */
void bld_key_final(struct bld_key *k, char hex[BLD_KEY_HEX]);
void bld_key_free(struct bld_key *k);

struct bld_cache_entry {
        char key[BLD_KEY_HEX];
        char parent[BLD_KEY_HEX];
        char diff_id[BLD_DIGEST_MAX]; /* "" when the step made no layer */
        char blob_digest[BLD_DIGEST_MAX];
        char media_type[128];
        int64_t blob_size;
        int64_t created;
};

/* 1 and *out filled when key is cached (its last_used is bumped), 0 when not. */
int bld_cache_get(sqlite3 *db, const char *key, struct bld_cache_entry *out, struct isola_err *err);
int bld_cache_put(sqlite3 *db, const struct bld_cache_entry *e, struct isola_err *err);
/* Deletes every row (all) or those unused for older_than seconds;
 * *removed gets the count. */
int bld_cache_prune(sqlite3 *db, bool all, int64_t older_than, int64_t *removed,
                    struct isola_err *err);

#endif
