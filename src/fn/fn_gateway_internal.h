/* Gateway internals shared by fn_gateway.c (pools, autoscaler, metering) and
 * fn_http.c (the listener and the HTTP/1.1 parser). */
#ifndef ISOLA_FN_GATEWAY_INTERNAL_H
#define ISOLA_FN_GATEWAY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "fn/fn.h"
#include "fn/fn_backend.h"

#define GW_HDR_MAX   16384
#define GW_MAX_HDRS  100
#define GW_MAX_CONNS 1024
#define GW_NBUCKETS  12

struct gw_inst {
        struct fn_inst *bi;
        unsigned serial;
        int inflight;
        int64_t last_used_ms;
        bool dead;
        struct gw_inst *next;
};

struct gw_fn {
        struct fn_config cfg;
        char **layers;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        struct gw_inst *insts;
        int n_insts, starting, waiting;
        bool gone;
        /* metrics */
        uint64_t n_ok, n_4xx, n_5xx, n_429, n_cold, n_started, n_stopped;
        uint64_t buckets[GW_NBUCKETS];
        double dur_sum;
        struct gw_fn *next;
};

struct fn_gateway {
        struct db_paths paths;
        sqlite3 *db;
        pthread_mutex_t mu; /* functions list, records, db */
        struct gw_fn *fns;
        struct fn_invocation *recs;
        size_t n_recs, cap_recs;
        char shim[4096];
        char listen_addr[128];
        int listen_fd;
        FILE *events;
        atomic_bool stop;
        atomic_int conns;
        atomic_uint serial;
        pthread_t listener, scaler;
        bool have_listener, have_scaler;
};

/* fn_http.c */
int gw_listen(struct fn_gateway *g, struct isola_err *err);
void *gw_accept_loop(void *arg);
/* fn_gateway.c */
void gw_event(struct fn_gateway *g, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
