/* Unpacked layers under <root>/layers/<diff id hex>/, one per diff id and
 * shared by every image that has it. A layer is unpacked into tmp/, checked
 * (blob digest and diff id), synced, and renamed into place inside the write
 * transaction that adds its `layers` row: a `layers` row always names a
 * complete directory; a directory without a row is a leftover of a killed
 * command, replaced on the next unpack and removed by prune. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/store_internal.h"
#include "util/cleanup.h"

void img_layer_dir(const struct img_store *s, const char *diff_id, char *buf, size_t len)
{
        snprintf(buf, len, "%s/layers/%s", s->paths.root,
                 strncmp(diff_id, "sha256:", 7) ? diff_id : diff_id + 7);
}

static bool layer_row_exists(struct img_store *s, const char *diff_id)
{
        sqlite3_stmt *st = NULL;
        bool found = false;

        if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM layers WHERE diff_id = ?", -1, &st, NULL) ==
            SQLITE_OK) {
                sqlite3_bind_text(st, 1, diff_id, -1, SQLITE_STATIC);
                found = sqlite3_step(st) == SQLITE_ROW;
        }
        sqlite3_finalize(st);
        return found;
}

static bool layer_present(struct img_store *s, const char *diff_id)
{
        char dir[PATH_MAX];
        struct stat st;

        img_layer_dir(s, diff_id, dir, sizeof(dir));
        return layer_row_exists(s, diff_id) && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *layer_media_type_of(struct img_store *s, const char *blob_digest)
{
        char path[PATH_MAX];
        unsigned char m[4] = {0};

        img_blob_path(s, blob_digest, path, sizeof(path));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                if (read(fd, m, sizeof(m)) < 0)
                        m[0] = 0;
                close(fd);
        }
        if (m[0] == 0x1f && m[1] == 0x8b)
                return MT_OCI_LAYER_GZIP;
        if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
                return MT_OCI_LAYER_ZSTD;
        return MT_OCI_LAYER;
}

/* Moves the finished tmp dir into place and adds the row, atomically with
 * respect to other isola processes (the write transaction serialises them). */
int store_layer_commit(struct img_store *s, const char *tmp, const char *diff_id, uint64_t size,
                       struct isola_err *err)
{
        char dir[PATH_MAX];
        sqlite3_stmt *st = NULL;
        struct stat sb;

        img_layer_dir(s, diff_id, dir, sizeof(dir));
        if (db_begin(s->db, err) < 0)
                return -1;
        if (layer_row_exists(s, diff_id) && stat(dir, &sb) == 0) {
                db_rollback(s->db); /* another command finished it first */
                store_discard_dir(s, tmp);
                return 0;
        }
        if (lstat(dir, &sb) == 0)
                store_discard_dir(s, dir); /* leftover of a killed command */
        if (rename(tmp, dir) < 0) {
                err_sys(err, "layer %s: rename into place", diff_id);
                db_rollback(s->db);
                store_discard_dir(s, tmp);
                return -1;
        }
        if (sqlite3_prepare_v2(s->db,
                               "INSERT OR REPLACE INTO layers (diff_id, size, added) VALUES "
                               "(?, ?, ?)",
                               -1, &st, NULL) != SQLITE_OK) {
                db_fail(s->db, "layers", err);
                goto fail;
        }
        sqlite3_bind_text(st, 1, diff_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
        sqlite3_bind_int64(st, 3, store_now());
        if (sqlite3_step(st) != SQLITE_DONE) {
                db_fail(s->db, "layers", err);
                goto fail;
        }
        sqlite3_finalize(st);
        if (db_commit(s->db, err) < 0) {
                store_discard_dir(s, dir);
                return -1;
        }
        return 0;
fail:
        sqlite3_finalize(st);
        db_rollback(s->db);
        store_discard_dir(s, dir);
        return -1;
}

int layer_unpack_blob(struct img_store *s, const char *blob_digest, const char *expected_diff_id,
                      char diff_id_out[IMG_DIGEST_MAX], struct isola_err *err)
{
        const struct img_unpack_limits lim = {IMG_LAYER_MAX_BYTES, IMG_LAYER_MAX_ENTRIES};
        char path[PATH_MAX], tmp[PATH_MAX], diff[IMG_DIGEST_MAX], blob[IMG_DIGEST_MAX];
        uint64_t size = 0;

        if (!img_digest_valid(blob_digest))
                return err_set(err, EINVAL, "layer '%s': not a sha256 digest", blob_digest);
        if (expected_diff_id && !img_digest_valid(expected_diff_id))
                return err_set(err, EINVAL, "layer %s: diff id '%s' is not a sha256 digest",
                               blob_digest, expected_diff_id);
        if (expected_diff_id && layer_present(s, expected_diff_id)) {
                if (diff_id_out)
                        snprintf(diff_id_out, IMG_DIGEST_MAX, "%s", expected_diff_id);
                return 0;
        }
        img_blob_path(s, blob_digest, path, sizeof(path));
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT
                           ? err_set(err, ENOENT, "layer %s: blob not in the store", blob_digest)
                           : err_sys(err, "layer %s: open blob", blob_digest);
        if (store_tmp_path(s, "layer", tmp, sizeof(tmp), err) < 0)
                return -1;
        if (mkdir(tmp, 0755) < 0)
                return err_sys(err, "layer %s: mkdir '%s'", blob_digest, tmp);
        _cleanup_close_ int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fchmod(dfd, 0755) < 0) {
                err_sys(err, "layer %s: open '%s'", blob_digest, tmp);
                goto fail;
        }
        if (unpack_stream(fd, dfd, &lim, diff, blob, &size, err) < 0) {
                err_prefix(err, "layer %s", blob_digest);
                goto fail;
        }
        if (strcmp(blob, blob_digest) != 0) {
                err_set(err, EIO, "layer %s: blob content does not match its digest (is %s)",
                        blob_digest, blob);
                goto fail;
        }
        if (expected_diff_id && strcmp(diff, expected_diff_id) != 0) {
                err_set(err, EIO, "layer %s: uncompressed digest %s, the config says %s",
                        blob_digest, diff, expected_diff_id);
                goto fail;
        }
        /* Data on disk before the directory becomes visible under its name. */
        if (syncfs(dfd) < 0) {
                err_sys(err, "layer %s: syncfs", blob_digest);
                goto fail;
        }
        if (store_layer_commit(s, tmp, diff, size, err) < 0)
                return -1;
        if (diff_id_out)
                snprintf(diff_id_out, IMG_DIGEST_MAX, "%s", diff);
        return 0;
fail:
        store_rm_tree(tmp);
        return -1;
}

int img_layer_unpack(struct img_store *s, const char *blob_digest, const char *diff_id,
                     struct isola_err *err)
{
        return layer_unpack_blob(s, blob_digest, diff_id, NULL, err);
}
