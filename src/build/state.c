/* A stage's state: the image config as JSON (kept whole, so fields isola
 * does not model survive from the base image), its layers, the cache key
 * chain and the declared ARGs; and the config-only instructions (ENV,
 * LABEL, CMD, ...) applied to it after expansion. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build/build_internal.h"
#include "build/strbuf.h"
#include "util/cleanup.h"

void bld_state_free(struct bld_state *st)
{
        json_object_put(st->cfg);
        free(st->layers);
        bld_vars_free(&st->args);
        memset(st, 0, sizeof(*st));
}

static json_object *json_copy(json_object *o)
{
        json_object *dst = NULL;
        if (o && json_object_deep_copy(o, &dst, NULL) < 0)
                return NULL;
        return dst;
}

int bld_state_copy(struct bld_state *dst, const struct bld_state *src, struct isola_err *err)
{
        memset(dst, 0, sizeof(*dst));
        dst->cfg = json_copy(src->cfg);
        if (src->n_layers) {
                dst->layers = malloc(src->n_layers * sizeof(*dst->layers));
                if (dst->layers)
                        memcpy(dst->layers, src->layers, src->n_layers * sizeof(*dst->layers));
        }
        dst->n_layers = src->n_layers;
        memcpy(dst->key, src->key, sizeof(dst->key));
        dst->created = src->created;
        if (!dst->cfg || (src->n_layers && !dst->layers)) {
                bld_state_free(dst);
                return err_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

int bld_state_scratch(struct bld_state *st, struct isola_err *err)
{
        memset(st, 0, sizeof(*st));
        st->cfg = json_tokener_parse("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
                                     "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},"
                                     "\"history\":[]}");
        return st->cfg ? 0 : err_set(err, ENOMEM, "out of memory");
}

int bld_state_from_image(struct bld_state *st, const struct img_image *img, struct isola_err *err)
{
        memset(st, 0, sizeof(*st));
        const struct img_manifest *m = &img->manifest;
        if (img->config.n_diff_ids != m->n_layers)
                return err_set(err, EINVAL, "image %.19s: %zu layers but %zu diff ids", img->id,
                               m->n_layers, img->config.n_diff_ids);
        st->cfg = img->config.raw ? json_tokener_parse(img->config.raw) : NULL;
        if (!st->cfg || !json_object_is_type(st->cfg, json_type_object)) {
                json_object_put(st->cfg);
                st->cfg = NULL;
                return err_set(err, EINVAL, "image %.19s: unreadable config", img->id);
        }
        st->layers = calloc(m->n_layers ? m->n_layers : 1, sizeof(*st->layers));
        if (!st->layers) {
                bld_state_free(st);
                return err_set(err, ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < m->n_layers; i++) {
                struct bld_layer *l = &st->layers[i];
                snprintf(l->diff_id, sizeof(l->diff_id), "%s", img->config.diff_ids[i]);
                snprintf(l->blob, sizeof(l->blob), "%s", m->layers[i].digest);
                snprintf(l->media_type, sizeof(l->media_type), "%s", m->layers[i].media_type);
                l->size = m->layers[i].size;
        }
        st->n_layers = m->n_layers;
        st->created = img->config.created;
        return 0;
}

json_object *bld_cfg_config(struct bld_state *st)
{
        json_object *c = NULL;
        if (!json_object_object_get_ex(st->cfg, "config", &c) ||
            !json_object_is_type(c, json_type_object)) {
                c = json_object_new_object();
                json_object_object_add(st->cfg, "config", c);
        }
        return c;
}

static json_object *cfg_member(struct bld_state *st, const char *key, json_type type)
{
        json_object *c = bld_cfg_config(st), *v = NULL;
        if (!json_object_object_get_ex(c, key, &v) || !json_object_is_type(v, type)) {
                v = type == json_type_array ? json_object_new_array() : json_object_new_object();
                json_object_object_add(c, key, v);
        }
        return v;
}

int bld_state_vars(struct bld_state *st, struct bld_vars *out, struct isola_err *err)
{
        memset(out, 0, sizeof(*out));
        if (bld_vars_copy(out, &st->args, err) < 0)
                return -1;
        json_object *env = cfg_member(st, "Env", json_type_array);
        for (size_t i = 0; i < json_object_array_length(env); i++) {
                const char *kv = json_object_get_string(json_object_array_get_idx(env, i));
                const char *eq = kv ? strchr(kv, '=') : NULL;
                if (!eq)
                        continue;
                char *k = strndup(kv, (size_t)(eq - kv));
                int rc = k ? bld_vars_set(out, k, eq + 1, err) : -1;
                free(k);
                if (rc < 0) {
                        bld_vars_free(out);
                        return err_set(err, ENOMEM, "out of memory");
                }
        }
        return 0;
}

static int strv_push(char ***v, size_t *n, char *s, struct isola_err *err)
{
        char **nv = s ? realloc(*v, (*n + 2) * sizeof(*nv)) : NULL;
        if (!nv) {
                free(s);
                return err_set(err, ENOMEM, "out of memory");
        }
        nv[(*n)++] = s;
        nv[*n] = NULL;
        *v = nv;
        return 0;
}

int bld_state_env(struct bld_state *st, char ***out, struct isola_err *err)
{
        char **v = NULL;
        size_t n = 0;
        json_object *env = cfg_member(st, "Env", json_type_array);
        for (size_t i = 0; i < json_object_array_length(env); i++) {
                const char *kv = json_object_get_string(json_object_array_get_idx(env, i));
                if (kv && strchr(kv, '=') && strv_push(&v, &n, strdup(kv), err) < 0)
                        goto fail;
        }
        for (size_t i = 0; i < st->args.n; i++) {
                bool shadowed = false;
                size_t klen = strlen(st->args.names[i]);
                for (size_t k = 0; k < n && !shadowed; k++)
                        shadowed = !strncmp(v[k], st->args.names[i], klen) && v[k][klen] == '=';
                char *s = NULL;
                if (!shadowed &&
                    (asprintf(&s, "%s=%s", st->args.names[i], st->args.values[i]) < 0 ||
                     strv_push(&v, &n, s, err) < 0))
                        goto fail;
        }
        bool path = false;
        for (size_t k = 0; k < n && !path; k++)
                path = !strncmp(v[k], "PATH=", 5);
        /* as Docker: RUN gets the default PATH when the image sets none */
        if (!path && strv_push(&v, &n,
                               strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                      "/usr/bin:/sbin:/bin"),
                               err) < 0)
                goto fail;
        *out = v;
        return 0;
fail:
        bld_strv_free(v);
        return err_set(err, ENOMEM, "out of memory");
}

static void rfc3339(int64_t t, char *buf, size_t len)
{
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int bld_state_add_history(struct bld_state *st, const char *created_by, bool empty_layer,
                          int64_t created, struct isola_err *err)
{
        json_object *h = NULL;
        if (!json_object_object_get_ex(st->cfg, "history", &h) ||
            !json_object_is_type(h, json_type_array)) {
                h = json_object_new_array();
                json_object_object_add(st->cfg, "history", h);
        }
        char when[40];
        rfc3339(created, when, sizeof(when));
        json_object *e = json_object_new_object();
        if (!e)
                return err_set(err, ENOMEM, "out of memory");
        json_object_object_add(e, "created", json_object_new_string(when));
        json_object_object_add(e, "created_by", json_object_new_string(created_by));
        json_object_object_add(e, "comment", json_object_new_string("isola build"));
        if (empty_layer)
                json_object_object_add(e, "empty_layer", json_object_new_boolean(1));
        json_object_array_add(h, e);
        if (created > st->created)
                st->created = created;
        return 0;
}

int bld_state_add_layer(struct bld_state *st, const struct bld_layer *l, struct isola_err *err)
{
        if (st->n_layers >= IMG_MAX_LAYERS)
                return err_set(err, E2BIG, "more than %d layers", IMG_MAX_LAYERS);
        struct bld_layer *v = realloc(st->layers, (st->n_layers + 1) * sizeof(*v));
        if (!v)
                return err_set(err, ENOMEM, "out of memory");
        v[st->n_layers++] = *l;
        st->layers = v;
        return 0;
}

const char *bld_state_workdir(struct bld_state *st)
{
        json_object *w = NULL;
        const char *s = NULL;
        if (json_object_object_get_ex(bld_cfg_config(st), "WorkingDir", &w))
                s = json_object_get_string(w);
        return s && *s ? s : "/";
}

int bld_state_shell(struct bld_state *st, char ***out, struct isola_err *err)
{
        json_object *sh = NULL;
        char **v = NULL;
        size_t n = 0;
        if (json_object_object_get_ex(bld_cfg_config(st), "Shell", &sh) &&
            json_object_is_type(sh, json_type_array) && json_object_array_length(sh) > 0) {
                for (size_t i = 0; i < json_object_array_length(sh); i++) {
                        const char *a = json_object_get_string(json_object_array_get_idx(sh, i));
                        if (strv_push(&v, &n, strdup(a ? a : ""), err) < 0) {
                                bld_strv_free(v);
                                return -1;
                        }
                }
        } else if (strv_push(&v, &n, strdup("/bin/sh"), err) < 0 ||
                   strv_push(&v, &n, strdup("-c"), err) < 0) {
                bld_strv_free(v);
                return -1;
        }
        *out = v;
        return 0;
}

int bld_state_default_path(struct bld_state *st, struct isola_err *err)
{
        json_object *env = cfg_member(st, "Env", json_type_array);
        for (size_t i = 0; i < json_object_array_length(env); i++) {
                const char *e = json_object_get_string(json_object_array_get_idx(env, i));
                if (e && !strncmp(e, "PATH=", 5))
                        return 0;
        }
        /* as Docker and buildah: an image without PATH gets the default one,
         * first in Env */
        json_object *v = json_object_new_array();
        if (!v)
                return err_set(err, ENOMEM, "out of memory");
        json_object_array_add(v, json_object_new_string("PATH=/usr/local/sbin:/usr/local/bin:"
                                                        "/usr/sbin:/usr/bin:/sbin:/bin"));
        for (size_t i = 0; i < json_object_array_length(env); i++)
                json_object_array_add(v, json_object_get(json_object_array_get_idx(env, i)));
        json_object_object_add(bld_cfg_config(st), "Env", v);
        return 0;
}
