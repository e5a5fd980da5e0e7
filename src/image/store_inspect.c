/* `image inspect` output: the fields podman prints (Id, Digest, RepoTags,
 * RepoDigests, Created, Config, RootFS, History, ...) built from the rows and
 * the stored config. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/store_internal.h"

static json_object *time_str(int64_t t)
{
        char buf[40];
        time_t tt = (time_t)t;
        struct tm tm;

        gmtime_r(&tt, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        return json_object_new_string(buf);
}

static json_object *copy_member(json_object *raw, const char *key)
{
        json_object *v;

        if (raw && json_object_object_get_ex(raw, key, &v))
                return json_object_get(v);
        return NULL;
}

static json_object *str_array(char *const *v)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; v && v[i]; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static json_object *repo_digests(const struct img_image *img)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; img->names[i]; i++) {
                char repo[700];
                snprintf(repo, sizeof(repo), "%s", img->names[i]);
                char *colon = strrchr(repo, ':'), *slash = strrchr(repo, '/');
                if (colon && (!slash || colon > slash))
                        *colon = '\0';
                char *at = strchr(repo, '@');
                if (at)
                        *at = '\0';
                snprintf(repo + strlen(repo), sizeof(repo) - strlen(repo), "@%s",
                         img->manifest_digest);
                json_object_array_add(a, json_object_new_string(repo));
        }
        return a;
}

static json_object *graph_driver(const struct img_image *img)
{
        json_object *gd = json_object_new_object(), *data = json_object_new_object();
        size_t len = 1;

        for (size_t i = 0; i < img->n_layers; i++)
                len += strlen(img->layer_dirs[i]) + 1;
        char *lower = calloc(1, len);
        size_t used = 0;
        /* overlayfs order: the top layer first */
        for (size_t i = img->n_layers; lower && i-- > 0;) {
                int n =
                    snprintf(lower + used, len - used, "%s%s", img->layer_dirs[i], i ? ":" : "");
                if (n < 0 || (size_t)n >= len - used)
                        break;
                used += (size_t)n;
        }
        json_object_object_add(gd, "Name", json_object_new_string("overlay"));
        json_object_object_add(data, "LowerDir", json_object_new_string(lower ? lower : ""));
        json_object_object_add(gd, "Data", data);
        free(lower);
        return gd;
}

static json_object *one(const struct img_image *img)
{
        const struct img_config *c = &img->config;
        json_object *o = json_object_new_object(), *rootfs = json_object_new_object();
        json_object *raw = c->raw ? ijson_parse(c->raw, strlen(c->raw), "config", NULL) : NULL;
        json_object *cfg = copy_member(raw, "config"), *hist = copy_member(raw, "history");
        json_object *labels = json_object_new_object();

        for (size_t i = 0; c->label_keys && c->label_keys[i]; i++)
                json_object_object_add(labels, c->label_keys[i],
                                       json_object_new_string(c->label_values[i]));
        json_object_object_add(o, "Id", json_object_new_string(img->id + 7));
        json_object_object_add(o, "Digest", json_object_new_string(img->manifest_digest));
        json_object_object_add(o, "RepoTags", str_array(img->names));
        json_object_object_add(o, "RepoDigests", repo_digests(img));
        json_object_object_add(o, "Created", time_str(img->created));
        json_object_object_add(o, "Config", cfg ? cfg : json_object_new_object());
        json_object_object_add(o, "Author",
                               copy_member(raw, "author") ?: json_object_new_string(""));
        json_object_object_add(o, "Comment",
                               copy_member(raw, "comment") ?: json_object_new_string(""));
        json_object_object_add(o, "Architecture", json_object_new_string(c->arch));
        json_object_object_add(o, "Os", json_object_new_string(c->os));
        json_object_object_add(o, "Size", json_object_new_int64(img->size));
        json_object_object_add(o, "VirtualSize", json_object_new_int64(img->size));
        json_object_object_add(o, "GraphDriver", graph_driver(img));
        json_object_object_add(rootfs, "Type", json_object_new_string("layers"));
        json_object_object_add(rootfs, "Layers", str_array(c->diff_ids));
        json_object_object_add(o, "RootFS", rootfs);
        json_object_object_add(o, "Labels", labels);
        json_object_object_add(o, "Annotations", json_object_new_object());
        json_object_object_add(o, "ManifestType", json_object_new_string(img->manifest_media_type));
        json_object_object_add(o, "User", json_object_new_string(c->user ? c->user : ""));
        json_object_object_add(o, "History", hist ? hist : json_object_new_array());
        json_object_put(raw);
        return o;
}

char *img_inspect_json(struct img_image *const *imgs, size_t n, struct isola_err *err)
{
        json_object *a = json_object_new_array();
        char *out;

        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, one(imgs[i]));
        const char *s = json_object_to_json_string_ext(
            a, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
        out = s ? strdup(s) : NULL;
        json_object_put(a);
        if (!out)
                err_set(err, ENOMEM, "out of memory");
        return out;
}
