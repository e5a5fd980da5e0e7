/* The gateway's HTTP side: a plain socket listener (one thread per client
 * connection, keep-alive), a bounded HTTP/1.1 request parser, and the
 * exchange with an instance (HTTP/1.0 with keep-alive when the instance
 * offers it). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fn/fn_gateway_internal.h"
#include "fn/fn_http.h"
#include "util/fs.h"

int gw_listen(struct fn_gateway *g, struct isola_err *err)
{
        char host[128], *colon;
        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV},
                        *ai = NULL;
        int one = 1, s;

        snprintf(host, sizeof(host), "%s", g->listen_addr);
        colon = strrchr(host, ':');
        if (!colon || !colon[1])
                return err_set(err, EINVAL, "--listen '%s': expected ADDR:PORT", g->listen_addr);
        *colon = 0;
        if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai) != 0 || !ai)
                return err_set(err, EINVAL, "--listen '%s': not an address", g->listen_addr);
        s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) {
                freeaddrinfo(ai);
                return err_sys(err, "socket");
        }
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(s, ai->ai_addr, ai->ai_addrlen) < 0 || listen(s, 1024) < 0) {
                freeaddrinfo(ai);
                close(s);
                return err_sys(err, "--listen %s", g->listen_addr);
        }
        freeaddrinfo(ai);
        g->listen_fd = s;
        return 0;
}

static const char *reason(int st)
{
        switch (st) {
        case 200:
                return "OK";
        case 400:
                return "Bad Request";
        case 404:
                return "Not Found";
        case 411:
                return "Length Required";
        case 413:
                return "Payload Too Large";
        case 429:
                return "Too Many Requests";
        case 431:
                return "Request Header Fields Too Large";
        case 500:
                return "Internal Server Error";
        case 502:
                return "Bad Gateway";
        case 503:
                return "Service Unavailable";
        case 504:
                return "Gateway Timeout";
        default:
                return "Status";
        }
}

static int send_reply(int c, int st, const char *hdrs, const char *body, size_t len, bool close_)
{
        char h[256];
        int n = snprintf(h, sizeof(h), "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s", st,
                         reason(st), len, close_ ? "Connection: close\r\n" : "");
        struct iovec iov[4] = {{h, (size_t)n},
                               {(void *)(hdrs ? hdrs : ""), hdrs ? strlen(hdrs) : 0},
                               {(void *)"\r\n", 2},
                               {(void *)body, len}};
        size_t total = 0;
        for (int i = 0; i < 4; i++)
                total += iov[i].iov_len;
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = 4};
        ssize_t w = sendmsg(c, &m, MSG_NOSIGNAL);
        if (w == (ssize_t)total)
                return 0;
        if (w < 0)
                return -1;
        /* a partial write: finish piecewise */
        size_t off = (size_t)w;
        for (int i = 0; i < 4; i++) {
                if (off >= iov[i].iov_len) {
                        off -= iov[i].iov_len;
                        continue;
                }
                if (fs_write_all(c, (const char *)iov[i].iov_base + off, iov[i].iov_len - off) < 0)
                        return -1;
                off = 0;
        }
        return 0;
}

static int error_reply(int c, int st, const char *msg, bool close_)
{
        char body[ISOLA_ERR_MSG_MAX + 2];
        int n = snprintf(body, sizeof(body), "%s\n", msg);
        return send_reply(c, st, "Content-Type: text/plain\r\n", body, (size_t)n, close_);
}

static void serve_metrics(struct fn_gateway *g, int c, bool close_)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return;
        fn_metrics_write(g, f);
        fclose(f);
        send_reply(c, 200, "Content-Type: text/plain; version=0.0.4\r\n", buf, len, close_);
        free(buf);
}

/* One request on a client connection; false when the connection must close. */
static bool serve_request(struct fn_gateway *g, int c, char *buf, size_t *have)
{
        struct fn_http_req r;
        struct isola_err err = {0};
        int st = fn_http_parse(buf, *have, FN_BODY_MAX, &r);

        while (st == FN_HTTP_MORE) {
                if (*have >= GW_HDR_MAX)
                        return error_reply(c, 431, "request headers too large", true), false;
                ssize_t n = recv(c, buf + *have, GW_HDR_MAX - *have, 0);
                if (n <= 0)
                        return false;
                *have += (size_t)n;
                st = fn_http_parse(buf, *have, FN_BODY_MAX, &r);
        }
        if (st > 0) {
                char msg[128];
                snprintf(msg, sizeof(msg), "%s",
                         st == 413 ? "request body over the limit (6 MiB)" : "malformed request");
                return error_reply(c, st, msg, true), false;
        }
        bool close_ = r.close;
        /* the body: in place when it came with the headers (the usual
         * case), else what came and then the rest in a heap buffer */
        size_t in_buf = *have - r.header_len, used;
        char *body = buf + r.header_len, *heap = NULL;
        if (in_buf >= r.content_length) {
                used = r.header_len + r.content_length;
        } else {
                heap = malloc(r.content_length);
                if (!heap) {
                        fn_http_req_free(&r);
                        return error_reply(c, 500, "out of memory", true), false;
                }
                memcpy(heap, body, in_buf);
                for (size_t got = in_buf; got < r.content_length;) {
                        ssize_t n = recv(c, heap + got, r.content_length - got, 0);
                        if (n <= 0) {
                                free(heap);
                                fn_http_req_free(&r);
                                return false;
                        }
                        got += (size_t)n;
                }
                body = heap;
                used = *have;
        }

        bool ok = true;
        if (!strcmp(r.target, "/metrics"))
                serve_metrics(g, c, close_);
        else if (!strcmp(r.target, "/healthz"))
                send_reply(c, 200, NULL, "ok\n", 3, close_);
        else if (!r.fn_name[0])
                error_reply(c, 404, "not found: use /function/NAME", close_);
        else {
                struct fn_request rq = {.method = r.method,
                                        .path = r.fn_path,
                                        .headers = (const char *const *)r.headers,
                                        .body = body,
                                        .body_len = r.content_length};
                struct fn_response rs;
                if (fn_gateway_invoke(g, r.fn_name, &rq, &rs, &err) < 0)
                        ok = error_reply(c, rs.status, err.msg, close_) == 0;
                else
                        ok =
                            send_reply(c, rs.status, rs.headers, rs.body, rs.body_len, close_) == 0;
                fn_response_free(&rs);
        }
        free(heap);
        fn_http_req_free(&r);
        /* what follows this request (pipelined) moves to the front */
        memmove(buf, buf + used, *have - used);
        *have -= used;
        return ok && !close_;
}

static void *conn_thread(void *arg)
{
        struct fn_gateway *g = ((void **)arg)[0];
        int c = (int)(intptr_t)((void **)arg)[1];
        char *buf = malloc(GW_HDR_MAX + 1);
        size_t have = 0;
        int one = 1;

        free(arg);
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        while (buf && !atomic_load(&g->stop) && serve_request(g, c, buf, &have))
                ;
        /* lingering close: unread request bytes would turn close() into a
         * reset that can destroy an error reply before the client reads it */
        struct timeval tv = {0, 200000};
        shutdown(c, SHUT_WR);
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        for (size_t drained = 0; buf && drained < (1u << 20);) {
                ssize_t n = recv(c, buf, GW_HDR_MAX, 0);
                if (n <= 0)
                        break;
                drained += (size_t)n;
        }
        free(buf);
        close(c);
        atomic_fetch_sub(&g->conns, 1);
        return NULL;
}

void *gw_accept_loop(void *arg)
{
        struct fn_gateway *g = arg;
        pthread_attr_t at;

        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 256 << 10);
        while (!atomic_load(&g->stop)) {
                int c = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (atomic_load(&g->stop) || errno == EINVAL)
                                break;
                        continue; /* EMFILE and friends: keep serving the others */
                }
                void **a = malloc(2 * sizeof(void *));
                pthread_t t;
                if (!a || atomic_fetch_add(&g->conns, 1) >= GW_MAX_CONNS) {
                        atomic_fetch_sub(&g->conns, 1);
                        free(a);
                        close(c);
                        continue;
                }
                a[0] = g;
                a[1] = (void *)(intptr_t)c;
                if (pthread_create(&t, &at, conn_thread, a) != 0) {
                        atomic_fetch_sub(&g->conns, 1);
                        free(a);
                        close(c);
                }
        }
        pthread_attr_destroy(&at);
        return NULL;
}

/* The request to the instance: HTTP/1.0 asking for keep-alive, the
 * end-to-end headers, our framing. Its length, or 0 when it does not fit. */
static size_t request_head(char *head, size_t size, const struct fn_request *rq)
{
        size_t hl = (size_t)snprintf(head, size, "%s %s%s HTTP/1.0\r\n", rq->method,
                                     rq->path[0] == '/' ? "" : "/", rq->path);

        for (size_t i = 0; rq->headers && rq->headers[i] && hl < size; i++) {
                size_t l = strlen(rq->headers[i]);
                if (fn_http_hop_header(rq->headers[i]))
                        continue;
                if (hl + l + 2 >= size)
                        return 0;
                memcpy(head + hl, rq->headers[i], l);
                memcpy(head + hl + l, "\r\n", 2);
                hl += l + 2;
        }
        if (hl < size)
                hl += (size_t)snprintf(head + hl, size - hl,
                                       "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n",
                                       rq->body_len);
        return hl < size ? hl : 0;
}

static int send_request(int s, const char *head, size_t hl, const struct fn_request *rq)
{
        struct iovec iov[2] = {{(void *)head, hl}, {(void *)rq->body, rq->body_len}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = rq->body_len ? 2 : 1};
        ssize_t w = sendmsg(s, &m, MSG_NOSIGNAL);

        if (w >= 0 && (size_t)w < hl + rq->body_len) {
                size_t off = (size_t)w;
                if ((off < hl && fs_write_all(s, head + off, hl - off) < 0) ||
                    fs_write_all(s, rq->body + (off > hl ? off - hl : 0),
                                 rq->body_len - (off > hl ? off - hl : 0)) < 0)
                        w = -1;
        }
        return w < 0 ? -1 : 0;
}

/* Forwards the request and reads the whole response, bounded by the body
 * limit and the deadline. *keep: the connection can carry the next request.
 * *stale: nothing at all came back (an idle kept connection the instance
 * closed). The instance's sockets have a short SO_RCVTIMEO (fn_ctr.c), so a
 * plain blocking recv waits for the answer (one syscall, no poll) and the
 * deadline is checked at least that often. */
int gw_exchange(int s, const char *name, const struct fn_request *rq, int64_t deadline_ms,
                struct fn_response *rs, bool *recycle, bool *keep, bool *stale,
                struct isola_err *err)
{
        char head[GW_HDR_MAX + 256], first[16384], *resp = first;
        size_t hl, cap = sizeof(first), got = 0, rhead = 0, clen = (size_t)-1;
        bool framed = false;
        int st, one = 1;

        *keep = *stale = false;
        if (!(hl = request_head(head, sizeof(head), rq)))
                return err_set(err, E2BIG, "function '%s': request headers too large", name), 431;
        if (send_request(s, head, hl, rq) < 0) {
                *stale = true;
                err_set(err, EPIPE, "function '%s': instance closed the connection", name);
                return 502;
        }
        /* No delayed ACK for what comes: a handler writing head and body
         * apart (Nagle on its side) would wait 40 ms for it, and one-write
         * answers come sooner too (bench/fn with 1 connection). Armed again
         * before each further wait. */
        setsockopt(s, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
        for (;;) {
                if (framed && clen != (size_t)-1 && got >= rhead + clen)
                        break;
                if (fn_now_ms() >= deadline_ms) {
                        if (resp != first)
                                free(resp);
                        *recycle = true;
                        return err_set(err, ETIMEDOUT, "function '%s': timed out", name), 504;
                }
                if (got == cap) {
                        if (cap >= FN_BODY_MAX + GW_HDR_MAX) {
                                if (resp != first)
                                        free(resp);
                                return err_set(err, EFBIG,
                                               "function '%s': response over the limit (%u bytes)",
                                               name, FN_BODY_MAX),
                                       502;
                        }
                        size_t nc =
                            cap * 4 > FN_BODY_MAX + GW_HDR_MAX ? FN_BODY_MAX + GW_HDR_MAX : cap * 4;
                        char *n = resp == first ? malloc(nc) : realloc(resp, nc);
                        if (!n) {
                                if (resp != first)
                                        free(resp);
                                return err_set(err, ENOMEM, "out of memory"), 500;
                        }
                        if (resp == first)
                                memcpy(n, first, got);
                        resp = n;
                        cap = nc;
                }
                ssize_t n = recv(s, resp + got, cap - got, 0);
                if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
                        continue;
                if (n <= 0)
                        break;
                got += (size_t)n;
                if (!framed)
                        framed = fn_http_response_frame(resp, got, &rhead, &clen, keep);
                if (!framed || clen == (size_t)-1 || got < rhead + clen)
                        setsockopt(s, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
        }
        if (got == 0)
                *stale = true;
        if (!framed || clen == (size_t)-1 || got != rhead + clen)
                *keep = false; /* truncated, or more than announced: do not reuse */
        st = fn_http_parse_response(resp, got, rs);
        if (resp != first)
                free(resp);
        if (st == 0 && rs->body_len > FN_BODY_MAX) {
                fn_response_free(rs);
                *keep = false;
                return err_set(err, EFBIG, "function '%s': response over the limit (%u bytes)",
                               name, FN_BODY_MAX),
                       502;
        }
        if (st < 0) {
                /* it closed without an answer: crashed or broken, replace it */
                *recycle = true;
                *keep = false;
                return err_set(err, EPROTO, "function '%s': instance gave no valid HTTP response",
                               name),
                       502;
        }
        return 0;
}
