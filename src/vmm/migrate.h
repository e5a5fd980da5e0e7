/* Live migration (docs/migration.md): the source VMM sends guest memory in
 * pre-copy rounds driven by KVM's dirty log, then pauses, sends the last
 * dirty pages and the state sections (the snapshot format), and stops only
 * after the destination has the VM running (its ack). Any failure before
 * the ack leaves the source running.
 *
 * The stream (TCP, or TLS 1.3 inside it): "ISOLAMIG" u32 version, then records
 *   u8 type, u32 length, payload
 *   'C' config JSON   'P' u64 memory-file offset + page data
 *   'S' state file    'E' end (no payload)
 * and bytes back from the destination: 'W' once its VMM is up and waits for
 * the state (the source pauses only after it), then 'K' (running) or 'F'
 * (failed; also at any time before). */
#ifndef ISOLA_VMM_MIGRATE_H
#define ISOLA_VMM_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"
#include "vmm/snapshot.h"

#define MIGRATE_MAGIC        "ISOLAMIG"
#define MIGRATE_VERSION      2
#define MIGRATE_MAX_RECORD   (1u << 20)    /* payload bytes, except 'S' */
#define MIGRATE_RUN_BYTES    (256u * 1024) /* pages a sender puts in one record */
#define MIGRATE_MAX_ROUNDS   30
#define MIGRATE_READY_MS     30000 /* the longest the source waits for 'W' */
#define MIGRATE_IO_TIMEOUT_S 30    /* a peer silent within a record */

struct machine;
struct machine_config;

/* TLS for the stream (migrate_tls.c): PEM files, all NULL for plain TCP.
 * TLS 1.3 only; each side presents cert (key) and accepts the peer only
 * with a certificate that ca signed. The source (client) also wants the
 * destination's certificate to name name (an IP address as an IP SAN, a
 * host name as a DNS SAN or CN, OpenSSL's checks), as QEMU's tls-hostname;
 * migrate_send uses the host of its ADDR:PORT when name is NULL. The
 * receiver ignores name: a source's certificate names a client. */
struct migrate_tls {
        const char *cert, *key, *ca;
        const char *name; /* --tls-name; NULL: the address connected to */
};
bool migrate_tls_on(const struct migrate_tls *t);
/* All three or none, each readable; a name only with them, and sane
 * (migrate_tls_name_check). */
int migrate_tls_check(const struct migrate_tls *t, struct isola_err *err);
/* A name to check a certificate against: 1 to MIGRATE_TLS_NAME_MAX
 * printable ASCII characters, no spaces. */
#define MIGRATE_TLS_NAME_MAX 253
int migrate_tls_name_check(const char *name, struct isola_err *err);

/* One end of the stream over a connected socket fd (owned from here on). */
struct migrate_conn {
        int fd;
        void *ssl, *ctx; /* NULL for plain TCP */
};
/* The handshake when t is on (server: the receiving side). A plain peer on
 * a TLS server gets the answer 'T'; a plain receiver answers a TLS source
 * with 'F'. The client checks the server's certificate for t->name (which
 * it must have then). Errors name the failing side (certificate not
 * trusted or naming another host, our certificate refused, no TLS). */
int migrate_conn_open(struct migrate_conn *c, int fd, const struct migrate_tls *t, bool server,
                      struct isola_err *err);
int migrate_conn_write(struct migrate_conn *c, const void *p, size_t n, struct isola_err *err);
/* The n pieces of iov in order, as one write (iov is consumed). */
struct iovec;
int migrate_conn_writev(struct migrate_conn *c, struct iovec *iov, int n, struct isola_err *err);
/* All n bytes or an error (EPIPE when the peer closed). */
int migrate_conn_read(struct migrate_conn *c, void *p, size_t n, struct isola_err *err);
/* An early answer byte from the receiver, without waiting: 1 and *answer,
 * or 0 when none has come. */
int migrate_conn_peek_answer(struct migrate_conn *c, char *answer);
/* Waits up to timeout_ms until something can be read (also what TLS holds
 * already decrypted): 1, 0 on timeout, -1 on error. */
int migrate_conn_wait(struct migrate_conn *c, int timeout_ms);
void migrate_conn_close(struct migrate_conn *c);

struct migrate_stats {
        unsigned rounds;
        uint64_t bytes_sent;
        double total_ms, downtime_ms; /* downtime: pause to the destination's ack */
        uint64_t last_dirty_pages;
        double est_downtime_ms; /* the last round's estimate of the pause */
};

/* Sends the running machine to host:port ("ADDR:PORT"); on success the
 * caller stops the VMM. downtime_ms bounds the estimated final pause: the
 * stop-and-copy starts when the last round's dirty pages would go in less
 * than half of it. progress_fd (-1: none): a regular file that gets one
 * JSON line at offset 0 after every round (migrate_progress_write). */
int migrate_send(struct machine *m, const struct machine_config *cfg, const char *to,
                 const struct migrate_tls *tls, unsigned downtime_ms, int progress_fd,
                 struct migrate_stats *st, struct isola_err *err);

/* Receiving (migrate_recv.c): reads and checks the stream from the header
 * to the end record and hands each record to ops. config gets the
 * NUL-terminated JSON and sets *mem_size (the bytes of guest RAM that page
 * records may fill); page gets data for [off, off + n) inside it, 4 KiB
 * aligned; state comes once, after the configuration; end once the state
 * was seen. before_record (may be NULL) runs before each record is read.
 * Buffers are the receiver's and valid only during the call. */
struct migrate_recv_ops {
        int (*before_record)(void *opaque, struct isola_err *err);
        int (*config)(void *opaque, const char *json, uint64_t *mem_size, struct isola_err *err);
        int (*page)(void *opaque, uint64_t off, const char *p, uint32_t n, struct isola_err *err);
        int (*state)(void *opaque, const char *p, uint32_t n, struct isola_err *err);
        int (*end)(void *opaque, struct isola_err *err);
};
int migrate_recv(struct migrate_conn *c, const struct migrate_recv_ops *ops, void *opaque,
                 struct isola_err *err);
/* before_record may also return 1: the stream goes on elsewhere (handed to
 * the VMM), and migrate_recv returns 1. migrate_recv_rest reads what follows
 * there: the records after the configuration, up to the end record. */
int migrate_recv_rest(struct migrate_conn *c, const struct migrate_recv_ops *ops, void *opaque,
                      uint64_t mem_size, struct isola_err *err);
/* A received record's bytes into the snapshot being written (the memory
 * file at the page's offset, the state file at 0), by the receiver or by
 * the VMM it handed the stream to. */
int migrate_write_at(int fd, const char *p, size_t n, off_t off, struct isola_err *err);

/* The receiver and the VMM it started (docs/migration.md): that VMM
 * listens on MIGRATE_GO_SOCK in its run directory (beside ctl.sock;
 * SOCK_SEQPACKET, 0600) before it says it is up, and takes one connection,
 * from the receiver's process only. The receiver connects while pre-copy
 * runs and sends "M" + DIR, the snapshot directory being received (the
 * VMM maps DIR/memory as guest RAM); after the end record "G" + DIR, and
 * the VMM's main thread, which waits on that connection with the machine
 * and its vCPU threads made, loads the state, lets the vCPUs run and
 * answers "K", or "F" and the reason. No control-socket connection, HTTP
 * or thread hop is left between the end record and the guest running. */
#define MIGRATE_GO_SOCK "mig.sock"
int migrate_go_listen(const char *path, struct isola_err *err);
int migrate_go_connect(const char *path, struct isola_err *err);
/* One message: type and DIR (and a descriptor passed with it, or -1). */
int migrate_go_send(int fd, char type, const char *dir, struct isola_err *err);
int migrate_go_send_fd(int fd, char type, const char *dir, int pass_fd, struct isola_err *err);
/* One message: its type, DIR in dir, a descriptor passed with it in
 * *passed (-1: none); 0 when the peer closed or sent garbage. */
char migrate_go_recv(int fd, char *dir, size_t len, int *passed);
/* The plain-TCP stream handed over ("H" + DIR with the connection): the
 * destination's VMM tells the source "W" itself, reads the rest of the
 * stream into DIR (pages into DIR/memory, the state into DIR/state and
 * *state, whose buf the caller frees) up to the end record, then loads it
 * and runs; it answers the source ("K" or "F") and then the receiver on
 * the go socket, as after "G". watch[0..1]
 * (-1: none; the receiver's pidfd, a signalfd) end the wait between
 * records when readable. */
struct migrate_state {
        uint8_t *buf; /* the state record, also written to dir's state file */
        size_t len;
};
int migrate_handoff_recv(int stream, const char *dir, uint64_t mem_size, const int watch[2],
                         struct migrate_state *state, struct isola_err *err);
/* Sends "G" + dir and waits up to timeout_ms for the answer: 0 on "K"; -1
 * with the VMM's reason, or with why there was none. */
int migrate_go(int fd, const char *dir, int timeout_ms, struct isola_err *err);
/* The VMM's answer alone (after "H"); timeout_ms -1: until it comes or the
 * VMM exits. */
int migrate_go_answer(int fd, int timeout_ms, struct isola_err *err);

/* A listening TCP socket on "ADDR:PORT" (an empty ADDR: every address),
 * SO_REUSEADDR; EINVAL for a bad address, EADDRINUSE when taken. */
int migrate_listen(const char *spec, struct isola_err *err);

/* Progress of a migration, for a terminal: {"phase": "precopy" |
 * "stop-and-copy", "round", "bytes_sent", "dirty_pages" (of the last
 * round), "dirty_rate_mib_s", "est_downtime_ms", "elapsed_ms"}, written at
 * offset 0 of fd padded to MIGRATE_PROGRESS_LEN bytes (readers re-read a
 * line that does not parse). */
#define MIGRATE_PROGRESS_LEN 255
struct migrate_progress {
        const char *phase;
        unsigned round;
        uint64_t bytes_sent, dirty_pages;
        double dirty_rate_mib_s, est_downtime_ms, elapsed_ms;
};
void migrate_progress_write(int fd, const struct migrate_progress *p);

/* KVM's dirty log on (or off) for every memslot; and the pages logged
 * since the last call (which clears the log), in runs of at most 64 KiB
 * with their offsets in the memory file layout, to sink. Shared by
 * migration and live snapshots. */
int migrate_dirty_log(struct vm *vm, bool on, struct isola_err *err);
int migrate_dirty_walk(struct vm *vm, snap_mem_sink sink, void *opaque, uint64_t *pages,
                       struct isola_err *err);

#endif
