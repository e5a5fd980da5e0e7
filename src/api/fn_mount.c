/* isola serve's /function/ routes: one gateway per server (struct
 * api_server), made on the first request (a service without functions pays
 * nothing), kept until serve stops. The gateway keeps a prepared shell per function so
 * that cold starts skip making the container; it is not a subreaper here,
 * because serve's workers fork and reap their own children. Scaling
 * decisions, instance starts/stops and invocation counts go to the events
 * table (`isola events`, GET /events) as type "function". */
#include "api/fn_mount.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/events.h"

#define MOUNT_HDRS 100

static void on_event(void *arg, const char *fn, const char *action, const char *detail)
{
        sqlite3 *db = arg;
        eng_event(db, "function", action, fn, "name", fn, "detail", detail);
}

/* serve's stop (api_serve) after the socket is gone: the instances (not
 * our children here) would go with the process all the same, this stops
 * them in order and closes the events connection. */
void fn_mount_close(struct api_server *s)
{
        pthread_mutex_lock(&s->fn_mu);
        struct fn_gateway *g = s->fn_gw;
        sqlite3 *db = s->fn_db;
        s->fn_gw = NULL;
        s->fn_db = NULL;
        pthread_mutex_unlock(&s->fn_mu);
        fn_gateway_destroy(g);
        if (db)
                db_close(db);
}

static struct fn_gateway *gateway(struct api_server *s, struct isola_err *err)
{
        struct fn_gateway_opts o = {.pool = 1, .no_subreaper = true, .on_event = on_event};
        struct fn_gateway *g;

        pthread_mutex_lock(&s->fn_mu);
        if (!s->fn_gw) {
                if (db_paths_resolve(s->root[0] ? s->root : NULL, &o.paths, err) < 0 ||
                    (!s->fn_db && db_open(&o.paths, &s->fn_db, err) < 0)) {
                        pthread_mutex_unlock(&s->fn_mu);
                        return NULL;
                }
                o.event_arg = s->fn_db;
                if (fn_gateway_create(&o, &g, err) == 0 && fn_gateway_start(g, err) < 0) {
                        fn_gateway_destroy(g);
                        g = NULL;
                } else if (err->errnum)
                        g = NULL;
                s->fn_gw = g;
        }
        g = s->fn_gw;
        pthread_mutex_unlock(&s->fn_mu);
        return g;
}

struct fn_gateway *fn_mount_gateway(struct api_server *s)
{
        pthread_mutex_lock(&s->fn_mu);
        struct fn_gateway *g = s->fn_gw;
        pthread_mutex_unlock(&s->fn_mu);
        return g;
}

struct hdrs {
        char *v[MOUNT_HDRS + 1];
        size_t n;
};

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
        struct hdrs *h = cls;
        (void)kind;

        /* the service's own credential is not the function's business */
        if (!strcasecmp(key, "Authorization") || h->n >= MOUNT_HDRS)
                return MHD_YES;
        if (asprintf(&h->v[h->n], "%s: %s", key, value ? value : "") >= 0)
                h->n++;
        return MHD_YES;
}

static void put_escaped(FILE *f, const char *s)
{
        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;
                if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || strchr("-._~/", ch))
                        fputc(ch, f);
                else
                        fprintf(f, "%%%02X", ch);
        }
}

struct query {
        FILE *f;
        bool first;
};

/* libmicrohttpd hands the query decoded: encode it again for the instance */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
        struct query *q = cls;
        (void)kind;

        fputc(q->first ? '?' : '&', q->f);
        q->first = false;
        put_escaped(q->f, key);
        if (value) {
                fputc('=', q->f);
                put_escaped(q->f, value);
        }
        return MHD_YES;
}

static enum MHD_Result reply(struct api_call *c, const struct fn_response *rs)
{
        struct MHD_Response *r =
            MHD_create_response_from_buffer(rs->body_len, rs->body, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        for (const char *p = rs->headers; p && *p;) {
                const char *eol = strstr(p, "\r\n"), *colon = strchr(p, ':');
                if (!eol)
                        break;
                if (colon && colon < eol) {
                        char *k = strndup(p, (size_t)(colon - p));
                        const char *v = colon + 1;
                        while (*v == ' ')
                                v++;
                        char *val = strndup(v, (size_t)(eol - v));
                        if (k && val)
                                MHD_add_response_header(r, k, val);
                        free(k);
                        free(val);
                }
                p = eol + 2;
        }
        ret = MHD_queue_response(c->conn, rs->status, r);
        MHD_destroy_response(r);
        return ret;
}

enum MHD_Result api_fn_mount(struct api_call *c)
{
        struct isola_err err = {0};
        struct fn_gateway *g = gateway(c->srv, &err);
        struct hdrs h = {.n = 0};
        struct fn_response rs;
        char *target = NULL;
        size_t tlen = 0;
        enum MHD_Result ret;

        if (!g)
                return api_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, err.msg);
        FILE *f = open_memstream(&target, &tlen);
        if (!f)
                return api_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        struct query q = {.f = f, .first = true};
        fputs("/function/", f);
        put_escaped(f, c->m.params[0]);
        MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, add_arg, &q);
        fclose(f);
        MHD_get_connection_values(c->conn, MHD_HEADER_KIND, add_header, &h);
        struct fn_request rq = {
            .headers = (const char *const *)h.v, .body = c->body, .body_len = c->body_len};
        if (fn_gateway_route(g, c->method, target, &rq, &rs, &err) < 0) {
                char msg[ISOLA_ERR_MSG_MAX + 2];
                int n = snprintf(msg, sizeof(msg), "%s\n", err.msg);
                ret = api_reply_text(c, rs.status ? (unsigned)rs.status : 500, "text/plain", msg,
                                     (size_t)n);
        } else
                ret = reply(c, &rs);
        fn_response_free(&rs);
        for (size_t i = 0; i < h.n; i++)
                free(h.v[i]);
        free(target);
        return ret;
}
