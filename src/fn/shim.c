/* isola-fn-shim: the process the platform injects into every function
 * instance (bind-mounted at /.isola-fn/shim). It sends the instance's output
 * to the function's log, then
 *   http:  execs the handler, which serves HTTP on $PORT itself;
 *   stdio: listens on 127.0.0.1:PORT and, per request, runs the handler with
 *          the body on stdin; its stdout (bounded) is the response body,
 *          200 when it exits 0, else 500.
 * libc only, static: it must run in any image. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define HDR_MAX  16384
#define BODY_MAX (6u << 20)

static int write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

static void reply(int c, int status, const char *body, size_t len)
{
        char h[160];
        int n = snprintf(h, sizeof(h),
                         "HTTP/1.0 %d %s\r\nContent-Type: application/octet-stream\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                         status,
                         status == 200   ? "OK"
                         : status == 500 ? "Handler Failed"
                         : status == 502 ? "Output Too Large"
                                         : "Bad Request",
                         len);
        write_all(c, h, (size_t)n);
        write_all(c, body, len);
}

/* Reads headers and the Content-Length body into a heap buffer. */
static char *read_request(int c, size_t *len_out)
{
        char *buf = malloc(HDR_MAX + 1), *end = NULL, *body;
        size_t got = 0, clen = 0;

        if (!buf)
                return NULL;
        while (!end && got < HDR_MAX) {
                ssize_t r = read(c, buf + got, HDR_MAX - got);
                if (r <= 0)
                        goto fail;
                got += (size_t)r;
                buf[got] = 0;
                end = strstr(buf, "\r\n\r\n");
        }
        if (!end)
                goto fail;
        for (char *l = strstr(buf, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n"))
                if (!strncasecmp(l + 2, "Content-Length:", 15))
                        clen = strtoul(l + 17, NULL, 10);
        if (clen > BODY_MAX)
                goto fail;
        body = malloc(clen + 1);
        if (!body)
                goto fail;
        size_t have = got - (size_t)(end + 4 - buf);
        if (have > clen)
                have = clen;
        memcpy(body, end + 4, have);
        while (have < clen) {
                ssize_t r = read(c, body + have, clen - have);
                if (r <= 0) {
                        free(body);
                        goto fail;
                }
                have += (size_t)r;
        }
        free(buf);
        *len_out = clen;
        return body;
fail:
        free(buf);
        return NULL;
}

static void serve_one(int c, char **argv)
{
        size_t len, out_len = 0;
        char *body = read_request(c, &len), *out;
        int in[2], op[2], st;
        pid_t pid;

        if (!body) {
                reply(c, 400, "bad request\n", 12);
                return;
        }
        out = malloc(BODY_MAX + 1);
        if (!out || pipe(in) < 0 || pipe(op) < 0) {
                free(body);
                free(out);
                reply(c, 500, "shim: out of resources\n", 23);
                return;
        }
        pid = fork();
        if (pid == 0) {
                dup2(in[0], 0);
                dup2(op[1], 1);
                close(in[0]), close(in[1]), close(op[0]), close(op[1]), close(c);
                signal(SIGPIPE, SIG_DFL);
                execvp(argv[0], argv);
                _exit(127);
        }
        close(in[0]);
        close(op[1]);
        /* bodies are bounded, so writing all then reading is fine as long as
         * the handler reads its stdin; one that does not gets EPIPE-free EOF */
        if (pid > 0)
                write_all(in[1], body, len);
        close(in[1]);
        free(body);
        for (;;) {
                ssize_t r = read(op[0], out + out_len, BODY_MAX + 1 - out_len);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                out_len += (size_t)r;
                if (out_len > BODY_MAX) { /* cut: the gateway answers 502 */
                        kill(pid, SIGKILL);
                        break;
                }
        }
        close(op[0]);
        while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        if (pid < 0)
                reply(c, 500, "shim: fork failed\n", 18);
        else if (out_len > BODY_MAX)
                reply(c, 502, "handler output over the limit\n", 30);
        else
                reply(c, WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 200 : 500, out, out_len);
        free(out);
}

static int serve(int port, char **argv)
{
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((unsigned short)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);

        signal(SIGPIPE, SIG_IGN);
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 128) < 0) {
                perror("isola-fn-shim: listen");
                return 1;
        }
        for (;;) {
                int c = accept(l, NULL, NULL);
                if (c < 0)
                        continue;
                serve_one(c, argv);
                close(c);
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
