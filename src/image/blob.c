/* Content-addressed blobs under <root>/blobs/sha256/<hex>. A writer streams
 * into tmp/, hashing as it goes; commit checks size and digest, fsyncs the
 * file, renames it into place and fsyncs the directory, so a blob is never
 * addressable by a digest it does not have. Reads verify the digest again. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/store_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

struct img_blob_writer {
        struct img_store *store;
        int fd;
        char tmp[PATH_MAX];
        char expected[IMG_DIGEST_MAX];
        int64_t expected_size, written;
        struct img_sha sha;
};

void img_blob_path(const struct img_store *s, const char *digest, char *buf, size_t len)
{
        snprintf(buf, len, "%s/blobs/sha256/%s", s->paths.root,
                 strncmp(digest, "sha256:", 7) ? digest : digest + 7);
}

bool img_blob_exists(struct img_store *s, const char *digest)
{
        char path[PATH_MAX];
        struct stat st;

        if (!img_digest_valid(digest))
                return false;
        img_blob_path(s, digest, path, sizeof(path));
        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int img_blob_writer_open(struct img_store *s, const char *expected_digest, int64_t expected_size,
                         struct img_blob_writer **out, struct isola_err *err)
{
        struct img_blob_writer *w;

        if (expected_digest && !img_digest_valid(expected_digest))
                return err_set(err, EINVAL, "blob digest '%s': not sha256:<64 hex>",
                               expected_digest);
        w = calloc(1, sizeof(*w));
        if (!w)
                return err_set(err, ENOMEM, "out of memory");
        w->store = s;
        w->fd = -1;
        w->expected_size = expected_size;
        if (expected_digest)
                snprintf(w->expected, sizeof(w->expected), "%s", expected_digest);
        if (store_tmp_path(s, "blob", w->tmp, sizeof(w->tmp), err) < 0 ||
            img_sha_init(&w->sha, err) < 0) {
                free(w);
                return -1;
        }
        w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (w->fd < 0) {
                err_sys(err, "blob: create '%s'", w->tmp);
                img_sha_free(&w->sha);
                free(w);
                return -1;
        }
        *out = w;
        return 0;
}

int img_blob_writer_write(struct img_blob_writer *w, const void *buf, size_t len,
                          struct isola_err *err)
{
        if (w->expected_size >= 0 && w->written + (int64_t)len > w->expected_size)
                return err_set(err, EFBIG, "blob %s: more than the %lld bytes expected",
                               w->expected[0] ? w->expected : "(new)", (long long)w->expected_size);
        if (fs_write_all(w->fd, buf, len) < 0)
                return err_sys(err, "blob: write '%s'", w->tmp);
        img_sha_update(&w->sha, buf, len);
        w->written += (int64_t)len;
        return 0;
}

int64_t img_blob_writer_size(const struct img_blob_writer *w)
{
        return w->written;
}

void img_blob_writer_abort(struct img_blob_writer *w)
{
        if (!w)
                return;
        if (w->fd >= 0)
                close(w->fd);
        unlink(w->tmp);
        img_sha_free(&w->sha);
        free(w);
}

static int fsync_dir(const char *path, struct isola_err *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return err_sys(err, "fsync '%s'", path);
        return 0;
}

/* Renames a staged, fsynced file into blobs/ unless the blob is there. */
int store_blob_adopt(struct img_store *s, const char *tmp_path, const char *digest, bool *added_out,
                     struct isola_err *err)
{
        char path[PATH_MAX], dir[PATH_MAX + 16];

        if (added_out)
                *added_out = false;
        if (img_blob_exists(s, digest)) {
                unlink(tmp_path);
                return 0;
        }
        img_blob_path(s, digest, path, sizeof(path));
        if (rename(tmp_path, path) < 0) {
                err_sys(err, "blob %s: rename into the store", digest);
                unlink(tmp_path);
                return -1;
        }
        snprintf(dir, sizeof(dir), "%s/blobs/sha256", s->paths.root);
        if (fsync_dir(dir, err) < 0)
                return -1;
        if (added_out)
                *added_out = true;
        return 0;
}

int img_blob_writer_commit(struct img_blob_writer *w, char digest_out[IMG_DIGEST_MAX],
                           struct isola_err *err)
{
        char digest[IMG_DIGEST_MAX];
        int rc = -1;

        img_sha_final(&w->sha, digest);
        if (w->expected_size >= 0 && w->written != w->expected_size) {
                err_set(err, EIO, "blob %s: %lld bytes, expected %lld",
                        w->expected[0] ? w->expected : digest, (long long)w->written,
                        (long long)w->expected_size);
                goto out;
        }
        if (w->expected[0] && strcmp(w->expected, digest) != 0) {
                err_set(err, EIO, "blob %s: digest mismatch (content is %s)", w->expected, digest);
                goto out;
        }
        if (fsync(w->fd) < 0) {
                err_sys(err, "blob %s: fsync", digest);
                goto out;
        }
        close(w->fd);
        w->fd = -1;
        if (store_blob_adopt(w->store, w->tmp, digest, NULL, err) < 0)
                goto out;
        if (digest_out)
                memcpy(digest_out, digest, IMG_DIGEST_MAX);
        rc = 0;
out:
        img_blob_writer_abort(w);
        return rc;
}

int img_blob_put(struct img_store *s, const void *buf, size_t len, char digest_out[IMG_DIGEST_MAX],
                 struct isola_err *err)
{
        struct img_blob_writer *w;
        char digest[IMG_DIGEST_MAX];

        if (img_sha_buf(buf, len, digest, err) < 0)
                return -1;
        if (img_blob_exists(s, digest)) {
                if (digest_out)
                        memcpy(digest_out, digest, IMG_DIGEST_MAX);
                return 0;
        }
        if (img_blob_writer_open(s, digest, (int64_t)len, &w, err) < 0)
                return -1;
        if (img_blob_writer_write(w, buf, len, err) < 0) {
                img_blob_writer_abort(w);
                return -1;
        }
        return img_blob_writer_commit(w, digest_out, err);
}

int img_blob_read(struct img_store *s, const char *digest, size_t max, char **buf_out,
                  size_t *len_out, struct isola_err *err)
{
        char path[PATH_MAX], got[IMG_DIGEST_MAX];
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        struct stat st;

        if (!img_digest_valid(digest))
                return err_set(err, EINVAL, "blob digest '%s': not sha256:<64 hex>", digest);
        img_blob_path(s, digest, path, sizeof(path));
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno == ENOENT)
                        return err_set(err, ENOENT, "blob %s: not in the store", digest);
                return err_sys(err, "blob %s: open", digest);
        }
        if (fstat(fd, &st) < 0)
                return err_sys(err, "blob %s: stat", digest);
        if ((uint64_t)st.st_size > max)
                return err_set(err, EFBIG, "blob %s: %lld bytes, more than %zu allowed", digest,
                               (long long)st.st_size, max);
        if (fs_read_fd(fd, max + 1, &buf, &len, err) < 0)
                return err_prefix(err, "blob %s", digest);
        if (img_sha_buf(buf, len, got, err) < 0)
                return -1;
        if (strcmp(got, digest) != 0)
                return err_set(err, EIO, "blob %s: content does not match its digest (is %s)",
                               digest, got);
        *buf_out = steal_ptr(&buf);
        if (len_out)
                *len_out = len;
        return 0;
}
