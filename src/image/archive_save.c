/* `save`: images as a tar the other engines load.
 *   oci-archive:    an OCI image layout: oci-layout, index.json (one entry
 *                   per name, annotated with the name), blobs/sha256/<hex>
 *                   (manifests, configs and layers verbatim)
 *   docker-archive: what `docker save` / `podman save` write: manifest.json
 *                   ([{Config, RepoTags, Layers}]), repositories, <hex>.json
 *                   configs and <diff id hex>.tar layers, uncompressed (the
 *                   format has no media types, so layers must hash to their
 *                   diff ids).
 * The archive is written next to its destination and renamed when complete. */
#include <archive.h>
#include <archive_entry.h>
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

#define COPY_BUF (128u << 10)

struct saver {
        struct img_store *s;
        struct archive *a;
        char **written; /* entry names already in the archive */
        size_t n_written;
        char buf[COPY_BUF];
};

static bool already(struct saver *sv, const char *name)
{
        for (size_t i = 0; i < sv->n_written; i++) {
                if (!strcmp(sv->written[i], name))
                        return true;
        }
        return false;
}

static int add_header(struct saver *sv, const char *name, int64_t size, struct isola_err *err)
{
        struct archive_entry *e = archive_entry_new();
        int r;

        if (!e)
                return err_set(err, ENOMEM, "out of memory");
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, size);
        archive_entry_set_mtime(e, 0, 0);
        r = archive_write_header(sv->a, e);
        archive_entry_free(e);
        if (r != ARCHIVE_OK)
                return err_set(err, EIO, "archive entry '%s': %s", name,
                               archive_error_string(sv->a));
        return img_strv_push(&sv->written, &sv->n_written, name) < 0
                   ? err_set(err, ENOMEM, "out of memory")
                   : 0;
}

static int add_buffer(struct saver *sv, const char *name, const char *data, size_t len,
                      struct isola_err *err)
{
        if (add_header(sv, name, (int64_t)len, err) < 0)
                return -1;
        if (len && archive_write_data(sv->a, data, len) != (la_ssize_t)len)
                return err_set(err, EIO, "archive entry '%s': %s", name,
                               archive_error_string(sv->a));
        return 0;
}

static int add_file(struct saver *sv, const char *name, const char *path, struct isola_err *err)
{
        struct stat st;
        int64_t left;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (already(sv, name))
                return 0;
        if (fd < 0 || fstat(fd, &st) < 0)
                return err_sys(err, "'%s'", path);
        if (add_header(sv, name, st.st_size, err) < 0)
                return -1;
        for (left = st.st_size; left > 0;) {
                ssize_t n = read(fd, sv->buf, sizeof(sv->buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? err_sys(err, "read '%s'", path)
                                     : err_set(err, EIO, "'%s': shrank while saved", path);
                if (n > left)
                        n = (ssize_t)left;
                if (archive_write_data(sv->a, sv->buf, (size_t)n) != n)
                        return err_set(err, EIO, "archive entry '%s': %s", name,
                                       archive_error_string(sv->a));
                left -= n;
        }
        return 0;
}

static int add_blob(struct saver *sv, const char *digest, struct isola_err *err)
{
        char name[100], path[PATH_MAX];

        snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
        img_blob_path(sv->s, digest, path, sizeof(path));
        return add_file(sv, name, path, err);
}

static int64_t blob_size(struct img_store *s, const char *digest)
{
        char path[PATH_MAX];
        struct stat st;

        img_blob_path(s, digest, path, sizeof(path));
        return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

static int save_oci(struct saver *sv, struct img_image **imgs, size_t n, struct isola_err *err)
{
        json_object *index = json_object_new_object(), *list = json_object_new_array();
        _cleanup_free_ char *text = NULL;
        size_t len;
        int rc = -1;

        json_object_object_add(index, "schemaVersion", json_object_new_int(2));
        json_object_object_add(index, "mediaType", json_object_new_string(MT_OCI_INDEX));
        json_object_object_add(index, "manifests", list);
        for (size_t i = 0; i < n; i++) {
                struct img_image *img = imgs[i];
                if (add_blob(sv, img->manifest_digest, err) < 0 ||
                    add_blob(sv, img->manifest.config.digest, err) < 0)
                        goto out;
                for (size_t l = 0; l < img->manifest.n_layers; l++) {
                        if (add_blob(sv, img->manifest.layers[l].digest, err) < 0)
                                goto out;
                }
                for (size_t k = 0; k == 0 || img->names[k]; k++) {
                        json_object *d =
                            ijson_descriptor_new(img->manifest_media_type, img->manifest_digest,
                                                 blob_size(sv->s, img->manifest_digest));
                        if (img->names[k]) {
                                /* containerd and docker read the full name from
                                 * io.containerd.image.name; podman and skopeo
                                 * read org.opencontainers.image.ref.name. */
                                json_object *ann = json_object_new_object();
                                json_object_object_add(ann, "org.opencontainers.image.ref.name",
                                                       json_object_new_string(img->names[k]));
                                json_object_object_add(ann, "io.containerd.image.name",
                                                       json_object_new_string(img->names[k]));
                                json_object_object_add(d, "annotations", ann);
                        }
                        json_object_array_add(list, d);
                        if (!img->names[k])
                                break;
                }
        }
        text = ijson_dump(index, &len);
        const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
        if (!text) {
                err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        if (add_buffer(sv, "oci-layout", layout, strlen(layout), err) < 0 ||
            add_buffer(sv, "index.json", text, len, err) < 0)
                goto out;
        rc = 0;
out:
        json_object_put(index);
        return rc;
}

/* Decompresses a layer blob into tmp/, checking it hashes to diff_id. */
static int uncompressed_layer(struct saver *sv, const char *blob, const char *diff_id, char *tmp,
                              size_t tmplen, struct isola_err *err)
{
        char path[PATH_MAX], got[IMG_DIGEST_MAX];
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        struct img_sha sha;
        int rc = -1;

        img_blob_path(sv->s, blob, path, sizeof(path));
        if (!a || store_tmp_path(sv->s, "save", tmp, tmplen, err) < 0) {
                archive_read_free(a);
                return a ? -1 : err_set(err, ENOMEM, "out of memory");
        }
        _cleanup_close_ int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out < 0 || img_sha_init(&sha, err) < 0) {
                archive_read_free(a);
                return out < 0 ? err_sys(err, "'%s'", tmp) : -1;
        }
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_zstd(a);
        archive_read_support_format_raw(a);
        if (archive_read_open_filename(a, path, COPY_BUF) != ARCHIVE_OK ||
            archive_read_next_header(a, &e) != ARCHIVE_OK) {
                err_set(err, EIO, "layer %s: %s", blob, archive_error_string(a));
                goto out;
        }
        for (;;) {
                la_ssize_t n = archive_read_data(a, sv->buf, sizeof(sv->buf));
                if (n < 0) {
                        err_set(err, EIO, "layer %s: %s", blob, archive_error_string(a));
                        goto out;
                }
                if (n == 0)
                        break;
                img_sha_update(&sha, sv->buf, (size_t)n);
                if (fs_write_all(out, sv->buf, (size_t)n) < 0) {
                        err_sys(err, "write '%s'", tmp);
                        goto out;
                }
        }
        img_sha_final(&sha, got);
        if (strcmp(got, diff_id) != 0) {
                err_set(err, EIO, "layer %s: uncompressed digest %s, expected %s", blob, got,
                        diff_id);
                goto out;
        }
        rc = 0;
out:
        img_sha_free(&sha);
        archive_read_free(a);
        if (rc < 0)
                unlink(tmp);
        return rc;
}

static int docker_layers(struct saver *sv, struct img_image *img, json_object *layers,
                         struct isola_err *err)
{
        for (size_t l = 0; l < img->manifest.n_layers; l++) {
                const char *diff = img->config.diff_ids[l];
                char name[100], tmp[PATH_MAX];
                snprintf(name, sizeof(name), "%s.tar", diff + 7);
                json_object_array_add(layers, json_object_new_string(name));
                if (already(sv, name))
                        continue;
                if (uncompressed_layer(sv, img->manifest.layers[l].digest, diff, tmp, sizeof(tmp),
                                       err) < 0)
                        return -1;
                int rc = add_file(sv, name, tmp, err);
                unlink(tmp);
                if (rc < 0)
                        return -1;
        }
        return 0;
}

static int save_docker(struct saver *sv, struct img_image **imgs, size_t n, struct isola_err *err)
{
        json_object *manifest = json_object_new_array(), *repos = json_object_new_object();
        _cleanup_free_ char *mtext = NULL, *rtext = NULL;
        size_t mlen, rlen;
        int rc = -1;

        for (size_t i = 0; i < n; i++) {
                struct img_image *img = imgs[i];
                json_object *entry = json_object_new_object(), *tags = json_object_new_array(),
                            *layers = json_object_new_array();
                char cfg_name[100], path[PATH_MAX];
                snprintf(cfg_name, sizeof(cfg_name), "%s.json", img->id + 7);
                json_object_object_add(entry, "Config", json_object_new_string(cfg_name));
                json_object_object_add(entry, "RepoTags", tags);
                json_object_object_add(entry, "Layers", layers);
                json_object_array_add(manifest, entry);
                img_blob_path(sv->s, img->manifest.config.digest, path, sizeof(path));
                if (add_file(sv, cfg_name, path, err) < 0 ||
                    docker_layers(sv, img, layers, err) < 0)
                        goto out;
                for (size_t k = 0; img->names[k]; k++) {
                        char repo[600];
                        snprintf(repo, sizeof(repo), "%s", img->names[k]);
                        char *colon = strrchr(repo, ':');
                        json_object_array_add(tags, json_object_new_string(img->names[k]));
                        if (!colon || strchr(colon, '/') || !img->n_layers)
                                continue;
                        *colon = '\0';
                        json_object *r = json_object_object_get(repos, repo);
                        if (!r) {
                                r = json_object_new_object();
                                json_object_object_add(repos, repo, r);
                        }
                        json_object_object_add(
                            r, colon + 1,
                            json_object_new_string(img->config.diff_ids[img->n_layers - 1] + 7));
                }
        }
        mtext = ijson_dump(manifest, &mlen);
        rtext = ijson_dump(repos, &rlen);
        if (!mtext || !rtext) {
                err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        if (add_buffer(sv, "manifest.json", mtext, mlen, err) < 0 ||
            add_buffer(sv, "repositories", rtext, rlen, err) < 0)
                goto out;
        rc = 0;
out:
        json_object_put(manifest);
        json_object_put(repos);
        return rc;
}

static int write_archive(struct img_store *s, struct img_image **imgs, size_t n,
                         enum img_archive_format f, int fd, struct isola_err *err)
{
        struct saver *sv = calloc(1, sizeof(*sv));
        int rc = -1;

        if (!sv)
                return err_set(err, ENOMEM, "out of memory");
        sv->s = s;
        sv->a = archive_write_new();
        if (!sv->a || archive_write_set_format_pax_restricted(sv->a) != ARCHIVE_OK ||
            archive_write_open_fd(sv->a, fd) != ARCHIVE_OK) {
                err_set(err, EIO, "archive: %s", sv->a ? archive_error_string(sv->a) : "no memory");
                goto out;
        }
        rc = f == IMG_ARCHIVE_OCI ? save_oci(sv, imgs, n, err) : save_docker(sv, imgs, n, err);
        if (archive_write_close(sv->a) != ARCHIVE_OK && rc == 0)
                rc = err_set(err, EIO, "archive: %s", archive_error_string(sv->a));
out:
        if (sv->a)
                archive_write_free(sv->a);
        img_strv_free(sv->written);
        free(sv);
        return rc;
}

static int save_to(struct img_store *s, struct img_image **imgs, size_t n,
                   enum img_archive_format f, const char *path, struct isola_err *err)
{
        char tmp[PATH_MAX + 32];
        int rc;

        if (!strcmp(path, "-"))
                return write_archive(s, imgs, n, f, STDOUT_FILENO, err);
        if ((size_t)snprintf(tmp, sizeof(tmp), "%s.isola-tmp", path) >= sizeof(tmp))
                return err_set(err, ENAMETOOLONG, "'%s': path too long", path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return err_sys(err, "'%s'", tmp);
        rc = write_archive(s, imgs, n, f, fd, err);
        if (rc == 0 && fsync(fd) < 0)
                rc = err_sys(err, "fsync '%s'", tmp);
        close(fd);
        if (rc == 0 && rename(tmp, path) < 0)
                rc = err_sys(err, "rename to '%s'", path);
        if (rc < 0)
                unlink(tmp);
        return rc;
}

/* An image saved by name carries that name only (as docker and podman
 * save it); saved by id it carries none. */
static int keep_requested_name(struct img_image *img, const char *arg, struct isola_err *err)
{
        struct img_ref ref;
        char norm[600], local[600] = "";
        char **keep = calloc(2, sizeof(char *));

        if (!keep)
                return err_set(err, ENOMEM, "out of memory");
        if (strncmp(arg, "sha256:", 7) != 0 && img_ref_parse(arg, &ref, NULL) == 0) {
                img_ref_format(&ref, norm, sizeof(norm));
                if (!strchr(arg, '/') && !strncmp(ref.repo, "library/", 8))
                        snprintf(local, sizeof(local), "localhost/%s:%s", ref.repo + 8, ref.tag);
                for (size_t i = 0; img->names[i] && !keep[0]; i++) {
                        if (!strcmp(img->names[i], norm) || !strcmp(img->names[i], local))
                                keep[0] = strdup(img->names[i]);
                }
        }
        img_strv_free(img->names);
        img->names = keep;
        return 0;
}

int img_save(struct img_store *s, const char *const *names, size_t n, enum img_archive_format f,
             const char *path, struct isola_err *err)
{
        struct img_image **imgs = calloc(n ? n : 1, sizeof(struct img_image *));
        int rc = -1;

        if (!imgs)
                return err_set(err, ENOMEM, "out of memory");
        if (img_store_lock(s, false, err) < 0) {
                free(imgs);
                return -1;
        }
        for (size_t i = 0; i < n; i++) {
                if (img_lookup(s, names[i], &imgs[i], err) < 0 ||
                    keep_requested_name(imgs[i], names[i], err) < 0)
                        goto out;
        }
        rc = save_to(s, imgs, n, f, path, err);
        if (rc < 0)
                err_prefix(err, "save '%s'", path);
out:
        img_store_unlock(s);
        for (size_t i = 0; i < n; i++)
                img_image_free(imgs[i]);
        free(imgs);
        return rc;
}
