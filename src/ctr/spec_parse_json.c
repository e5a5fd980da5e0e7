/* Typed, path-aware access to json-c values for the config.json parser (see
 * spec_parse_json.h). */
#include "ctr/spec_parse_json.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t jp_render(const struct jp *p, char *buf, size_t size)
{
        size_t used;

        if (!p)
                return 0;
        used = jp_render(p->up, buf, size);
        if (used >= size)
                return used;
        if (p->key)
                used += snprintf(buf + used, size - used, "%s%s", used ? "." : "", p->key);
        else
                used += snprintf(buf + used, size - used, "[%zu]", p->idx);
        return used;
}

void sj_set_err(struct isola_err *err, const struct jp *path, const char *fmt, ...)
{
        char where[256] = "";
        char what[ISOLA_ERR_MSG_MAX];
        va_list ap;

        jp_render(path, where, sizeof(where));
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        err_set(err, EINVAL, "%s: %s", where[0] ? where : "(top level)", what);
}

/* Embedded NULs would silently truncate paths and names in C. */
int sj_plain_string(json_object *val, const struct jp *path, const char **out,
                    struct isola_err *err)
{
        const char *s;

        if (!json_object_is_type(val, json_type_string))
                return sj_err(err, path, "expected a string");
        s = json_object_get_string(val);
        if (strlen(s) != (size_t)json_object_get_string_len(val))
                return sj_err(err, path, "string contains a NUL character");
        *out = s;
        return 0;
}

int sj_string(json_object *val, const struct jp *path, char **out, struct isola_err *err)
{
        const char *s;
        char *copy;

        if (sj_plain_string(val, path, &s, err) < 0)
                return -1;
        copy = strdup(s);
        if (!copy)
                return err_set(err, ENOMEM, "out of memory");
        free(*out);
        *out = copy;
        return 0;
}

int sj_bool(json_object *val, const struct jp *path, bool *out, struct isola_err *err)
{
        if (!json_object_is_type(val, json_type_boolean))
                return sj_err(err, path, "expected a boolean");
        *out = json_object_get_boolean(val);
        return 0;
}

/* json-c stores integers above INT64_MAX as uint64 and clamps anything beyond
 * the 64-bit range, so the range checks below work on what it kept. */
int sj_int64(json_object *val, const struct jp *path, int64_t min, int64_t max, int64_t *out,
             struct isola_err *err)
{
        int64_t v;

        if (!json_object_is_type(val, json_type_int))
                return sj_err(err, path, "expected an integer");
        v = json_object_get_int64(val);
        if (v == INT64_MAX && json_object_get_uint64(val) > (uint64_t)INT64_MAX)
                return sj_err(err, path, "integer out of range [%" PRId64 ", %" PRId64 "]", min,
                              max);
        if (v < min || v > max)
                return sj_err(err, path,
                              "integer %" PRId64 " out of range [%" PRId64 ", %" PRId64 "]", v, min,
                              max);
        *out = v;
        return 0;
}

int sj_uint64(json_object *val, const struct jp *path, uint64_t max, uint64_t *out,
              struct isola_err *err)
{
        uint64_t v;

        if (!json_object_is_type(val, json_type_int))
                return sj_err(err, path, "expected an integer");
        if (json_object_get_int64(val) < 0)
                return sj_err(err, path, "expected a non-negative integer");
        v = json_object_get_uint64(val);
        if (v > max)
                return sj_err(err, path, "integer %" PRIu64 " out of range [0, %" PRIu64 "]", v,
                              max);
        *out = v;
        return 0;
}

int sj_uint32(json_object *val, const struct jp *path, uint32_t *out, struct isola_err *err)
{
        uint64_t v;

        if (sj_uint64(val, path, UINT32_MAX, &v, err) < 0)
                return -1;
        *out = (uint32_t)v;
        return 0;
}

void sj_strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

int sj_strv(json_object *val, const struct jp *path, char ***out, size_t *n_out,
            struct isola_err *err)
{
        size_t n;
        char **v;

        if (!json_object_is_type(val, json_type_array))
                return sj_err(err, path, "expected an array of strings");
        n = json_object_array_length(val);
        v = calloc(n + 1, sizeof(*v));
        if (!v)
                return err_set(err, ENOMEM, "out of memory");
        sj_strv_free(*out);
        *out = v;
        *n_out = 0;
        for (size_t i = 0; i < n; i++) {
                struct jp ip = JP_IDX(path, i);
                const char *s;

                if (sj_plain_string(json_object_array_get_idx(val, i), &ip, &s, err) < 0)
                        return -1;
                v[i] = strdup(s);
                if (!v[i])
                        return err_set(err, ENOMEM, "out of memory");
                *n_out = i + 1;
        }
        return 0;
}

int sj_string_map(json_object *val, const struct jp *path, char ***keys_out, char ***values_out,
                  size_t *n_out, struct isola_err *err)
{
        size_t n, i = 0;
        char **keys, **values;

        if (!json_object_is_type(val, json_type_object))
                return sj_err(err, path, "expected an object of strings");
        n = (size_t)json_object_object_length(val);
        keys = calloc(n + 1, sizeof(*keys));
        values = calloc(n + 1, sizeof(*values));
        sj_strv_free(*keys_out);
        sj_strv_free(*values_out);
        *keys_out = keys;
        *values_out = values;
        *n_out = 0;
        if (!keys || !values)
                return err_set(err, ENOMEM, "out of memory");
        json_object_object_foreach(val, key, member)
        {
                struct jp kp = JP_KEY(path, key);
                const char *s;

                if (!member)
                        return sj_err(err, &kp, "expected a string");
                if (sj_plain_string(member, &kp, &s, err) < 0)
                        return -1;
                keys[i] = strdup(key);
                values[i] = strdup(s);
                if (!keys[i] || !values[i])
                        return err_set(err, ENOMEM, "out of memory");
                *n_out = ++i;
        }
        return 0;
}

int sj_array_alloc(json_object *val, const struct jp *path, size_t elem_size, void **out,
                   size_t *n_out, struct isola_err *err)
{
        size_t n;
        void *a;

        if (!json_object_is_type(val, json_type_array))
                return sj_err(err, path, "expected an array");
        n = json_object_array_length(val);
        a = n ? calloc(n, elem_size) : NULL;
        if (n && !a)
                return err_set(err, ENOMEM, "out of memory");
        *out = a;
        *n_out = n;
        return 0;
}

static int sj_field_parse(const struct sj_field *f, json_object *val, const struct jp *path,
                          void *target, struct isola_err *err)
{
        char *base = target;
        void *dst = base + f->off;
        int rc;

        switch (f->kind) {
        case SJK_STR:
                rc = sj_string(val, path, dst, err);
                break;
        case SJK_BOOL:
                rc = sj_bool(val, path, dst, err);
                break;
        case SJK_U32:
                rc = sj_uint32(val, path, dst, err);
                break;
        case SJK_I64:
                rc = sj_int64(val, path, INT64_MIN, INT64_MAX, dst, err);
                break;
        case SJK_U64:
                rc = sj_uint64(val, path, UINT64_MAX, dst, err);
                break;
        case SJK_STRV:
                return sj_strv(val, path, dst, (size_t *)(base + f->aux), err);
        case SJK_FN:
                return f->fn(val, path, target, err);
        default:
                return sj_err(err, path, "internal error: bad field kind");
        }
        if (rc == 0 && f->aux != SJ_NONE)
                *(bool *)(base + f->aux) = true;
        return rc;
}

int sj_object(json_object *val, const struct jp *path, const struct sj_field *fields,
              size_t n_fields, void *target, struct isola_err *err)
{
        if (!json_object_is_type(val, json_type_object))
                return sj_err(err, path, "expected an object");
        json_object_object_foreach(val, key, member)
        {
                if (!member)
                        continue;
                for (size_t i = 0; i < n_fields; i++) {
                        struct jp kp;

                        if (strcmp(fields[i].name, key) != 0)
                                continue;
                        kp = JP_KEY(path, fields[i].name);
                        if (sj_field_parse(&fields[i], member, &kp, target, err) < 0)
                                return -1;
                        break;
                }
        }
        return 0;
}

static void sj_position(const char *json, size_t end, unsigned *line, unsigned *col)
{
        *line = 1;
        *col = 1;
        for (size_t i = 0; i < end; i++) {
                if (json[i] == '\n') {
                        (*line)++;
                        *col = 1;
                } else {
                        (*col)++;
                }
        }
}

int sj_tokenize(const char *json, size_t len, json_object **out, struct isola_err *err)
{
        struct json_tokener *tok;
        enum json_tokener_error jerr;
        json_object *obj;
        size_t end;
        unsigned line, col;

        if (len > INT_MAX)
                return err_set(err, EFBIG, "document too large (%zu bytes)", len);
        tok = json_tokener_new();
        if (!tok)
                return err_set(err, ENOMEM, "out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        obj = json_tokener_parse_ex(tok, json, (int)len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (jerr == json_tokener_continue) {
                json_object_put(obj);
                sj_position(json, len, &line, &col);
                return err_set(err, EINVAL,
                               "invalid JSON at line %u, column %u: unexpected end of input", line,
                               col);
        }
        if (jerr != json_tokener_success) {
                sj_position(json, end, &line, &col);
                return err_set(err, EINVAL, "invalid JSON at line %u, column %u: %s", line, col,
                               json_tokener_error_desc(jerr));
        }
        for (; end < len; end++) {
                if (json[end] != ' ' && json[end] != '\n' && json[end] != '\t' &&
                    json[end] != '\r') {
                        json_object_put(obj);
                        sj_position(json, end, &line, &col);
                        return err_set(err, EINVAL,
                                       "invalid JSON at line %u, column %u: trailing data", line,
                                       col);
                }
        }
        if (!json_object_is_type(obj, json_type_object)) {
                json_object_put(obj);
                return err_set(err, EINVAL, "expected a JSON object at the top level");
        }
        *out = obj;
        return 0;
}
