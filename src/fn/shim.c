/* isola-fn-shim: the process the platform injects into every function
 * instance (bind-mounted at /.isola-fn/shim). It sends the instance's output
 * to the function's log, then
 *   http:  execs the handler, which serves HTTP on $PORT itself;
 *   stdio: listens on 127.0.0.1:PORT and, per request, runs the handler with
 *          the body on stdin; its stdout (bounded) is the response body,
 *          200 when it exits 0, else 500.
 * stdio serves HTTP/1.x keep-alive: a connection carries any number of
 * requests (Content-Length framing both ways) until the client asks for
 * Connection: close, speaks HTTP/1.0 without keep-alive, or sends something
 * malformed. One poll() over the listening socket and every open connection,
 * so an idle kept connection never blocks a request on another one; requests
 * run one at a time. libc only, static: it must run in any image. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define HDR_MAX  16384
#define BODY_MAX (6u << 20)
#define CONN_MAX 128 /* the gateway keeps at most 64 idle per instance */

struct conn {
        int fd;
        size_t have;
        char buf[HDR_MAX + 1]; /* what was read and not yet served */
};

struct req {
        size_t head_len, clen;
        bool keep;   /* the connection carries the next request */
        bool http11; /* answer in the request's version */
};

/* Head and body in one writev: with the head sent alone, Nagle would hold
 * the body until the gateway's delayed ACK. */
static int reply(int c, const struct req *r, int status, const char *body, size_t len)
{
        char h[224];
        int n = snprintf(h, sizeof(h),
                         "HTTP/1.%d %d %s\r\nContent-Type: application/octet-stream\r\n"
                         "Content-Length: %zu\r\nConnection: %s\r\n\r\n",
                         r->http11, status,
                         status == 200   ? "OK"
                         : status == 500 ? "Handler Failed"
                         : status == 502 ? "Output Too Large"
                         : status == 411 ? "Length Required"
                         : status == 413 ? "Payload Too Large"
                                         : "Bad Request",
                         len, r->keep ? "keep-alive" : "close");
        struct iovec iov[2] = {{h, (size_t)n}, {(void *)body, len}};
        size_t total = (size_t)n + len, off = 0;

        while (off < total) {
                ssize_t w = writev(c, iov, 2);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                off += (size_t)w;
                for (int i = 0; i < 2; i++) { /* skip what went out */
                        size_t k = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;
                        iov[i].iov_base = (char *)iov[i].iov_base + k;
                        iov[i].iov_len -= k;
                        w -= (ssize_t)k;
                }
        }
        return 0;
}

static bool has_token(const char *v, size_t n, const char *tok)
{
        size_t t = strlen(tok);
        for (size_t i = 0; i + t <= n; i++)
                if (!strncasecmp(v + i, tok, t))
                        return true;
        return false;
}

/* The head in c->buf[0, end): 0, or the status to answer (and close with). */
static int parse_head(const char *buf, const char *end, struct req *r)
{
        const char *eol = strstr(buf, "\r\n"), *sp = memchr(buf, ' ', (size_t)(eol - buf));
        bool have_len = false;

        if (!sp || eol - buf < 14)
                return 400;
        if (!strncmp(eol - 8, "HTTP/1.1", 8))
                r->http11 = r->keep = true;
        else if (strncmp(eol - 8, "HTTP/1.0", 8) != 0)
                return 400;
        for (const char *l = eol + 2; l < end; l = eol + 2) {
                eol = strstr(l, "\r\n");
                size_t n = (size_t)(eol - l);
                if (n > 15 && !strncasecmp(l, "Content-Length:", 15)) {
                        const char *v = l + 15;
                        size_t x = 0;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        if (v == eol)
                                return 400;
                        for (; v < eol && *v != ' ' && *v != '\t'; v++) {
                                if (*v < '0' || *v > '9')
                                        return 400;
                                if (x > BODY_MAX)
                                        return 413;
                                x = x * 10 + (size_t)(*v - '0');
                        }
                        if (x > BODY_MAX)
                                return 413;
                        if (have_len && x != r->clen)
                                return 400;
                        r->clen = x;
                        have_len = true;
                } else if (n > 18 && !strncasecmp(l, "Transfer-Encoding:", 18)) {
                        return 411; /* the gateway never sends chunked bodies */
                } else if (n > 11 && !strncasecmp(l, "Connection:", 11)) {
                        if (has_token(l + 11, n - 11, "close"))
                                r->keep = false;
                        else if (has_token(l + 11, n - 11, "keep-alive"))
                                r->keep = true;
                }
        }
        return 0;
}

/* Runs the handler with body on stdin; its stdout into *out (heap, grown as
 * it comes, at most BODY_MAX + 1 bytes). Stdin and stdout are served
 * together so a handler that answers before it reads everything (or never
 * reads) cannot deadlock against a full pipe. */
static int run_handler(char **argv, const char *body, size_t len, char **out, size_t *out_len)
{
        int in[2], op[2], st = 0;
        size_t cap = 0, sent = 0;
        pid_t pid;

        *out = NULL;
        *out_len = 0;
        if (pipe2(in, O_CLOEXEC) < 0)
                return 500;
        if (pipe2(op, O_CLOEXEC) < 0) {
                close(in[0]), close(in[1]);
                return 500;
        }
        pid = fork();
        if (pid == 0) {
                dup2(in[0], 0);
                dup2(op[1], 1);
                signal(SIGPIPE, SIG_DFL);
                execvp(argv[0], argv);
                _exit(127);
        }
        close(in[0]);
        close(op[1]);
        if (pid < 0) {
                close(in[1]), close(op[0]);
                return 500;
        }
        fcntl(in[1], F_SETFL, O_NONBLOCK);
        if (len == 0)
                close(in[1]), in[1] = -1;
        bool cut = false;
        for (;;) {
                struct pollfd p[2] = {{.fd = op[0], .events = POLLIN},
                                      {.fd = in[1], .events = POLLOUT}};
                if (poll(p, in[1] >= 0 ? 2 : 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (in[1] >= 0 && p[1].revents) {
                        ssize_t w = write(in[1], body + sent, len - sent);
                        if (w > 0)
                                sent += (size_t)w;
                        /* all written, or the handler closed its stdin: EOF for it */
                        if (sent == len || (w < 0 && errno != EAGAIN && errno != EINTR))
                                close(in[1]), in[1] = -1;
                }
                if (!p[0].revents)
                        continue;
                if (*out_len == cap) {
                        size_t nc = cap ? cap * 2 : 65536;
                        if (nc > BODY_MAX + 1)
                                nc = BODY_MAX + 1;
                        char *nb = realloc(*out, nc);
                        if (!nb)
                                break;
                        *out = nb;
                        cap = nc;
                }
                ssize_t r = read(op[0], *out + *out_len, cap - *out_len);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                *out_len += (size_t)r;
                if (*out_len > BODY_MAX) { /* cut: the gateway answers 502 */
                        kill(pid, SIGKILL);
                        cut = true;
                        break;
                }
        }
        if (in[1] >= 0)
                close(in[1]);
        close(op[0]);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        /* the shim is the instance's pid 1: reap what handlers left running and exited */
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        if (cut)
                return 502;
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 200 : 500;
}

/* Serves every complete request in c->buf, reading the bodies; false when
 * the connection must close. */
static bool serve_buffered(struct conn *c, char **argv)
{
        for (;;) {
                c->buf[c->have] = 0;
                char *end = strstr(c->buf, "\r\n\r\n");
                struct req r = {0};
                if (!end) {
                        if (c->have < HDR_MAX)
                                return true; /* more to come */
                        reply(c->fd, &r, 400, "request headers too large\n", 26);
                        return false;
                }
                int st = parse_head(c->buf, end + 2, &r);
                if (st) {
                        r.keep = false;
                        reply(c->fd, &r, st, "bad request\n", 12);
                        return false;
                }
                r.head_len = (size_t)(end + 4 - c->buf);
                size_t in_buf = c->have - r.head_len, used = r.head_len + r.clen;
                char *body = c->buf + r.head_len, *heap = NULL;
                if (in_buf < r.clen) { /* the rest of the body: read it whole */
                        heap = malloc(r.clen);
                        if (!heap) {
                                r.keep = false;
                                reply(c->fd, &r, 500, "shim: out of memory\n", 20);
                                return false;
                        }
                        memcpy(heap, body, in_buf);
                        for (size_t got = in_buf; got < r.clen;) {
                                ssize_t n = recv(c->fd, heap + got, r.clen - got, 0);
                                if (n < 0 && errno == EINTR)
                                        continue;
                                if (n <= 0) {
                                        free(heap);
                                        return false;
                                }
                                got += (size_t)n;
                        }
                        body = heap;
                        used = c->have;
                }
                char *out;
                size_t out_len;
                st = run_handler(argv, body, r.clen, &out, &out_len);
                free(heap);
                memmove(c->buf, c->buf + used, c->have - used);
                c->have -= used;
                bool ok;
                if (st == 502)
                        ok = reply(c->fd, &r, 502, "handler output over the limit\n", 30) == 0;
                else
                        ok = reply(c->fd, &r, st, out, out_len) == 0;
                free(out);
                if (!ok || !r.keep)
                        return false;
        }
}

static void drop(struct conn **cs, int *n, int k)
{
        shutdown(cs[k]->fd, SHUT_WR);
        close(cs[k]->fd);
        free(cs[k]);
        cs[k] = cs[--*n];
}

static int serve(int port, char **argv)
{
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((unsigned short)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int one = 1, l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), n = 0;
        struct conn *cs[CONN_MAX];
        struct pollfd p[CONN_MAX + 1];

        signal(SIGPIPE, SIG_IGN);
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 128) < 0) {
                perror("isola-fn-shim: listen");
                return 1;
        }
        for (;;) {
                p[0] = (struct pollfd){.fd = l, .events = POLLIN};
                for (int k = 0; k < n; k++)
                        p[k + 1] = (struct pollfd){.fd = cs[k]->fd, .events = POLLIN};
                int np = n;
                if (poll(p, (nfds_t)np + 1, -1) < 0)
                        continue;
                /* connections first (back to front: drop() moves the last into k) */
                for (int k = np - 1; k >= 0; k--) {
                        if (!p[k + 1].revents)
                                continue;
                        struct conn *c = cs[k];
                        ssize_t r = recv(c->fd, c->buf + c->have, HDR_MAX - c->have, 0);
                        if ((r < 0 && errno == EINTR) || (r < 0 && errno == EAGAIN))
                                continue;
                        if (r <= 0) {
                                drop(cs, &n, k);
                                continue;
                        }
                        c->have += (size_t)r;
                        if (!serve_buffered(c, argv))
                                drop(cs, &n, k);
                }
                if (!p[0].revents)
                        continue;
                int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                if (n == CONN_MAX) /* an idle one goes: a client retries it */
                        drop(cs, &n, 0);
                struct conn *c = malloc(sizeof(*c));
                if (!c) {
                        close(fd);
                        continue;
                }
                /* a client that stops in the middle of a body, or stops
                 * reading its answer, does not hold the shim for long */
                struct timeval tv = {60, 0};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                c->fd = fd;
                c->have = 0;
                cs[n++] = c;
        }
}

int main(int argc, char **argv)
{
        int log;

        if (argc < 5 || strcmp(argv[3], "--") != 0) {
                fprintf(stderr, "usage: isola-fn-shim http|stdio PORT -- COMMAND...\n");
                return 2;
        }
        log = open("/.isola-fn/log", O_WRONLY | O_APPEND | O_CLOEXEC);
        if (log >= 0) {
                dup2(log, 1);
                dup2(log, 2);
                close(log);
        }
        if (!strcmp(argv[1], "http")) {
                execvp(argv[4], argv + 4);
                fprintf(stderr, "isola-fn-shim: %s: %s\n", argv[4], strerror(errno));
                return 127;
        }
        return serve(atoi(argv[2]), argv + 4);
}
