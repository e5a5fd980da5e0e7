/* Reading events: Docker's filters, time arguments and JSON shape (see
 * events.h). Filter values and times come from clients: bounded, checked. */
#include "engine/events.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FILTER_VALUES_MAX 64
#define FILTER_TEXT_MAX   (64u << 10)

static const char *const filter_keys[] = {"type",  "event",   "container", "image",
                                          "label", "network", "volume",    NULL};

static bool key_known(const char *k)
{
        for (size_t i = 0; filter_keys[i]; i++)
                if (strcmp(filter_keys[i], k) == 0)
                        return true;
        return false;
}

static int add_value(struct eng_event_filter *f, const char *key, const char *val,
                     struct isola_err *err)
{
        json_object *arr;

        if (!key_known(key))
                return err_set(err, EINVAL, "invalid filter '%s'", key);
        if (!f->by_key && !(f->by_key = json_object_new_object()))
                return err_set(err, ENOMEM, "out of memory");
        if (!json_object_object_get_ex(f->by_key, key, &arr)) {
                arr = json_object_new_array();
                if (!arr || json_object_object_add(f->by_key, key, arr) < 0)
                        return err_set(err, ENOMEM, "out of memory");
        }
        if (json_object_array_length(arr) >= FILTER_VALUES_MAX)
                return err_set(err, EINVAL, "too many values for filter '%s'", key);
        if (json_object_array_add(arr, json_object_new_string(val)) < 0)
                return err_set(err, ENOMEM, "out of memory");
        return 0;
}

int eng_event_filter_parse(const char *docker_json, struct eng_event_filter *f,
                           struct isola_err *err)
{
        json_object *o;
        int rc = 0;

        if (!docker_json || !docker_json[0])
                return 0;
        if (strlen(docker_json) > FILTER_TEXT_MAX)
                return err_set(err, EINVAL, "filters: too long");
        o = json_tokener_parse(docker_json);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return err_set(err, EINVAL, "filters: not a JSON object");
        }
        json_object_object_foreach(o, key, val)
        {
                if (json_object_is_type(val, json_type_array)) {
                        for (size_t i = 0; rc == 0 && i < json_object_array_length(val); i++) {
                                json_object *s = json_object_array_get_idx(val, i);
                                if (!json_object_is_type(s, json_type_string))
                                        rc = err_set(err, EINVAL, "filters: '%s' not strings", key);
                                else
                                        rc = add_value(f, key, json_object_get_string(s), err);
                        }
                } else if (json_object_is_type(val, json_type_object)) {
                        json_object_object_foreach(val, v, on)
                        {
                                if (rc == 0 && json_object_get_boolean(on))
                                        rc = add_value(f, key, v, err);
                        }
                } else {
                        rc = err_set(err, EINVAL, "filters: '%s' is neither list nor map", key);
                }
                if (rc < 0)
                        break;
        }
        json_object_put(o);
        return rc;
}

int eng_event_filter_add(struct eng_event_filter *f, const char *key_eq_value,
                         struct isola_err *err)
{
        const char *eq = strchr(key_eq_value, '=');
        char key[32];

        if (!eq || eq == key_eq_value || (size_t)(eq - key_eq_value) >= sizeof(key))
                return err_set(err, EINVAL, "filter '%s': expected KEY=VALUE", key_eq_value);
        memcpy(key, key_eq_value, (size_t)(eq - key_eq_value));
        key[eq - key_eq_value] = '\0';
        return add_value(f, key, eq + 1, err);
}

void eng_event_filter_free(struct eng_event_filter *f)
{
        json_object_put(f->by_key);
        f->by_key = NULL;
}

static const char *attr(const struct eng_event_row *ev, const char *k)
{
        json_object *v;

        if (!ev->attrs || !json_object_object_get_ex(ev->attrs, k, &v))
                return NULL;
        return json_object_get_string(v);
}

static bool str_eq(const char *a, const char *b)
{
        return a && b && strcmp(a, b) == 0;
}

/* A container or network given by name, full id or an id prefix. */
static bool actor_is(const struct eng_event_row *ev, const char *type, const char *v)
{
        size_t n = strlen(v);

        if (strcmp(ev->type, type) != 0)
                return false;
        if (str_eq(attr(ev, "name"), v))
                return true;
        return n > 0 && strncmp(ev->actor, v, n) == 0 &&
               (ev->actor[n] == '\0' || strspn(v, "0123456789abcdef") == n);
}

static bool label_is(const struct eng_event_row *ev, const char *v)
{
        const char *eq = strchr(v, '=');
        char key[256];

        if (!eq)
                return attr(ev, v) != NULL;
        if ((size_t)(eq - v) >= sizeof(key))
                return false;
        memcpy(key, v, (size_t)(eq - v));
        key[eq - v] = '\0';
        return str_eq(attr(ev, key), eq + 1);
}

/* "health_status: healthy" matches the filter "health_status" too */
static bool action_is(const char *action, const char *v)
{
        size_t n = strlen(v);

        return strcmp(action, v) == 0 || (strncmp(action, v, n) == 0 && action[n] == ':');
}

static bool one_matches(const struct eng_event_row *ev, const char *key, const char *v)
{
        if (strcmp(key, "type") == 0)
                return strcmp(ev->type, v) == 0;
        if (strcmp(key, "event") == 0)
                return action_is(ev->action, v);
        if (strcmp(key, "container") == 0)
                return actor_is(ev, "container", v) || str_eq(attr(ev, "container"), v);
        if (strcmp(key, "network") == 0)
                return actor_is(ev, "network", v);
        if (strcmp(key, "volume") == 0)
                return strcmp(ev->type, "volume") == 0 && strcmp(ev->actor, v) == 0;
        if (strcmp(key, "image") == 0)
                return str_eq(attr(ev, "image"), v) ||
                       (strcmp(ev->type, "image") == 0 &&
                        (strcmp(ev->actor, v) == 0 || str_eq(attr(ev, "name"), v)));
        if (strcmp(key, "label") == 0)
                return label_is(ev, v);
        return false;
}

bool eng_event_match(const struct eng_event_filter *f, const struct eng_event_row *ev)
{
        if (f->since_ns && ev->time_ns < f->since_ns)
                return false;
        if (f->until_ns && ev->time_ns > f->until_ns)
                return false;
        if (!f->by_key)
                return true;
        json_object_object_foreach(f->by_key, key, arr)
        {
                bool any = false;
                for (size_t i = 0; !any && i < json_object_array_length(arr); i++)
                        any = one_matches(
                            ev, key, json_object_get_string(json_object_array_get_idx(arr, i)));
                if (!any)
                        return false;
        }
        return true;
}

static const char *col(sqlite3_stmt *st, int i)
{
        const unsigned char *s = sqlite3_column_text(st, i);
        return s ? (const char *)s : "";
}

int eng_events_read(sqlite3 *db, int64_t after_id, const struct eng_event_filter *f, int max,
                    eng_event_cb cb, void *arg, int64_t *last_id, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int rc, ret = 0;

        *last_id = after_id;
        rc = sqlite3_prepare_v2(db,
                                "SELECT id, time_ns, type, action, actor, attrs FROM events"
                                " WHERE id > ? AND time_ns >= ? ORDER BY id LIMIT ?",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return err_set(err, EIO, "events: %s", sqlite3_errmsg(db));
        sqlite3_bind_int64(st, 1, after_id);
        sqlite3_bind_int64(st, 2, f ? f->since_ns : 0);
        sqlite3_bind_int(st, 3, max > 0 ? max : -1);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct eng_event_row ev = {
                    .id = sqlite3_column_int64(st, 0),
                    .time_ns = sqlite3_column_int64(st, 1),
                    .type = col(st, 2),
                    .action = col(st, 3),
                    .actor = col(st, 4),
                    .attrs = json_tokener_parse(col(st, 5)),
                };
                if (!f || eng_event_match(f, &ev))
                        ret = cb(&ev, arg);
                json_object_put(ev.attrs);
                if (ret < 0)
                        break; /* the row the callback refused stays unread */
                *last_id = ev.id;
        }
        if (ret == 0 && rc != SQLITE_DONE)
                ret = err_set(err, EIO, "events: %s", sqlite3_errmsg(db));
        else
                ret = 0;
        sqlite3_finalize(st);
        return ret;
}

int64_t eng_events_last_id(sqlite3 *db)
{
        sqlite3_stmt *st = NULL;
        int64_t id = 0;

        if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(id), 0) FROM events", -1, &st, NULL) !=
            SQLITE_OK)
                return 0;
        if (sqlite3_step(st) == SQLITE_ROW)
                id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return id;
}

json_object *eng_event_docker_json(const struct eng_event_row *ev)
{
        json_object *o = json_object_new_object(), *actor = json_object_new_object();
        json_object *attrs = ev->attrs ? json_object_get(ev->attrs) : json_object_new_object();
        bool legacy = strcmp(ev->type, "container") == 0 || strcmp(ev->type, "image") == 0;

        if (legacy) {
                const char *from = attr(ev, "image");
                json_object_object_add(o, "status", json_object_new_string(ev->action));
                json_object_object_add(o, "id", json_object_new_string(ev->actor));
                if (from && strcmp(ev->type, "container") == 0)
                        json_object_object_add(o, "from", json_object_new_string(from));
        }
        json_object_object_add(o, "Type", json_object_new_string(ev->type));
        json_object_object_add(o, "Action", json_object_new_string(ev->action));
        json_object_object_add(actor, "ID", json_object_new_string(ev->actor));
        json_object_object_add(actor, "Attributes", attrs);
        json_object_object_add(o, "Actor", actor);
        json_object_object_add(o, "scope", json_object_new_string("local"));
        json_object_object_add(o, "time", json_object_new_int64(ev->time_ns / 1000000000));
        json_object_object_add(o, "timeNano", json_object_new_int64(ev->time_ns));
        return o;
}

/* "1h30m10s" -> ns; false on anything else */
static bool parse_duration(const char *s, int64_t *out)
{
        int64_t total = 0;

        if (!*s)
                return false;
        while (*s) {
                char *end;
                errno = 0;
                long long v = strtoll(s, &end, 10);
                if (end == s || errno || v < 0 || v > 1000000000LL)
                        return false;
                int64_t unit = *end == 'h' ? 3600 : *end == 'm' ? 60 : *end == 's' ? 1 : 0;
                if (!unit)
                        return false;
                total += v * unit;
                if (total > 4000000000LL) /* beyond unix time as a whole */
                        return false;
                s = end + 1;
        }
        *out = total * 1000000000;
        return true;
}

/* seconds[.fraction] (what the docker CLI sends) */
static bool parse_unix(const char *s, int64_t *out)
{
        char *end;
        int64_t frac = 0, scale = 100000000;

        errno = 0;
        long long sec = strtoll(s, &end, 10);
        if (end == s || errno || sec < 0 || sec > 4000000000LL)
                return false;
        if (*end == '.') {
                for (end++; isdigit((unsigned char)*end); end++) {
                        frac += (*end - '0') * scale;
                        scale /= 10;
                }
        }
        if (*end)
                return false;
        *out = (int64_t)sec * 1000000000 + frac;
        return true;
}

static bool parse_rfc3339(const char *s, int64_t *out)
{
        struct tm tm = {0};
        const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        int64_t frac = 0, scale = 100000000, off = 0;

        if (!p)
                return false;
        if (*p == '.')
                for (p++; isdigit((unsigned char)*p); p++) {
                        frac += (*p - '0') * scale;
                        scale /= 10;
                }
        if (*p == '+' || *p == '-') {
                /* exactly [+-]HH:MM */
                if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) || p[3] != ':' ||
                    !isdigit((unsigned char)p[4]) || !isdigit((unsigned char)p[5]))
                        return false;
                int hh = (p[1] - '0') * 10 + (p[2] - '0'), mm = (p[4] - '0') * 10 + (p[5] - '0');
                off = (hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
                p += 6;
        } else if (*p == 'Z') {
                p++;
        }
        if (*p)
                return false;
        /* nanoseconds in an int64_t: 1970 to 2262 (before 1970 is no event) */
        int64_t sec = (int64_t)timegm(&tm) - off;
        if (sec < 0 || sec > INT64_MAX / 1000000000 - 1)
                return false;
        *out = sec * 1000000000 + frac;
        return true;
}

int eng_event_time_parse(const char *s, int64_t now_ns, int64_t *out, struct isola_err *err)
{
        int64_t d;

        if (strlen(s) > 64)
                return err_set(err, EINVAL, "time '%.64s...': too long", s);
        if (parse_unix(s, out) || parse_rfc3339(s, out))
                return 0;
        if (parse_duration(s, &d)) {
                *out = now_ns - d;
                return 0;
        }
        return err_set(err, EINVAL,
                       "time '%s': expected a duration (10m), unix seconds or RFC 3339", s);
}
