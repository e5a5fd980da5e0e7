/* The image config (OCI image-spec "application/vnd.oci.image.config.v1+json",
 * same shape as Docker's): the run defaults in "config", rootfs.diff_ids and
 * history. Counts are bounded; the raw JSON is kept for inspect. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/store_internal.h"

#define CFG_LIST_MAX 4096 /* entries in Env, Cmd, Labels, ... */

static int strv_from_array(json_object *v, const char *what, char ***out, size_t *n_out,
                           struct isola_err *err)
{
        size_t n, count = 0;
        char **vec = NULL;

        *out = NULL;
        if (!v || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_array))
                return err_set(err, EINVAL, "config: %s is not an array", what);
        n = json_object_array_length(v);
        if (n > CFG_LIST_MAX)
                return err_set(err, EINVAL, "config: %s has more than %d entries", what,
                               CFG_LIST_MAX);
        vec = calloc(n + 1, sizeof(char *));
        if (!vec)
                return err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);
                if (!json_object_is_type(e, json_type_string)) {
                        img_strv_free(vec);
                        return err_set(err, EINVAL, "config: %s[%zu] is not a string", what, i);
                }
                vec[count] = strdup(json_object_get_string(e));
                if (!vec[count]) {
                        img_strv_free(vec);
                        return err_set(err, ENOMEM, "out of memory");
                }
                count++;
        }
        *out = vec;
        if (n_out)
                *n_out = count;
        return 0;
}

/* Keys of an object ({"80/tcp": {}}) as a vector; values as a second one
 * when values_out is given (they must be strings). */
static int strv_from_object(json_object *v, const char *what, char ***keys_out, char ***values_out,
                            struct isola_err *err)
{
        size_t n, i = 0;
        char **keys, **vals = NULL;

        *keys_out = NULL;
        if (values_out)
                *values_out = NULL;
        if (!v || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_object))
                return err_set(err, EINVAL, "config: %s is not an object", what);
        n = (size_t)json_object_object_length(v);
        if (n > CFG_LIST_MAX)
                return err_set(err, EINVAL, "config: %s has more than %d entries", what,
                               CFG_LIST_MAX);
        keys = calloc(n + 1, sizeof(char *));
        if (values_out)
                vals = calloc(n + 1, sizeof(char *));
        if (!keys || (values_out && !vals)) {
                free(keys);
                free(vals);
                return err_set(err, ENOMEM, "out of memory");
        }
        json_object_object_foreach(v, key, val)
        {
                if (values_out && !json_object_is_type(val, json_type_string)) {
                        img_strv_free(keys);
                        img_strv_free(vals);
                        return err_set(err, EINVAL, "config: %s['%s'] is not a string", what, key);
                }
                keys[i] = strdup(key);
                if (values_out)
                        vals[i] = strdup(json_object_get_string(val));
                if (!keys[i] || (values_out && !vals[i])) {
                        img_strv_free(keys);
                        img_strv_free(vals);
                        return err_set(err, ENOMEM, "out of memory");
                }
                i++;
        }
        *keys_out = keys;
        if (values_out)
                *values_out = vals;
        return 0;
}

static int dup_str(json_object *o, const char *key, char **out, struct isola_err *err)
{
        json_object *v;

        *out = NULL;
        if (!o || !json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return err_set(err, EINVAL, "config: %s is not a string", key);
        *out = strdup(json_object_get_string(v));
        return *out ? 0 : err_set(err, ENOMEM, "out of memory");
}

/* RFC 3339 "2024-01-02T03:04:05[.frac](Z|+hh:mm)" to unix seconds; 0 if odd. */
static int64_t parse_time(const char *s)
{
        struct tm tm = {0};
        const char *p;
        int64_t t;

        if (!s)
                return 0;
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return 0;
        t = (int64_t)timegm(&tm);
        if (*p == '.') {
                p++;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        if ((*p == '+' || *p == '-') && strlen(p) >= 6 && p[3] == ':') {
                int off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
                          ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
                t += *p == '+' ? -off : off;
        }
        return t;
}

static int parse_run_config(json_object *c, struct img_config *out, struct isola_err *err)
{
        json_object *v;

#define GET(k) (json_object_object_get_ex(c, (k), &v) ? v : NULL)
        if (strv_from_array(GET("Env"), "Env", &out->env, NULL, err) < 0 ||
            strv_from_array(GET("Entrypoint"), "Entrypoint", &out->entrypoint, NULL, err) < 0 ||
            strv_from_array(GET("Cmd"), "Cmd", &out->cmd, NULL, err) < 0 ||
            strv_from_object(GET("ExposedPorts"), "ExposedPorts", &out->exposed_ports, NULL, err) <
                0 ||
            strv_from_object(GET("Volumes"), "Volumes", &out->volumes, NULL, err) < 0 ||
            strv_from_object(GET("Labels"), "Labels", &out->label_keys, &out->label_values, err) <
                0 ||
            dup_str(c, "WorkingDir", &out->working_dir, err) < 0 ||
            dup_str(c, "User", &out->user, err) < 0 ||
            dup_str(c, "StopSignal", &out->stop_signal, err) < 0)
                return -1;
#undef GET
        return 0;
}

/* Vectors the users of img_config walk without NULL checks. */
static int fill_empty(char ***v, struct isola_err *err)
{
        if (!*v) {
                *v = calloc(1, sizeof(char *));
                if (!*v)
                        return err_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

int img_config_parse(const char *json, size_t len, struct img_config *out, struct isola_err *err)
{
        json_object *o, *c, *rootfs, *ids;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (len > IMG_CONFIG_MAX)
                return err_set(err, EFBIG, "config: larger than %u bytes", IMG_CONFIG_MAX);
        o = ijson_parse(json, len, "config", err);
        if (!o)
                return -1;
        if (json_object_object_get_ex(o, "config", &c) && !json_object_is_type(c, json_type_null)) {
                if (!json_object_is_type(c, json_type_object)) {
                        err_set(err, EINVAL, "config: 'config' is not an object");
                        goto out;
                }
                if (parse_run_config(c, out, err) < 0)
                        goto out;
        }
        if (!json_object_object_get_ex(o, "rootfs", &rootfs) ||
            !json_object_is_type(rootfs, json_type_object)) {
                err_set(err, EINVAL, "config: 'rootfs' missing");
                goto out;
        }
        if (!ijson_str(rootfs, "type") || strcmp(ijson_str(rootfs, "type"), "layers") != 0) {
                err_set(err, EINVAL, "config: rootfs.type must be \"layers\"");
                goto out;
        }
        if (!json_object_object_get_ex(rootfs, "diff_ids", &ids) ||
            strv_from_array(ids, "rootfs.diff_ids", &out->diff_ids, &out->n_diff_ids, err) < 0)
                goto out;
        if (!out->diff_ids || out->n_diff_ids > IMG_MAX_LAYERS) {
                err_set(err, EINVAL, "config: rootfs.diff_ids missing or more than %d",
                        IMG_MAX_LAYERS);
                goto out;
        }
        for (size_t i = 0; i < out->n_diff_ids; i++) {
                if (!img_digest_valid(out->diff_ids[i])) {
                        err_set(err, EINVAL, "config: rootfs.diff_ids[%zu] '%s' is not a digest", i,
                                out->diff_ids[i]);
                        goto out;
                }
        }
        if (ijson_copy(o, "os", out->os, sizeof(out->os), "config", err) < 0 ||
            ijson_copy(o, "architecture", out->arch, sizeof(out->arch), "config", err) < 0)
                goto out;
        out->created = parse_time(ijson_str(o, "created"));
        if (fill_empty(&out->env, err) < 0 || fill_empty(&out->exposed_ports, err) < 0 ||
            fill_empty(&out->volumes, err) < 0 || fill_empty(&out->label_keys, err) < 0 ||
            fill_empty(&out->label_values, err) < 0)
                goto out;
        out->raw = strndup(json, len);
        if (!out->raw) {
                err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        rc = 0;
out:
        json_object_put(o);
        if (rc < 0)
                img_config_free(out);
        return rc;
}

void img_config_free(struct img_config *c)
{
        img_strv_free(c->env);
        img_strv_free(c->entrypoint);
        img_strv_free(c->cmd);
        img_strv_free(c->exposed_ports);
        img_strv_free(c->volumes);
        img_strv_free(c->label_keys);
        img_strv_free(c->label_values);
        img_strv_free(c->diff_ids);
        free(c->working_dir);
        free(c->user);
        free(c->stop_signal);
        free(c->raw);
        memset(c, 0, sizeof(*c));
}

int img_config_history(const struct img_config *c, struct img_history **out, size_t *n_out,
                       struct isola_err *err)
{
        json_object *o, *h;
        size_t n;

        *out = NULL;
        *n_out = 0;
        if (!c->raw)
                return 0;
        o = ijson_parse(c->raw, strlen(c->raw), "config", err);
        if (!o)
                return -1;
        if (!json_object_object_get_ex(o, "history", &h) ||
            !json_object_is_type(h, json_type_array)) {
                json_object_put(o);
                return 0;
        }
        n = json_object_array_length(h);
        if (n > CFG_LIST_MAX)
                n = CFG_LIST_MAX;
        *out = calloc(n ? n : 1, sizeof(**out));
        if (!*out) {
                json_object_put(o);
                return err_set(err, ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(h, i), *v;
                struct img_history *r = &(*out)[*n_out];
                if (!json_object_is_type(e, json_type_object))
                        continue;
                r->created = parse_time(ijson_str(e, "created"));
                r->created_by =
                    strdup(ijson_str(e, "created_by") ? ijson_str(e, "created_by") : "");
                r->comment = strdup(ijson_str(e, "comment") ? ijson_str(e, "comment") : "");
                r->empty_layer =
                    json_object_object_get_ex(e, "empty_layer", &v) && json_object_get_boolean(v);
                (*n_out)++;
                if (!r->created_by || !r->comment) {
                        img_history_free(*out, *n_out);
                        *out = NULL;
                        *n_out = 0;
                        json_object_put(o);
                        return err_set(err, ENOMEM, "out of memory");
                }
        }
        json_object_put(o);
        return 0;
}

void img_history_free(struct img_history *h, size_t n)
{
        if (!h)
                return;
        for (size_t i = 0; i < n; i++) {
                free(h[i].created_by);
                free(h[i].comment);
        }
        free(h);
}
