/* Pty allocation, fd passing over unix sockets and the foreground relay. */
#include "ctr/terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "util/fs.h"

int terminal_open(int *master_out, int *slave_out, unsigned width, unsigned height,
                  struct isola_err *err)
{
        int master, slave, unlock = 0;

        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return err_sys(err, "open '/dev/ptmx'");
        if (ioctl(master, TIOCSPTLCK, &unlock) < 0) {
                close(master);
                return err_sys(err, "unlock pty");
        }
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0) {
                close(master);
                return err_sys(err, "open pty slave");
        }
        if (width && height) {
                struct winsize ws = {.ws_row = (unsigned short)height,
                                     .ws_col = (unsigned short)width};
                ioctl(master, TIOCSWINSZ, &ws);
        }
        *master_out = master;
        *slave_out = slave;
        return 0;
}

int terminal_connect(const char *path, struct isola_err *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t len = strlen(path);
        int fd;

        if (len >= sizeof(sa.sun_path))
                return err_set(err, ENAMETOOLONG, "console socket path '%s' is too long", path);
        memcpy(sa.sun_path, path, len + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return err_sys(err, "console socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                err_sys(err, "connect to console socket '%s'", path);
                close(fd);
                return -1;
        }
        return fd;
}

int unix_send_fd(int sock, int fd, const void *payload, size_t len)
{
        char cbuf[CMSG_SPACE(sizeof(int))] = {0};
        struct iovec iov = {.iov_base = (void *)payload, .iov_len = len};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
        return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

int terminal_send_fd(int sock, int fd, const char *name, struct isola_err *err)
{
        if (unix_send_fd(sock, fd, name, strlen(name) + 1) < 0)
                return err_sys(err, "send pty master over console socket");
        return 0;
}

ssize_t terminal_recv_fd(int sock, void *buf, size_t len, int *fd_out)
{
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = buf, .iov_len = len};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        ssize_t n;

        *fd_out = -1;
        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return n;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        memcpy(fd_out, CMSG_DATA(c), sizeof(int));
        return n;
}

int terminal_make_stdio(int slave, struct isola_err *err)
{
        if (setsid() < 0)
                return err_sys(err, "setsid");
        if (ioctl(slave, TIOCSCTTY, 0) < 0)
                return err_sys(err, "set controlling terminal");
        for (int i = 0; i < 3; i++)
                if (dup2(slave, i) < 0)
                        return err_sys(err, "dup pty to fd %d", i);
        return 0;
}

/* Copies what is readable on `from` to `to`; false on EOF/error. */
static bool pump(int from, int to)
{
        char buf[8192];
        ssize_t n = read(from, buf, sizeof(buf));

        if (n <= 0)
                return n < 0 && (errno == EINTR || errno == EAGAIN);
        return fs_write_all(to, buf, (size_t)n) == 0;
}

static void forward_signal(int sigfd, int master, pid_t pid)
{
        struct signalfd_siginfo si;

        if (read(sigfd, &si, sizeof(si)) != sizeof(si))
                return;
        if (si.ssi_signo == SIGWINCH) {
                struct winsize ws;
                if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                        ioctl(master, TIOCSWINSZ, &ws);
                return;
        }
        kill(pid, (int)si.ssi_signo);
}

int terminal_relay(int master, int pidfd, int sigfd, pid_t pid, struct isola_err *err)
{
        struct termios saved, raw;
        bool is_tty = tcgetattr(STDIN_FILENO, &saved) == 0;
        struct pollfd pf[4] = {
            {.fd = pidfd, .events = POLLIN},
            {.fd = master, .events = POLLIN},
            {.fd = STDIN_FILENO, .events = POLLIN},
            {.fd = sigfd, .events = POLLIN},
        };

        (void)err;
        if (is_tty) {
                struct winsize ws;
                raw = saved;
                cfmakeraw(&raw);
                tcsetattr(STDIN_FILENO, TCSANOW, &raw);
                if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                        ioctl(master, TIOCSWINSZ, &ws);
        }
        for (;;) {
                if (poll(pf, 4, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (pf[1].revents & (POLLIN | POLLHUP)) {
                        if (!pump(master, STDOUT_FILENO))
                                pf[1].fd = -1;
                }
                if (pf[2].revents & (POLLIN | POLLHUP)) {
                        if (!pump(STDIN_FILENO, master))
                                pf[2].fd = -1;
                }
                if (pf[3].revents & POLLIN)
                        forward_signal(sigfd, master, pid);
                if (pf[0].revents & POLLIN) {
                        /* Drain what the process wrote before it exited. */
                        int fl = fcntl(master, F_GETFL);
                        fcntl(master, F_SETFL, fl | O_NONBLOCK);
                        while (pf[1].fd >= 0) {
                                errno = 0;
                                if (!pump(master, STDOUT_FILENO) || errno == EAGAIN)
                                        break;
                        }
                        break;
                }
        }
        if (is_tty)
                tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        return 0;
}
