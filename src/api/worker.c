/* Engine work in a forked child. The engine forks container monitors,
 * finds its children through /proc/self/task/<tid>/children and writes
 * logs and exec streams to stdout/stderr; a child process gives each
 * request exactly that environment, and the database and files it changes
 * are the ones the CLI sees. Protocol on the result pipe: 'O' + output, or
 * 'E' + errno (decimal) + '\n' + message. */
#include "api/api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define RESULT_MAX (64u << 20)

static void child_reset(void)
{
        sigset_t all;

        sigfillset(&all);
        pthread_sigmask(SIG_UNBLOCK, &all, NULL);
        signal(SIGPIPE, SIG_DFL);
}

static void child_run(struct api_server *s, api_work_fn fn, void *arg, int res_fd)
{
        struct eng_ctx e;
        struct isola_err err = {0};
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        int rc = -1;

        if (out && eng_open(s->root[0] ? s->root : NULL, &e, &err) == 0) {
                rc = fn(&e, arg, out, &err);
                eng_close(&e);
        }
        if (out)
                fclose(out);
        if (rc == 0) {
                if (fs_write_all(res_fd, "O", 1) < 0 || (len && fs_write_all(res_fd, buf, len) < 0))
                        _exit(1);
                _exit(0);
        }
        dprintf(res_fd, "E%d\n%s", err.errnum ? err.errnum : EIO,
                err.msg[0] ? err.msg : "out of memory");
        _exit(1);
}

int api_work(struct api_server *s, api_work_fn fn, void *arg, char **out, size_t *len,
             struct isola_err *err)
{
        int p[2], status;
        pid_t pid;
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;

        if (pipe2(p, O_CLOEXEC) < 0)
                return err_sys(err, "pipe");
        pid = fork();
        if (pid < 0) {
                close(p[0]);
                close(p[1]);
                return err_sys(err, "fork");
        }
        if (pid == 0) {
                int devnull = open("/dev/null", O_RDWR);
                child_reset();
                close(p[0]);
                if (devnull >= 0) {
                        dup2(devnull, 0);
                        dup2(devnull, 1);
                        dup2(devnull, 2);
                }
                /* other connections' sockets must not live on in the worker */
                /* CLOEXEC again after dup2: a monitor the engine forks and
                 * execs must not hold the result pipe open */
                if (dup2(p[1], 3) < 0 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
                        _exit(1);
                close_range(4, ~0U, 0);
                child_run(s, fn, arg, 3);
        }
        close(p[1]);
        int rc = fs_read_fd(p[0], RESULT_MAX, &buf, &n, err);
        close(p[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (rc < 0)
                return -1;
        if (n == 0)
                return err_set(err, EIO, "the worker died (status %d)", status);
        if (buf[0] == 'O') {
                *len = n - 1;
                *out = malloc(n);
                if (!*out)
                        return err_set(err, ENOMEM, "out of memory");
                memcpy(*out, buf + 1, n - 1);
                (*out)[n - 1] = '\0';
                return 0;
        }
        char *nl = memchr(buf, '\n', n);
        int errnum = atoi(buf + 1);
        return err_set(err, errnum, "%.*s", nl ? (int)(n - (size_t)(nl + 1 - buf)) : 0,
                       nl ? nl + 1 : "");
}

int api_work_stream(struct api_server *s, api_work_fn fn, void *arg, int stdin_fd,
                    struct api_stream *st, struct isola_err *err)
{
        int o[2], e[2];
        pid_t pid;

        if (pipe2(o, O_CLOEXEC) < 0)
                return err_sys(err, "pipe");
        if (pipe2(e, O_CLOEXEC) < 0) {
                close(o[0]);
                close(o[1]);
                return err_sys(err, "pipe");
        }
        pid = fork();
        if (pid == 0) {
                struct eng_ctx ec;
                struct isola_err cerr = {0};
                int in = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
                child_reset();
                dup2(in, 0);
                dup2(o[1], 1);
                dup2(e[1], 2);
                close_range(3, ~0U, 0);
                if (eng_open(s->root[0] ? s->root : NULL, &ec, &cerr) < 0 ||
                    fn(&ec, arg, stdout, &cerr) < 0) {
                        fflush(stdout);
                        dprintf(2, "%s\n", cerr.msg);
                        _exit(1);
                }
                fflush(stdout);
                _exit(0);
        }
        close(o[1]);
        close(e[1]);
        if (pid < 0) {
                close(o[0]);
                close(e[0]);
                return err_sys(err, "fork");
        }
        *st = (struct api_stream){.pid = pid, .out_fd = o[0], .err_fd = e[0]};
        return 0;
}

int api_work_reap(struct api_stream *st)
{
        int status = 0;

        if (st->out_fd >= 0)
                close(st->out_fd);
        if (st->err_fd >= 0)
                close(st->err_fd);
        st->out_fd = st->err_fd = -1;
        if (st->pid > 0)
                while (waitpid(st->pid, &status, 0) < 0 && errno == EINTR)
                        ;
        st->pid = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int api_mux_write(int fd, int stream, const void *buf, size_t len)
{
        unsigned char h[8] = {(unsigned char)stream,
                              0,
                              0,
                              0,
                              (unsigned char)(len >> 24),
                              (unsigned char)(len >> 16),
                              (unsigned char)(len >> 8),
                              (unsigned char)len};

        if (fs_write_all(fd, h, sizeof(h)) < 0)
                return -1;
        return fs_write_all(fd, buf, len);
}

int api_relay(struct api_stream *st, int fd, bool raw)
{
        char buf[32768];
        struct pollfd pf[2] = {{.fd = st->out_fd, .events = POLLIN},
                               {.fd = st->err_fd, .events = POLLIN}};

        while (pf[0].fd >= 0 || pf[1].fd >= 0) {
                if (poll(pf, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                for (int i = 0; i < 2; i++) {
                        if (pf[i].fd < 0 || !pf[i].revents)
                                continue;
                        ssize_t n = read(pf[i].fd, buf, sizeof(buf));
                        if (n <= 0) {
                                pf[i].fd = -1;
                                continue;
                        }
                        int rc = raw ? fs_write_all(fd, buf, (size_t)n)
                                     : api_mux_write(fd, i + 1, buf, (size_t)n);
                        if (rc < 0)
                                return -1; /* the client went away */
                }
        }
        return 0;
}
