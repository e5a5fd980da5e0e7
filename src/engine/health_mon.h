/* The monitor's side of healthchecks (libc only, linked into the static
 * isola-monitor): when to run `isola _health ID`, at most one at a time,
 * killed when it overruns, and none left when the container stops. */
#ifndef ISOLA_ENGINE_HEALTH_MON_H
#define ISOLA_ENGINE_HEALTH_MON_H

#include <sys/types.h>

struct hmon {
        const char *exe, *id;
        long long interval, start_interval, start_period, timeout; /* ms; interval 0 = off */
        long long started, next, deadline;                         /* CLOCK_MONOTONIC ms */
        pid_t pid;                                                 /* the running check or 0 */
        int starting; /* no success yet in this start */
};

/* arg: "IV,SIV,SP,TO" in ms (health_run.c writes it), or NULL/"" = none. */
void hmon_init(struct hmon *h, const char *arg, const char *exe, const char *id);
/* The container (re)started now. */
void hmon_start(struct hmon *h);
/* poll timeout until the next thing to do, -1 = none. */
int hmon_timeout(const struct hmon *h);
/* Runs a due check, kills an overrunning one. */
void hmon_tick(struct hmon *h);
/* A child was reaped: 1 when it was the check (then the next is scheduled). */
int hmon_reaped(struct hmon *h, pid_t pid, int status);
/* The container stopped: kill and reap a running check; no more checks
 * until hmon_start. */
void hmon_stop(struct hmon *h);

#endif
