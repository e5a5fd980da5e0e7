/* Serverless functions: deployed functions (rows), instances made on demand
 * by a back end (containers now, microVMs later), a gateway that proxies
 * /function/NAME requests to them, scales them from zero and meters every
 * invocation. Prefix fn_. See docs/functions.md. */
#ifndef ISOLA_FN_FN_H
#define ISOLA_FN_FN_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "db/db.h"
#include "util/err.h"

#define FN_NAME_MAX   64
#define FN_MAX_ENV    64
#define FN_MAX_ARGS   64
#define FN_BODY_MAX   (6u << 20)  /* request and response bodies, like Lambda's 6 MB */
#define FN_LIMIT_MAX  1000        /* --max, --min, --concurrency, queue */
#define FN_MEMORY_MAX (64u << 10) /* MiB */

enum fn_mode { FN_MODE_HTTP, FN_MODE_STDIO };

struct fn_config {
        char name[FN_NAME_MAX];
        char image[512];   /* as given */
        char image_id[80]; /* sha256:... */
        enum fn_mode mode;
        int port;        /* the instance's port (http: the handler's, stdio: the shim's) */
        int memory_mib;  /* memory limit and billed memory */
        double cpus;     /* CPU quota, 0 = unlimited */
        int timeout_s;   /* per invocation; also the bound on an instance's readiness */
        int concurrency; /* in-flight requests per instance */
        int min, max;    /* instances kept warm / at most */
        int idle_s;      /* idle instances above min go after this */
        int queue;       /* requests waiting per function beyond running ones */
        char **env;      /* KEY=VALUE, NULL-terminated (heap) */
        char **args;     /* command override, NULL-terminated or NULL (heap) */
        int64_t created;
};
void fn_config_defaults(struct fn_config *c);
void fn_config_free(struct fn_config *c);
/* Checks names and limits; errors name the option. */
int fn_config_validate(const struct fn_config *c, struct isola_err *err);

/* ---- rows (fn_store.c) ---------------------------------------------- */
/* Verifies the image exists, records the function (EEXIST if the name is taken). */
int fn_deploy(const struct db_paths *p, sqlite3 *db, struct fn_config *c, struct isola_err *err);
/* ENOENT "function 'x': not found" */
int fn_get(sqlite3 *db, const char *name, struct fn_config *out, struct isola_err *err);
int fn_list(sqlite3 *db, struct fn_config **out, size_t *n_out, struct isola_err *err);
void fn_list_free(struct fn_config *l, size_t n);
/* Deletes the row and its invocation records. */
int fn_delete(sqlite3 *db, const char *name, struct isola_err *err);
char *fn_config_json(const struct fn_config *c); /* heap, pretty */

/* ---- metering --------------------------------------------------------- */
struct fn_invocation {
        char function[FN_NAME_MAX];
        int64_t start_ms;   /* unix ms */
        int64_t wall_us;    /* request in → response out */
        int64_t billed_ms;  /* ceil(wall, 1 ms) */
        int memory_mib;     /* configured */
        int64_t cpu_us;     /* instance cgroup CPU time during the call */
        int64_t peak_bytes; /* instance cgroup peak memory */
        int status;         /* HTTP status returned */
        bool cold;
};
int fn_record(sqlite3 *db, const struct fn_invocation *inv, struct isola_err *err);
/* n records in one statement (the caller holds a transaction). */
int fn_record_batch(sqlite3 *db, const struct fn_invocation *inv, size_t n, struct isola_err *err);

struct fn_prices {
        double per_request;        /* USD per invocation */
        double per_gb_second;      /* USD per configured GB-second (Lambda model) */
        double per_cpu_second;     /* USD per CPU-second used (usage model) */
        double per_used_gb_second; /* USD per GB-second of peak memory used */
};
/* /etc/isola/prices.json (or ISOLA_PRICES) over the embedded defaults. */
int fn_prices_load(struct fn_prices *out, struct isola_err *err);

struct fn_usage {
        char function[FN_NAME_MAX];
        int64_t invocations, errors, cold_starts;
        double billed_gb_s; /* configured memory (GB) × billed seconds */
        double cpu_s;       /* CPU seconds used */
        double used_gb_s;   /* peak memory (GB) × billed seconds */
        int64_t billed_ms, wall_us;
};
/* One entry per function (name NULL = all) with records at/after since_ms. */
int fn_usage_query(sqlite3 *db, const char *name, int64_t since_ms, struct fn_usage **out,
                   size_t *n_out, struct isola_err *err);

/* ---- the gateway (fn_gateway.c) ------------------------------------- */
struct fn_gateway;
struct fn_gateway_opts {
        struct db_paths paths;
        const char *listen; /* "ADDR:PORT"; NULL = no listener (fn_gateway_invoke only) */
        FILE *events;       /* scaling events, one line each; NULL = none */
        int pool;           /* prepared shells kept per function (0..16); 0 = none */
        bool no_subreaper;  /* inside a server that forks its own workers (isola serve) */
        /* scaling decisions, instance starts/stops and per-batch invocation
         * counts, from the autoscaler thread (never concurrently); NULL = none */
        void (*on_event)(void *arg, const char *fn, const char *action, const char *detail);
        void *event_arg;
};
int fn_gateway_create(const struct fn_gateway_opts *o, struct fn_gateway **out,
                      struct isola_err *err);
/* Runs the listener and the autoscaler threads. */
int fn_gateway_start(struct fn_gateway *g, struct isola_err *err);
/* Stops threads, every instance, frees. */
void fn_gateway_destroy(struct fn_gateway *g);

/* One request in-process (fn invoke without a gateway; the API adapter). */
struct fn_request {
        const char *method, *path;  /* path: what follows /function/NAME ("" or "/x?y") */
        const char *const *headers; /* "Name: value", NULL-terminated or NULL */
        const char *body;
        size_t body_len;
};
struct fn_response {
        int status;
        char *headers; /* "Name: value\r\n"... heap, may be NULL */
        char *body;    /* heap */
        size_t body_len;
};
int fn_gateway_invoke(struct fn_gateway *g, const char *name, const struct fn_request *rq,
                      struct fn_response *rs, struct isola_err *err);
void fn_response_free(struct fn_response *rs);
/* The adapter for another HTTP server (isola serve's /function/ routes):
 * target is the request target "/function/NAME[/path][?query]"; 404 in
 * rs->status when it is not one. Error statuses carry err's message. */
int fn_gateway_route(struct fn_gateway *g, const char *method, const char *target,
                     const struct fn_request *rq, struct fn_response *rs, struct isola_err *err);

/* Live state of one function in this gateway; -1 (ENOENT) when the gateway
 * has not loaded it (no request yet): then everything is zero. */
struct fn_live {
        int instances, pooled, inflight, waiting;
        uint64_t invocations, cold_starts;
};
int fn_gateway_live(struct fn_gateway *g, const char *name, struct fn_live *out,
                    struct isola_err *err);

/* Prometheus text for every function this gateway serves. */
void fn_metrics_write(struct fn_gateway *g, FILE *f);

#endif
