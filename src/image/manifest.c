/* Manifests and indexes: OCI image-spec 1.1 and Docker schema 2 (manifest,
 * manifest list), parsed strictly with bounded sizes and counts, and the
 * platform choice within an index. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/store_internal.h"

#define IMG_INDEX_MAX_ENTRIES 1024

#if defined(__x86_64__)
#define HOST_ARCH "amd64"
#elif defined(__aarch64__)
#define HOST_ARCH "arm64"
#elif defined(__i386__)
#define HOST_ARCH "386"
#else
#define HOST_ARCH "unknown"
#endif

static bool is_manifest_type(const char *mt)
{
        return !strcmp(mt, MT_OCI_MANIFEST) || !strcmp(mt, MT_DOCKER_MANIFEST);
}

static bool is_index_type(const char *mt)
{
        return !strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST);
}

bool layer_media_type_ok(const char *mt)
{
        static const char *const ok[] = {
            MT_OCI_LAYER,
            MT_OCI_LAYER_GZIP,
            MT_OCI_LAYER_ZSTD,
            "application/vnd.oci.image.layer.nondistributable.v1.tar",
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
            MT_DOCKER_LAYER,
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            "application/vnd.docker.image.rootfs.diff.tar",
        };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                if (!strcmp(mt, ok[i]))
                        return true;
        }
        return false;
}

enum img_kind img_detect_kind(const char *json, size_t len, const char *content_type)
{
        json_object *o, *v;
        enum img_kind kind = IMG_KIND_UNKNOWN;
        const char *mt;

        if (!json || len > IMG_MANIFEST_MAX)
                return IMG_KIND_UNKNOWN;
        o = ijson_parse(json, len, "manifest", NULL);
        if (!o)
                return IMG_KIND_UNKNOWN;
        mt = ijson_str(o, "mediaType");
        if (!mt && content_type) {
                /* "type/subtype; charset=..." from an HTTP header */
                size_t n = strcspn(content_type, "; ");
                char ct[128];
                snprintf(ct, sizeof(ct), "%.*s", (int)(n < sizeof(ct) ? n : 0), content_type);
                if (is_manifest_type(ct))
                        kind = IMG_KIND_MANIFEST;
                else if (is_index_type(ct))
                        kind = IMG_KIND_INDEX;
        } else if (mt) {
                if (is_manifest_type(mt))
                        kind = IMG_KIND_MANIFEST;
                else if (is_index_type(mt))
                        kind = IMG_KIND_INDEX;
        }
        if (!mt && kind == IMG_KIND_UNKNOWN) {
                /* OCI allows mediaType to be absent: decide by shape. */
                if (json_object_object_get_ex(o, "manifests", &v) &&
                    json_object_is_type(v, json_type_array))
                        kind = IMG_KIND_INDEX;
                else if (json_object_object_get_ex(o, "config", &v) &&
                         json_object_object_get_ex(o, "layers", &v))
                        kind = IMG_KIND_MANIFEST;
        }
        json_object_put(o);
        return kind;
}

static int check_schema_version(json_object *o, const char *what, struct isola_err *err)
{
        json_object *v;

        if (!json_object_object_get_ex(o, "schemaVersion", &v) ||
            !json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 2)
                return err_set(err, EINVAL, "%s: schemaVersion must be 2", what);
        return 0;
}

int img_manifest_parse(const char *json, size_t len, struct img_manifest *out,
                       struct isola_err *err)
{
        json_object *o, *cfg, *layers;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (len > IMG_MANIFEST_MAX)
                return err_set(err, EFBIG, "manifest: larger than %u bytes", IMG_MANIFEST_MAX);
        o = ijson_parse(json, len, "manifest", err);
        if (!o)
                return -1;
        if (check_schema_version(o, "manifest", err) < 0 ||
            ijson_copy(o, "mediaType", out->media_type, sizeof(out->media_type), "manifest", err) <
                0)
                goto out;
        if (!out->media_type[0])
                snprintf(out->media_type, sizeof(out->media_type), "%s", MT_OCI_MANIFEST);
        if (!is_manifest_type(out->media_type)) {
                err_set(err, EINVAL, "manifest: media type '%s' is not an image manifest",
                        out->media_type);
                goto out;
        }
        if (!json_object_object_get_ex(o, "config", &cfg)) {
                err_set(err, EINVAL, "manifest: 'config' missing");
                goto out;
        }
        if (ijson_descriptor(cfg, &out->config, "manifest: config", err) < 0)
                goto out;
        if (strcmp(out->config.media_type, MT_OCI_CONFIG) != 0 &&
            strcmp(out->config.media_type, MT_DOCKER_CONFIG) != 0) {
                err_set(err, EINVAL, "manifest: config media type '%s' is not an image config",
                        out->config.media_type);
                goto out;
        }
        if (out->config.size > (int64_t)IMG_CONFIG_MAX) {
                err_set(err, EFBIG, "manifest: config larger than %u bytes", IMG_CONFIG_MAX);
                goto out;
        }
        if (!json_object_object_get_ex(o, "layers", &layers) ||
            !json_object_is_type(layers, json_type_array)) {
                err_set(err, EINVAL, "manifest: 'layers' missing or not an array");
                goto out;
        }
        size_t n = json_object_array_length(layers);
        if (n > IMG_MAX_LAYERS) {
                err_set(err, EINVAL, "manifest: %zu layers, more than %d", n, IMG_MAX_LAYERS);
                goto out;
        }
        out->layers = calloc(n ? n : 1, sizeof(*out->layers));
        if (!out->layers) {
                err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        out->n_layers = n;
        for (size_t i = 0; i < n; i++) {
                char what[64];
                snprintf(what, sizeof(what), "manifest: layers[%zu]", i);
                if (ijson_descriptor(json_object_array_get_idx(layers, i), &out->layers[i], what,
                                     err) < 0)
                        goto out;
                if (!layer_media_type_ok(out->layers[i].media_type)) {
                        err_set(err, EINVAL, "%s: media type '%s' is not a layer", what,
                                out->layers[i].media_type);
                        goto out;
                }
        }
        rc = 0;
out:
        json_object_put(o);
        if (rc < 0)
                img_manifest_free(out);
        return rc;
}

int img_index_parse(const char *json, size_t len, struct img_index *out, struct isola_err *err)
{
        json_object *o, *list;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (len > IMG_MANIFEST_MAX)
                return err_set(err, EFBIG, "index: larger than %u bytes", IMG_MANIFEST_MAX);
        o = ijson_parse(json, len, "index", err);
        if (!o)
                return -1;
        if (check_schema_version(o, "index", err) < 0 ||
            ijson_copy(o, "mediaType", out->media_type, sizeof(out->media_type), "index", err) < 0)
                goto out;
        if (!out->media_type[0])
                snprintf(out->media_type, sizeof(out->media_type), "%s", MT_OCI_INDEX);
        if (!is_index_type(out->media_type)) {
                err_set(err, EINVAL, "index: media type '%s' is not an image index",
                        out->media_type);
                goto out;
        }
        if (!json_object_object_get_ex(o, "manifests", &list) ||
            !json_object_is_type(list, json_type_array)) {
                err_set(err, EINVAL, "index: 'manifests' missing or not an array");
                goto out;
        }
        size_t n = json_object_array_length(list);
        if (n > IMG_INDEX_MAX_ENTRIES) {
                err_set(err, EINVAL, "index: %zu manifests, more than %d", n,
                        IMG_INDEX_MAX_ENTRIES);
                goto out;
        }
        out->manifests = calloc(n ? n : 1, sizeof(*out->manifests));
        if (!out->manifests) {
                err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        out->n_manifests = n;
        for (size_t i = 0; i < n; i++) {
                char what[64];
                snprintf(what, sizeof(what), "index: manifests[%zu]", i);
                if (ijson_descriptor(json_object_array_get_idx(list, i), &out->manifests[i], what,
                                     err) < 0)
                        goto out;
        }
        rc = 0;
out:
        json_object_put(o);
        if (rc < 0)
                img_index_free(out);
        return rc;
}

static bool entry_usable(const struct img_descriptor *d)
{
        /* Entries without a media type are taken as manifests (OCI layouts). */
        return !d->media_type[0] || is_manifest_type(d->media_type) || is_index_type(d->media_type);
}

int img_index_select(const struct img_index *idx, const char *platform,
                     const struct img_descriptor **out, struct isola_err *err)
{
        char want_os[32] = "linux", want_arch[32] = HOST_ARCH, want_variant[32] = "";
        size_t usable = 0;
        const struct img_descriptor *only = NULL;

        if (platform && platform[0]) {
                char buf[128];
                snprintf(buf, sizeof(buf), "%s", platform);
                char *arch = strchr(buf, '/');
                char *variant = arch ? strchr(arch + 1, '/') : NULL;
                if (!arch || strlen(platform) >= sizeof(buf))
                        return err_set(err, EINVAL, "platform '%s': expected OS/ARCH[/VARIANT]",
                                       platform);
                *arch++ = '\0';
                if (variant)
                        *variant++ = '\0';
                if (!buf[0] || !arch[0] || strlen(buf) >= sizeof(want_os) ||
                    strlen(arch) >= sizeof(want_arch) ||
                    (variant && (!variant[0] || strlen(variant) >= sizeof(want_variant))))
                        return err_set(err, EINVAL, "platform '%s': expected OS/ARCH[/VARIANT]",
                                       platform);
                snprintf(want_os, sizeof(want_os), "%s", buf);
                snprintf(want_arch, sizeof(want_arch), "%s", arch);
                if (variant)
                        snprintf(want_variant, sizeof(want_variant), "%s", variant);
        }
        for (size_t i = 0; i < idx->n_manifests; i++) {
                const struct img_descriptor *d = &idx->manifests[i];
                if (!entry_usable(d))
                        continue;
                usable++;
                only = d;
                if (strcmp(d->platform_os, want_os) != 0 ||
                    strcmp(d->platform_arch, want_arch) != 0)
                        continue;
                if (want_variant[0] && strcmp(d->platform_variant, want_variant) != 0)
                        continue;
                *out = d;
                return 0;
        }
        /* An OCI layout index often lists one manifest with no platform. */
        if (usable == 1 && !only->platform_os[0] && !only->platform_arch[0]) {
                *out = only;
                return 0;
        }
        return err_set(err, ENOENT, "no manifest for platform %s/%s%s%s in the index", want_os,
                       want_arch, want_variant[0] ? "/" : "", want_variant);
}

void img_manifest_free(struct img_manifest *m)
{
        free(m->layers);
        m->layers = NULL;
        m->n_layers = 0;
}

void img_index_free(struct img_index *i)
{
        free(i->manifests);
        i->manifests = NULL;
        i->n_manifests = 0;
}
