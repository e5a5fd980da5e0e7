/* commit: the container's upper dir as one more layer on its image. The
 * overlayfs markers become OCI whiteouts: a 0/0 character device is a
 * deleted file (".wh.<name>"), a directory with trusted.overlay.opaque=y
 * hides the lower dir's content (".wh..wh..opq"). The tar goes straight
 * into a blob writer of the store (uncompressed, so digest == diff id). */
#include "engine/engine_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "engine_build.h"
#include "util/cleanup.h"

#ifdef ENGINE_HAVE_IMAGE
#include <archive.h>
#include <archive_entry.h>

#include "image/image.h"

#define COMMIT_MAX_DEPTH 256

struct commit {
        struct archive *a;
        struct img_blob_writer *w;
        struct isola_err *err;
        int64_t size;
        bool failed;
};

static la_ssize_t tar_write(struct archive *a, void *data, const void *buf, size_t len)
{
        struct commit *cm = data;

        (void)a;
        if (img_blob_writer_write(cm->w, buf, len, cm->err) < 0) {
                cm->failed = true;
                return -1;
        }
        cm->size += (int64_t)len;
        return (la_ssize_t)len;
}

static int add_header(struct commit *cm, const char *path, const struct stat *st, const char *link)
{
        struct archive_entry *e = archive_entry_new();
        int rc;

        archive_entry_set_pathname(e, path);
        archive_entry_copy_stat(e, st);
        if (link)
                archive_entry_set_symlink(e, link);
        rc = archive_write_header(cm->a, e);
        archive_entry_free(e);
        if (rc != ARCHIVE_OK)
                return err_set(cm->err, EIO, "layer entry '%s': %s", path,
                               archive_error_string(cm->a));
        return 0;
}

static int add_whiteout(struct commit *cm, const char *dir, const char *name)
{
        struct stat st = {.st_mode = S_IFREG | 0600};
        char path[PATH_MAX * 2];

        snprintf(path, sizeof(path), "%s%s.wh.%s", dir, *dir ? "/" : "", name);
        return add_header(cm, path, &st, NULL);
}

static int add_file(struct commit *cm, int dfd, const char *name, const char *path,
                    const struct stat *st)
{
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char buf[65536];
        ssize_t n;

        if (fd < 0)
                return err_sys(cm->err, "'%s'", path);
        if (add_header(cm, path, st, NULL) < 0)
                return -1;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                if (archive_write_data(cm->a, buf, (size_t)n) != n)
                        return err_set(cm->err, EIO, "layer entry '%s': %s", path,
                                       archive_error_string(cm->a));
        return n < 0 ? err_sys(cm->err, "read '%s'", path) : 0;
}

static int walk(struct commit *cm, int dfd, const char *rel, int depth);

static int add_entry(struct commit *cm, int dfd, const char *rel, const char *name, int depth)
{
        char path[PATH_MAX * 2];
        struct stat st;

        snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", name);
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return err_sys(cm->err, "'%s'", path);
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
                return add_whiteout(cm, rel, name);
        if (S_ISREG(st.st_mode))
                return add_file(cm, dfd, name, path, &st);
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);
                if (n < 0)
                        return err_sys(cm->err, "readlink '%s'", path);
                target[n] = '\0';
                return add_header(cm, path, &st, target);
        }
        if (!S_ISDIR(st.st_mode))
                return add_header(cm, path, &st, NULL);
        if (add_header(cm, path, &st, NULL) < 0)
                return -1;
        _cleanup_close_ int sub =
            openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        char opq[4] = "";
        if (sub < 0)
                return err_sys(cm->err, "'%s'", path);
        if (fgetxattr(sub, "trusted.overlay.opaque", opq, sizeof(opq) - 1) == 1 && opq[0] == 'y') {
                struct stat wst = {.st_mode = S_IFREG | 0600};
                char wpath[PATH_MAX * 2 + 16];
                snprintf(wpath, sizeof(wpath), "%s/.wh..wh..opq", path);
                if (add_header(cm, wpath, &wst, NULL) < 0)
                        return -1;
        }
        return walk(cm, steal_fd(&sub), path, depth + 1);
}

/* Takes ownership of dfd. Entries in name order, for a reproducible tar. */
static int walk(struct commit *cm, int dfd, const char *rel, int depth)
{
        struct dirent **list = NULL;
        int n, rc = 0;
        char self[64];

        if (depth > COMMIT_MAX_DEPTH) {
                close(dfd);
                return err_set(cm->err, ELOOP, "'%s': too deep", rel);
        }
        snprintf(self, sizeof(self), "/proc/self/fd/%d", dfd);
        n = scandir(self, &list, NULL, alphasort);
        if (n < 0) {
                close(dfd);
                return err_sys(cm->err, "'%s'", rel);
        }
        for (int i = 0; i < n; i++) {
                if (rc == 0 && strcmp(list[i]->d_name, ".") != 0 &&
                    strcmp(list[i]->d_name, "..") != 0)
                        rc = add_entry(cm, dfd, rel, list[i]->d_name, depth);
                free(list[i]);
        }
        free(list);
        close(dfd);
        return rc;
}

static int write_layer(struct img_store *s, const char *upper, char digest[IMG_DIGEST_MAX],
                       int64_t *size, struct isola_err *err)
{
        struct commit cm = {.err = err};
        int dfd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

        if (dfd < 0)
                return err_sys(err, "'%s'", upper);
        if (img_blob_writer_open(s, NULL, -1, &cm.w, err) < 0) {
                close(dfd);
                return -1;
        }
        cm.a = archive_write_new();
        archive_write_set_format_pax_restricted(cm.a);
        archive_write_set_bytes_in_last_block(cm.a, 1);
        if (archive_write_open(cm.a, &cm, NULL, tar_write, NULL) != ARCHIVE_OK) {
                rc = err_set(err, EIO, "layer: %s", archive_error_string(cm.a));
                close(dfd);
        } else {
                rc = walk(&cm, dfd, "", 0);
                if (archive_write_close(cm.a) != ARCHIVE_OK && rc == 0)
                        rc = cm.failed ? -1
                                       : err_set(err, EIO, "layer: %s", archive_error_string(cm.a));
        }
        archive_write_free(cm.a);
        if (rc < 0) {
                img_blob_writer_abort(cm.w);
                return -1;
        }
        *size = cm.size;
        return img_blob_writer_commit(cm.w, digest, err);
}

int eng_commit(struct eng_ctx *c, const char *ref, const char *image_name, char *id_out,
               size_t id_len, struct isola_err *err)
{
        struct eng_container *ct = NULL;
        struct img_store s;
        struct img_image *base = NULL;
        char upper[PATH_MAX], digest[IMG_DIGEST_MAX], id[IMG_DIGEST_MAX];
        int64_t size = 0;
        int rc = -1;

        if (eng_get(c, ref, &ct, err) < 0)
                return -1;
        img_store_init(&s, &c->paths, c->db);
        if (!ct->image_id || !*ct->image_id) {
                err_set(err, EINVAL, "container '%s' was not created from an image", ref);
                goto out;
        }
        if (img_lookup(&s, ct->image_id, &base, err) < 0)
                goto out;
        eng_ctr_path(c, ct->id, "upper", upper, sizeof(upper));
        if (write_layer(&s, upper, digest, &size, err) < 0)
                goto out;
        struct img_new_layer layer = {.blob_digest = digest,
                                      .diff_id = digest,
                                      .media_type = "application/vnd.oci.image.layer.v1.tar",
                                      .blob_size = size,
                                      .created_by = "isola commit"};
        if (img_create_from_layers(&s, base, &layer, 1, NULL, image_name, id, err) < 0)
                goto out;
        snprintf(id_out, id_len, "%s", id);
        rc = 0;
out:
        if (base)
                img_image_free(base);
        eng_container_free(ct);
        return rc < 0 ? err_prefix(err, "commit '%s'", ref) : 0;
}
#else
int eng_commit(struct eng_ctx *c, const char *ref, const char *image_name, char *id_out,
               size_t id_len, struct isola_err *err)
{
        (void)c;
        (void)image_name;
        (void)id_out;
        (void)id_len;
        return err_set(err, ENOTSUP, "commit '%s': this build has no image store", ref);
}
#endif
