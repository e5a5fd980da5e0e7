/* `isola vm console NAME`: attaches the terminal to the VM's serial
 * console through its monitor's console socket. The terminal is raw (the
 * guest gets ^C); the escape byte (ctrl-]) detaches, as do the end of
 * input and the VM stopping. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "cli/vm_cli.h"
#include "util/fs.h"

#define GRACE_MS 300 /* output still on its way when the input ends */

static int connect_unix(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -1;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                close(fd);
                fd = -1;
        }
        return fd;
}

/* Copies from the socket to stdout; false at its end. */
static bool pump_out(int sock)
{
        char buf[4096];
        ssize_t n = recv(sock, buf, sizeof(buf), 0);

        if (n < 0 && errno == EINTR)
                return true;
        if (n <= 0)
                return false;
        return fs_write_all(STDOUT_FILENO, buf, (size_t)n) == 0;
}

/* Copies stdin to the socket up to the escape byte; 1 detach, 0 go on,
 * -1 input ended. */
static int pump_in(int sock, int escape)
{
        char buf[1024];
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
                return 0;
        if (n <= 0)
                return -1;
        char *esc = memchr(buf, escape, (size_t)n);
        size_t len = esc ? (size_t)(esc - buf) : (size_t)n;
        if (len && send(sock, buf, len, MSG_NOSIGNAL) < 0)
                return 1;
        return esc ? 1 : 0;
}

int vm_cli_console(const char *sock_path, const char *name, int escape)
{
        struct termios saved, raw;
        bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
        int sock = connect_unix(sock_path);
        int timeout = -1, rc = 0;

        if (sock < 0) {
                fprintf(stderr, "isola vm console: VM %s: cannot attach: %s\n", name,
                        strerror(errno));
                return 1;
        }
        fprintf(stderr, "Connected to %s (detach with ctrl-])\r\n", name);
        if (tty) {
                raw = saved;
                cfmakeraw(&raw);
                tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        }
        struct pollfd fds[2] = {{.fd = sock, .events = POLLIN},
                                {.fd = STDIN_FILENO, .events = POLLIN}};
        for (;;) {
                int n = poll(fds, 2, timeout);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break; /* the grace after the end of input */
                if (fds[0].revents && !pump_out(sock)) {
                        fprintf(stderr, "\r\nisola vm console: VM %s stopped\r\n", name);
                        break;
                }
                if (fds[1].revents) {
                        int r = pump_in(sock, escape);
                        if (r > 0)
                                break;
                        if (r < 0) {
                                fds[1].fd = -1;
                                timeout = GRACE_MS;
                        }
                }
        }
        if (tty)
                tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        close(sock);
        return rc;
}
