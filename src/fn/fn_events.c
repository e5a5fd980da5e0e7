/* The gateway's observable side: events (a text line each on the events
 * stream, and batched to the on_event callback, which `isola serve` turns
 * into `isola events` rows), Prometheus metrics and live counts. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fn/fn_gateway_internal.h"

const double gw_bucket_le[GW_NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,   0.25,   0.5,   1,    5,     30};

static void evq_push(struct fn_gateway *g, const char *fn, const char *action, const char *detail)
{
        pthread_mutex_lock(&g->evmu);
        if (g->n_evq < GW_EVQ_MAX) { /* a flood of events drops the excess */
                struct gw_evq *e = &g->evq[g->n_evq++];
                snprintf(e->fn, sizeof(e->fn), "%s", fn);
                snprintf(e->action, sizeof(e->action), "%s", action);
                snprintf(e->detail, sizeof(e->detail), "%s", detail);
        }
        pthread_mutex_unlock(&g->evmu);
}

/* fmt yields "event=ACTION key=value..." */
void gw_event(struct fn_gateway *g, const char *fn, const char *fmt, ...)
{
        char msg[512], action[32];
        va_list ap;

        if (!g->events && !g->on_event)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (g->events) {
                fprintf(g->events, "%lld fn=%s %s\n", (long long)gw_wall_ms(), fn, msg);
                fflush(g->events);
        }
        if (!g->on_event || strncmp(msg, "event=", 6) != 0)
                return;
        size_t n = strcspn(msg + 6, " ");
        snprintf(action, sizeof(action), "%.*s", (int)(n < sizeof(action) ? n : sizeof(action) - 1),
                 msg + 6);
        evq_push(g, fn, action, msg[6 + n] ? msg + 7 + n : "");
}

void gw_invocation_events(struct fn_gateway *g, const struct fn_invocation *recs, size_t n)
{
        bool *done;

        if (!g->on_event || !(done = calloc(n, sizeof(*done))))
                return;
        for (size_t i = 0; i < n; i++) {
                if (done[i])
                        continue;
                long long count = 0, errors = 0, cold = 0, billed = 0;
                for (size_t k = i; k < n; k++) {
                        if (done[k] || strcmp(recs[k].function, recs[i].function) != 0)
                                continue;
                        done[k] = true;
                        count++;
                        errors += recs[k].status >= 400;
                        cold += recs[k].cold;
                        billed += recs[k].billed_ms;
                }
                char detail[160];
                snprintf(detail, sizeof(detail), "count=%lld errors=%lld cold=%lld billed_ms=%lld",
                         count, errors, cold, billed);
                evq_push(g, recs[i].function, "invoke", detail);
        }
        free(done);
}

void gw_events_flush(struct fn_gateway *g)
{
        struct gw_evq *copy;
        int n;

        if (!g->on_event)
                return;
        pthread_mutex_lock(&g->evmu);
        n = g->n_evq;
        copy = n ? malloc((size_t)n * sizeof(*copy)) : NULL;
        if (copy) {
                memcpy(copy, g->evq, (size_t)n * sizeof(*copy));
                g->n_evq = 0;
        }
        pthread_mutex_unlock(&g->evmu);
        for (int i = 0; copy && i < n; i++)
                g->on_event(g->event_arg, copy[i].fn, copy[i].action, copy[i].detail);
        free(copy);
}

int fn_gateway_live(struct fn_gateway *g, const char *name, struct fn_live *out,
                    struct isola_err *err)
{
        struct gw_fn *f;

        memset(out, 0, sizeof(*out));
        pthread_mutex_lock(&g->mu);
        for (f = g->fns; f; f = f->next)
                if (!f->gone && !strcmp(f->cfg.name, name))
                        break;
        pthread_mutex_unlock(&g->mu);
        if (!f)
                return err_set(err, ENOENT, "function '%s': not loaded by the gateway", name);
        pthread_mutex_lock(&f->mu);
        out->instances = f->n_insts;
        out->pooled = f->n_pool;
        out->waiting = f->waiting;
        for (struct gw_inst *in = f->insts; in; in = in->next)
                out->inflight += in->inflight;
        out->invocations = f->n_ok + f->n_4xx + f->n_429 + f->n_5xx;
        out->cold_starts = f->n_cold;
        pthread_mutex_unlock(&f->mu);
        return 0;
}

void fn_metrics_write(struct fn_gateway *g, FILE *out)
{
        fprintf(out, "# TYPE isola_fn_invocations_total counter\n"
                     "# TYPE isola_fn_cold_starts_total counter\n"
                     "# TYPE isola_fn_instances gauge\n"
                     "# TYPE isola_fn_pool_shells gauge\n"
                     "# TYPE isola_fn_instance_stops_total counter\n"
                     "# TYPE isola_fn_duration_seconds histogram\n");
        pthread_mutex_lock(&g->mu);
        for (struct gw_fn *f = g->fns; f; f = f->next) {
                const char *n = f->cfg.name;
                pthread_mutex_lock(&f->mu);
                fprintf(out,
                        "isola_fn_invocations_total{function=\"%s\",code=\"2xx\"} %llu\n"
                        "isola_fn_invocations_total{function=\"%s\",code=\"4xx\"} %llu\n"
                        "isola_fn_invocations_total{function=\"%s\",code=\"429\"} %llu\n"
                        "isola_fn_invocations_total{function=\"%s\",code=\"5xx\"} %llu\n"
                        "isola_fn_cold_starts_total{function=\"%s\"} %llu\n"
                        "isola_fn_instances{function=\"%s\"} %d\n"
                        "isola_fn_pool_shells{function=\"%s\"} %d\n"
                        "isola_fn_instance_stops_total{function=\"%s\"} %llu\n",
                        n, (unsigned long long)f->n_ok, n, (unsigned long long)f->n_4xx, n,
                        (unsigned long long)f->n_429, n, (unsigned long long)f->n_5xx, n,
                        (unsigned long long)f->n_cold, n, f->n_insts, n, f->n_pool, n,
                        (unsigned long long)f->n_stopped);
                uint64_t total = f->n_ok + f->n_4xx + f->n_429 + f->n_5xx;
                for (int b = 0; b < GW_NBUCKETS; b++)
                        fprintf(
                            out,
                            "isola_fn_duration_seconds_bucket{function=\"%s\",le=\"%g\"} %llu\n", n,
                            gw_bucket_le[b], (unsigned long long)f->buckets[b]);
                fprintf(out,
                        "isola_fn_duration_seconds_bucket{function=\"%s\",le=\"+Inf\"} %llu\n"
                        "isola_fn_duration_seconds_sum{function=\"%s\"} %.6f\n"
                        "isola_fn_duration_seconds_count{function=\"%s\"} %llu\n",
                        n, (unsigned long long)total, n, f->dur_sum, n, (unsigned long long)total);
                pthread_mutex_unlock(&f->mu);
        }
        pthread_mutex_unlock(&g->mu);
}
