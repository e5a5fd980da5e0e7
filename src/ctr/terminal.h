/* Container terminals: the pty pair for process.terminal, handing the master
 * to conmon/containerd's shim over --console-socket (SCM_RIGHTS, as runc),
 * and relaying it to our own stdio for a foreground `run`/`exec`. */
#ifndef ISOLA_CTR_TERMINAL_H
#define ISOLA_CTR_TERMINAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/err.h"

/* Opens a pty pair (both O_CLOEXEC); width/height 0 leave the size alone. */
int terminal_open(int *master_out, int *slave_out, unsigned width, unsigned height,
                  struct isola_err *err);
/* Connects to the unix socket at path (O_CLOEXEC). */
int terminal_connect(const char *path, struct isola_err *err);
/* Sends len bytes of payload with fd attached (SCM_RIGHTS); -1 with errno. */
int unix_send_fd(int sock, int fd, const void *payload, size_t len);
/* Sends fd with SCM_RIGHTS and `name` as payload (runc sends the pty name). */
int terminal_send_fd(int sock, int fd, const char *name, struct isola_err *err);
/* Receives one message with an optional fd: returns bytes read, *fd_out = -1
 * when no fd came with it. */
ssize_t terminal_recv_fd(int sock, void *buf, size_t len, int *fd_out);
/* Makes slave the controlling terminal and stdio of the calling process. */
int terminal_make_stdio(int slave, struct isola_err *err);
/* Relays stdin -> master and master -> stdout until the process behind
 * pidfd exits (raw mode on our tty while it runs); returns when pidfd is
 * readable. sigfd (or -1) is a signalfd whose signals are forwarded to pid. */
int terminal_relay(int master, int pidfd, int sigfd, pid_t pid, struct isola_err *err);

#endif
