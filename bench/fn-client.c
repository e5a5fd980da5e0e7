/* bench/fn helper: N sequential HTTP/1.1 GETs, a new connection each (as the
 * gateway makes to an instance), prints "p50_us p99_us". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int cmp(const void *a, const void *b)
{
        long long x = *(const long long *)a, y = *(const long long *)b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
        if (argc != 5) {
                fprintf(stderr, "usage: fn-client IP PORT PATH N\n");
                return 2;
        }
        int n = atoi(argv[4]), one = 1;
        long long *t = calloc((size_t)n, sizeof(*t));
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((unsigned short)atoi(argv[2]))};
        char req[512], buf[65536];
        int rl = snprintf(req, sizeof(req),
                          "GET %s HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n", argv[3]);

        inet_pton(AF_INET, argv[1], &a.sin_addr);
        for (int i = 0; i < n; i++) {
                long long t0 = now_us();
                int s = socket(AF_INET, SOCK_STREAM, 0);
                setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
                    write(s, req, (size_t)rl) != rl) {
                        perror("fn-client");
                        return 1;
                }
                while (read(s, buf, sizeof(buf)) > 0)
                        ;
                close(s);
                t[i] = now_us() - t0;
        }
        qsort(t, (size_t)n, sizeof(*t), cmp);
        printf("%lld %lld\n", t[n / 2], t[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1]);
        return 0;
}
