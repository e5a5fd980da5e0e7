/* The receiving side of the migration stream (docs/migration.md): the
 * header, then records in order, each checked before the caller sees it.
 * What arrives is hostile until checked: record lengths are bounded before
 * anything is allocated, memory records must come after the configuration
 * and fall inside the guest RAM it declares, page-aligned, and the state
 * comes once. What the records mean (writing files, starting the VM) is the
 * caller's (struct migrate_recv_ops). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "vmm/migrate.h"

struct recv_state {
        const struct migrate_recv_ops *ops;
        void *opaque;
        uint64_t mem_size; /* bytes of guest RAM; 0 until the configuration */
        bool have_config, have_state;
};

static int check_header(struct migrate_conn *c, struct isola_err *err)
{
        char magic[8];
        uint32_t version;

        if (migrate_conn_read(c, magic, 8, err) < 0 || migrate_conn_read(c, &version, 4, err) < 0)
                return err_prefix(err, "the source");
        if (magic[0] == 0x16) /* a TLS handshake record */
                return err_set(err, EPROTO,
                               "the source uses TLS (run `isola vm receive` with --tls-cert, "
                               "--tls-key and --tls-ca)");
        if (memcmp(magic, MIGRATE_MAGIC, 8) != 0 || version != MIGRATE_VERSION)
                return err_set(err, EPROTO, "not an isola migration stream (version %u)", version);
        return 0;
}

static int on_record(struct recv_state *s, uint8_t type, char *buf, uint32_t len,
                     struct isola_err *err)
{
        uint64_t off;

        switch (type) {
        case 'C':
                if (s->have_config)
                        return err_set(err, EPROTO, "a second configuration record");
                s->have_config = true;
                return s->ops->config(s->opaque, buf, &s->mem_size, err);
        case 'P':
                if (!s->have_config || len < 8)
                        return err_set(err, EPROTO, "a memory record before the configuration");
                memcpy(&off, buf, 8);
                if (off % 4096 || off > s->mem_size || len - 8 > s->mem_size - off)
                        return err_set(err, EPROTO, "a memory record outside guest RAM");
                return s->ops->page(s->opaque, off, buf + 8, len - 8, err);
        case 'S':
                if (!s->have_config || s->have_state)
                        return err_set(err, EPROTO, "an unexpected state record");
                s->have_state = true;
                return s->ops->state(s->opaque, buf, len, err);
        default:
                return err_set(err, EPROTO, "an unexpected record '%c'", type);
        }
}

/* A record's payload (and a 0 after it) in *buf, grown to *cap as needed:
 * one buffer for the whole stream, not an allocation per record. */
static int read_payload(struct migrate_conn *c, char **buf, size_t *cap, uint32_t len,
                        struct isola_err *err)
{
        if ((size_t)len + 1 > *cap) {
                char *b = realloc(*buf, (size_t)len + 1);
                if (!b)
                        return err_set(err, ENOMEM, "out of memory");
                *buf = b;
                *cap = (size_t)len + 1;
        }
        (*buf)[len] = 0; /* the configuration is text */
        if (migrate_conn_read(c, *buf, len, err) < 0)
                return err_prefix(err, "the source");
        return 0;
}

/* Records up to the end record; 1 when before_record handed the stream on. */
static int recv_records(struct migrate_conn *c, struct recv_state *s, struct isola_err *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t cap = 0;

        for (;;) {
                uint8_t h[5];
                uint32_t len;
                int before = s->ops->before_record ? s->ops->before_record(s->opaque, err) : 0;
                if (before != 0)
                        return before;
                if (migrate_conn_read(c, h, 5, err) < 0)
                        return err_prefix(err, "the source");
                memcpy(&len, h + 1, 4);
                if (h[0] == 'E')
                        return s->have_state
                                   ? s->ops->end(s->opaque, err)
                                   : err_set(err, EPROTO, "the stream ended before the VM's state");
                if (len > (h[0] == 'S' ? SNAP_MAX_STATE : MIGRATE_MAX_RECORD + 8))
                        return err_set(err, EPROTO, "a record of %u bytes", len);
                if (read_payload(c, &buf, &cap, len, err) < 0 ||
                    on_record(s, h[0], buf, len, err) < 0)
                        return -1;
        }
}

int migrate_recv(struct migrate_conn *c, const struct migrate_recv_ops *ops, void *opaque,
                 struct isola_err *err)
{
        struct recv_state s = {.ops = ops, .opaque = opaque};

        if (check_header(c, err) < 0)
                return -1;
        return recv_records(c, &s, err);
}

int migrate_recv_rest(struct migrate_conn *c, const struct migrate_recv_ops *ops, void *opaque,
                      uint64_t mem_size, struct isola_err *err)
{
        struct recv_state s = {
            .ops = ops, .opaque = opaque, .mem_size = mem_size, .have_config = true};

        return recv_records(c, &s, err);
}

int migrate_write_at(int fd, const char *p, size_t n, off_t off, struct isola_err *err)
{
        return fs_pwrite_all(fd, p, n, off) < 0 ? err_sys(err, "writing the incoming snapshot") : 0;
}

/* ---- the go socket between the receiver and its VMM ---- */

static int go_addr(const char *path, struct sockaddr_un *sa, struct isola_err *err)
{
        *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa->sun_path))
                return err_set(err, ENAMETOOLONG, "'%s': socket path too long", path);
        memcpy(sa->sun_path, path, strlen(path) + 1);
        return 0;
}

/* A socket for the go channel and its address. */
static int go_socket(const char *path, struct sockaddr_un *sa, struct isola_err *err)
{
        if (go_addr(path, sa, err) < 0)
                return -1;
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        return fd < 0 ? err_sys(err, "socket") : fd;
}

int migrate_go_listen(const char *path, struct isola_err *err)
{
        struct sockaddr_un sa;
        int fd = go_socket(path, &sa, err);

        if (fd < 0)
                return -1;
        unlink(path);
        /* 0600 from its creation: the directory may be wider than that */
        mode_t old = umask(0177);
        int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (rc < 0 || listen(fd, 1) < 0) {
                err_sys(err, "'%s'", path);
                close(fd);
                return -1;
        }
        return fd;
}

int migrate_go_connect(const char *path, struct isola_err *err)
{
        struct sockaddr_un sa;
        int fd = go_socket(path, &sa, err);

        if (fd < 0)
                return -1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                err_sys(err, "'%s'", path);
                close(fd);
                return -1;
        }
        return fd;
}

int migrate_go_send_fd(int fd, char type, const char *dir, int pass_fd, struct isola_err *err)
{
        char msg[PATH_MAX + 1];
        int n = snprintf(msg, sizeof(msg), "%c%s", type, dir);
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } ctl = {0};
        struct iovec iov = {.iov_base = msg, .iov_len = (size_t)n};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

        if (n < 0 || n >= (int)sizeof(msg))
                return err_set(err, ENAMETOOLONG, "'%s': path too long", dir);
        if (pass_fd >= 0) {
                mh.msg_control = ctl.buf;
                mh.msg_controllen = sizeof(ctl.buf);
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
        }
        if (sendmsg(fd, &mh, MSG_NOSIGNAL) != n)
                return err_sys(err, "the VM's VMM");
        return 0;
}

int migrate_go_send(int fd, char type, const char *dir, struct isola_err *err)
{
        return migrate_go_send_fd(fd, type, dir, -1, err);
}

char migrate_go_recv(int fd, char *dir, size_t len, int *passed)
{
        char buf[PATH_MAX + 2];
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } ctl;
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = ctl.buf,
                            .msg_controllen = sizeof(ctl.buf)};
        ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

        *passed = -1;
        for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
                    cm->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(passed, CMSG_DATA(cm), sizeof(int));
        if (n < 2 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
                goto bad;
        buf[n] = 0;
        if (buf[1] != '/' || strlen(buf) != (size_t)n || (size_t)n - 1 >= len)
                goto bad;
        memcpy(dir, buf + 1, (size_t)n);
        return buf[0];
bad:
        if (*passed >= 0)
                close(*passed);
        *passed = -1;
        return 0;
}

int migrate_go(int fd, const char *dir, int timeout_ms, struct isola_err *err)
{
        if (migrate_go_send(fd, 'G', dir, err) < 0)
                return -1;
        return migrate_go_answer(fd, timeout_ms, err);
}

int migrate_go_answer(int fd, int timeout_ms, struct isola_err *err)
{
        char answer[ISOLA_ERR_MSG_MAX + 2];
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc;
        while ((rc = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
                ;
        if (rc == 0)
                return err_set(err, ETIMEDOUT, "the VM's VMM did not answer in %d s",
                               timeout_ms / 1000);
        ssize_t n = rc < 0 ? -1 : recv(fd, answer, sizeof(answer) - 1, 0);
        if (n < 0)
                return err_sys(err, "the VM's VMM");
        if (n == 0)
                return err_set(err, EPIPE, "the VM's VMM exited");
        answer[n] = 0;
        if (answer[0] == 'K')
                return 0;
        return err_set(err, EIO, "%s", answer[0] == 'F' && answer[1] ? answer + 1 : "failed");
}
