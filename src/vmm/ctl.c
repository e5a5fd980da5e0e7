/* The control socket server: one thread in the VMM process accepts a
 * connection, reads one request within CTL_TIMEOUT_MS, runs the route's
 * handler and writes the answer (Connection: close). One client at a time
 * keeps the handlers free of locking among themselves. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "vmm/ctl.h"

#define CTL_MAX_ROUTES 32

struct ctl_route {
        char method[8];
        char path[256];
        ctl_handler h;
        void *opaque;
};

struct ctl_server {
        int fd;
        int stop_pipe[2];
        pthread_t thread;
        bool started;
        char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
        struct ctl_route routes[CTL_MAX_ROUTES];
        unsigned n_routes;
        char buf[CTL_MAX_HEAD + CTL_MAX_BODY + 1];
};

int ctl_server_new(const char *sock_path, struct ctl_server **out, struct isola_err *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct ctl_server *s;

        if (strlen(sock_path) >= sizeof(sa.sun_path))
                return err_set(err, ENAMETOOLONG, "control socket '%s': path too long", sock_path);
        s = calloc(1, sizeof(*s));
        if (!s)
                return err_set(err, ENOMEM, "control socket: out of memory");
        s->fd = s->stop_pipe[0] = s->stop_pipe[1] = -1;
        snprintf(s->path, sizeof(s->path), "%s", sock_path);
        memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s->fd < 0) {
                err_sys(err, "control socket");
                goto fail;
        }
        (void)unlink(sock_path);
        mode_t old = umask(0077);
        int rc = bind(s->fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (rc < 0 || listen(s->fd, 16) < 0) {
                err_sys(err, "control socket '%s'", sock_path);
                goto fail;
        }
        if (pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
                err_sys(err, "control socket: pipe");
                goto fail;
        }
        *out = s;
        return 0;
fail:
        ctl_server_free(s);
        return -1;
}

int ctl_route_add(struct ctl_server *s, const char *method, const char *path, ctl_handler h,
                  void *opaque, struct isola_err *err)
{
        if (s->n_routes == CTL_MAX_ROUTES)
                return err_set(err, E2BIG, "control socket: at most %d routes", CTL_MAX_ROUTES);
        if (strlen(method) >= sizeof(s->routes[0].method) ||
            strlen(path) >= sizeof(s->routes[0].path))
                return err_set(err, EINVAL, "control socket: route %s %s too long", method, path);
        struct ctl_route *r = &s->routes[s->n_routes++];
        snprintf(r->method, sizeof(r->method), "%s", method);
        snprintf(r->path, sizeof(r->path), "%s", path);
        r->h = h;
        r->opaque = opaque;
        return 0;
}

void ctl_reply_error(struct ctl_response *resp, int status, const char *fmt, ...)
{
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        json_object_put(resp->body);
        resp->status = status;
        resp->body = json_object_new_object();
        if (resp->body)
                json_object_object_add(resp->body, "fault_message", json_object_new_string(msg));
}

static long ms_left(const struct timespec *deadline)
{
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

static const char *reason(int status)
{
        switch (status) {
        case 200:
                return "OK";
        case 204:
                return "No Content";
        case 400:
                return "Bad Request";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 408:
                return "Request Timeout";
        case 409:
                return "Conflict";
        case 413:
                return "Payload Too Large";
        case 414:
                return "URI Too Long";
        case 431:
                return "Request Header Fields Too Large";
        case 501:
                return "Not Implemented";
        case 505:
                return "HTTP Version Not Supported";
        default:
                return status < 500 ? "Client Error" : "Server Error";
        }
}

static void write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return;
                p += w;
                n -= (size_t)w;
        }
}

static void send_response(int fd, const struct ctl_response *resp)
{
        const char *body = "";
        char head[256];

        if (resp->body)
                body = json_object_to_json_string_ext(
                    resp->body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t blen = strlen(body);
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                         resp->status, reason(resp->status), blen);
        write_all(fd, head, (size_t)n);
        write_all(fd, body, blen);
}

static void dispatch(struct ctl_server *s, const struct ctl_request *req, struct ctl_response *resp)
{
        bool path_known = false;

        for (unsigned i = 0; i < s->n_routes; i++) {
                const struct ctl_route *r = &s->routes[i];
                if (strcmp(r->path, req->path) != 0)
                        continue;
                path_known = true;
                if (strcmp(r->method, req->method) != 0)
                        continue;
                resp->status = 200;
                r->h(r->opaque, req, resp);
                return;
        }
        if (path_known)
                ctl_reply_error(resp, 405, "%s not allowed on %s", req->method, req->path);
        else
                ctl_reply_error(resp, 404, "no such route: %s", req->path);
}

/* After an error answer the client may still be sending (a body over the
 * limit): closing now makes its write fail, and curl then reports no answer
 * at all. So the write side is shut and what still comes is read and
 * dropped, for at most a second and 1 MiB, as HTTP servers' lingering close
 * does. */
static void drain(int fd)
{
        char sink[4096];
        size_t total = 0;

        shutdown(fd, SHUT_WR);
        while (total < (1u << 20)) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, 1000) <= 0)
                        return;
                ssize_t n = recv(fd, sink, sizeof(sink), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                total += (size_t)n;
        }
}

/* Reads until the request is complete, malformed or the time is up. */
static void serve_one(struct ctl_server *s, int fd)
{
        struct ctl_response resp = {0};
        struct ctl_request req;
        struct isola_err err = {0};
        struct timespec deadline;
        size_t len = 0;
        int status = 0, rc = 0;

        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += CTL_TIMEOUT_MS / 1000;
        while (rc == 0) {
                long left = ms_left(&deadline);
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
                        ctl_reply_error(&resp, 408, "request not complete in time");
                        goto out;
                }
                if (len == sizeof(s->buf) - 1) {
                        ctl_reply_error(&resp, 413, "request too large");
                        goto out;
                }
                ssize_t n = recv(fd, s->buf + len, sizeof(s->buf) - 1 - len, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        goto out_silent;
                len += (size_t)n;
                rc = ctl_http_parse(s->buf, len, &req, &status, &err);
        }
        if (rc < 0)
                ctl_reply_error(&resp, status ? status : 400, "%s", err.msg);
        else
                dispatch(s, &req, &resp);
out:
        send_response(fd, &resp);
        if (resp.status >= 400)
                drain(fd);
out_silent:
        json_object_put(resp.body);
}

static void *serve(void *arg)
{
        struct ctl_server *s = arg;
        struct pollfd fds[2] = {{.fd = s->fd, .events = POLLIN},
                                {.fd = s->stop_pipe[0], .events = POLLIN}};

        for (;;) {
                if (poll(fds, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (fds[1].revents)
                        break;
                if (!(fds[0].revents & POLLIN))
                        continue;
                int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                serve_one(s, c);
                close(c);
        }
        return NULL;
}

int ctl_server_start(struct ctl_server *s, struct isola_err *err)
{
        int rc = pthread_create(&s->thread, NULL, serve, s);

        if (rc != 0)
                return err_set(err, rc, "control socket: creating its thread failed");
        s->started = true;
        return 0;
}

void ctl_server_free(struct ctl_server *s)
{
        if (!s)
                return;
        if (s->started) {
                char c = 0;
                if (write(s->stop_pipe[1], &c, 1) < 0) {
                        /* a pipe with room: cannot fail */
                }
                pthread_join(s->thread, NULL);
        }
        if (s->fd >= 0) {
                close(s->fd);
                (void)unlink(s->path);
        }
        if (s->stop_pipe[0] >= 0)
                close(s->stop_pipe[0]);
        if (s->stop_pipe[1] >= 0)
                close(s->stop_pipe[1]);
        free(s);
}
