/* The gateway core: per-function instance pools, the queue, the autoscaler
 * and metering. A request takes a slot on an instance with fewer than
 * --concurrency requests in flight; without one it starts an instance
 * (scale-up, up to --max) or waits in the function's bounded queue; past it,
 * 429. The autoscaler thread removes instances idle for --idle seconds down
 * to --min, keeps --min warm, replaces dead ones and flushes the invocation
 * records to SQLite in batches. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fn/fn_gateway_internal.h"
#include "image/image.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const struct fn_backend *const backend = &fn_backend_container;
int64_t gw_wall_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

/* Loads a function's row and its image's layer dirs (once per gateway). */
static struct gw_fn *fn_load(struct fn_gateway *g, const char *name, struct isola_err *err)
{
        struct gw_fn *f = calloc(1, sizeof(*f));
        struct img_store st;
        struct img_image *img = NULL;
        char path[PATH_MAX + 64];

        if (!f) {
                err_set(err, ENOMEM, "out of memory");
                return NULL;
        }
        pthread_mutex_lock(&g->dbmu);
        int rc = fn_get(g->db, name, &f->cfg, err);
        if (rc >= 0) {
                img_store_init(&st, &g->paths, g->db);
                rc = img_lookup(&st, f->cfg.image_id, &img, err);
                if (rc < 0)
                        err_prefix(err, "function '%s'", name);
        }
        pthread_mutex_unlock(&g->dbmu);
        if (rc < 0)
                goto fail;
        f->layers = calloc(img->n_layers + 1, sizeof(char *));
        for (size_t i = 0; f->layers && i < img->n_layers; i++)
                f->layers[i] = strdup(img->layer_dirs[i]);
        if (!f->cfg.args) { /* the image's entrypoint + cmd */
                size_t n = 0, k = 0;
                for (char **v = img->config.entrypoint; v && *v; v++)
                        n++;
                for (char **v = img->config.cmd; v && *v; v++)
                        n++;
                f->cfg.args = calloc(n + 1, sizeof(char *));
                for (char **v = img->config.entrypoint; f->cfg.args && v && *v; v++)
                        f->cfg.args[k++] = strdup(*v);
                for (char **v = img->config.cmd; f->cfg.args && v && *v; v++)
                        f->cfg.args[k++] = strdup(*v);
        }
        img_image_free(img);
        snprintf(path, sizeof(path), "%s/fn/%s", g->paths.runroot, name);
        if (fs_mkdir_p(path, 0700, err) < 0)
                goto fail;
        snprintf(path, sizeof(path), "%s/fn/%s/log", g->paths.runroot, name);
        if (fs_write_file(path, "", 0, O_CREAT | O_APPEND, 0600, err) < 0)
                goto fail;
        pthread_mutex_init(&f->mu, NULL);
        pthread_cond_init(&f->cv, NULL);
        return f;
fail:
        fn_config_free(&f->cfg);
        strv_free(f->layers);
        free(f);
        return NULL;
}

static struct gw_fn *fn_find(struct fn_gateway *g, const char *name, struct isola_err *err)
{
        struct gw_fn *f;

        pthread_mutex_lock(&g->mu);
        for (f = g->fns; f; f = f->next)
                if (!f->gone && !strcmp(f->cfg.name, name))
                        break;
        if (!f) {
                f = fn_load(g, name, err);
                if (f) {
                        f->next = g->fns;
                        g->fns = f;
                }
        }
        pthread_mutex_unlock(&g->mu);
        return f;
}

/* A prepared shell: everything but the handler's process (no locks held). */
static struct gw_inst *shell_make(struct fn_gateway *g, struct gw_fn *f, struct isola_err *err)
{
        struct gw_inst *in = calloc(1, sizeof(*in));
        int64_t t0 = fn_now_us();

        if (!in) {
                err_set(err, ENOMEM, "out of memory");
                return NULL;
        }
        in->serial = atomic_fetch_add(&g->serial, 1);
        if (backend->create(&g->paths, &f->cfg, (const char *const *)f->layers, g->shim, in->serial,
                            &in->bi, err) < 0) {
                free(in);
                return NULL;
        }
        int64_t t1 = fn_now_us();
        if (backend->prepare(in->bi, err) < 0) {
                backend->destroy(in->bi);
                err_prefix(err, "function '%s': instance %u", f->cfg.name, in->serial);
                free(in);
                return NULL;
        }
        gw_event(g, f->cfg.name, "event=shell-ready serial=%u create_us=%lld prepare_us=%lld",
                 in->serial, (long long)(t1 - t0), (long long)(fn_now_us() - t1));
        return in;
}

/* Starts an instance, on a prepared shell when the pool has one, and waits
 * until its port accepts (no locks held). */
static struct gw_inst *inst_start(struct fn_gateway *g, struct gw_fn *f, struct isola_err *err)
{
        struct gw_inst *in = NULL;
        int64_t t0 = fn_now_us(), t1;
        bool pooled;

        pthread_mutex_lock(&f->mu);
        if (f->n_pool > 0)
                in = f->pool[--f->n_pool];
        pthread_mutex_unlock(&f->mu);
        pooled = in != NULL;
        if (!in && !(in = shell_make(g, f, err)))
                goto fail;
        t1 = fn_now_us();
        if (backend->start(in->bi, err) < 0) {
                backend->destroy(in->bi);
                err_prefix(err, "function '%s': instance on port %d", f->cfg.name, f->cfg.port);
                goto fail;
        }
        int64_t t2 = fn_now_us();
        if (backend->ready(in->bi, fn_now_ms() + f->cfg.timeout_s * 1000LL, err) < 0) {
                backend->destroy(in->bi);
                err_prefix(err, "function '%s': instance on port %d", f->cfg.name, f->cfg.port);
                goto fail;
        }
        int64_t t3 = fn_now_us();
        struct fn_usage_sample u = {0};
        backend->usage(in->bi, &u);
        in->cpu_mark = u.cpu_us; /* starting is not billed to the first request */
        in->peak = u.peak_bytes;
        atomic_store(&in->sampled_us, fn_now_us());
        in->last_used_ms = fn_now_ms();
        /* the cold start's steps, for docs/functions.md and bench/fn:
         * create = shell (overlay, netns, cgroup, container init parked),
         * run = release the init (exec shim, exec handler), ready = port open */
        gw_event(g, f->cfg.name,
                 "event=instance-start serial=%u pooled=%d start_us=%lld create_us=%lld "
                 "run_us=%lld ready_us=%lld",
                 in->serial, pooled, (long long)(t3 - t0), (long long)(t1 - t0),
                 (long long)(t2 - t1), (long long)(t3 - t2));
        return in;
fail:
        gw_event(g, f->cfg.name, "event=instance-failed error=\"%s\"", err->msg);
        free(in);
        return NULL;
}

static void inst_stop(struct fn_gateway *g, struct gw_fn *f, struct gw_inst *in, const char *why)
{
        for (int k = 0; k < in->n_keep; k++)
                close(in->keep[k]);
        backend->destroy(in->bi);
        gw_event(g, f->cfg.name, "event=instance-stop serial=%u reason=%s", in->serial, why);
        free(in);
}

/* A connection to the instance: an idle keep-alive one, else a new one. */
static int conn_get(struct gw_fn *f, struct gw_inst *in, bool *reused, struct isola_err *err)
{
        int s = -1;

        pthread_mutex_lock(&f->mu);
        if (in->n_keep > 0)
                s = in->keep[--in->n_keep];
        pthread_mutex_unlock(&f->mu);
        *reused = s >= 0;
        return s >= 0 ? s : backend->connect(in->bi, err);
}

static void unlink_inst(struct gw_fn *f, struct gw_inst *in)
{
        for (struct gw_inst **pp = &f->insts; *pp; pp = &(*pp)->next)
                if (*pp == in) {
                        *pp = in->next;
                        f->n_insts--;
                        f->n_stopped++;
                        return;
                }
}

/* A slot on an instance: 0 and *out, or an HTTP status (429, 502, 503, 504).
 * *fd: an idle keep-alive connection to it taken in the same lock, or -1. */
static int acquire(struct fn_gateway *g, struct gw_fn *f, int64_t deadline_ms, struct gw_inst **out,
                   int *fd, bool *cold, struct isola_err *err)
{
        *fd = -1;
        pthread_mutex_lock(&f->mu);
        for (;;) {
                if (f->gone) {
                        pthread_mutex_unlock(&f->mu);
                        err_set(err, ENOENT, "function '%s': removed", f->cfg.name);
                        return 404;
                }
                for (struct gw_inst *in = f->insts; in; in = in->next)
                        if (!in->dead && in->inflight < f->cfg.concurrency) {
                                in->inflight++;
                                if (in->n_keep > 0)
                                        *fd = in->keep[--in->n_keep];
                                pthread_mutex_unlock(&f->mu);
                                *out = in;
                                return 0;
                        }
                /* a starting instance's first slot is its starter's; the queue
                 * plus this request need more than the rest of them */
                if (f->n_insts + f->starting < f->cfg.max &&
                    f->waiting + 1 > f->starting * (f->cfg.concurrency - 1)) {
                        f->starting++;
                        gw_event(g, f->cfg.name, "event=scale-up instances=%d waiting=%d",
                                 f->n_insts + f->starting, f->waiting);
                        pthread_mutex_unlock(&f->mu);
                        struct gw_inst *in = inst_start(g, f, err);
                        pthread_mutex_lock(&f->mu);
                        f->starting--;
                        pthread_cond_broadcast(&f->cv);
                        if (!in) {
                                pthread_mutex_unlock(&f->mu);
                                return 502;
                        }
                        in->inflight = 1;
                        in->next = f->insts;
                        f->insts = in;
                        f->n_insts++;
                        f->n_started++;
                        f->n_cold++;
                        pthread_mutex_unlock(&f->mu);
                        *out = in;
                        *cold = true;
                        return 0;
                }
                if (f->waiting >= f->cfg.queue) {
                        pthread_mutex_unlock(&f->mu);
                        err_set(err, EBUSY, "function '%s': %d instances busy and %d queued",
                                f->cfg.name, f->n_insts, f->waiting);
                        return 429;
                }
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                int64_t left = deadline_ms - fn_now_ms();
                if (left <= 0) {
                        pthread_mutex_unlock(&f->mu);
                        err_set(err, ETIMEDOUT, "function '%s': timed out in the queue",
                                f->cfg.name);
                        return 504;
                }
                ts.tv_sec += left / 1000;
                ts.tv_nsec += (left % 1000) * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                f->waiting++;
                pthread_cond_timedwait(&f->cv, &f->mu, &ts);
                f->waiting--;
        }
}

/* The function's counters for one invocation (f->mu held). */
static void count(struct gw_fn *f, const struct fn_invocation *inv)
{
        double sec = (double)inv->wall_us / 1e6;

        if (inv->status == 429)
                f->n_429++;
        else if (inv->status >= 500)
                f->n_5xx++;
        else if (inv->status >= 400)
                f->n_4xx++;
        else
                f->n_ok++;
        for (int b = 0; b < GW_NBUCKETS; b++)
                if (sec <= gw_bucket_le[b])
                        f->buckets[b]++;
        f->dur_sum += sec;
}

/* Gives the slot back, and the connection s (-1: none) to the idle ones;
 * counts inv and bills it the instance's CPU time since its counters were
 * last read (u: read now, NULL: not read for this call), all under one lock.
 * With --concurrency 1 every call reads them: its CPU is its own (and what
 * the instance did while idle before it). Concurrent calls split the
 * instance's CPU instead of each seeing all of it; the sum is what it used. */
static void release(struct fn_gateway *g, struct gw_fn *f, struct gw_inst *in, bool kill, int s,
                    struct fn_invocation *inv, const struct fn_usage_sample *u)
{
        bool destroy = false;

        pthread_mutex_lock(&f->mu);
        inv->cpu_us = 0;
        if (u && u->cpu_us > in->cpu_mark) {
                inv->cpu_us = u->cpu_us - in->cpu_mark;
                in->cpu_mark = u->cpu_us;
        }
        if (u && u->peak_bytes > in->peak)
                in->peak = u->peak_bytes;
        inv->peak_bytes = in->peak;
        count(f, inv);
        in->inflight--;
        in->last_used_ms = fn_now_ms();
        if (kill)
                in->dead = true;
        if (s >= 0 && !in->dead && in->n_keep < GW_KEEP_MAX) {
                in->keep[in->n_keep++] = s;
                s = -1;
        }
        if (in->dead && in->inflight == 0) {
                unlink_inst(f, in);
                destroy = true;
        }
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        if (s >= 0)
                close(s);
        if (destroy)
                inst_stop(g, f, in, kill ? "recycled" : "dead");
}

/* fn_http.c: one exchange with the instance. */
int gw_exchange(int s, const char *name, const struct fn_request *rq, int64_t deadline_ms,
                struct fn_response *rs, bool *recycle, bool *keep, bool *stale,
                struct isola_err *err);

/* The record for the flush (batched into SQLite by the autoscaler). */
static void record(struct fn_gateway *g, const struct fn_invocation *inv)
{
        pthread_mutex_lock(&g->recmu);
        if (g->n_recs == g->cap_recs) {
                size_t nc = g->cap_recs ? g->cap_recs * 2 : 256;
                struct fn_invocation *nr =
                    nc <= 1u << 20 ? realloc(g->recs, nc * sizeof(*nr)) : NULL;
                if (nr) {
                        g->recs = nr;
                        g->cap_recs = nc;
                }
        }
        if (g->n_recs < g->cap_recs)
                g->recs[g->n_recs++] = *inv;
        pthread_mutex_unlock(&g->recmu);
}

/* Which instance answered and whether it was started for this request. */
static void tag_response(struct fn_response *rs, unsigned serial, bool cold)
{
        char tag[96];
        size_t old = rs->headers ? strlen(rs->headers) : 0;
        int n = snprintf(tag, sizeof(tag), "X-Isola-Instance: %u\r\nX-Isola-Cold: %d\r\n", serial,
                         cold);
        char *h = realloc(rs->headers, old + (size_t)n + 1);
        if (!h)
                return;
        memcpy(h + old, tag, (size_t)n + 1);
        rs->headers = h;
}

int fn_gateway_invoke(struct fn_gateway *g, const char *name, const struct fn_request *rq,
                      struct fn_response *rs, struct isola_err *err)
{
        struct gw_fn *f = fn_find(g, name, err);
        struct fn_invocation inv = {.start_ms = gw_wall_ms()};
        struct fn_usage_sample u = {0};
        struct gw_inst *in = NULL;
        int64_t t0 = fn_now_us(), deadline;
        bool recycle = false, sampled = false;
        int st;

        memset(rs, 0, sizeof(*rs));
        if (!f) {
                rs->status = err->errnum == ENOENT ? 404 : 500;
                return -1;
        }
        snprintf(inv.function, sizeof(inv.function), "%s", name);
        inv.memory_mib = f->cfg.memory_mib;
        deadline = fn_now_ms() + f->cfg.timeout_s * 1000LL;
        int kept = -1, s, put = -1;
        st = acquire(g, f, deadline, &in, &kept, &inv.cold, err);
        if (st == 0) {
                bool reused = false, keep = false, stale = false;
                for (int attempt = 0; attempt < 2; attempt++) {
                        if (kept >= 0) {
                                s = kept;
                                reused = true;
                                kept = -1;
                        } else if ((s = conn_get(f, in, &reused, err)) < 0) {
                                st = 502;
                                recycle = true;
                                break;
                        }
                        st = gw_exchange(s, name, rq, deadline, rs, &recycle, &keep, &stale, err);
                        if (st == 0 && keep)
                                put = s;
                        else
                                close(s);
                        /* an idle connection the instance closed meanwhile: once more, fresh */
                        if (!(stale && reused))
                                break;
                        recycle = false;
                }
                if (st == 502 && !backend->alive(in->bi))
                        recycle = true;
                /* the cgroup's counters after the call (metering), at most
                 * every GW_SAMPLE_US per instance when calls overlap */
                int64_t now = fn_now_us();
                sampled = f->cfg.concurrency == 1 ||
                          now - atomic_load_explicit(&in->sampled_us, memory_order_relaxed) >=
                              GW_SAMPLE_US;
                if (sampled) {
                        atomic_store_explicit(&in->sampled_us, now, memory_order_relaxed);
                        backend->usage(in->bi, &u);
                }
        }
        if (st != 0)
                rs->status = st;
        else
                tag_response(rs, in->serial, inv.cold);
        inv.status = rs->status;
        inv.wall_us = fn_now_us() - t0;
        inv.billed_ms = (inv.wall_us + 999) / 1000;
        if (in) {
                release(g, f, in, recycle, put, &inv, sampled ? &u : NULL);
        } else {
                pthread_mutex_lock(&f->mu);
                count(f, &inv);
                pthread_mutex_unlock(&f->mu);
        }
        record(g, &inv);
        return st == 0 ? 0 : -1;
}

int fn_gateway_route(struct fn_gateway *g, const char *method, const char *target,
                     const struct fn_request *rq, struct fn_response *rs, struct isola_err *err)
{
        static const char pfx[] = "/function/";
        char name[FN_NAME_MAX];
        struct fn_request r = *rq;
        size_t len;

        memset(rs, 0, sizeof(*rs));
        if (strncmp(target, pfx, sizeof(pfx) - 1) != 0) {
                rs->status = 404;
                return err_set(err, ENOENT, "not found: use /function/NAME");
        }
        target += sizeof(pfx) - 1;
        len = strcspn(target, "/?");
        if (len == 0 || len >= sizeof(name)) {
                rs->status = 404;
                return err_set(err, ENOENT, "not found: use /function/NAME");
        }
        memcpy(name, target, len);
        name[len] = 0;
        r.method = method;
        r.path = target + len;
        return fn_gateway_invoke(g, name, &r, rs, err);
}

/* Takes the batch of records out under recmu and writes it under dbmu only:
 * requests keep recording meanwhile. A batch that fails to commit goes back
 * in front of the newer records for the next pass. */
static void flush_records(struct fn_gateway *g)
{
        struct isola_err e = {0};
        struct fn_invocation *b;
        size_t n, cap;
        bool done = false;

        pthread_mutex_lock(&g->recmu);
        b = g->recs;
        n = g->n_recs;
        cap = g->cap_recs;
        if (n) {
                g->recs = NULL;
                g->n_recs = g->cap_recs = 0;
        }
        pthread_mutex_unlock(&g->recmu);
        if (!n)
                return;
        gw_invocation_events(g, b, n);
        pthread_mutex_lock(&g->dbmu);
        if (db_begin(g->db, &e) == 0) {
                fn_record_batch(g->db, b, n, &e);
                done = db_commit(g->db, &e) == 0;
        }
        pthread_mutex_unlock(&g->dbmu);
        if (done) {
                free(b);
                return;
        }
        pthread_mutex_lock(&g->recmu);
        struct fn_invocation *nb = b;
        if (n + g->n_recs > cap && (nb = realloc(b, (n + g->n_recs) * sizeof(*b))))
                cap = n + g->n_recs;
        if (!nb) { /* out of memory: keep the newer records, drop the batch */
                free(b);
        } else {
                if (g->n_recs)
                        memcpy(nb + n, g->recs, g->n_recs * sizeof(*nb));
                free(g->recs);
                g->recs = nb;
                g->n_recs += n;
                g->cap_recs = cap;
        }
        pthread_mutex_unlock(&g->recmu);
}

/* One more prepared shell for f (f->preparing was counted by the caller). */
static void pool_refill(struct fn_gateway *g, struct gw_fn *f)
{
        struct isola_err e = {0};
        struct gw_inst *in = shell_make(g, f, &e);

        pthread_mutex_lock(&f->mu);
        f->preparing--;
        if (in && !f->gone && f->n_pool < GW_POOL_MAX) {
                f->pool[f->n_pool++] = in;
                in = NULL;
        }
        pthread_mutex_unlock(&f->mu);
        if (in)
                inst_stop(g, f, in, "removed");
        else if (e.errnum)
                gw_event(g, f->cfg.name, "event=shell-failed error=\"%s\"", e.msg);
}

/* One autoscaler pass over a function. */
static void scale_fn(struct fn_gateway *g, struct gw_fn *f, bool check_row)
{
        struct isola_err e = {0};
        struct gw_inst *victims = NULL;
        int64_t now = fn_now_ms();

        if (check_row) {
                struct fn_config c;
                pthread_mutex_lock(&g->dbmu);
                int r = fn_get(g->db, f->cfg.name, &c, &e);
                pthread_mutex_unlock(&g->dbmu);
                if (r == 0)
                        fn_config_free(&c);
                else if (e.errnum == ENOENT) {
                        pthread_mutex_lock(&f->mu);
                        f->gone = true;
                        pthread_cond_broadcast(&f->cv);
                        pthread_mutex_unlock(&f->mu);
                }
        }
        pthread_mutex_lock(&f->mu);
        for (struct gw_inst **pp = &f->insts; *pp;) {
                struct gw_inst *in = *pp;
                bool idle = in->inflight == 0 && now - in->last_used_ms >= f->cfg.idle_s * 1000LL &&
                            f->n_insts > f->cfg.min;
                if (in->inflight == 0 && !in->dead && !backend->alive(in->bi))
                        in->dead = true;
                if (in->inflight == 0 && (in->dead || idle || f->gone)) {
                        *pp = in->next;
                        f->n_insts--;
                        f->n_stopped++;
                        in->next = victims;
                        victims = in;
                        if (idle && !in->dead)
                                gw_event(g, f->cfg.name, "event=scale-down instances=%d",
                                         f->n_insts);
                } else
                        pp = &in->next;
        }
        bool grow = !f->gone && f->n_insts + f->starting < f->cfg.min;
        if (grow)
                f->starting++;
        while (f->gone && f->n_pool > 0) { /* shells of a removed function */
                struct gw_inst *in = f->pool[--f->n_pool];
                in->dead = true;
                in->next = victims;
                victims = in;
        }
        bool refill = !grow && !f->gone && f->n_pool + f->preparing < g->pool;
        if (refill)
                f->preparing++;
        pthread_mutex_unlock(&f->mu);
        while (victims) {
                struct gw_inst *n = victims->next;
                inst_stop(g, f, victims, victims->dead ? "dead" : f->gone ? "removed" : "idle");
                victims = n;
        }
        if (grow) { /* one per pass keeps the scaler responsive */
                struct gw_inst *in = inst_start(g, f, &e);
                pthread_mutex_lock(&f->mu);
                f->starting--;
                if (in) {
                        in->next = f->insts;
                        f->insts = in;
                        f->n_insts++;
                        f->n_started++;
                }
                pthread_cond_broadcast(&f->cv);
                pthread_mutex_unlock(&f->mu);
        }
        if (refill)
                pool_refill(g, f);
}

/* Functions with --min > 0 start warm with the gateway; with a pool, every
 * function is loaded so that its shells are ready before its first request. */
static void load_all(struct fn_gateway *g)
{
        struct fn_config *l = NULL;
        size_t n = 0;
        struct isola_err e = {0};

        pthread_mutex_lock(&g->dbmu);
        int rc = fn_list(g->db, &l, &n, &e);
        pthread_mutex_unlock(&g->dbmu);
        if (rc < 0)
                return;
        for (size_t i = 0; i < n && i < 256; i++)
                if (l[i].min > 0 || g->pool > 0)
                        fn_find(g, l[i].name, &e);
        fn_list_free(l, n);
}

static void *scaler_loop(void *arg)
{
        struct fn_gateway *g = arg;
        unsigned tick = 0;

        while (!atomic_load(&g->stop)) {
                struct timespec ts = {0, 100 * 1000000};
                nanosleep(&ts, NULL);
                flush_records(g);
                gw_events_flush(g);
                pthread_mutex_lock(&g->mu);
                struct gw_fn *list = g->fns;
                pthread_mutex_unlock(&g->mu);
                /* functions are never freed before destroy, so the list is stable */
                for (struct gw_fn *f = list; f; f = f->next)
                        scale_fn(g, f, tick % 5 == 0);
                if (g->pool > 0 && tick % 10 == 9) /* shells for newly deployed functions */
                        load_all(g);
                tick++;
        }
        return NULL;
}

int fn_gateway_create(const struct fn_gateway_opts *o, struct fn_gateway **out,
                      struct isola_err *err)
{
        struct fn_gateway *g = calloc(1, sizeof(*g));
        char self[PATH_MAX];
        ssize_t n;

        if (!g)
                return err_set(err, ENOMEM, "out of memory");
        g->paths = o->paths;
        g->listen_fd = -1;
        g->events = o->events;
        g->on_event = o->on_event;
        g->event_arg = o->event_arg;
        pthread_mutex_init(&g->evmu, NULL);
        g->pool = o->pool < 0 ? 0 : o->pool > GW_POOL_MAX ? GW_POOL_MAX : o->pool;
        pthread_mutex_init(&g->mu, NULL);
        pthread_mutex_init(&g->dbmu, NULL);
        pthread_mutex_init(&g->recmu, NULL);
        if (o->listen)
                snprintf(g->listen_addr, sizeof(g->listen_addr), "%s", o->listen);
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
                free(g);
                return err_sys(err, "readlink /proc/self/exe");
        }
        self[n] = 0;
        *strrchr(self, '/') = 0;
        snprintf(g->shim, sizeof(g->shim), "%s/isola-fn-shim", self);
        if (access(g->shim, X_OK) < 0) {
                free(g);
                return err_sys(err, "%s", "isola-fn-shim next to the isola binary");
        }
        /* instance inits outlive the helper that made them and become ours */
        if ((!o->no_subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) ||
            db_open(&g->paths, &g->db, err) < 0) {
                if (!err->errnum)
                        err_sys(err, "prctl");
                free(g);
                return -1;
        }
        *out = g;
        return 0;
}

int fn_gateway_start(struct fn_gateway *g, struct isola_err *err)
{
        if (g->listen_addr[0] && gw_listen(g, err) < 0)
                return -1;
        backend->gc(&g->paths);
        load_all(g);
        if (pthread_create(&g->scaler, NULL, scaler_loop, g) != 0)
                return err_set(err, EAGAIN, "cannot start the autoscaler thread");
        g->have_scaler = true;
        if (g->listen_fd >= 0) {
                if (pthread_create(&g->listener, NULL, gw_accept_loop, g) != 0)
                        return err_set(err, EAGAIN, "cannot start the listener thread");
                g->have_listener = true;
        }
        return 0;
}

void fn_gateway_destroy(struct fn_gateway *g)
{
        if (!g)
                return;
        atomic_store(&g->stop, true);
        if (g->listen_fd >= 0)
                shutdown(g->listen_fd, SHUT_RDWR);
        if (g->have_listener)
                pthread_join(g->listener, NULL);
        if (g->have_scaler)
                pthread_join(g->scaler, NULL);
        for (int i = 0; i < 300 && atomic_load(&g->conns) > 0; i++) {
                struct timespec ts = {0, 10 * 1000000};
                nanosleep(&ts, NULL);
        }
        flush_records(g);
        for (struct gw_fn *f = g->fns, *nf; f; f = nf) {
                nf = f->next;
                for (struct gw_inst *in = f->insts, *ni; in; in = ni) {
                        ni = in->next;
                        inst_stop(g, f, in, "shutdown");
                }
                while (f->n_pool > 0)
                        inst_stop(g, f, f->pool[--f->n_pool], "shutdown");
                fn_config_free(&f->cfg);
                strv_free(f->layers);
                free(f);
        }
        if (g->listen_fd >= 0)
                close(g->listen_fd);
        gw_events_flush(g);
        free(g->recs);
        db_close(g->db);
        pthread_mutex_destroy(&g->evmu);
        pthread_mutex_destroy(&g->dbmu);
        pthread_mutex_destroy(&g->recmu);
        free(g);
}
