/* The sending side of live migration (see migrate.h), and the listening
 * socket of a receiver. */
#include <errno.h>
#include <json-c/json.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "devices/dev_state.h"
#include "util/cleanup.h"
#include "vmm/machine.h"
#include "vmm/mgr.h"
#include "vmm/migrate.h"
#include "vmm/snapshot.h"
#include "vmm/vm_internal.h"

#define PAGE 4096u

static double now_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* A record's 5-byte header: its type and the length of what follows. */
static void put_header(uint8_t *h, char type, size_t len)
{
        uint32_t l = (uint32_t)len;

        h[0] = (uint8_t)type;
        memcpy(h + 1, &l, 4);
}

static int send_record(struct migrate_conn *c, char type, const void *head, size_t hlen,
                       const void *p, size_t n, struct isola_err *err)
{
        uint8_t h[5];
        struct iovec iov[3] = {{.iov_base = h, .iov_len = 5}};
        int k = 1;

        put_header(h, type, hlen + n);
        /* One record, one write (one TLS record, one segment); the pages
         * go from guest memory to the socket without a copy of their own. */
        if (hlen)
                iov[k++] = (struct iovec){.iov_base = (void *)head, .iov_len = hlen};
        if (n)
                iov[k++] = (struct iovec){.iov_base = (void *)p, .iov_len = n};
        return migrate_conn_writev(c, iov, k, err);
}

/* The state record and the end record in one write: the receiver wakes
 * once for both. */
static int send_state_end(struct migrate_conn *c, const void *state, size_t n,
                          struct isola_err *err)
{
        uint8_t h[5], end[5];
        struct iovec iov[3] = {{.iov_base = h, .iov_len = 5},
                               {.iov_base = (void *)state, .iov_len = n},
                               {.iov_base = end, .iov_len = 5}};

        put_header(h, 'S', n);
        put_header(end, 'E', 0);
        return migrate_conn_writev(c, iov, 3, err);
}

/* The ADDR of "ADDR:PORT" ("[v6]:PORT" without the brackets) in host. */
static int target_host(const char *to, char host[256], struct isola_err *err)
{
        const char *colon = strrchr(to, ':');

        if (!colon || colon == to || (size_t)(colon - to) >= 256)
                return err_set(err, EINVAL, "migration target '%s': expected ADDR:PORT", to);
        snprintf(host, 256, "%.*s", (int)(colon - to), to);
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
                memmove(host, host + 1, strlen(host));
                host[strlen(host) - 1] = 0;
        }
        return 0;
}

static int dial(const char *to, const char *host, struct isola_err *err)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;

        int rc = getaddrinfo(host, strrchr(to, ':') + 1, &hints, &ai);
        if (rc != 0)
                return err_set(err, EINVAL, "migration target '%s': %s", to, gai_strerror(rc));
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                err_sys(err, "migration target '%s'", to);
                if (fd >= 0)
                        close(fd);
                freeaddrinfo(ai);
                return -1;
        }
        freeaddrinfo(ai);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

struct sender {
        struct migrate_conn *conn;
        int progress_fd; /* -1: none */
        double t0;       /* ms, start of the migration */
        struct migrate_stats *st;
        bool ready; /* the destination's VMM is up ('W') */
        /* The run send_chunk holds back: its offset in the memory file,
         * where it is in guest memory and its bytes (0: none). */
        uint64_t run_off;
        const uint8_t *run_p;
        size_t run_n;
};

void migrate_progress_write(int fd, const struct migrate_progress *p)
{
        char line[MIGRATE_PROGRESS_LEN + 1];

        if (fd < 0)
                return;
        int n = snprintf(line, sizeof(line),
                         "{\"phase\":\"%s\",\"round\":%u,\"bytes_sent\":%llu,"
                         "\"dirty_pages\":%llu,\"dirty_rate_mib_s\":%.1f,"
                         "\"est_downtime_ms\":%.1f,\"elapsed_ms\":%.0f}",
                         p->phase, p->round, (unsigned long long)p->bytes_sent,
                         (unsigned long long)p->dirty_pages, p->dirty_rate_mib_s,
                         p->est_downtime_ms, p->elapsed_ms);
        if (n < 0 || n >= (int)sizeof(line) - 1)
                return;
        memset(line + n, ' ', sizeof(line) - 1 - (size_t)n);
        line[sizeof(line) - 2] = '\n';
        /* a progress file that cannot be written is no reason to fail */
        (void)!pwrite(fd, line, sizeof(line) - 1, 0);
}

/* The run of memory not sent yet, as one record. */
static int flush_run(struct sender *s, struct isola_err *err)
{
        if (!s->run_n)
                return 0;
        size_t n = s->run_n;
        s->run_n = 0;
        s->st->bytes_sent += n;
        return send_record(s->conn, 'P', &s->run_off, 8, s->run_p, n, err);
}

/* Chunks that follow each other in the memory file and in guest memory
 * (the 64 KiB chunks of the first round, dirty runs) join into records of
 * up to MIGRATE_RUN_BYTES: fewer headers, sends and wake-ups of the
 * receiver for the same pages. */
static int send_chunk(void *opaque, uint64_t off, const void *p, size_t n, struct isola_err *err)
{
        struct sender *s = opaque;

        if (s->run_n && off == s->run_off + s->run_n && (const uint8_t *)p == s->run_p + s->run_n &&
            s->run_n + n <= MIGRATE_RUN_BYTES) {
                s->run_n += n;
                return 0;
        }
        if (flush_run(s, err) < 0)
                return -1;
        s->run_off = off;
        s->run_p = p;
        s->run_n = n;
        return n > MIGRATE_RUN_BYTES ? flush_run(s, err) : 0;
}

/* Sends the pages KVM logged as dirty since the last call; *pages gets
 * their number (the log is cleared by reading it). */
static int send_dirty(struct vm *vm, struct sender *s, uint64_t *pages, struct isola_err *err)
{
        if (migrate_dirty_walk(vm, send_chunk, s, pages, err) < 0)
                return -1;
        return flush_run(s, err);
}

static int send_config(struct migrate_conn *c, const struct machine_config *cfg,
                       struct isola_err *err)
{
        struct json_object *o = machine_config_to_json(cfg);
        if (!o)
                return err_set(err, ENOMEM, "migration: out of memory");
        const char *s = json_object_to_json_string(o);
        int rc = send_record(c, 'C', NULL, 0, s, strlen(s), err);
        json_object_put(o);
        return rc;
}

/* What a receiver's answer before the end means. */
static int early_answer(char a, struct isola_err *err)
{
        if (a == 'T')
                return err_set(err, EPROTO,
                               "the destination requires TLS (--tls-cert, --tls-key, --tls-ca)");
        return err_set(err, EIO, "migration: the destination could not start the VM");
}

/* The receiver's bytes before the end: 'W' once its VMM is up (it waits
 * for the state), anything else to refuse: the migration stops there
 * instead of after every round. */
static int check_answer(struct sender *s, struct isola_err *err)
{
        char a;
        while (migrate_conn_peek_answer(s->conn, &a) == 1) {
                if (a != 'W' || s->ready)
                        return early_answer(a, err);
                s->ready = true;
        }
        return 0;
}

/* A send that failed because the receiver refused and closed (a TLS
 * receiver drains a plain stream for a while, then closes): its answer,
 * already here, says why better than the broken pipe. */
static void explain_failure(struct sender *s, struct isola_err *err)
{
        char a;

        while (migrate_conn_peek_answer(s->conn, &a) == 1)
                if (a != 'W') {
                        early_answer(a, err);
                        return;
                }
}

/* The pause waits for the destination's VMM: started while memory moved,
 * it may still be coming up for a small or idle guest. Meanwhile what the
 * guest dirties goes too, so the last round stays short. */
static int wait_ready(struct machine *m, struct sender *s, struct isola_err *err)
{
        struct machine_parts p;
        uint64_t pages = 0;
        double limit = now_ms() + MIGRATE_READY_MS;

        machine_get_parts(m, &p);
        while (!s->ready) {
                if (now_ms() > limit)
                        return err_set(err, ETIMEDOUT,
                                       "migration: the destination's VM did not start in %d s",
                                       MIGRATE_READY_MS / 1000);
                (void)migrate_conn_wait(s->conn, 10);
                if (check_answer(s, err) < 0 || send_dirty(p.vm, s, &pages, err) < 0)
                        return -1;
                if (pages)
                        s->st->rounds++;
        }
        return 0;
}

/* The stop-and-copy phase, vCPUs paused: last dirty pages, disks flushed,
 * the state, then the destination's answer. */
static int final_round(struct machine *m, struct sender *s, struct isola_err *err)
{
        struct machine_parts p;
        struct snap_writer w;
        uint64_t pages;

        machine_get_parts(m, &p);
        if (send_dirty(p.vm, s, &pages, err) < 0)
                return -1;
        s->st->last_dirty_pages = pages;
        if (p.ide && ide_flush_disk(p.ide, err) < 0)
                return -1;
        for (unsigned i = 0; i < SNAP_MAX_DISKS; i++)
                if (p.blk[i] && virtio_blk_flush_disk(p.blk[i], err) < 0)
                        return -1;
        int rc = snap_state_build(&p, &w, err);
        if (rc == 0)
                rc = send_state_end(s->conn, w.out.buf, w.out.len, err);
        snap_writer_free(&w);
        char ack = 0;
        struct isola_err e2 = {0};
        if (rc == 0 && migrate_conn_read(s->conn, &ack, 1, &e2) < 0)
                rc = err_set(err, EIO, "migration: no answer from the destination (%s)", e2.msg);
        if (rc == 0 && ack != 'K')
                rc = early_answer(ack, err);
        return rc;
}

static int precopy(struct machine *m, struct sender *s, unsigned downtime_ms, struct isola_err *err)
{
        struct machine_parts p;
        uint64_t pages = 0;

        machine_get_parts(m, &p);
        double t = now_ms();
        uint64_t sent0 = s->st->bytes_sent;
        if (snap_memory_walk(p.vm, send_chunk, s, err) < 0 || flush_run(s, err) < 0 ||
            check_answer(s, err) < 0)
                return -1;
        for (s->st->rounds = 1; s->st->rounds < MIGRATE_MAX_ROUNDS; s->st->rounds++) {
                double elapsed = now_ms() - t;
                /* bytes per ms of the round before */
                double rate = (double)(s->st->bytes_sent - sent0) / (elapsed > 0.1 ? elapsed : 0.1);
                t = now_ms();
                sent0 = s->st->bytes_sent;
                if (send_dirty(p.vm, s, &pages, err) < 0 || check_answer(s, err) < 0)
                        return -1;
                /* The pages the guest dirtied during the round before, sent
                 * at its rate: what the pause would cost if it began now. */
                double est = rate > 0 ? (double)(pages * PAGE) / rate : 0;
                struct migrate_progress pr = {
                    .phase = "precopy",
                    .round = s->st->rounds,
                    .bytes_sent = s->st->bytes_sent,
                    .dirty_pages = pages,
                    .dirty_rate_mib_s = (double)(pages * PAGE) / 1048576.0 /
                                        ((elapsed > 0.1 ? elapsed : 0.1) / 1e3),
                    .est_downtime_ms = est,
                    .elapsed_ms = now_ms() - s->t0,
                };
                migrate_progress_write(s->progress_fd, &pr);
                s->st->est_downtime_ms = est;
                if (pages == 0 || rate <= 0 || est < (double)downtime_ms / 2)
                        break;
        }
        return 0;
}

int migrate_send(struct machine *m, const struct machine_config *cfg, const char *to,
                 const struct migrate_tls *tls, unsigned downtime_ms, int progress_fd,
                 struct migrate_stats *st, struct isola_err *err)
{
        struct machine_parts p;
        double t0 = now_ms();
        uint32_t version = MIGRATE_VERSION;
        bool paused = false;

        *st = (struct migrate_stats){0};
        machine_get_parts(m, &p);
        struct migrate_conn conn;
        char host[256];
        if (target_host(to, host, err) < 0)
                return -1;
        /* the destination's certificate must name the host dialled, unless
         * the caller names another (QEMU's tls-hostname default) */
        struct migrate_tls t = tls ? *tls : (struct migrate_tls){0};
        if (!t.name)
                t.name = host;
        int fd = dial(to, host, err);
        if (fd < 0)
                return -1;
        if (migrate_conn_open(&conn, fd, &t, false, err) < 0) {
                migrate_conn_close(&conn);
                return err_prefix(err, "migration to %s", to);
        }
        struct sender s = {.conn = &conn, .progress_fd = progress_fd, .t0 = t0, .st = st};
        /* Device back ends wait while memory moves: the pages they write are
         * not in KVM's dirty log. Guest I/O resumes on the destination. */
        evloop_stop(p.vm->loop);
        int rc = migrate_conn_write(&conn, MIGRATE_MAGIC, 8, err);
        if (rc == 0)
                rc = migrate_conn_write(&conn, &version, 4, err);
        if (rc == 0)
                rc = send_config(&conn, cfg, err);
        if (rc == 0)
                rc = migrate_dirty_log(p.vm, true, err);
        if (rc == 0)
                rc = precopy(m, &s, downtime_ms, err);
        if (rc == 0)
                rc = wait_ready(m, &s, err);
        double t_pause = now_ms();
        if (rc == 0) {
                struct migrate_progress pr = {.phase = "stop-and-copy",
                                              .round = st->rounds + 1,
                                              .bytes_sent = st->bytes_sent,
                                              .est_downtime_ms = st->est_downtime_ms,
                                              .elapsed_ms = t_pause - t0};
                migrate_progress_write(progress_fd, &pr);
                rc = machine_pause(m, err);
                paused = rc == 0;
        }
        if (rc == 0)
                rc = final_round(m, &s, err);
        st->downtime_ms = now_ms() - t_pause;
        st->total_ms = now_ms() - t0;
        if (rc < 0)
                explain_failure(&s, err);
        migrate_conn_close(&conn);
        if (rc == 0)
                return 0; /* the caller stops this VMM */
        /* Anything went wrong: the source goes on as before. */
        (void)migrate_dirty_log(p.vm, false, NULL);
        struct isola_err e2 = {0};
        (void)evloop_start(p.vm->loop, &e2);
        if (paused)
                machine_resume(m);
        return err_prefix(err, "migration to %s", to);
}

int migrate_listen(const char *spec, struct isola_err *err)
{
        char host[256];
        const char *colon = strrchr(spec, ':');
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
        int one = 1;

        if (!colon || !colon[1] || (size_t)(colon - spec) >= sizeof(host))
                return err_set(err, EINVAL, "listen address '%s': expected ADDR:PORT", spec);
        snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
        int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
        if (rc != 0)
                return err_set(err, EINVAL, "listen address '%s': %s", spec, gai_strerror(rc));
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0)
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1) < 0) {
                err_sys(err, "listen address '%s'", spec);
                if (fd >= 0)
                        close(fd);
                fd = -1;
        }
        freeaddrinfo(ai);
        return fd;
}
