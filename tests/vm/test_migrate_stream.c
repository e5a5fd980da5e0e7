/* The migration stream's plain-TCP path (src/vmm/migrate_tls.c,
 * migrate_recv.c) without a VM: a record sent as pieces from where they lie
 * (migrate_conn_writev) arrives whole and in order even when signals cut
 * the send short again and again, and the receiving side hands each record
 * of a stream with records of growing and shrinking sizes (one buffer
 * reused) to its callbacks with the right offset and bytes. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tap.h"
#include "vmm/migrate.h"

#define BIG (600u * 1024)

struct reader {
        int fd;
        uint8_t *got;
        size_t len, cap;
};

/* Reads slowly (small reads, a pause now and then) so that the sender's
 * socket buffer stays full and its sends are interrupted mid-way. */
static void *slow_reader(void *arg)
{
        struct reader *r = arg;
        unsigned n = 0;

        for (;;) {
                ssize_t k =
                    read(r->fd, r->got + r->len, r->cap - r->len < 3000 ? r->cap - r->len : 3000);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                r->len += (size_t)k;
                if (++n % 16 == 0)
                        usleep(200);
        }
        return NULL;
}

static void on_alarm(int sig)
{
        (void)sig;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t)(i * 31 + seed + i / 4096);
}

/* Three pieces through a socket with a small buffer while SIGALRM comes
 * every 200 us (no SA_RESTART: sendmsg returns what it sent so far). */
static void short_sends(void)
{
        int sv[2];
        uint8_t head[5] = {'P', 1, 2, 3, 4};
        uint64_t off = 0x123000;
        uint8_t *data = malloc(BIG), *want = malloc(13 + BIG);
        struct reader r = {.cap = 13 + BIG + 1};
        struct sigaction sa = {.sa_handler = on_alarm};
        struct itimerval it = {{0, 200}, {0, 200}}, stop = {{0, 0}, {0, 0}};
        struct isola_err err = {0};
        pthread_t t;
        int small = 4096;

        r.got = malloc(r.cap);
        fill(data, BIG, 7);
        memcpy(want, head, 5);
        memcpy(want + 5, &off, 8);
        memcpy(want + 13, data, BIG);
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
        r.fd = sv[1];
        sigaction(SIGALRM, &sa, NULL);
        pthread_create(&t, NULL, slow_reader, &r);
        struct migrate_conn c = {.fd = sv[0]};
        struct iovec iov[3] = {{head, 5}, {&off, 8}, {data, BIG}};
        setitimer(ITIMER_REAL, &it, NULL);
        int rc = migrate_conn_writev(&c, iov, 3, &err);
        setitimer(ITIMER_REAL, &stop, NULL);
        shutdown(sv[0], SHUT_WR);
        pthread_join(t, NULL);
        TAP_EQ_INT(rc, 0, "writev through interrupted sends succeeds");
        tap_ok(r.len == 13 + BIG, "the reader got every byte (%zu of %u)", r.len, 13 + BIG);
        tap_ok(r.len == 13 + BIG && memcmp(r.got, want, r.len) == 0,
               "header, offset and pages arrive in order, unchanged");
        close(sv[0]);
        close(sv[1]);
        free(r.got);
        free(data);
        free(want);
}

struct seen {
        unsigned pages, bad, states, ends;
};

static const uint32_t sizes[] = {4096, 262144, 8192, 1048576, 4096};

static int on_page(void *opaque, uint64_t off, const char *p, uint32_t n, struct isola_err *err)
{
        struct seen *s = opaque;
        static uint8_t want[1048576];
        (void)err;

        if (s->pages >= sizeof(sizes) / sizeof(sizes[0]) || n != sizes[s->pages] ||
            off != (uint64_t)s->pages << 21) {
                s->bad++;
                return 0;
        }
        fill(want, n, s->pages);
        if (memcmp(p, want, n) != 0)
                s->bad++;
        s->pages++;
        return 0;
}

static int on_state(void *opaque, const char *p, uint32_t n, struct isola_err *err)
{
        struct seen *s = opaque;
        (void)err;
        s->states++;
        if (n != 3 || memcmp(p, "abc", 3) != 0)
                s->bad++;
        return 0;
}

static int on_end(void *opaque, struct isola_err *err)
{
        (void)err;
        ((struct seen *)opaque)->ends++;
        return 0;
}

static void send_rec(struct migrate_conn *c, char type, const void *head, size_t hlen,
                     const void *p, uint32_t n)
{
        uint8_t h[5] = {(uint8_t)type};
        uint32_t len = (uint32_t)hlen + n;
        struct isola_err err = {0};

        memcpy(h + 1, &len, 4);
        struct iovec iov[3] = {{h, 5}, {(void *)head, hlen}, {(void *)p, n}};
        migrate_conn_writev(c, iov, 3, &err);
}

struct writer {
        int fd;
};

static void *write_stream(void *arg)
{
        struct migrate_conn c = {.fd = ((struct writer *)arg)->fd};
        static uint8_t buf[1048576];

        for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                uint64_t off = (uint64_t)i << 21;
                fill(buf, sizes[i], i);
                send_rec(&c, 'P', &off, 8, buf, sizes[i]);
        }
        send_rec(&c, 'S', NULL, 0, "abc", 3);
        send_rec(&c, 'E', NULL, 0, NULL, 0);
        shutdown(c.fd, SHUT_WR);
        return NULL;
}

/* Records of 4 KiB, 256 KiB, 8 KiB, 1 MiB, 4 KiB: the receiver's one
 * buffer grows and is reused; each record still comes out whole. */
static void records(void)
{
        int sv[2];
        struct seen s = {0};
        struct isola_err err = {0};
        const struct migrate_recv_ops ops = {.page = on_page, .state = on_state, .end = on_end};
        pthread_t t;

        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
        struct writer w = {.fd = sv[0]};
        pthread_create(&t, NULL, write_stream, &w);
        struct migrate_conn c = {.fd = sv[1]};
        int rc = migrate_recv_rest(&c, &ops, &s, 16u << 20, &err);
        pthread_join(t, NULL);
        TAP_EQ_INT(rc, 0, "a stream of records of changing sizes is read to its end");
        TAP_EQ_INT((int)s.pages, 5, "every page record reaches the callback");
        TAP_EQ_INT((int)s.bad, 0, "each with its offset and its bytes");
        tap_ok(s.states == 1 && s.ends == 1, "then the state and the end");
        close(sv[0]);
        close(sv[1]);
}

int main(void)
{
        short_sends();
        records();
        return tap_done();
}
