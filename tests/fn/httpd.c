#define _GNU_SOURCE
/* A tiny static HTTP/1.0 server for the fn tests and bench: listens on
 * $PORT, a thread per connection, keeps the connection when the request
 * asks for keep-alive (as the gateway does).
 *   /hello        "hello <hostname> <pid>"
 *   /echo?Q       method, query, X-Test header and the body back
 *   /sleep/MS     answers after MS milliseconds
 *   /crash        exits without answering
 *   /big          writes without end (the gateway cuts it)
 *   /env          $GREETING */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#define BUFSZ (1 << 20)

static __thread int keep;

static void put(int c, const char *body, size_t len)
{
        char h[160];
        int n =
            snprintf(h, sizeof(h), "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\nX-Fn: test\r\n%s\r\n",
                     len, keep ? "Connection: keep-alive\r\n" : "");
        /* a length over BUFSZ is only announced: /big writes the body itself */
        struct iovec iov[2] = {{h, (size_t)n}, {(void *)body, len > BUFSZ ? 0 : len}};

        /* one write: head and body in one segment, as a real server does */
        if (writev(c, iov, 2) < 0)
                return;
}

/* One request; 0 when the connection can carry another. */
static int handle(int c, char *buf, char *out)
{
        size_t got = 0;
        char *end = NULL;
        long clen = 0;

        while (!end && got < BUFSZ - 1) {
                ssize_t r = read(c, buf + got, BUFSZ - 1 - got);
                if (r <= 0)
                        return -1;
                got += (size_t)r;
                buf[got] = 0;
                end = strstr(buf, "\r\n\r\n");
        }
        if (!end)
                return -1;
        char *ka = strcasestr(buf, "\r\nConnection: keep-alive");
        keep = ka && ka < end;
        char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl && cl < end)
                clen = atol(cl + 17);
        while ((long)(got - (size_t)(end + 4 - buf)) < clen && got < BUFSZ - 1) {
                ssize_t r = read(c, buf + got, BUFSZ - 1 - got);
                if (r <= 0)
                        break;
                got += (size_t)r;
        }
        buf[got] = 0;
        char method[16] = "", path[1024] = "";
        sscanf(buf, "%15s %1023s", method, path);
        if (!strncmp(path, "/crash", 6))
                _exit(3);
        if (!strncmp(path, "/sleep/", 7)) {
                long ms = atol(path + 7);
                struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
                nanosleep(&ts, NULL);
                put(c, "slept\n", 6);
                return keep ? 0 : -1;
        }
        if (!strncmp(path, "/big", 4)) {
                memset(out, 'x', BUFSZ);
                put(c, "", 0x7fffffff);
                while (write(c, out, BUFSZ) > 0)
                        ;
                return -1;
        }
        if (!strncmp(path, "/env", 4)) {
                const char *g = getenv("GREETING");
                put(c, g ? g : "", g ? strlen(g) : 0);
                return keep ? 0 : -1;
        }
        if (!strncmp(path, "/echo", 5)) {
                char *x = strcasestr(buf, "\r\nX-Test:");
                char xv[128] = "";
                if (x && x < end)
                        sscanf(x + 9, " %127[^\r]", xv);
                int n = snprintf(out, BUFSZ, "%s %s x-test=%s body=%.*s", method, path, xv,
                                 (int)(got - (size_t)(end + 4 - buf)), end + 4);
                put(c, out, (size_t)n);
                return keep ? 0 : -1;
        }
        char host[64] = "";
        gethostname(host, sizeof(host));
        int n = snprintf(out, BUFSZ, "hello %s %d\n", host, (int)getpid());
        put(c, out, (size_t)n);
        return keep ? 0 : -1;
}

static void *conn(void *arg)
{
        int c = (int)(long)arg;
        char *buf = malloc(BUFSZ), *out = malloc(BUFSZ);

        while (buf && out && handle(c, buf, out) == 0)
                ;
        free(buf);
        free(out);
        close(c);
        return NULL;
}

int main(void)
{
        const char *p = getenv("PORT");
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((unsigned short)atoi(p ? p : "8080"))};
        int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);

        signal(SIGPIPE, SIG_IGN);
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 256) < 0) {
                perror("httpd");
                return 1;
        }
        for (;;) {
                int c = accept(l, NULL, NULL);
                pthread_t t;
                if (c < 0)
                        continue;
                if (pthread_create(&t, NULL, conn, (void *)(long)c) != 0)
                        close(c);
                else
                        pthread_detach(t);
        }
}
