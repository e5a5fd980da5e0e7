/* From build results to the store: a step's upper dir becomes a layer blob
 * (bld_layer_write streaming into a store blob writer) that is unpacked
 * into the store's layer dirs for the next steps; the last stage becomes
 * an image (config and OCI manifest blobs, img_register, tags, and
 * optionally an OCI archive). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build/build_internal.h"
#include "util/cleanup.h"

static int blob_sink(void *ctx, const void *buf, size_t len, struct isola_err *err)
{
        return img_blob_writer_write(ctx, buf, len, err);
}

int bld_commit_layer(struct bld_ctx *c, const char *upper, struct bld_layer *out,
                     struct isola_err *err)
{
        _cleanup_close_ int fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct img_blob_writer *w = NULL;
        struct bld_layer_info info;
        char digest[IMG_DIGEST_MAX];
        if (fd < 0)
                return err_sys(err, "'%s'", upper);
        if (img_blob_writer_open(c->s, NULL, -1, &w, err) < 0)
                return -1;
        if (bld_layer_write(fd, c->o->comp, c->epoch, blob_sink, w, &info, err) < 0) {
                img_blob_writer_abort(w);
                return err_prefix(err, "layer");
        }
        if (img_blob_writer_commit(w, digest, err) < 0)
                return err_prefix(err, "layer");
        if (strcmp(digest, info.digest) != 0)
                return err_set(err, EIO, "layer: stored as %s, written as %s", digest, info.digest);
        /* The upper dir is the layer's tree: adopt it rather than write
         * every file again from the blob (about half of a big COPY step). */
        bool adopted = false;
        if (img_layer_adopt(c->s, upper, info.diff_id, c->epoch, &adopted, err) < 0)
                return err_prefix(err, "layer %.19s", digest);
        if (!adopted && img_layer_unpack(c->s, digest, info.diff_id, err) < 0)
                return err_prefix(err, "layer %.19s", digest);
        memset(out, 0, sizeof(*out));
        snprintf(out->diff_id, sizeof(out->diff_id), "%s", info.diff_id);
        snprintf(out->blob, sizeof(out->blob), "%s", digest);
        snprintf(out->media_type, sizeof(out->media_type), "%s", info.media_type);
        out->size = info.size;
        return 0;
}

bool bld_layer_usable(struct bld_ctx *c, const struct bld_cache_entry *e)
{
        if (!e->diff_id[0])
                return true;
        if (!img_blob_exists(c->s, e->blob_digest))
                return false;
        char dir[PATH_MAX];
        struct stat st;
        img_layer_dir(c->s, e->diff_id, dir, sizeof(dir));
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
                return true;
        struct isola_err err = {0};
        return img_layer_unpack(c->s, e->blob_digest, e->diff_id, &err) == 0;
}

/* Docker's media types become OCI's: the manifest is an OCI manifest. */
static const char *oci_media_type(const char *mt)
{
        if (!strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar.gzip"))
                return "application/vnd.oci.image.layer.v1.tar+gzip";
        if (!strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar"))
                return "application/vnd.oci.image.layer.v1.tar";
        return mt;
}

static json_object *descriptor(const char *mt, const char *digest, int64_t size)
{
        json_object *d = json_object_new_object();
        json_object_object_add(d, "mediaType", json_object_new_string(mt));
        json_object_object_add(d, "digest", json_object_new_string(digest));
        json_object_object_add(d, "size", json_object_new_int64(size));
        return d;
}

static int put_json(struct bld_ctx *c, json_object *o, char digest[IMG_DIGEST_MAX], int64_t *size,
                    struct isola_err *err)
{
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return err_set(err, ENOMEM, "out of memory");
        *size = (int64_t)strlen(s);
        return img_blob_put(c->s, s, strlen(s), digest, err);
}

static int final_config(struct bld_ctx *c, struct bld_state *st, struct isola_err *err)
{
        json_object *rootfs = json_object_new_object(), *ids = json_object_new_array();
        for (size_t i = 0; i < st->n_layers; i++)
                json_object_array_add(ids, json_object_new_string(st->layers[i].diff_id));
        json_object_object_add(rootfs, "type", json_object_new_string("layers"));
        json_object_object_add(rootfs, "diff_ids", ids);
        json_object_object_add(st->cfg, "rootfs", rootfs);
        if (!json_object_object_get_ex(st->cfg, "architecture", NULL))
                json_object_object_add(st->cfg, "architecture", json_object_new_string("amd64"));
        if (!json_object_object_get_ex(st->cfg, "os", NULL))
                json_object_object_add(st->cfg, "os", json_object_new_string("linux"));
        char when[40];
        time_t t = (time_t)(c->use_epoch ? c->epoch : st->created);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_object_add(st->cfg, "created", json_object_new_string(when));
        json_object *labels = NULL, *cfg = bld_cfg_config(st);
        if (c->o->n_labels && (!json_object_object_get_ex(cfg, "Labels", &labels) ||
                               !json_object_is_type(labels, json_type_object))) {
                labels = json_object_new_object();
                json_object_object_add(cfg, "Labels", labels);
        }
        for (size_t i = 0; i < c->o->n_labels; i++) {
                const char *eq = strchr(c->o->labels[i], '=');
                char *k = strndup(c->o->labels[i],
                                  eq ? (size_t)(eq - c->o->labels[i]) : strlen(c->o->labels[i]));
                if (k && *k)
                        json_object_object_add(labels, k, json_object_new_string(eq ? eq + 1 : ""));
                bool bad = !k || !*k;
                free(k);
                if (bad)
                        return err_set(err, EINVAL, "--label '%s': expected KEY=VALUE",
                                       c->o->labels[i]);
        }
        return 0;
}

/* "type=oci,dest=FILE" -> FILE */
static int output_dest(const char *spec, char *dest, size_t len, struct isola_err *err)
{
        char *copy = strdup(spec);
        bool oci = false;
        int rc = 0;
        dest[0] = '\0';
        if (!copy)
                return err_set(err, ENOMEM, "out of memory");
        char *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0;
             tok = strtok_r(NULL, ",", &save)) {
                if (strcmp(tok, "type=oci") == 0)
                        oci = true;
                else if (strncmp(tok, "dest=", 5) == 0)
                        snprintf(dest, len, "%s", tok + 5);
                else
                        rc = err_set(err, EINVAL, "--output '%s': unknown field '%s'", spec, tok);
        }
        free(copy);
        if (rc == 0 && (!oci || !dest[0]))
                rc = err_set(err, EINVAL, "--output '%s': expected type=oci,dest=FILE", spec);
        return rc;
}

int bld_commit_image(struct bld_ctx *c, struct bld_state *st, char id_out[IMG_DIGEST_MAX],
                     struct isola_err *err)
{
        char cfg_digest[IMG_DIGEST_MAX], man_digest[IMG_DIGEST_MAX], dest[PATH_MAX] = "";
        int64_t cfg_size, man_size;
        if (c->o->output && output_dest(c->o->output, dest, sizeof(dest), err) < 0)
                return -1;
        if (final_config(c, st, err) < 0 || put_json(c, st->cfg, cfg_digest, &cfg_size, err) < 0)
                return err_prefix(err, "image config");
        json_object *man = json_object_new_object(), *layers = json_object_new_array();
        json_object_object_add(man, "schemaVersion", json_object_new_int(2));
        json_object_object_add(
            man, "mediaType", json_object_new_string("application/vnd.oci.image.manifest.v1+json"));
        json_object_object_add(
            man, "config",
            descriptor("application/vnd.oci.image.config.v1+json", cfg_digest, cfg_size));
        for (size_t i = 0; i < st->n_layers; i++)
                json_object_array_add(layers, descriptor(oci_media_type(st->layers[i].media_type),
                                                         st->layers[i].blob, st->layers[i].size));
        json_object_object_add(man, "layers", layers);
        int rc = put_json(c, man, man_digest, &man_size, err);
        json_object_put(man);
        if (rc < 0)
                return err_prefix(err, "image manifest");
        const char *first = c->o->n_tags ? c->o->tags[0] : NULL;
        if (img_register(c->s, man_digest, first, id_out, err) < 0)
                return -1;
        for (size_t i = 1; i < c->o->n_tags; i++) {
                if (img_tag(c->s, id_out, c->o->tags[i], err) < 0)
                        return -1;
        }
        if (dest[0]) {
                const char *names[] = {first ? first : id_out};
                if (img_save(c->s, names, 1, IMG_ARCHIVE_OCI, dest, err) < 0)
                        return err_prefix(err, "--output");
        }
        return 0;
}
