/* Streams: logs (chunked, multiplexed unless the container has a tty),
 * attach and exec start (hijacked connections: HTTP 101, then raw bytes on
 * the socket, each in its own thread). */
#include "api/api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/fs.h"

/* ---- logs ---- */

struct logs_arg {
        char ref[ENG_ID_LEN + 1];
        struct eng_logs_opts o;
};

static int logs_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct logs_arg *a = arg;
        (void)out;
        return eng_logs(e, a->ref, &a->o, err);
}

struct logs_reader {
        struct api_stream st;
        bool raw;
};

static ssize_t logs_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        struct logs_reader *r = cls;
        struct pollfd pf[2] = {{.fd = r->st.out_fd, .events = POLLIN},
                               {.fd = r->st.err_fd, .events = POLLIN}};
        (void)pos;

        while (pf[0].fd >= 0 || pf[1].fd >= 0) {
                if (poll(pf, 2, -1) < 0 && errno != EINTR)
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                for (int i = 0; i < 2; i++) {
                        if (pf[i].fd < 0 || !pf[i].revents)
                                continue;
                        size_t room = r->raw ? max : max - 8;
                        ssize_t n = read(pf[i].fd, r->raw ? buf : buf + 8, room);
                        if (n <= 0) {
                                close(pf[i].fd);
                                pf[i].fd = -1;
                                if (i == 0)
                                        r->st.out_fd = -1;
                                else
                                        r->st.err_fd = -1;
                                continue;
                        }
                        if (r->raw)
                                return n;
                        buf[0] = (char)(i + 1);
                        buf[1] = buf[2] = buf[3] = 0;
                        buf[4] = (char)((size_t)n >> 24);
                        buf[5] = (char)((size_t)n >> 16);
                        buf[6] = (char)((size_t)n >> 8);
                        buf[7] = (char)n;
                        return n + 8;
                }
        }
        return MHD_CONTENT_READER_END_OF_STREAM;
}

static void logs_free(void *cls)
{
        struct logs_reader *r = cls;
        if (r->st.pid > 0)
                kill(r->st.pid, SIGTERM); /* a follow whose client went away */
        api_work_reap(&r->st);
        free(r);
}

enum MHD_Result api_h_ctr_logs(struct api_call *c)
{
        struct isola_err err = {0};
        struct logs_reader *r;
        struct logs_arg a = {.o = {.tail = -1}};
        char state[16];
        bool tty;
        const char *tail = api_query(c, "tail");
        struct MHD_Response *resp;
        enum MHD_Result ret;

        if (api_ctr_state(c->srv, c->m.params[0], a.ref, state, &tty, &err) < 0)
                return api_reply_err(c, &err);
        a.o.follow = api_query_bool(c, "follow");
        a.o.timestamps = api_query_bool(c, "timestamps");
        if (tail && strcmp(tail, "all") != 0)
                a.o.tail = strtol(tail, NULL, 10);
        r = calloc(1, sizeof(*r));
        if (!r)
                return MHD_NO;
        r->raw = tty;
        if (api_work_stream(c->srv, logs_work, &a, -1, &r->st, &err) < 0) {
                free(r);
                return api_reply_err(c, &err);
        }
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32768, logs_read, r, logs_free);
        if (!resp) {
                logs_free(r);
                return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type",
                                tty ? "application/vnd.docker.raw-stream"
                                    : "application/vnd.docker.multiplexed-stream");
        ret = MHD_queue_response(c->conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* ---- hijacked connections ---- */

struct hijack {
        struct api_server *srv;
        struct MHD_UpgradeResponseHandle *urh;
        int sock;
        bool exec, tty;
        bool in, out, err, logs; /* attach: the streams asked for */
        bool was_running;        /* attach: the container's state when asked */
        char id[ENG_ID_LEN + 1]; /* container id, or the exec id */
        int exec_slot;
        char *extra; /* bytes read past the request head (upgrade's extra_in) */
        size_t extra_len;
};

void api_attach_hold(struct api_server *s, const char *id, int delta)
{
        int free_slot = -1;

        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < API_EXEC_MAX; i++) {
                if (s->attached[i].n > 0 && strcmp(s->attached[i].id, id) == 0) {
                        s->attached[i].n += delta;
                        pthread_mutex_unlock(&s->mu);
                        return;
                }
                if (s->attached[i].n == 0 && free_slot < 0)
                        free_slot = i;
        }
        if (delta > 0 && free_slot >= 0) {
                snprintf(s->attached[free_slot].id, sizeof(s->attached[free_slot].id), "%s", id);
                s->attached[free_slot].n = delta;
        }
        pthread_mutex_unlock(&s->mu);
}

int api_attach_count(struct api_server *s, const char *ref)
{
        int n = 0;

        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < API_EXEC_MAX; i++)
                if (s->attached[i].n > 0 && strncmp(s->attached[i].id, ref, strlen(ref)) == 0)
                        n += s->attached[i].n;
        pthread_mutex_unlock(&s->mu);
        return n;
}

struct exec_arg {
        char container[ENG_ID_LEN + 1];
        struct eng_exec_opts o;
};

static int exec_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct exec_arg *a = arg;
        int code = 0;
        (void)out;

        if (eng_exec(e, a->container, &a->o, &code, err) < 0)
                return -1;
        fflush(stdout);
        fflush(stderr);
        _exit(code & 0xff); /* the exit code travels as the worker's status */
}

static void exec_run(struct hijack *h)
{
        struct isola_err err = {0};
        struct exec_arg a = {0};
        struct api_stream st;
        struct api_exec *x = &h->srv->execs[h->exec_slot];
        bool in;

        pthread_mutex_lock(&h->srv->mu);
        snprintf(a.container, sizeof(a.container), "%s", x->container);
        a.o = (struct eng_exec_opts){.args = x->args,
                                     .env = x->env,
                                     .user = x->user,
                                     .workdir = x->workdir,
                                     .tty = x->tty,
                                     .interactive = x->attach_stdin};
        in = x->attach_stdin;
        x->running = x->started = true;
        pthread_mutex_unlock(&h->srv->mu);
        int code = 126;
        if (api_work_stream(h->srv, exec_work, &a, in ? h->sock : -1, &st, &err) == 0) {
                api_relay(&st, h->sock, h->tty);
                code = api_work_reap(&st);
        } else {
                api_mux_write(h->sock, 2, err.msg, strlen(err.msg));
        }
        pthread_mutex_lock(&h->srv->mu);
        x->running = false;
        x->exit_code = code;
        pthread_mutex_unlock(&h->srv->mu);
}

/* Before the upgraded socket closes: bytes the client sent that nobody
 * read (stdin for a container that never reads it) would turn the close
 * into a reset, and a reset makes the client's kernel drop the output it
 * has not read yet ("connection reset by peer" in place of the
 * container's last lines). So our side ends first and what the client
 * still sends is read and dropped until it closes (it does once it has the
 * output's end), for at most 2 s. */
static void linger(int sock)
{
        char buf[4096];
        struct pollfd pf = {.fd = sock, .events = POLLIN};
        struct timespec t0, t;

        if (shutdown(sock, SHUT_WR) < 0)
                return;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                clock_gettime(CLOCK_MONOTONIC, &t);
                long long ms =
                    (long long)(t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
                if (ms >= 2000)
                        return; /* a client that sends on for ever */
                int rc = poll(&pf, 1, (int)(2000 - ms));
                if (rc < 0 && errno != EINTR)
                        return;
                if (rc <= 0)
                        continue;
                ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
                        return;
        }
}

static void *hijack_thread(void *arg)
{
        struct hijack *h = arg;

        if (h->exec) {
                exec_run(h);
        } else {
                struct api_attach q = {.id = h->id,
                                       .sock = h->sock,
                                       .tty = h->tty,
                                       .in = h->in,
                                       .out = h->out,
                                       .err = h->err,
                                       .logs = h->logs,
                                       .was_running = h->was_running,
                                       .extra = h->extra,
                                       .extra_len = h->extra_len};
                api_attach_hold(h->srv, h->id, 1);
                api_attach_run(h->srv, &q);
                api_attach_hold(h->srv, h->id, -1);
        }
        linger(h->sock);
        MHD_upgrade_action(h->urh, MHD_UPGRADE_ACTION_CLOSE);
        free(h->extra);
        free(h);
        return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra,
                       size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
        struct hijack *h = cls;
        pthread_t t;
        int fl = fcntl(sock, F_GETFL);
        (void)conn, (void)con_cls;

        h->urh = urh;
        h->sock = sock;
        /* libmicrohttpd's sockets are non-blocking: a read or write on it
         * (or on the exec's stdin, which is this socket) would fail with
         * EAGAIN whenever the client is not quick enough */
        if (fl >= 0)
                fcntl(sock, F_SETFL, fl & ~O_NONBLOCK);
        h->extra = extra_len > 0 ? malloc(extra_len) : NULL;
        if (h->extra) {
                memcpy(h->extra, extra, extra_len);
                h->extra_len = extra_len;
        }
        if (pthread_create(&t, NULL, hijack_thread, h) != 0) {
                MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
                free(h->extra);
                free(h);
                return;
        }
        pthread_detach(t);
}

static enum MHD_Result hijack(struct api_call *c, struct hijack *h)
{
        struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, h);
        enum MHD_Result ret;

        if (!r) {
                free(h);
                return MHD_NO;
        }
        MHD_add_response_header(r, "Upgrade", "tcp");
        MHD_add_response_header(r, "Content-Type",
                                h->tty ? "application/vnd.docker.raw-stream"
                                       : "application/vnd.docker.multiplexed-stream");
        ret = MHD_queue_response(c->conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
        MHD_destroy_response(r);
        return ret;
}

enum MHD_Result api_h_ctr_attach(struct api_call *c)
{
        struct isola_err err = {0};
        struct hijack *h = calloc(1, sizeof(*h));
        char state[16];

        if (!h)
                return MHD_NO;
        h->srv = c->srv;
        h->in = api_query_bool(c, "stdin");
        h->out = api_query_bool(c, "stdout");
        h->err = api_query_bool(c, "stderr");
        h->logs = api_query_bool(c, "logs");
        if (!h->in && !h->out && !h->err) /* none named: the output, as before */
                h->out = h->err = true;
        if (api_ctr_state(c->srv, c->m.params[0], h->id, state, &h->tty, &err) < 0) {
                free(h);
                return api_reply_err(c, &err);
        }
        h->was_running = !strcmp(state, "running") || !strcmp(state, "paused");
        return hijack(c, h);
}

enum MHD_Result api_exec_hijack(struct api_call *c, int slot, bool tty)
{
        struct hijack *h = calloc(1, sizeof(*h));

        if (!h)
                return MHD_NO;
        *h = (struct hijack){.srv = c->srv, .exec = true, .tty = tty, .exec_slot = slot};
        return hijack(c, h);
}
