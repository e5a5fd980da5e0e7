/* The instance back end: one small interface so a microVM back end can plug
 * in next to the container one. An instance serves HTTP on cfg->port on its
 * own loopback; fn_backend_connect hands the gateway a connected socket. */
#ifndef ISOLA_FN_BACKEND_H
#define ISOLA_FN_BACKEND_H

#include <stdint.h>
#include <sys/types.h>

#include "fn/fn.h"

struct fn_inst; /* back-end private */

struct fn_usage_sample {
        int64_t cpu_us;     /* CPU time of the instance so far */
        int64_t peak_bytes; /* peak memory so far */
};

struct fn_backend {
        const char *name;
        /* root file system, cgroup, network namespace: everything but the process */
        int (*create)(const struct db_paths *p, const struct fn_config *c,
                      const char *const *layers, const char *shim, unsigned serial,
                      struct fn_inst **out, struct isola_err *err);
        /* Everything up to the handler's exec (the container is made, its
         * init parked): what a pool of prepared shells keeps ready. */
        int (*prepare)(struct fn_inst *i, struct isola_err *err);
        /* Runs the handler (prepares first if that was not done). */
        int (*start)(struct fn_inst *i, struct isola_err *err);
        /* Waits (bounded by deadline_ms, CLOCK_MONOTONIC) until the port accepts. */
        int (*ready)(struct fn_inst *i, int64_t deadline_ms, struct isola_err *err);
        /* A new connection to the instance's port (blocking, CLOEXEC). */
        int (*connect)(struct fn_inst *i, struct isola_err *err);
        bool (*alive)(struct fn_inst *i);
        int (*usage)(struct fn_inst *i, struct fn_usage_sample *out);
        /* Removes what dead gateways left (instances of pids no longer alive). */
        void (*gc)(const struct db_paths *p);
        /* Kills the processes, removes cgroup, mounts, netns and dirs; frees. */
        void (*destroy)(struct fn_inst *i);
};

extern const struct fn_backend fn_backend_container;

int64_t fn_now_ms(void);
int64_t fn_now_us(void);

#endif
