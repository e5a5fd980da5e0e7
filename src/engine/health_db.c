/* Health state in SQLite (tables container_health and
 * container_health_log, src/db/schema.c): reading it for ps, inspect and
 * compose, and recording one result with Docker's rules (health.h). */
#include "engine/engine_internal.h"
#include "engine/events.h"
#include "engine/health.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum eng_health_status status_of(const char *s)
{
        if (s && !strcmp(s, "healthy"))
                return ENG_HEALTH_HEALTHY;
        if (s && !strcmp(s, "unhealthy"))
                return ENG_HEALTH_UNHEALTHY;
        return ENG_HEALTH_STARTING;
}

static bool is_up(const struct eng_container *ct)
{
        return !strcmp(ct->state, "running") || !strcmp(ct->state, "paused");
}

/* The row of this container: 1 found (status for this start), 0 none. */
static int read_row(struct eng_ctx *c, const struct eng_container *ct,
                    enum eng_health_status *status, int *streak, struct isola_err *err)
{
        sqlite3_stmt *st;
        int rc;

        if (sqlite3_prepare_v2(c->db,
                               "SELECT started, status, failing_streak FROM container_health "
                               "WHERE container_id = ?1",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "health", err);
        sqlite3_bind_text(st, 1, ct->id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                bool stale = sqlite3_column_int64(st, 0) != ct->started;
                *status = stale ? ENG_HEALTH_STARTING
                                : status_of((const char *)sqlite3_column_text(st, 1));
                *streak = stale ? 0 : sqlite3_column_int(st, 2);
                rc = 1;
        } else if (rc == SQLITE_DONE) {
                *status = ENG_HEALTH_STARTING;
                *streak = 0;
                rc = 0;
        } else {
                rc = db_fail(c->db, "health", err);
        }
        sqlite3_finalize(st);
        return rc;
}

static int read_log(struct eng_ctx *c, const char *id, struct eng_health *out,
                    struct isola_err *err)
{
        sqlite3_stmt *st;
        int rc;

        if (sqlite3_prepare_v2(c->db,
                               "SELECT start, end, exit_code, output FROM (SELECT * FROM "
                               "container_health_log WHERE container_id = ?1 ORDER BY id DESC "
                               "LIMIT ?2) ORDER BY id",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "health log", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, ENG_HEALTH_LOG);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->n_log < ENG_HEALTH_LOG) {
                struct eng_health_result *r = &out->log[out->n_log];
                const char *o = (const char *)sqlite3_column_text(st, 3);
                r->start = sqlite3_column_int64(st, 0);
                r->end = sqlite3_column_int64(st, 1);
                r->exit_code = sqlite3_column_int(st, 2);
                r->output = strdup(o ? o : "");
                if (!r->output)
                        break;
                out->n_log++;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return db_fail(c->db, "health log", err);
        return 0;
}

int eng_health_get(struct eng_ctx *c, const struct eng_container *ct, struct eng_health *out,
                   struct isola_err *err)
{
        struct eng_config cfg;
        bool enabled;
        int found;

        memset(out, 0, sizeof(*out));
        if (eng_container_config(ct, &cfg, err) < 0)
                return -1;
        enabled = eng_healthcheck_enabled(&cfg.health);
        eng_config_free(&cfg);
        if (!enabled)
                return 0;
        found = read_row(c, ct, &out->status, &out->failing_streak, err);
        if (found < 0)
                return -1;
        if (!found && !is_up(ct)) {
                out->status = ENG_HEALTH_NONE;
                return 0;
        }
        if (read_log(c, ct->id, out, err) < 0) {
                eng_health_free(out);
                return -1;
        }
        return 0;
}

void eng_health_free(struct eng_health *h)
{
        for (size_t i = 0; i < h->n_log; i++)
                free(h->log[i].output);
        memset(h, 0, sizeof(*h));
}

/* Docker's time form with the zone: 2024-01-01T10:00:00.123456789Z */
static void rfc3339(int64_t ns, char *buf, size_t len)
{
        time_t s = (time_t)(ns / 1000000000);
        struct tm tm;

        gmtime_r(&s, &tm);
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09" PRId64 "Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ns % 1000000000);
}

json_object *eng_health_json(const struct eng_health *h)
{
        json_object *o, *log;
        char t[64];

        if (h->status == ENG_HEALTH_NONE)
                return NULL;
        o = json_object_new_object();
        log = json_object_new_array();
        json_object_object_add(o, "Status",
                               json_object_new_string(eng_health_status_name(h->status)));
        json_object_object_add(o, "FailingStreak", json_object_new_int(h->failing_streak));
        for (size_t i = 0; i < h->n_log; i++) {
                json_object *e = json_object_new_object();
                rfc3339(h->log[i].start, t, sizeof(t));
                json_object_object_add(e, "Start", json_object_new_string(t));
                rfc3339(h->log[i].end, t, sizeof(t));
                json_object_object_add(e, "End", json_object_new_string(t));
                json_object_object_add(e, "ExitCode", json_object_new_int(h->log[i].exit_code));
                json_object_object_add(e, "Output", json_object_new_string(h->log[i].output));
                json_object_array_add(log, e);
        }
        json_object_object_add(o, "Log", log);
        return o;
}

void eng_health_state_add(struct eng_ctx *c, const struct eng_container *ct, json_object *state)
{
        struct eng_health h;
        struct isola_err ignore = {0};
        json_object *j;

        if (eng_health_get(c, ct, &h, &ignore) < 0)
                return;
        j = eng_health_json(&h);
        if (j)
                json_object_object_add(state, "Health", j);
        eng_health_free(&h);
}

/* Docker's rules on the status before this result. */
static void apply(const struct eng_container *ct, const struct eng_healthcheck *hc,
                  const struct eng_health_result *r, enum eng_health_status *status, int *streak)
{
        int retries = hc->retries > 0 ? hc->retries : ENG_HEALTH_DEF_RETRIES;

        if (r->exit_code == 0) {
                *status = ENG_HEALTH_HEALTHY;
                *streak = 0;
                return;
        }
        /* before the first success, failures in the start period are free */
        if (*status == ENG_HEALTH_STARTING && r->start - ct->started < hc->start_period)
                return;
        if (++*streak >= retries)
                *status = ENG_HEALTH_UNHEALTHY;
}

static int write_rows(struct eng_ctx *c, const struct eng_container *ct,
                      const struct eng_health_result *r, enum eng_health_status status, int streak,
                      struct isola_err *err)
{
        static const char *const sql[] = {
            "INSERT INTO container_health (container_id, started, status, failing_streak) "
            "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(container_id) DO UPDATE SET started = ?2, "
            "status = ?3, failing_streak = ?4",
            "INSERT INTO container_health_log (container_id, start, end, exit_code, output) "
            "VALUES (?1, ?5, ?6, ?7, ?8)",
            "DELETE FROM container_health_log WHERE container_id = ?1 AND id NOT IN (SELECT id "
            "FROM container_health_log WHERE container_id = ?1 ORDER BY id DESC LIMIT ?9)",
        };
        size_t olen = r->output ? strnlen(r->output, ENG_HEALTH_OUTPUT_MAX) : 0;

        for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
                sqlite3_stmt *st;
                int rc;
                if (sqlite3_prepare_v2(c->db, sql[i], -1, &st, NULL) != SQLITE_OK)
                        return db_fail(c->db, "record health", err);
                sqlite3_bind_text(st, 1, ct->id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, ct->started);
                sqlite3_bind_text(st, 3, eng_health_status_name(status), -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 4, streak);
                sqlite3_bind_int64(st, 5, r->start);
                sqlite3_bind_int64(st, 6, r->end);
                sqlite3_bind_int(st, 7, r->exit_code);
                sqlite3_bind_text(st, 8, r->output ? r->output : "", (int)olen, SQLITE_STATIC);
                sqlite3_bind_int(st, 9, ENG_HEALTH_LOG);
                rc = sqlite3_step(st);
                sqlite3_finalize(st);
                if (rc != SQLITE_DONE)
                        return db_fail(c->db, "record health", err);
        }
        return 0;
}

int eng_health_record(struct eng_ctx *c, const struct eng_container *ct,
                      const struct eng_healthcheck *hc, const struct eng_health_result *r,
                      enum eng_health_status *out, struct isola_err *err)
{
        enum eng_health_status status = ENG_HEALTH_STARTING, before;
        int streak = 0;

        if (db_begin(c->db, err) < 0)
                return -1;
        if (read_row(c, ct, &status, &streak, err) < 0)
                goto fail;
        before = status;
        apply(ct, hc, r, &status, &streak);
        if (write_rows(c, ct, r, status, streak, err) < 0 || db_commit(c->db, err) < 0)
                goto fail;
        /* Docker's event on a change: "health_status: healthy" */
        if (status != before) {
                char action[64];
                snprintf(action, sizeof(action), "health_status: %s",
                         eng_health_status_name(status));
                eng_event_container(c->db, ct->id, action, (const char *)NULL);
        }
        if (out)
                *out = status;
        return 0;
fail:
        db_rollback(c->db);
        return -1;
}
