/* Recording events (see events.h). Built into the db library: sqlite only,
 * so every component can call it. */
#include "engine/events.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ATTRS_MAX 32 /* key/value pairs per event */
#define JSON_MAX  8192

struct jbuf {
        char s[JSON_MAX];
        size_t n;
        bool full;
};

static void jb_putc(struct jbuf *b, char ch)
{
        if (b->n + 1 >= sizeof(b->s)) {
                b->full = true;
                return;
        }
        b->s[b->n++] = ch;
        b->s[b->n] = '\0';
}

static void jb_str(struct jbuf *b, const char *s)
{
        jb_putc(b, '"');
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '"' || *p == '\\') {
                        jb_putc(b, '\\');
                        jb_putc(b, (char)*p);
                } else if (*p < 0x20) {
                        char esc[8];
                        snprintf(esc, sizeof(esc), "\\u%04x", *p);
                        for (const char *e = esc; *e; e++)
                                jb_putc(b, *e);
                } else {
                        jb_putc(b, (char)*p);
                }
        }
        jb_putc(b, '"');
}

static int64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Deletes rows beyond the newest ENG_EVENTS_KEEP; cheap (rowid range). */
static void trim(sqlite3 *db, sqlite3_int64 last)
{
        sqlite3_stmt *st = NULL;

        if (last <= ENG_EVENTS_KEEP || last % 64 != 0)
                return;
        if (sqlite3_prepare_v2(db, "DELETE FROM events WHERE id <= ?", -1, &st, NULL) != SQLITE_OK)
                return;
        sqlite3_bind_int64(st, 1, last - ENG_EVENTS_KEEP);
        sqlite3_step(st);
        sqlite3_finalize(st);
}

void eng_event_emit(sqlite3 *db, const char *type, const char *action, const char *actor,
                    const char *const *attrs)
{
        struct jbuf b = {.n = 0};
        sqlite3_stmt *st = NULL;

        if (!db || !type || !action)
                return;
        jb_putc(&b, '{');
        for (size_t i = 0; attrs && i < 2 * ATTRS_MAX && attrs[i] && attrs[i + 1]; i += 2) {
                if (i)
                        jb_putc(&b, ',');
                jb_str(&b, attrs[i]);
                jb_putc(&b, ':');
                jb_str(&b, attrs[i + 1]);
        }
        jb_putc(&b, '}');
        if (b.full)
                snprintf(b.s, sizeof(b.s), "{}");
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO events (time_ns, type, action, actor, attrs)"
                               " VALUES (?, ?, ?, ?, ?)",
                               -1, &st, NULL) != SQLITE_OK)
                return;
        sqlite3_bind_int64(st, 1, now_ns());
        sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, actor ? actor : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, b.s, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_DONE)
                trim(db, sqlite3_last_insert_rowid(db));
        sqlite3_finalize(st);
}

static size_t collect(va_list ap, const char **v, size_t at)
{
        const char *k;

        while (at + 2 < 2 * ATTRS_MAX && (k = va_arg(ap, const char *)) != NULL) {
                const char *val = va_arg(ap, const char *);
                if (!val)
                        break;
                v[at++] = k;
                v[at++] = val;
        }
        v[at] = NULL;
        return at;
}

void eng_event_v(sqlite3 *db, const char *type, const char *action, const char *actor, ...)
{
        const char *v[2 * ATTRS_MAX + 1];
        va_list ap;

        va_start(ap, actor);
        collect(ap, v, 0);
        va_end(ap);
        eng_event_emit(db, type, action, actor, v);
}

/* The container's Docker labels (table api_ctr_labels) as attributes, as
 * Docker has them: clients filter events by label (docker-compose does).
 * Strings are copied into buf; returns the new count in v. */
static size_t add_labels(sqlite3 *db, const char *id, const char **v, size_t n, char *buf,
                         size_t len)
{
        sqlite3_stmt *st = NULL;
        size_t off = 0;

        if (sqlite3_prepare_v2(db,
                               "SELECT j.key, j.value FROM api_ctr_labels l, json_each(l.labels) j"
                               " WHERE l.container_id = ? AND j.type = 'text'",
                               -1, &st, NULL) != SQLITE_OK)
                return n;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        while (n + 2 < ATTRS_MAX && sqlite3_step(st) == SQLITE_ROW) {
                const char *k = (const char *)sqlite3_column_text(st, 0);
                const char *val = (const char *)sqlite3_column_text(st, 1);
                size_t kl = k ? strlen(k) + 1 : 0, vl = val ? strlen(val) + 1 : 0;
                if (!k || !val || off + kl + vl > len)
                        break;
                memcpy(buf + off, k, kl);
                memcpy(buf + off + kl, val, vl);
                v[n++] = buf + off;
                v[n++] = buf + off + kl;
                off += kl + vl;
        }
        sqlite3_finalize(st);
        return n;
}

void eng_event_container_v(sqlite3 *db, const char *id, const char *action, ...)
{
        const char *v[2 * ATTRS_MAX + 1];
        char name[256] = "", image[512] = "", labels[4096];
        sqlite3_stmt *st = NULL;
        size_t n = 0;
        va_list ap;

        if (!db || !id)
                return;
        if (sqlite3_prepare_v2(db, "SELECT name, image_name FROM containers WHERE id = ?", -1, &st,
                               NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW) {
                        const unsigned char *a = sqlite3_column_text(st, 0);
                        const unsigned char *i = sqlite3_column_text(st, 1);
                        snprintf(name, sizeof(name), "%s", a ? (const char *)a : "");
                        snprintf(image, sizeof(image), "%s", i ? (const char *)i : "");
                }
                sqlite3_finalize(st);
        }
        if (image[0]) {
                v[n++] = "image";
                v[n++] = image;
        }
        if (name[0]) {
                v[n++] = "name";
                v[n++] = name;
        }
        n = add_labels(db, id, v, n, labels, sizeof(labels));
        va_start(ap, action);
        collect(ap, v, n);
        va_end(ap);
        eng_event_emit(db, "container", action, id, v);
}
