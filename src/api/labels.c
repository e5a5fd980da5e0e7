/* Docker labels of containers (table api_ctr_labels) and the filters of
 * GET /containers/json (label, name, id, status), which docker-compose
 * uses to find a project's containers. Both come from clients: bounded
 * and type-checked (api_labels_check, api_ctr_filter_parse; fuzzed). */
#include "api/labels.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LABELS_MAX      256
#define LABELS_TEXT_MAX (64u << 10)
#define FILTER_VALS_MAX 64

int api_labels_check(json_object *labels, struct isola_err *err)
{
        size_t n = 0;

        if (!labels || json_object_is_type(labels, json_type_null))
                return 0;
        if (!json_object_is_type(labels, json_type_object))
                return err_set(err, EINVAL, "Labels: want an object of strings");
        json_object_object_foreach(labels, k, v)
        {
                if (!json_object_is_type(v, json_type_string) || !k[0])
                        return err_set(err, EINVAL, "Labels: '%.64s' is not a string", k);
                if (++n > LABELS_MAX)
                        return err_set(err, EINVAL, "Labels: more than %d", LABELS_MAX);
        }
        if (strlen(json_object_to_json_string_ext(labels, JSON_C_TO_STRING_PLAIN)) >
            LABELS_TEXT_MAX)
                return err_set(err, EINVAL, "Labels: too large");
        return 0;
}

int api_labels_set(sqlite3 *db, const char *id, const char *labels_json, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int rc;

        if (sqlite3_prepare_v2(db,
                               "INSERT OR REPLACE INTO api_ctr_labels (container_id, labels)"
                               " VALUES (?, ?)",
                               -1, &st, NULL) != SQLITE_OK)
                return err_set(err, EIO, "labels: %s", sqlite3_errmsg(db));
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, labels_json, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : err_set(err, EIO, "labels: %s", sqlite3_errmsg(db));
}

/* The labels object SQL selects with one or two text parameters (b may be
 * NULL); a missing or unreadable row gives an empty object. */
static json_object *labels_select(sqlite3 *db, const char *sql, const char *a, const char *b)
{
        sqlite3_stmt *st = NULL;
        json_object *o = NULL;

        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
                if (b)
                        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW)
                        o = json_tokener_parse((const char *)sqlite3_column_text(st, 0));
                sqlite3_finalize(st);
        }
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                o = json_object_new_object();
        }
        return o;
}

json_object *api_labels_get(sqlite3 *db, const char *id)
{
        return labels_select(db, "SELECT labels FROM api_ctr_labels WHERE container_id = ?", id,
                             NULL);
}

int api_obj_labels_set(sqlite3 *db, const char *kind, const char *name, const char *labels_json,
                       struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int rc;

        if (sqlite3_prepare_v2(db,
                               labels_json ? "INSERT OR REPLACE INTO api_obj_labels (kind, name, "
                                             "labels) VALUES (?, ?, ?)"
                                           : "DELETE FROM api_obj_labels WHERE kind = ? AND "
                                             "name = ?",
                               -1, &st, NULL) != SQLITE_OK)
                return err_set(err, EIO, "labels: %s", sqlite3_errmsg(db));
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        if (labels_json)
                sqlite3_bind_text(st, 3, labels_json, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : err_set(err, EIO, "labels: %s", sqlite3_errmsg(db));
}

json_object *api_obj_labels_get(sqlite3 *db, const char *kind, const char *name)
{
        return labels_select(db, "SELECT labels FROM api_obj_labels WHERE kind = ? AND name = ?",
                             kind, name);
}

static const char *const keys[] = {"label", "name", "id", "status", NULL};

int api_ctr_filter_parse(const char *text, json_object **out, struct isola_err *err)
{
        json_object *o, *norm;

        *out = NULL;
        if (!text || !text[0])
                return 0;
        if (strlen(text) > LABELS_TEXT_MAX)
                return err_set(err, EINVAL, "filters: too long");
        o = json_tokener_parse(text);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return err_set(err, EINVAL, "filters: not a JSON object");
        }
        norm = json_object_new_object();
        json_object_object_foreach(o, key, val)
        {
                bool known = false;
                json_object *arr = json_object_new_array();
                for (size_t i = 0; keys[i]; i++)
                        known |= strcmp(keys[i], key) == 0;
                json_object_object_add(norm, key, arr);
                if (!known) {
                        err_set(err, EINVAL, "invalid filter '%.64s'", key);
                        json_object_put(o); /* key lives in o */
                        json_object_put(norm);
                        return -1;
                }
                if (json_object_is_type(val, json_type_array)) {
                        for (size_t i = 0; i < json_object_array_length(val); i++) {
                                json_object *s = json_object_array_get_idx(val, i);
                                if (json_object_is_type(s, json_type_string) &&
                                    json_object_array_length(arr) < FILTER_VALS_MAX)
                                        json_object_array_add(arr, json_object_get(s));
                        }
                } else if (json_object_is_type(val, json_type_object)) {
                        json_object_object_foreach(val, v, on)
                        {
                                if (json_object_get_boolean(on) &&
                                    json_object_array_length(arr) < FILTER_VALS_MAX)
                                        json_object_array_add(arr, json_object_new_string(v));
                        }
                } else {
                        err_set(err, EINVAL, "filters: '%.64s' is neither list nor map", key);
                        json_object_put(o);
                        json_object_put(norm);
                        return -1;
                }
        }
        json_object_put(o);
        *out = norm;
        return 0;
}

static bool label_match(json_object *labels, const char *want)
{
        const char *eq = strchr(want, '=');
        json_object *v;
        char key[512];

        if (!eq)
                return json_object_object_get_ex(labels, want, NULL);
        if ((size_t)(eq - want) >= sizeof(key))
                return false;
        memcpy(key, want, (size_t)(eq - want));
        key[eq - want] = '\0';
        return json_object_object_get_ex(labels, key, &v) &&
               strcmp(json_object_get_string(v), eq + 1) == 0;
}

static bool one(const char *key, const char *want, const char *id, const char *name,
                const char *state, json_object *labels)
{
        if (strcmp(key, "label") == 0)
                return label_match(labels, want);
        if (strcmp(key, "name") == 0) /* Docker: a substring of the name */
                return strstr(name, want[0] == '/' ? want + 1 : want) != NULL;
        if (strcmp(key, "id") == 0)
                return strncmp(id, want, strlen(want)) == 0;
        if (strcmp(key, "status") == 0)
                return strcmp(state, want) == 0;
        return false;
}

bool api_ctr_filter_match(json_object *filters, const char *id, const char *name, const char *state,
                          json_object *labels)
{
        if (!filters)
                return true;
        json_object_object_foreach(filters, key, arr)
        {
                size_t n = json_object_array_length(arr);
                bool all_labels = strcmp(key, "label") == 0, any = false;
                if (n == 0)
                        continue;
                /* labels must all match; other keys: any value */
                for (size_t i = 0; i < n; i++) {
                        bool m = one(key, json_object_get_string(json_object_array_get_idx(arr, i)),
                                     id, name, state, labels);
                        if (all_labels && !m)
                                return false;
                        any |= m;
                }
                if (!any)
                        return false;
        }
        return true;
}
