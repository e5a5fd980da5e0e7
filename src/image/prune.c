/* Garbage collection. Roots are the rows: images (manifest and config
 * blobs), image_layers (layer blobs and diff ids) and containers (which keep
 * their image). Under the exclusive store lock no command is between writing
 * a blob and registering it, so whatever the rows do not reach is garbage:
 * unreferenced `layers` rows with their directories, layer directories
 * without a row (a killed unpack), blobs, and the store's own temp files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/store_internal.h"
#include "util/cleanup.h"

static bool row_exists(struct img_store *s, const char *sql, const char *arg, int nargs)
{
        sqlite3_stmt *st = NULL;
        bool found = true; /* on a database error, keep the object */

        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
                for (int i = 1; i <= nargs; i++)
                        sqlite3_bind_text(st, i, arg, -1, SQLITE_STATIC);
                found = sqlite3_step(st) == SQLITE_ROW;
        }
        sqlite3_finalize(st);
        return found;
}

bool store_blob_referenced(struct img_store *s, const char *digest)
{
        return row_exists(s,
                          "SELECT 1 FROM images WHERE id = ?1 OR manifest_digest = ?1 UNION ALL"
                          " SELECT 1 FROM image_layers WHERE blob_digest = ?1 UNION ALL"
                          " SELECT 1 FROM build_cache WHERE blob_digest = ?1 LIMIT 1",
                          digest, 1);
}

/* Layers neither an image nor the build cache has (the cache is pruned by
 * `builder prune`, as Docker's is): rows deleted in one transaction,
 * directories after. */
#define UNUSED_LAYERS                                                                              \
        "diff_id NOT IN (SELECT diff_id FROM image_layers) AND"                                    \
        " diff_id NOT IN (SELECT diff_id FROM build_cache)"
static int gc_layers(struct img_store *s, uint64_t *freed, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        char **victims = NULL;
        size_t n = 0;

        if (db_begin(s->db, err) < 0)
                return -1;
        if (sqlite3_prepare_v2(s->db, "SELECT diff_id, size FROM layers WHERE " UNUSED_LAYERS, -1,
                               &st, NULL) != SQLITE_OK) {
                db_fail(s->db, "layers", err);
                db_rollback(s->db);
                return -1;
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
                if (img_strv_push(&victims, &n, (const char *)sqlite3_column_text(st, 0)) < 0)
                        break;
                *freed += (uint64_t)sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
        if (db_exec(s->db, "DELETE FROM layers WHERE " UNUSED_LAYERS, err) < 0 ||
            db_commit(s->db, err) < 0) {
                db_rollback(s->db);
                img_strv_free(victims);
                return -1;
        }
        for (size_t i = 0; i < n; i++) {
                char dir[PATH_MAX];
                img_layer_dir(s, victims[i], dir, sizeof(dir));
                store_discard_dir(s, dir);
        }
        img_strv_free(victims);
        return 0;
}

/* Calls fn for every entry name of <root>/<sub>. */
static void each_entry(struct img_store *s, const char *sub,
                       void (*fn)(struct img_store *, int, const char *, uint64_t *),
                       uint64_t *freed)
{
        char path[PATH_MAX + 32];
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        snprintf(path, sizeof(path), "%s/%s", s->paths.root, sub);
        d = opendir(path);
        if (!d)
                return;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        fn(s, dirfd(d), de->d_name, freed);
        }
}

static void gc_layer_dir(struct img_store *s, int dfd, const char *name, uint64_t *freed)
{
        char digest[IMG_DIGEST_MAX + 8];

        (void)freed;
        snprintf(digest, sizeof(digest), "sha256:%s", name);
        if (img_digest_valid(digest) &&
            row_exists(s, "SELECT 1 FROM layers WHERE diff_id = ?", digest, 1))
                return;
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/layers/%s", s->paths.root, name);
        (void)dfd;
        store_discard_dir(s, dir);
}

static void gc_blob(struct img_store *s, int dfd, const char *name, uint64_t *freed)
{
        char digest[IMG_DIGEST_MAX + 8];
        struct stat st;

        snprintf(digest, sizeof(digest), "sha256:%s", name);
        if (img_digest_valid(digest) && store_blob_referenced(s, digest))
                return;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                *freed += (uint64_t)st.st_size;
        unlinkat(dfd, name, 0);
}

static void gc_tmp(struct img_store *s, int dfd, const char *name, uint64_t *freed)
{
        static const char *const ours[] = {"blob-", "layer-", "trash-", "load-", "save-"};

        (void)s;
        (void)freed;
        for (size_t i = 0; i < ARRAY_SIZE(ours); i++) {
                if (!strncmp(name, ours[i], strlen(ours[i]))) {
                        store_rm_tree_at(dfd, name);
                        return;
                }
        }
}

int store_gc(struct img_store *s, uint64_t *freed, struct isola_err *err)
{
        if (gc_layers(s, freed, err) < 0)
                return -1;
        each_entry(s, "layers", gc_layer_dir, freed);
        each_entry(s, "blobs/sha256", gc_blob, freed);
        each_entry(s, "tmp", gc_tmp, freed);
        return 0;
}

static int prune_locked(struct img_store *s, uint64_t *freed, struct isola_err *err)
{
        /* Dangling images (no name) no container uses. */
        if (db_begin(s->db, err) < 0)
                return -1;
        if (db_exec(s->db,
                    "DELETE FROM images WHERE id NOT IN (SELECT image_id FROM image_names)"
                    " AND id NOT IN (SELECT image_id FROM containers WHERE image_id IS NOT NULL)",
                    err) < 0 ||
            db_commit(s->db, err) < 0) {
                db_rollback(s->db);
                return -1;
        }
        return store_gc(s, freed, err);
}

int img_prune(struct img_store *s, uint64_t *freed_out, struct isola_err *err)
{
        uint64_t freed = 0;
        int rc;

        if (img_store_lock(s, true, err) < 0)
                return -1;
        rc = prune_locked(s, &freed, err);
        img_store_unlock(s);
        if (freed_out)
                *freed_out = freed;
        return rc < 0 ? err_prefix(err, "image prune") : 0;
}
