/* POST /containers/{id}/attach over a hijacked connection: the container's
 * output (read from its log by a follow worker, as `logs -f`) to the
 * client, and with stdin=1 the client's bytes to the container's stdin.
 *
 * Stdin goes through the container's monitor, which owns the stdin pipe
 * (or the pty master): this thread connects to the monitor's socket with
 * MON_CMD_STDIN and copies the client's bytes there. What makes it
 * deterministic:
 *  - nothing is read from the client before the container has started and
 *    the monitor has accepted the input (bytes sent early wait in the
 *    socket), and the bytes libmicrohttpd read past the request head (the
 *    upgrade's extra_in) go to the monitor first;
 *  - the socket is made blocking (libmicrohttpd hands it over
 *    non-blocking, where a read or write may fail with EAGAIN);
 *  - the client's EOF is a half-close (the docker CLI calls CloseWrite
 *    after its stdin ends): with StdinOnce and no tty it closes the
 *    container's stdin and the output goes on until the container exits;
 *    otherwise it ends the attach (Docker's rule), the container runs on;
 *  - the monitor never blocks on the container's stdin (monitor.c), so a
 *    container that does not read cannot stall its own output. */
#include "api/api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine/engine_internal.h"
#include "engine/monitor_proto.h"
#include "util/fs.h"

struct attach_info {
        char id[ENG_ID_LEN + 1];
        char state[16];
        bool tty, open_stdin, stdin_once;
        long long started;
        int pid;                /* the container's init: 0 until its start is done */
        long long skip[2];      /* running: its log's stdout, stderr bytes now */
        char mon_dir[PATH_MAX]; /* the monitors' sockets */
};

/* What `logs` prints of the container's log now, per stream (stdout,
 * stderr), in bytes: eng_logs prints each record's text with fputs. */
static void log_sizes(struct eng_ctx *e, const char *id, long long sz[2])
{
        char path[PATH_MAX];

        sz[0] = sz[1] = 0;
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *buf = NULL;
                struct isola_err ignore = {0};
                size_t len = 0, start = 0;
                eng_ctr_path(e, id, i ? MON_LOG_FILE : MON_LOG_FILE ".1", path, sizeof(path));
                if (fs_read_file(path, &buf, &len, &ignore) < 0)
                        continue;
                for (size_t k = 0; k < len; k++) {
                        if (buf[k] != '\n')
                                continue;
                        buf[k] = '\0';
                        json_object *o = json_tokener_parse(buf + start), *v;
                        start = k + 1;
                        if (!o)
                                continue;
                        bool err = json_object_object_get_ex(o, "stream", &v) &&
                                   !strcmp(json_object_get_string(v), "stderr");
                        if (json_object_object_get_ex(o, "log", &v))
                                sz[err] += (long long)strlen(json_object_get_string(v));
                        json_object_put(o);
                }
        }
}

static int info_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        struct eng_container *ct = NULL;
        struct eng_config cfg = {0};
        char once[PATH_MAX];

        if (eng_get(e, arg, &ct, err) < 0)
                return -1;
        if (eng_container_config(ct, &cfg, err) < 0) {
                eng_container_free(ct);
                return -1;
        }
        eng_ctr_path(e, ct->id, API_STDIN_ONCE_FILE, once, sizeof(once));
        long long sz[2] = {0, 0};
        if (!strcmp(ct->state, "running") || !strcmp(ct->state, "paused"))
                log_sizes(e, ct->id, sz);
        fprintf(out, "%s %s %d %d %d %lld %d %lld %lld %s", ct->id, ct->state, cfg.tty,
                cfg.interactive, access(once, F_OK) == 0, (long long)ct->started, (int)ct->pid,
                sz[0], sz[1], e->mon_dir);
        eng_config_free(&cfg);
        eng_container_free(ct);
        return 0;
}

static int attach_info(struct api_server *s, const char *ref, struct attach_info *a)
{
        struct isola_err err = {0};
        _cleanup_free_ char *out = NULL;
        size_t len;
        int tty, in, once, pos = 0;

        if (api_work(s, info_work, (void *)ref, &out, &len, &err) < 0)
                return -1;
        if (sscanf(out, "%64s %15s %d %d %d %lld %d %lld %lld %n", a->id, a->state, &tty, &in,
                   &once, &a->started, &a->pid, &a->skip[0], &a->skip[1], &pos) != 9 ||
            pos <= 0)
                return -1;
        a->tty = tty != 0;
        a->open_stdin = in != 0;
        a->stdin_once = once != 0;
        snprintf(a->mon_dir, sizeof(a->mon_dir), "%s", out + pos);
        return 0;
}

static bool running(const struct attach_info *a)
{
        return !strcmp(a->state, "running") || !strcmp(a->state, "paused");
}

/* Waits ms for the client to hang up (POLLHUP: a full close, not the
 * half-close of a client whose stdin ended); true when it did. */
static bool client_gone(int sock, int ms)
{
        struct pollfd pf = {.fd = sock, .events = 0};

        return poll(&pf, 1, ms) > 0 && (pf.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* A connection to the monitor that takes our bytes as the container's
 * stdin, or -1 (no open stdin, or the container has exited already). */
static int monitor_stdin(const struct attach_info *a)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct timeval tv = {.tv_sec = 5};
        char cmd = a->stdin_once && !a->tty ? MON_CMD_STDIN_ONCE : MON_CMD_STDIN, ok = 0;
        int dfd = open(a->mon_dir, O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -1;

        /* through the dir fd: the runroot may be longer than sun_path */
        if (dfd >= 0)
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                goto fail;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%.64s", dfd, a->id);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || write(fd, &cmd, 1) != 1 ||
            read(fd, &ok, 1) != 1 || ok != MON_STDIN_OK)
                goto fail;
        close(dfd);
        return fd;
fail:
        if (fd >= 0)
                close(fd);
        if (dfd >= 0)
                close(dfd);
        return -1;
}

struct logs_arg {
        char ref[ENG_ID_LEN + 1];
};

/* The whole log, followed; the relay drops what was there at the attach. */
static int logs_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct logs_arg *a = arg;
        struct eng_logs_opts o = {.tail = -1, .follow = true};
        (void)out;
        return eng_logs(e, a->ref, &o, err);
}

struct relay {
        const struct api_attach *req;
        struct api_stream st;
        int mon;           /* the container's stdin, or -1 */
        long long skip[2]; /* output before the attach, per stream: dropped */
        bool in_open;      /* still reading the client */
        bool once;         /* the client's EOF closes stdin, the output goes on */
};

/* The client's bytes; false when the attach ends. */
static bool relay_in(struct relay *r)
{
        char buf[16384];
        ssize_t n = read(r->req->sock, buf, sizeof(buf));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return true;
        if (n > 0) {
                if (r->mon >= 0 && fs_write_all(r->mon, buf, (size_t)n) < 0) {
                        close(r->mon); /* the container exited: its output ends soon */
                        r->mon = -1;
                }
                return true;
        }
        r->in_open = false;
        if (n < 0 || !r->once)
                return false; /* gone, or the end of a non-once stdin ends the attach */
        if (r->mon >= 0) {
                close(r->mon); /* EOF: the monitor closes the container's stdin */
                r->mon = -1;
        }
        return true;
}

/* Until the container's output ends (it stopped) or the client goes. */
static void relay_loop(struct relay *r)
{
        const struct api_attach *q = r->req;
        char buf[32768];
        struct pollfd pf[3] = {{.fd = q->sock},
                               {.fd = r->st.out_fd, .events = POLLIN},
                               {.fd = r->st.err_fd, .events = POLLIN}};

        while (pf[1].fd >= 0 || pf[2].fd >= 0) {
                pf[0].events = r->in_open ? POLLIN : 0;
                if (poll(pf, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                if (pf[0].revents) {
                        if (!r->in_open)
                                return; /* POLLHUP/POLLERR: the client went */
                        if (!relay_in(r))
                                return;
                }
                for (int i = 1; i < 3; i++) {
                        if (pf[i].fd < 0 || !pf[i].revents)
                                continue;
                        ssize_t n = read(pf[i].fd, buf, sizeof(buf));
                        if (n <= 0) {
                                close(pf[i].fd);
                                *(i == 1 ? &r->st.out_fd : &r->st.err_fd) = -1;
                                pf[i].fd = -1;
                                continue;
                        }
                        char *p = buf;
                        long long *skip = &r->skip[i - 1];
                        if (*skip > 0) {
                                long long d = *skip < n ? *skip : n;
                                *skip -= d;
                                p += d;
                                n -= (ssize_t)d;
                        }
                        if (n == 0 || !(i == 1 ? q->out : q->err))
                                continue;
                        int rc = q->tty ? fs_write_all(q->sock, p, (size_t)n)
                                        : api_mux_write(q->sock, i, p, (size_t)n);
                        if (rc < 0)
                                return; /* the client went away */
                }
        }
}

/* Waits until the container's start is complete or it has run already:
 * docker run and docker start -a attach first, then start it. The row says
 * 'running' before the monitor has bound its socket (the engine writes the
 * row first, see engine_start.c); the init's pid is recorded only after
 * that, so a pid means the socket is there. Up to ~10 minutes, or until
 * the client hangs up. */
static int wait_started(struct api_server *s, const struct api_attach *q, struct attach_info *now)
{
        struct attach_info first = *now;

        for (int i = 0; i < 3000; i++) {
                if (running(now) && now->pid > 0)
                        return 0;
                if (!running(now) && now->started != first.started)
                        return 0; /* started and done already */
                if (client_gone(q->sock, i < 100 ? 10 : 200))
                        return -1;
                if (attach_info(s, q->id, now) < 0)
                        return -1;
        }
        return -1;
}

void api_attach_run(struct api_server *s, const struct api_attach *q)
{
        struct isola_err err = {0};
        struct attach_info now;
        struct logs_arg a;
        struct relay r = {.req = q, .mon = -1};

        if (attach_info(s, q->id, &now) < 0)
                return;
        /* already running when the attach was asked for: only what it
         * writes from now on (unless logs=1); a start after the attach: all
         * it writes. The state is the request's, not this thread's: docker
         * run starts the container as soon as it has the 101, and a busy
         * host ran this thread after the container had printed (and exited),
         * so its output was skipped as old (CI, 2026-12-02). */
        if (q->was_running && running(&now) && !q->logs) {
                r.skip[0] = now.skip[0];
                r.skip[1] = now.skip[1];
        }
        if (wait_started(s, q, &now) < 0)
                return;
        snprintf(a.ref, sizeof(a.ref), "%s", now.id);
        if (q->in && now.open_stdin)
                r.mon = monitor_stdin(&now);
        r.in_open = q->in;
        r.once = now.stdin_once && !now.tty;
        if (r.mon >= 0 && q->extra_len > 0 && fs_write_all(r.mon, q->extra, q->extra_len) < 0) {
                close(r.mon);
                r.mon = -1;
        }
        if (api_work_stream(s, logs_work, &a, -1, &r.st, &err) < 0) {
                if (r.mon >= 0)
                        close(r.mon);
                return;
        }
        relay_loop(&r);
        if (r.mon >= 0)
                close(r.mon);
        if (r.st.out_fd >= 0 || r.st.err_fd >= 0)
                kill(r.st.pid, SIGTERM); /* ended early: the follow would go on */
        api_work_reap(&r.st);
}
