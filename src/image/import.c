/* New images from layers made here: `import` (a root file system tarball as
 * one layer), and img_create_from_layers, which commit and build also use:
 * the base's config and layers plus the new ones, written as an OCI
 * manifest and config, then registered like a pulled image. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/store_internal.h"
#include "util/cleanup.h"

#if defined(__x86_64__)
#define HOST_ARCH "amd64"
#elif defined(__aarch64__)
#define HOST_ARCH "arm64"
#else
#define HOST_ARCH "unknown"
#endif

static void rfc3339_now(char *buf, size_t len)
{
        time_t now = time(NULL);
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Docker layer media types have OCI equivalents; an OCI manifest must use
 * those. */
static const char *oci_layer_type(const char *mt)
{
        if (!strcmp(mt, MT_DOCKER_LAYER))
                return MT_OCI_LAYER_GZIP;
        if (!strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar"))
                return MT_OCI_LAYER;
        if (!strcmp(mt, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"))
                return "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
        return mt;
}

static json_object *obj_member(json_object *o, const char *key, json_type type)
{
        json_object *v;

        if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, type))
                return v;
        v = type == json_type_array ? json_object_new_array() : json_object_new_object();
        json_object_object_add(o, key, v);
        return v;
}

static json_object *base_config(const struct img_image *base, struct isola_err *err)
{
        if (base && base->config.raw)
                return ijson_parse(base->config.raw, strlen(base->config.raw), "base config", err);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "architecture", json_object_new_string(HOST_ARCH));
        json_object_object_add(o, "os", json_object_new_string("linux"));
        json_object_object_add(o, "config", json_object_new_object());
        json_object *rootfs = json_object_new_object();
        json_object_object_add(rootfs, "type", json_object_new_string("layers"));
        json_object_object_add(rootfs, "diff_ids", json_object_new_array());
        json_object_object_add(o, "rootfs", rootfs);
        return o;
}

/* Overrides: "author" and "comment" go to the top level, every other key
 * replaces the member of the same name in "config" (Cmd, Env, ...). */
static int apply_overrides(json_object *cfg, const char *overrides, struct isola_err *err)
{
        json_object *ov, *run = obj_member(cfg, "config", json_type_object);

        if (!overrides || !overrides[0])
                return 0;
        ov = ijson_parse(overrides, strlen(overrides), "config overrides", err);
        if (!ov)
                return -1;
        json_object_object_foreach(ov, key, val)
        {
                json_object *target = !strcmp(key, "author") || !strcmp(key, "comment") ? cfg : run;
                json_object_object_add(target, key, json_object_get(val));
        }
        json_object_put(ov);
        return 0;
}

static int put_json(struct img_store *s, json_object *o, char digest[IMG_DIGEST_MAX], int64_t *size,
                    struct isola_err *err)
{
        size_t len;
        char *buf = ijson_dump(o, &len);
        int rc;

        if (!buf)
                return err_set(err, ENOMEM, "out of memory");
        rc = img_blob_put(s, buf, len, digest, err);
        *size = (int64_t)len;
        free(buf);
        return rc;
}

static int create_locked(struct img_store *s, const struct img_image *base,
                         const struct img_new_layer *layers, size_t n, const char *overrides,
                         const char *name, char id_out[IMG_DIGEST_MAX], struct isola_err *err)
{
        char now[40], cfg_digest[IMG_DIGEST_MAX], man_digest[IMG_DIGEST_MAX];
        int64_t cfg_size, man_size;
        json_object *cfg, *man = NULL;
        int rc = -1;

        if ((base ? base->manifest.n_layers : 0) + n > IMG_MAX_LAYERS)
                return err_set(err, EINVAL, "more than %d layers", IMG_MAX_LAYERS);
        cfg = base_config(base, err);
        if (!cfg)
                return -1;
        rfc3339_now(now, sizeof(now));
        json_object_object_add(cfg, "created", json_object_new_string(now));
        json_object *rootfs = obj_member(cfg, "rootfs", json_type_object);
        json_object *diff_ids = obj_member(rootfs, "diff_ids", json_type_array);
        json_object *history = obj_member(cfg, "history", json_type_array);
        man = json_object_new_object();
        json_object_object_add(man, "schemaVersion", json_object_new_int(2));
        json_object_object_add(man, "mediaType", json_object_new_string(MT_OCI_MANIFEST));
        json_object *mlayers = json_object_new_array();
        for (size_t i = 0; base && i < base->manifest.n_layers; i++) {
                const struct img_descriptor *d = &base->manifest.layers[i];
                json_object_array_add(mlayers, ijson_descriptor_new(oci_layer_type(d->media_type),
                                                                    d->digest, d->size));
        }
        for (size_t i = 0; i < n; i++) {
                const struct img_new_layer *l = &layers[i];
                char path[PATH_MAX];
                struct stat st;
                int64_t size = l->blob_size;
                if (layer_unpack_blob(s, l->blob_digest, l->diff_id, NULL, err) < 0)
                        goto out;
                img_blob_path(s, l->blob_digest, path, sizeof(path));
                if (size < 0 && stat(path, &st) == 0)
                        size = st.st_size;
                const char *mt = l->media_type ? oci_layer_type(l->media_type)
                                               : layer_media_type_of(s, l->blob_digest);
                json_object_array_add(mlayers, ijson_descriptor_new(mt, l->blob_digest, size));
                json_object_array_add(diff_ids, json_object_new_string(l->diff_id));
                json_object *h = json_object_new_object();
                json_object_object_add(h, "created", json_object_new_string(now));
                json_object_object_add(h, "created_by",
                                       json_object_new_string(l->created_by ? l->created_by : ""));
                json_object_array_add(history, h);
        }
        if (apply_overrides(cfg, overrides, err) < 0 ||
            put_json(s, cfg, cfg_digest, &cfg_size, err) < 0)
                goto out;
        json_object_object_add(man, "config",
                               ijson_descriptor_new(MT_OCI_CONFIG, cfg_digest, cfg_size));
        json_object_object_add(man, "layers", mlayers);
        mlayers = NULL;
        if (put_json(s, man, man_digest, &man_size, err) < 0)
                goto out;
        rc = img_register(s, man_digest, name, id_out, err);
out:
        json_object_put(mlayers);
        json_object_put(man);
        json_object_put(cfg);
        return rc;
}

int img_create_from_layers(struct img_store *s, const struct img_image *base,
                           const struct img_new_layer *layers, size_t n,
                           const char *config_overrides_json, const char *name,
                           char id_out[IMG_DIGEST_MAX], struct isola_err *err)
{
        int rc;

        if (img_store_lock(s, false, err) < 0)
                return -1;
        rc = create_locked(s, base, layers, n, config_overrides_json, name, id_out, err);
        img_store_unlock(s);
        return rc;
}

/* Streams a file into the store as a blob. */
static int blob_from_file(struct img_store *s, int fd, char digest[IMG_DIGEST_MAX], int64_t *size,
                          struct isola_err *err)
{
        struct img_blob_writer *w;
        char buf[128 << 10];

        if (img_blob_writer_open(s, NULL, -1, &w, err) < 0)
                return -1;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        err_sys(err, "read");
                        img_blob_writer_abort(w);
                        return -1;
                }
                if (n == 0)
                        break;
                if (img_blob_writer_write(w, buf, (size_t)n, err) < 0) {
                        img_blob_writer_abort(w);
                        return -1;
                }
        }
        *size = img_blob_writer_size(w);
        return img_blob_writer_commit(w, digest, err);
}

static int import_locked(struct img_store *s, int fd, const char *tar_path, const char *name,
                         char id_out[IMG_DIGEST_MAX], struct isola_err *err)
{
        char blob[IMG_DIGEST_MAX], diff[IMG_DIGEST_MAX], created_by[PATH_MAX + 32];
        int64_t size;
        bool existed;
        const char *base = strrchr(tar_path, '/') ? strrchr(tar_path, '/') + 1 : tar_path;

        if (blob_from_file(s, fd, blob, &size, err) < 0)
                return -1;
        /* A blob that was there before the import is not ours to remove. */
        existed = store_blob_referenced(s, blob);
        snprintf(created_by, sizeof(created_by), "isola import %s", base);
        struct img_new_layer l = {
            .blob_digest = blob,
            .diff_id = diff,
            .media_type = NULL,
            .blob_size = size,
            .created_by = created_by,
        };
        if (layer_unpack_blob(s, blob, NULL, diff, err) < 0 ||
            create_locked(s, NULL, &l, 1, NULL, name, id_out, err) < 0) {
                if (!existed && !store_blob_referenced(s, blob)) {
                        char path[PATH_MAX];
                        img_blob_path(s, blob, path, sizeof(path));
                        unlink(path);
                }
                return -1;
        }
        return 0;
}

int img_import(struct img_store *s, const char *tar_path, const char *name,
               char id_out[IMG_DIGEST_MAX], struct isola_err *err)
{
        _cleanup_close_ int fd = open(tar_path, O_RDONLY | O_CLOEXEC);
        int rc;

        if (fd < 0)
                return err_sys(err, "import '%s'", tar_path);
        if (name) {
                struct img_ref ref;
                if (img_ref_parse(name, &ref, err) < 0)
                        return -1;
        }
        if (img_store_lock(s, false, err) < 0)
                return -1;
        rc = import_locked(s, fd, tar_path, name, id_out, err);
        img_store_unlock(s);
        return rc < 0 ? err_prefix(err, "import '%s'", tar_path) : 0;
}
