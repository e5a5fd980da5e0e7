/* The destination's VMM reading the end of a plain-TCP migration stream
 * itself (docs/migration.md, "The stream handed to the VMM"). The receiver
 * passes the connection on the go socket once the VMM waits; from then on
 * the last dirty pages, the state and the end record come straight to the
 * process that loads them, so the pause has no receiver to wake, no state
 * file to hand over and no go-socket message between the end record and
 * the guest running. The records are checked as the receiver checks them
 * (migrate_recv_rest): this side is as exposed to a hostile source. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "vmm/migrate.h"

#define HANDOFF_WAIT_MS 30000 /* the source's own send timeout */

struct handoff {
        struct migrate_conn *conn;
        int mem_fd, state_fd;
        const int *watch;
        struct migrate_state *state; /* kept: the VMM loads it from here */
};

/* Until the next record comes: the receiver's death or a signal ends the
 * migration (nobody would keep the VM); so does a source silent for 30 s. */
static int before_record(void *opaque, struct isola_err *err)
{
        struct handoff *h = opaque;
        struct pollfd fds[3] = {{.fd = h->conn->fd, .events = POLLIN},
                                {.fd = h->watch[0], .events = POLLIN},
                                {.fd = h->watch[1], .events = POLLIN}};
        int n;

        while ((n = poll(fds, 3, HANDOFF_WAIT_MS)) < 0 && errno == EINTR) {
        }
        if (n < 0)
                return err_sys(err, "poll");
        if (n == 0)
                return err_set(err, ETIMEDOUT, "the source sent nothing for %d s",
                               HANDOFF_WAIT_MS / 1000);
        if (fds[1].revents || fds[2].revents)
                return err_set(err, ECANCELED, "the receiver went, or the VMM was stopped");
        return 0;
}

static int on_config(void *opaque, const char *json, uint64_t *mem_size, struct isola_err *err)
{
        (void)opaque;
        (void)json;
        (void)mem_size;
        return err_set(err, EPROTO, "a second configuration record");
}

static int on_page(void *opaque, uint64_t off, const char *p, uint32_t n, struct isola_err *err)
{
        struct handoff *h = opaque;
        return migrate_write_at(h->mem_fd, p, n, (off_t)off, err);
}

/* The state goes to the snapshot's file (the receiver keeps the snapshot)
 * and stays in memory, so the VMM does not read back what it just wrote
 * in the middle of the pause. */
static int on_state(void *opaque, const char *p, uint32_t n, struct isola_err *err)
{
        struct handoff *h = opaque;

        h->state->buf = malloc(n ? n : 1);
        if (!h->state->buf)
                return err_set(err, ENOMEM, "out of memory");
        memcpy(h->state->buf, p, n);
        h->state->len = n;
        return migrate_write_at(h->state_fd, p, n, 0, err);
}

static int on_end(void *opaque, struct isola_err *err)
{
        (void)opaque;
        (void)err;
        return 0;
}

static const struct migrate_recv_ops handoff_ops = {
    .before_record = before_record,
    .config = on_config,
    .page = on_page,
    .state = on_state,
    .end = on_end,
};

static int open_in(const char *dir, const char *name, struct isola_err *err)
{
        char p[PATH_MAX + 16];

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        int fd = open(p, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        return fd < 0 ? err_sys(err, "'%s'", p) : fd;
}

int migrate_handoff_recv(int stream, const char *dir, uint64_t mem_size, const int watch[2],
                         struct migrate_state *state, struct isola_err *err)
{
        struct migrate_conn conn = {.fd = stream};
        _cleanup_close_ int mem_fd = open_in(dir, "memory", err);
        _cleanup_close_ int state_fd = mem_fd < 0 ? -1 : open_in(dir, "state", err);
        struct handoff h = {
            .conn = &conn, .mem_fd = mem_fd, .state_fd = state_fd, .watch = watch, .state = state};

        *state = (struct migrate_state){0};
        if (mem_fd < 0 || state_fd < 0)
                return err_prefix(err, "incoming migration");
        /* The source pauses the guest only after this. */
        if (migrate_conn_write(&conn, "W", 1, err) < 0 ||
            migrate_recv_rest(&conn, &handoff_ops, &h, mem_size, err) < 0) {
                free(state->buf);
                *state = (struct migrate_state){0};
                return err_prefix(err, "incoming migration");
        }
        return 0;
}
