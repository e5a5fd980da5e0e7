/* GET /events: the event log (src/engine/events*.c) as Docker's stream of
 * JSON messages, one per line.
 *
 * A worker process reads the table and writes the messages; this process
 * relays them (the server process never holds a database connection: a
 * connection open across the fork of another request's worker confuses
 * SQLite's per-process lock bookkeeping in the child). The worker polls
 * the table every POLL_MS. An inotify watch on isola.db-wal was the
 * alternative: it wakes on every write to any table (health checks,
 * leases...), the WAL is truncated and recreated by checkpoints (the watch
 * would have to be on the directory) and each wake still ends in the same
 * query. The poll is one indexed "id > last" lookup, a few microseconds. */
#include "api/api_internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/events.h"

#define POLL_MS 250
#define BATCH   256
#define IDLE_MS 1000 /* the relay returns to the connection this often */

struct ev_arg {
        struct eng_event_filter f;
        int64_t until_ns;
};

static int64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int put(const struct eng_event_row *ev, void *arg)
{
        json_object *o = eng_event_docker_json(ev);
        int rc = fprintf(arg, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

        json_object_put(o);
        return rc < 0 ? -1 : 0;
}

/* The relay's end of our stdout is gone (the client left and the server
 * closed it, or the server itself died): nothing will read us any more. */
static bool reader_gone(FILE *out)
{
        struct pollfd pf = {.fd = fileno(out), .events = 0};

        return poll(&pf, 1, 0) == 1 && (pf.revents & (POLLERR | POLLHUP));
}

/* In the worker: until `until`, or until nobody reads (an idle stream
 * writes nothing, so SIGPIPE alone would come only with the next event). */
static int ev_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        struct ev_arg *a = arg;
        /* without since only what happens from now on */
        int64_t last = a->f.since_ns ? 0 : eng_events_last_id(e->db);

        for (;;) {
                if (reader_gone(out))
                        return 0;
                int64_t before = last;
                if (eng_events_read(e->db, last, &a->f, BATCH, put, out, &last, err) < 0)
                        return -1;
                if (fflush(out) != 0)
                        return 0;
                if (last != before)
                        continue;
                if (a->until_ns && now_ns() > a->until_ns)
                        return 0;
                struct timespec ts = {.tv_nsec = POLL_MS * 1000000L};
                nanosleep(&ts, NULL);
        }
}

static ssize_t ev_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        struct api_stream *st = cls;
        struct pollfd pf = {.fd = st->out_fd, .events = POLLIN};
        (void)pos;

        int n = poll(&pf, 1, IDLE_MS);
        if (n < 0 && errno != EINTR)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        if (n <= 0)
                return 0; /* nothing yet: back to the connection, which notices a gone client */
        ssize_t r = read(st->out_fd, buf, max);
        if (r > 0)
                return r;
        if (r < 0 && errno == EINTR)
                return 0;
        return MHD_CONTENT_READER_END_OF_STREAM;
}

static void ev_free(void *cls)
{
        struct api_stream *st = cls;

        if (st->pid > 0)
                kill(st->pid, SIGTERM);
        api_work_reap(st);
        free(st);
}

static int parse(struct api_call *c, struct ev_arg *a, struct isola_err *err)
{
        const char *since = api_query(c, "since"), *until = api_query(c, "until");
        int64_t now = now_ns();

        if (eng_event_filter_parse(api_query(c, "filters"), &a->f, err) < 0)
                return -1;
        if (since && since[0] && eng_event_time_parse(since, now, &a->f.since_ns, err) < 0)
                return -1;
        if (since && since[0] && a->f.since_ns <= 0)
                a->f.since_ns = 1; /* since=0: everything kept (0 means no since) */
        if (until && until[0] && eng_event_time_parse(until, now, &a->until_ns, err) < 0)
                return -1;
        a->f.until_ns = a->until_ns;
        return 0;
}

enum MHD_Result api_h_events(struct api_call *c)
{
        struct isola_err err = {0};
        struct ev_arg a = {.until_ns = 0};
        struct api_stream *st = calloc(1, sizeof(*st));
        struct MHD_Response *r;
        enum MHD_Result ret;

        if (!st)
                return api_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        if (parse(c, &a, &err) < 0 || api_work_stream(c->srv, ev_work, &a, -1, st, &err) < 0) {
                eng_event_filter_free(&a.f);
                free(st);
                return api_reply_err(c, &err);
        }
        eng_event_filter_free(&a.f); /* the worker has its copy */
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, ev_read, st, ev_free);
        if (!r) {
                ev_free(st);
                return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "Api-Version", "1.41");
        ret = MHD_queue_response(c->conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}
