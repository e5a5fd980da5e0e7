/* The event log: one row per thing that happened to a container, image,
 * network or volume, read by `isola events` and Docker's GET /events.
 *
 * Recording (events.c) needs only the sqlite3 handle and lives in the db
 * library, so the image store and the network component (built before the
 * engine) can record their own events with one line:
 *
 *     eng_event(db, "image", "tag", "docker.io/library/busybox:x");
 *     eng_event_container(db, id, "die", "exitCode", "3");
 *
 * Recording never fails the operation: an event that cannot be written is
 * dropped. The table keeps the newest ENG_EVENTS_KEEP rows.
 *
 * Reading (events_query.c, engine library) filters rows the way Docker's
 * filters do and shapes them as Docker's JSON messages. */
#ifndef ISOLA_ENGINE_EVENTS_H
#define ISOLA_ENGINE_EVENTS_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

#define ENG_EVENTS_KEEP 10000

/* attrs: key, value, key, value, ..., NULL (values are strings; a NULL
 * value ends the list too). type: container|image|network|volume. */
void eng_event_emit(sqlite3 *db, const char *type, const char *action, const char *actor,
                    const char *const *attrs);
/* The one-line forms: eng_event(db, type, action, actor, [key, value]...)
 * and eng_event_container(db, id, action, [key, value]...); the macros add
 * the terminator (a trailing NULL from the caller is harmless). The
 * container form adds the container's name and image from its row (call
 * it before the row goes). */
void eng_event_v(sqlite3 *db, const char *type, const char *action, const char *actor, ...)
    __attribute__((sentinel));
void eng_event_container_v(sqlite3 *db, const char *id, const char *action, ...)
    __attribute__((sentinel));
#define eng_event(db, type, action, ...)                                                           \
        eng_event_v(db, type, action, __VA_ARGS__, (const char *)NULL)
#define eng_event_container(db, id, ...)                                                           \
        eng_event_container_v(db, id, __VA_ARGS__, (const char *)NULL)

struct eng_event_row {
        int64_t id, time_ns;
        const char *type, *action, *actor;
        json_object *attrs; /* object of strings; borrowed */
};

/* Docker's filters: {"key": ["v", ...]} or {"key": {"v": true}}; keys
 * type, event, container, image, label, network, volume. Values of one key
 * are alternatives; keys must all match. */
struct eng_event_filter {
        int64_t since_ns, until_ns; /* 0 = unbounded */
        json_object *by_key;        /* key -> array of strings; owned, may be NULL */
};
int eng_event_filter_parse(const char *docker_json, struct eng_event_filter *f,
                           struct isola_err *err);
/* Adds key=value (the CLI's --filter). */
int eng_event_filter_add(struct eng_event_filter *f, const char *key_eq_value,
                         struct isola_err *err);
void eng_event_filter_free(struct eng_event_filter *f);
bool eng_event_match(const struct eng_event_filter *f, const struct eng_event_row *ev);

/* Calls cb for each row with id > after_id within the filter's time range,
 * oldest first, at most max rows (0 = no limit); *last_id gets the last
 * row id consumed (matched or not). cb returns < 0 to stop (not an error:
 * that row is not consumed). -1 only on a database error. */
typedef int (*eng_event_cb)(const struct eng_event_row *ev, void *arg);
int eng_events_read(sqlite3 *db, int64_t after_id, const struct eng_event_filter *f, int max,
                    eng_event_cb cb, void *arg, int64_t *last_id, struct isola_err *err);
/* The id of the newest row (0 when empty). */
int64_t eng_events_last_id(sqlite3 *db);

/* Docker's message: status/id/from (containers and images), Type, Action,
 * Actor{ID, Attributes}, scope, time, timeNano. */
json_object *eng_event_docker_json(const struct eng_event_row *ev);

/* "10m", "1h30m", "90s": durations before now; unix seconds with an
 * optional fraction; RFC 3339. Returns unix ns. */
int eng_event_time_parse(const char *s, int64_t now_ns, int64_t *out, struct isola_err *err);

#endif
