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
#define GW_POOL_MAX  16  /* prepared shells per function */
#define GW_KEEP_MAX  64  /* idle keep-alive connections per instance */
#define GW_EVQ_MAX   256 /* events waiting for the on_event callback */
/* --concurrency > 1: an instance's cgroup counters are read at most this
 * often (µs); a call between two reads is billed no CPU, the next read
 * bills what the instance used since the last one */
#define GW_SAMPLE_US 1000

struct gw_evq {
        char fn[FN_NAME_MAX], action[32], detail[224];
};

struct gw_inst {
        struct fn_inst *bi;
        unsigned serial;
        int inflight;
        int64_t last_used_ms;
        int64_t cpu_mark, peak;  /* the cgroup's CPU time (µs) and peak memory when last read */
        atomic_llong sampled_us; /* when they were read (fn_now_us) */
        bool dead;
        int keep[GW_KEEP_MAX]; /* idle keep-alive connections (f->mu) */
        int n_keep;
        struct gw_inst *next;
};

struct gw_fn {
        struct fn_config cfg;
        char **layers;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        struct gw_inst *insts;
        int n_insts, starting, waiting;
        struct gw_inst *pool[GW_POOL_MAX]; /* prepared shells: made, init parked */
        int n_pool, preparing;
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
        pthread_mutex_t mu; /* functions list (taken before dbmu, never after) */
        struct gw_fn *fns;
        /* the db connection: a flush writes under dbmu alone, so requests
         * (which take mu and recmu) never wait for SQLite */
        pthread_mutex_t dbmu;
        pthread_mutex_t recmu; /* the records below */
        struct fn_invocation *recs;
        size_t n_recs, cap_recs;
        char shim[4096];
        char listen_addr[128];
        int listen_fd;
        FILE *events;
        int pool; /* shells kept prepared per function */
        void (*on_event)(void *arg, const char *fn, const char *action, const char *detail);
        void *event_arg;
        pthread_mutex_t evmu; /* the queue below (taken under f->mu: never the reverse) */
        struct gw_evq evq[GW_EVQ_MAX];
        int n_evq;
        atomic_bool stop;
        atomic_int conns;
        atomic_uint serial;
        pthread_t listener, scaler;
        bool have_listener, have_scaler;
};

/* fn_http.c */
int gw_listen(struct fn_gateway *g, struct isola_err *err);
void *gw_accept_loop(void *arg);
/* fn_events.c: events (the text stream and the on_event callback), metrics */
extern const double gw_bucket_le[GW_NBUCKETS];
void gw_event(struct fn_gateway *g, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Per function in recs: one "invoke" event with the counts (g->mu held). */
void gw_invocation_events(struct fn_gateway *g, const struct fn_invocation *recs, size_t n);
/* Hands queued events to on_event (the scaler thread, no locks held). */
void gw_events_flush(struct fn_gateway *g);
/* fn_gateway.c */
int64_t gw_wall_ms(void);

#endif
