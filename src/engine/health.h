/* Healthchecks run by the engine (Docker's semantics, podman's verbs).
 *
 * The check of a running container is scheduled by its isola-monitor
 * (health_mon.c, libc only): every interval (start_interval inside the
 * start period) it runs `isola _health ID`, which execs the test in the
 * container through the runtime library (health_run.c), bounded by the
 * timeout, and records the result in SQLite (health_db.c):
 *
 *   container_health     status, failing streak, the start it belongs to
 *   container_health_log the last ENG_HEALTH_LOG results (exit code,
 *                        output bounded to ENG_HEALTH_OUTPUT_MAX, times)
 *
 * Rules as Docker: one success makes a container healthy and resets the
 * streak; `retries` consecutive failures make it unhealthy; failures
 * before the first success inside start_period do not count; a check
 * running past the timeout is killed and counts as a failure (exit -1).
 * A new start of the container (restart) is `starting` again; the log
 * stays. Defaults: interval 30 s, timeout 30 s, retries 3, start period 0,
 * start interval 5 s. */
#ifndef ISOLA_ENGINE_HEALTH_H
#define ISOLA_ENGINE_HEALTH_H

#include <json-c/json.h>

#include "engine/engine.h"

#define ENG_HEALTH_LOG        5
#define ENG_HEALTH_OUTPUT_MAX 4096

#define ENG_HEALTH_DEF_INTERVAL       (30LL * 1000000000)
#define ENG_HEALTH_DEF_TIMEOUT        (30LL * 1000000000)
#define ENG_HEALTH_DEF_START_INTERVAL (5LL * 1000000000)
#define ENG_HEALTH_DEF_RETRIES        3

enum eng_health_status {
        ENG_HEALTH_NONE, /* no healthcheck, or not running */
        ENG_HEALTH_STARTING,
        ENG_HEALTH_HEALTHY,
        ENG_HEALTH_UNHEALTHY,
};

struct eng_health_result {
        int64_t start, end; /* unix ns */
        int exit_code;      /* 0 healthy, else unhealthy; -1 timeout or exec failure */
        char *output;
};

struct eng_health {
        enum eng_health_status status;
        int failing_streak;
        struct eng_health_result log[ENG_HEALTH_LOG]; /* oldest first */
        size_t n_log;
};

/* "starting", "healthy", "unhealthy" ("" for NONE). */
const char *eng_health_status_name(enum eng_health_status s);

/* ---- configuration (health_config.c) ---- */
/* true when the check exists and is not ["NONE"]. */
bool eng_healthcheck_enabled(const struct eng_healthcheck *h);
/* Docker's per-field merge: what create was given wins, the image fills
 * the rest. */
void eng_healthcheck_settle(struct eng_healthcheck *cfg, const struct eng_healthcheck *img);
/* Fills h from an image config JSON's config.Healthcheck (absent: zeroed).
 * Hostile input: bounded, wrong types ignored. */
void eng_healthcheck_from_image(const char *config_json, struct eng_healthcheck *h);
/* Our stored form ({"test":[...],"interval":ns,...}); NULL when unset. */
json_object *eng_healthcheck_to_json(const struct eng_healthcheck *h);
void eng_healthcheck_from_json(json_object *o, struct eng_healthcheck *h);
/* Docker's Config.Healthcheck shape ({"Test":[...],"Interval":ns,...}). */
json_object *eng_healthcheck_docker_json(const struct eng_healthcheck *h);
void eng_healthcheck_free(struct eng_healthcheck *h);
/* Go duration ("1m30s", "500ms", "10") to ns; -1 on a bad value. */
int64_t eng_duration_parse(const char *s);

/* ---- state (health_db.c) ---- */
/* The container's health as recorded (status NONE when it has no enabled
 * check or is not running). */
int eng_health_get(struct eng_ctx *c, const struct eng_container *ct, struct eng_health *out,
                   struct isola_err *err);
void eng_health_free(struct eng_health *h);
/* Docker's State.Health object, or NULL when status is NONE. */
json_object *eng_health_json(const struct eng_health *h);
/* Records one result; *out (may be NULL) gets the new status. */
int eng_health_record(struct eng_ctx *c, const struct eng_container *ct,
                      const struct eng_healthcheck *hc, const struct eng_health_result *r,
                      enum eng_health_status *out, struct isola_err *err);
/* Adds "Health" to an inspect State object when the container has a check. */
void eng_health_state_add(struct eng_ctx *c, const struct eng_container *ct, json_object *state);

/* ---- running a check (health_run.c) ---- */
/* Runs the container's check once now and records it; *result (may be
 * NULL) gets the result (free its output). Fails when the container is
 * not running or has no healthcheck. */
int eng_health_run(struct eng_ctx *c, const char *ref, struct eng_health_result *result,
                   enum eng_health_status *status_out, struct isola_err *err);
/* The monitor's argument for a container's check: "health=IV,SIV,SP,TO"
 * (ms), or "" when it has none. */
void eng_health_monitor_arg(const struct eng_config *cfg, char *buf, size_t len);

#endif
