/* The monitor's side of a managed VM's console (docs/vm.md).
 *
 * The VMM writes the guest's output straight into console.log (its console
 * devices' output descriptor is the log itself, O_APPEND): a byte is in the
 * log when the vCPU's write returns, with no process between the guest and
 * the file to wait for, and a monitor that is slow to run never stalls a
 * vCPU on a full pipe. The monitor keeps what needs no haste:
 * - one attached `vm console` client: it gets the end of the log, then what
 *   the VMM appends, read from the file whenever inotify says it changed
 *   (watched only while a client is attached);
 * - rotation: checked every MCON_TICK_MS; past LOG_ROTATE_BYTES (or
 *   ISOLA_CONSOLE_LOG_MAX bytes, taken from `vm start`'s environment) the log is
 *   renamed to console.log.1 and the VMM asked (PUT /console/reopen on its
 *   control socket) to write on in a new console.log. Until it has, its
 *   writes land in the renamed file: nothing is lost either way. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/ctl.h"
#include "vmm/mgr_internal.h"

#define LOG_ROTATE_BYTES (8 << 20)
#define LOG_ROTATE_MIN   4096
#define REPLAY_BYTES     4096

static int listen_unix(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0)
                return -1;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        (void)unlink(path);
        mode_t old = umask(0077);
        int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (rc < 0 || listen(fd, 4) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

static int open_log(const char *path)
{
        return open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

int mcon_open(struct mon_console *c, const struct vm_paths *p)
{
        const char *max = getenv("ISOLA_CONSOLE_LOG_MAX");
        char *end = NULL;
        long long v = max ? strtoll(max, &end, 10) : 0;

        *c = (struct mon_console){.p = p, .log_fd = -1, .client_fd = -1, .notify_fd = -1};
        c->max = max && *max && !*end && v >= LOG_ROTATE_MIN && v <= INT32_MAX ? (off_t)v
                                                                               : LOG_ROTATE_BYTES;
        c->log_fd = open_log(p->log);
        if (c->log_fd < 0)
                return -1;
        c->listen_fd = listen_unix(p->console);
        return c->listen_fd < 0 ? -1 : 0;
}

static off_t log_size(const struct mon_console *c)
{
        struct stat st;

        return fstat(c->log_fd, &st) == 0 ? st.st_size : 0;
}

static void drop_client(struct mon_console *c)
{
        if (c->client_fd >= 0)
                close(c->client_fd);
        if (c->notify_fd >= 0)
                close(c->notify_fd);
        c->client_fd = c->notify_fd = -1;
}

/* What the VMM appended since the client's last byte; the client is
 * dropped when it does not keep up (the log has everything). */
static void forward(struct mon_console *c)
{
        char buf[16384];
        ssize_t n;

        while (c->client_fd >= 0 && (n = pread(c->log_fd, buf, sizeof(buf), c->client_off)) > 0) {
                if (send(c->client_fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
                        drop_client(c);
                        return;
                }
                c->client_off += n;
        }
}

/* A new client first gets the end of the log, so it sees the prompt. */
static void accept_client(struct mon_console *c)
{
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0)
                return;
        if (c->client_fd >= 0) {
                static const char busy[] = "isola: another client is attached to this console\r\n";
                (void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                close(fd);
                return;
        }
        c->notify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (c->notify_fd < 0 || inotify_add_watch(c->notify_fd, c->p->log, IN_MODIFY) < 0) {
                static const char fail[] = "isola: cannot follow the console log\r\n";
                (void)send(fd, fail, sizeof(fail) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                close(fd);
                drop_client(c);
                return;
        }
        c->client_fd = fd;
        off_t size = log_size(c);
        c->client_off = size > REPLAY_BYTES ? size - REPLAY_BYTES : 0;
        forward(c);
}

static void relay_input(struct mon_console *c, int in_fd)
{
        char buf[1024];
        ssize_t n = recv(c->client_fd, buf, sizeof(buf), 0);

        if (n <= 0) {
                if (n == 0 || errno != EINTR)
                        drop_client(c);
                return;
        }
        /* A guest that does not read its console loses the input. */
        (void)write(in_fd, buf, (size_t)n);
}

void mcon_pollfds(const struct mon_console *c, struct pollfd fds[3])
{
        fds[0] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
        fds[1] = (struct pollfd){.fd = c->client_fd, .events = POLLIN};
        fds[2] = (struct pollfd){.fd = c->notify_fd, .events = POLLIN};
}

void mcon_events(struct mon_console *c, const struct pollfd fds[3], int in_fd)
{
        char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

        if (fds[2].fd >= 0 && fds[2].fd == c->notify_fd && fds[2].revents) {
                while (read(c->notify_fd, ev, sizeof(ev)) > 0) {
                }
                forward(c);
        }
        if (fds[1].fd >= 0 && fds[1].fd == c->client_fd && fds[1].revents)
                relay_input(c, in_fd);
        if (fds[0].revents & POLLIN)
                accept_client(c);
}

/* The monitor's own descriptor (and stderr, which goes to the log too)
 * moves to the new file; an attached client follows it from its start. */
static void switch_log(struct mon_console *c, int fd)
{
        forward(c); /* what is left in the old file first */
        dup2(fd, c->log_fd);
        dup2(fd, STDERR_FILENO);
        close(fd);
        c->client_off = 0;
        if (c->notify_fd >= 0) {
                close(c->notify_fd);
                c->notify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
                if (c->notify_fd < 0 || inotify_add_watch(c->notify_fd, c->p->log, IN_MODIFY) < 0)
                        drop_client(c);
        }
}

void mcon_rotate(struct mon_console *c)
{
        char old[PATH_MAX + 4], *answer = NULL;
        struct isola_err err = {0};
        int status = 0;

        if (log_size(c) < c->max)
                return;
        snprintf(old, sizeof(old), "%s.1", c->p->log);
        if (rename(c->p->log, old) < 0)
                return;
        if (ctl_request(c->p->ctl, "PUT", "/console/reopen", NULL, &status, &answer, &err) < 0 ||
            status != 204) {
                /* The VMM still writes the renamed file: it stays the log. */
                (void)rename(old, c->p->log);
                free(answer);
                return;
        }
        free(answer);
        int fd = open_log(c->p->log);
        if (fd >= 0)
                switch_log(c, fd);
}

void mcon_close(struct mon_console *c)
{
        drop_client(c);
        if (c->listen_fd >= 0)
                close(c->listen_fd);
        c->listen_fd = -1;
}
