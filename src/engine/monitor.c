/* isola-monitor: one per running container (conmon's role). It is the
 * parent of the container's init (and a subreaper, for restarts), holds the
 * container's stdio (pipes or the pty master), writes the log as JSON lines
 * with timestamps, rotating at a size cap, relays an attached CLI's stdio,
 * writes the exit file, answers wait/stop requests on its socket, applies
 * the restart policy (through `isola _restart`), and finally execs
 * `isola _cleanup` to record the exit in the database.
 *
 * Deliberately tiny: libc only, static, fixed buffers, no heap; its RSS is
 * what every running container costs. Arguments are key=value (see
 * engine_start.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/health_mon.h"
#include "engine/monitor_proto.h"

#define MAX_CLIENTS  16
#define MAX_INPUTS   8 /* API clients attached to stdin */
#define LINE_MAX_LEN 16384

struct stream {
        int fd;
        const char *name; /* "stdout" | "stderr" */
        int attach_fd;
        char line[LINE_MAX_LEN];
        size_t len;
};

struct mon {
        const char *id, *dir, *sockdir, *exe, *restart;
        pid_t pid;
        int in_fd, ain_fd, notify_fd, outw, errw;
        int max, count;
        long logmax;
        struct stream out, err;
        int log_fd, log_tried;
        long log_size;
        int listen_fd, sig_fd;
        int clients[MAX_CLIENTS];
        int inputs[MAX_INPUTS]; /* MON_CMD_STDIN connections */
        char input_once[MAX_INPUTS];
        /* Input read but not yet taken by the container's stdin: in_fd is
         * non-blocking, so a container that does not read its stdin can
         * never stop us from draining its output (which would deadlock
         * both); while bytes wait here no input is read. */
        char ibuf[4096];
        size_t ilen, ioff;
        int stopping;
        int code;
        struct hmon health;               /* healthcheck schedule (health_mon.c) */
        char rec[LINE_MAX_LEN * 6 + 128]; /* one escaped log record */
        char rbuf[8192];                  /* one read of a stream */
};

static const char *arg(int argc, char **argv, const char *key)
{
        size_t k = strlen(key);
        for (int i = 1; i < argc; i++)
                if (!strncmp(argv[i], key, k) && argv[i][k] == '=')
                        return argv[i] + k + 1;
        return NULL;
}

static int arg_int(int argc, char **argv, const char *key)
{
        const char *v = arg(argc, argv, key);
        return v ? atoi(v) : -1;
}

static void write_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                buf += n;
                len -= (size_t)n;
        }
}

static void open_log(struct mon *m)
{
        struct stat sb;
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", m->dir, MON_LOG_FILE);
        m->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        m->log_size = m->log_fd >= 0 && fstat(m->log_fd, &sb) == 0 ? (long)sb.st_size : 0;
}

/* Keeps at most two files of logmax bytes: ctr.log and ctr.log.1. */
static void rotate_log(struct mon *m)
{
        char a[4096], b[4096];

        snprintf(a, sizeof(a), "%s/%s", m->dir, MON_LOG_FILE);
        snprintf(b, sizeof(b), "%s/%s.1", m->dir, MON_LOG_FILE);
        if (m->log_fd >= 0)
                close(m->log_fd);
        rename(a, b);
        open_log(m);
}

/* One docker json-file record: {"log":"...","stream":"...","time":"..."} */
static void log_record(struct mon *m, const char *stream, const char *data, size_t len)
{
        static const char hex[] = "0123456789abcdef";
        char *rec = m->rec;
        struct timespec ts;
        struct tm tm;
        size_t k = 0;

        /* opened on the first record: a silent container has no log file */
        if (m->log_fd < 0 && !m->log_tried) {
                m->log_tried = 1;
                open_log(m);
        }
        if (m->log_fd < 0)
                return;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        k += (size_t)snprintf(rec, sizeof(m->rec), "{\"log\":\"");
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)data[i];
                if (ch == '"' || ch == '\\') {
                        rec[k++] = '\\';
                        rec[k++] = (char)ch;
                } else if (ch == '\n') {
                        rec[k++] = '\\';
                        rec[k++] = 'n';
                } else if (ch < 0x20) {
                        memcpy(rec + k, "\\u00", 4);
                        k += 4;
                        rec[k++] = hex[ch >> 4];
                        rec[k++] = hex[ch & 15];
                } else {
                        rec[k++] = (char)ch;
                }
        }
        k += (size_t)snprintf(rec + k, sizeof(m->rec) - k,
                              "\",\"stream\":\"%s\",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d."
                              "%09ldZ\"}\n",
                              stream, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                              tm.tm_min, tm.tm_sec, ts.tv_nsec);
        if (m->logmax > 0 && m->log_size + (long)k > m->logmax)
                rotate_log(m);
        if (m->log_fd >= 0)
                write_all(m->log_fd, rec, k);
        m->log_size += (long)k;
}

/* Logs complete lines; a partial line waits for its end (or a full buffer). */
static void stream_data(struct mon *m, struct stream *s, const char *buf, size_t len)
{
        if (s->attach_fd >= 0) {
                ssize_t n = write(s->attach_fd, buf, len);
                if (n < 0 && errno == EPIPE)
                        s->attach_fd = -1;
        }
        for (size_t i = 0; i < len; i++) {
                s->line[s->len++] = buf[i];
                if (buf[i] == '\n' || s->len == sizeof(s->line)) {
                        log_record(m, s->name, s->line, s->len);
                        s->len = 0;
                }
        }
}

static void stream_flush(struct mon *m, struct stream *s)
{
        if (s->len)
                log_record(m, s->name, s->line, s->len);
        s->len = 0;
}

/* 0 on EOF/error (the stream is done), 1 otherwise. */
static int stream_read(struct mon *m, struct stream *s)
{
        char *buf = m->rbuf;
        ssize_t n = read(s->fd, buf, sizeof(m->rbuf));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 1;
        if (n <= 0)
                return 0;
        stream_data(m, s, buf, (size_t)n);
        return 1;
}

static void drain(struct mon *m, struct stream *s)
{
        if (s->fd < 0)
                return;
        fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
        while (stream_read(m, s) && errno != EAGAIN)
                errno = 0;
        stream_flush(m, s);
}

/* The socket comes bound and listening from the engine (so it exists as
 * soon as the container is reported started); only a restarted monitor
 * without one binds it here. */
static int listen_sock(struct mon *m, int given)
{
        if (given >= 0) {
                fcntl(given, F_SETFL, fcntl(given, F_GETFL) | O_NONBLOCK);
                return given;
        }
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int dfd = open(m->sockdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (dfd < 0 || fd < 0)
                return -1;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%.64s", dfd, m->id);
        unlink(sa.sun_path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
                close(fd);
                fd = -1;
        }
        close(dfd);
        return fd;
}

static void add_input(struct mon *m, int fd, int once);

static void accept_client(struct mon *m)
{
        int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        struct timeval tv = {.tv_sec = 1};
        char cmd = 0;

        if (fd < 0)
                return;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (read(fd, &cmd, 1) == 1 && cmd == MON_CMD_STOP)
                m->stopping = 1;
        if (cmd == MON_CMD_STDIN || cmd == MON_CMD_STDIN_ONCE) {
                add_input(m, fd, cmd == MON_CMD_STDIN_ONCE);
                return;
        }
        for (int i = 0; i < MAX_CLIENTS; i++) {
                if (m->clients[i] < 0) {
                        m->clients[i] = fd;
                        return;
                }
        }
        close(fd);
}

/* The container's stdin is done (a pipe's write end; a pty stays). */
static void stdin_close(struct mon *m)
{
        if (m->in_fd >= 0 && m->in_fd != m->out.fd) {
                close(m->in_fd);
                m->in_fd = -1;
        }
        m->ilen = m->ioff = 0;
}

/* Writes what waits in ibuf as far as the container's stdin takes it. */
static void stdin_flush(struct mon *m)
{
        while (m->ioff < m->ilen) {
                ssize_t n = write(m->in_fd, m->ibuf + m->ioff, m->ilen - m->ioff);
                if (n > 0) {
                        m->ioff += (size_t)n;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                break; /* EPIPE, EIO: nobody reads it any more; drop */
        }
        m->ilen = m->ioff = 0;
}

/* One read from an input: 0 on EOF or error (the input is done). */
static int input_read(struct mon *m, int fd)
{
        ssize_t n = read(fd, m->ibuf, sizeof(m->ibuf));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 1;
        if (n <= 0)
                return 0;
        if (m->in_fd < 0)
                return 1; /* stdin closed already: dropped */
        m->ilen = (size_t)n;
        m->ioff = 0;
        stdin_flush(m);
        return 1;
}

/* The attached CLI's stdin: EOF on it is EOF for the container (pipe). */
static void relay_stdin(struct mon *m)
{
        if (input_read(m, m->ain_fd))
                return;
        m->ain_fd = -1;
        stdin_close(m);
}

static void add_input(struct mon *m, int fd, int once)
{
        char ok = MON_STDIN_OK;

        for (int i = 0; m->in_fd >= 0 && i < MAX_INPUTS; i++) {
                if (m->inputs[i] >= 0)
                        continue;
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
                if (write(fd, &ok, 1) != 1)
                        break;
                m->inputs[i] = fd;
                m->input_once[i] = (char)once;
                return;
        }
        close(fd);
}

static void input_ready(struct mon *m, int i)
{
        if (input_read(m, m->inputs[i]))
                return;
        close(m->inputs[i]);
        m->inputs[i] = -1;
        if (m->input_once[i])
                stdin_close(m);
}

/* Reaps children (orphans we inherit as subreaper too); 1 when the
 * container's init was among them. */
static int reap(struct mon *m)
{
        int status;
        pid_t p;

        while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
                if (p != m->pid) {
                        hmon_reaped(&m->health, p, status);
                        continue;
                }
                m->code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
                return 1;
        }
        return 0;
}

/* Returns when the container's init has exited (m->code set). */
static void loop(struct mon *m)
{
        /* it may have exited before we blocked SIGCHLD (in M, before exec) */
        if (reap(m))
                return;
        for (;;) {
                struct pollfd pf[6 + MAX_INPUTS];
                int n = 0, i_out = -1, i_err = -1, i_in = -1, i_lis = -1, i_sig, i_w = -1;
                int i_inputs = -1;

                if (m->out.fd >= 0)
                        pf[i_out = n++] = (struct pollfd){.fd = m->out.fd, .events = POLLIN};
                if (m->err.fd >= 0)
                        pf[i_err = n++] = (struct pollfd){.fd = m->err.fd, .events = POLLIN};
                if (m->ilen > 0 && m->in_fd >= 0) { /* inputs wait for this */
                        pf[i_w = n++] = (struct pollfd){.fd = m->in_fd, .events = POLLOUT};
                } else {
                        if (m->ain_fd >= 0)
                                pf[i_in = n++] = (struct pollfd){.fd = m->ain_fd, .events = POLLIN};
                        i_inputs = n;
                        for (int k = 0; k < MAX_INPUTS; k++)
                                pf[n++] = (struct pollfd){.fd = m->inputs[k], .events = POLLIN};
                }
                if (m->listen_fd >= 0)
                        pf[i_lis = n++] = (struct pollfd){.fd = m->listen_fd, .events = POLLIN};
                pf[i_sig = n++] = (struct pollfd){.fd = m->sig_fd, .events = POLLIN};
                int prc = poll(pf, (nfds_t)n, hmon_timeout(&m->health));
                hmon_tick(&m->health);
                if (prc <= 0)
                        continue;
                /* a pty master fails with EIO once the last slave closes */
                if (i_out >= 0 && pf[i_out].revents && !stream_read(m, &m->out))
                        m->out.fd = -1;
                if (i_err >= 0 && pf[i_err].revents && !stream_read(m, &m->err))
                        m->err.fd = -1;
                if (i_w >= 0 && pf[i_w].revents)
                        stdin_flush(m);
                if (i_in >= 0 && pf[i_in].revents && m->ilen == 0)
                        relay_stdin(m);
                for (int k = 0; i_inputs >= 0 && k < MAX_INPUTS; k++)
                        if (pf[i_inputs + k].revents && m->inputs[k] >= 0 && m->ilen == 0)
                                input_ready(m, k);
                if (i_lis >= 0 && pf[i_lis].revents)
                        accept_client(m);
                if (pf[i_sig].revents) {
                        struct signalfd_siginfo si;
                        while (read(m->sig_fd, &si, sizeof(si)) > 0)
                                ;
                        if (reap(m))
                                return;
                }
        }
}

static void write_exit_file(struct mon *m)
{
        char tmp[4096], path[4096], buf[64];
        struct timespec ts;
        int fd;

        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(tmp, sizeof(tmp), "%s/%s.tmp", m->dir, MON_EXIT_FILE);
        snprintf(path, sizeof(path), "%s/%s", m->dir, MON_EXIT_FILE);
        int n = snprintf(buf, sizeof(buf), "%d %lld\n", m->code,
                         (long long)ts.tv_sec * 1000000000 + ts.tv_nsec);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        write_all(fd, buf, (size_t)n);
        close(fd);
        rename(tmp, path);
}

/* On the last exit (not before a restart) the attached CLI gets the code
 * too. */
static void notify(struct mon *m, int restarting)
{
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%d\n", m->code);
        int close_clients = restarting;

        if (m->notify_fd >= 0 && !restarting)
                write_all(m->notify_fd, buf, (size_t)n);
        for (int i = 0; i < MAX_CLIENTS; i++) {
                if (m->clients[i] < 0)
                        continue;
                write_all(m->clients[i], buf, (size_t)n);
                if (close_clients) {
                        close(m->clients[i]);
                        m->clients[i] = -1;
                }
        }
}

static int want_restart(const struct mon *m)
{
        if (m->stopping || !strcmp(m->restart, "no"))
                return 0;
        if (!strcmp(m->restart, "always"))
                return 1;
        return m->code != 0 && (m->max <= 0 || m->count < m->max);
}

/* `isola _restart ID`: re-creates the container with our pipes as its
 * stdio; it reports "P <pid>" on fd 3. The new init is reparented to us
 * (subreaper) when that process exits. */
static pid_t restart(struct mon *m)
{
        int rep[2];
        char buf[64];
        ssize_t n;
        size_t len = 0;
        pid_t child;

        if (pipe(rep) < 0)
                return -1;
        child = fork();
        if (child == 0) {
                int null = open("/dev/null", O_RDONLY);
                dup2(null, 0);
                dup2(m->outw, 1);
                dup2(m->errw, 2);
                dup2(rep[1], 3);
                execl(m->exe, "isola", "_restart", m->id, (char *)NULL);
                _exit(127);
        }
        close(rep[1]);
        while (len < sizeof(buf) - 1 && (n = read(rep[0], buf + len, sizeof(buf) - 1 - len)) > 0)
                len += (size_t)n;
        buf[len] = '\0';
        close(rep[0]);
        if (child > 0)
                waitpid(child, NULL, 0);
        return len > 2 && buf[0] == 'P' ? (pid_t)atoi(buf + 2) : -1;
}

static void backoff(int count)
{
        long ms = 100L << (count < 6 ? count : 6);
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* rm -r of dirfd's content (closes dirfd), never following symlinks. */
static void remove_below(int dirfd, int depth)
{
        DIR *d = fdopendir(dirfd);
        struct dirent *e;

        if (!d) {
                close(dirfd);
                return;
        }
        while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                if (unlinkat(dirfd, e->d_name, 0) == 0 || errno != EISDIR || depth > 256)
                        continue;
                int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0)
                        remove_below(sub, depth + 1);
                unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
        }
        closedir(d);
}

/* The attached CLI removed the --rm container and left its directory
 * renamed to `trash` for us: deleting files is slow on some file systems,
 * and the CLI's user is waiting. */
static void remove_trash(const char *trash)
{
        int fd = trash ? open(trash, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;

        if (fd < 0)
                return;
        remove_below(fd, 0);
        rmdir(trash);
}

/* Last act: the cleanup runs in this process, so waiters (whose sockets it
 * inherits) see EOF only once the row is final. */
static void exec_cleanup(struct mon *m)
{
        char code[16];

        for (int i = 0; i < MAX_CLIENTS; i++)
                if (m->clients[i] >= 0)
                        fcntl(m->clients[i], F_SETFD, 0);
        if (m->notify_fd >= 0)
                fcntl(m->notify_fd, F_SETFD, 0);
        snprintf(code, sizeof(code), "%d", m->code);
        execl(m->exe, "isola", "_cleanup", m->id, code, (char *)NULL);
        _exit(1);
}

static void setup(struct mon *m, int argc, char **argv)
{
        sigset_t set;

        m->id = arg(argc, argv, "id");
        m->dir = arg(argc, argv, "dir");
        m->sockdir = arg(argc, argv, "sockdir");
        m->exe = arg(argc, argv, "exe");
        m->restart = arg(argc, argv, "restart");
        m->pid = arg_int(argc, argv, "pid");
        m->out = (struct stream){.fd = arg_int(argc, argv, "out"),
                                 .name = "stdout",
                                 .attach_fd = arg_int(argc, argv, "aout")};
        m->err = (struct stream){.fd = arg_int(argc, argv, "err"),
                                 .name = "stderr",
                                 .attach_fd = arg_int(argc, argv, "aerr")};
        m->outw = arg_int(argc, argv, "outw");
        m->errw = arg_int(argc, argv, "errw");
        m->in_fd = arg_int(argc, argv, "in");
        m->ain_fd = arg_int(argc, argv, "ain");
        m->notify_fd = arg_int(argc, argv, "notify");
        m->max = arg_int(argc, argv, "max");
        m->count = arg_int(argc, argv, "count");
        m->logmax = arg_int(argc, argv, "logmax");
        if (!m->restart)
                m->restart = "no";
        for (int i = 0; i < MAX_CLIENTS; i++)
                m->clients[i] = -1;
        for (int i = 0; i < MAX_INPUTS; i++)
                m->inputs[i] = -1;
        if (m->in_fd >= 0) /* see ibuf */
                fcntl(m->in_fd, F_SETFL, fcntl(m->in_fd, F_GETFL) | O_NONBLOCK);
        /* everything we hold is ours only: not for the cleanup we exec */
        for (int fd = 3; fd < 64; fd++)
                if (fd != m->notify_fd)
                        fcntl(fd, F_SETFD, FD_CLOEXEC);
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        sigprocmask(SIG_BLOCK, &set, NULL);
        m->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        m->log_fd = -1;
        m->listen_fd = listen_sock(m, arg_int(argc, argv, "listen"));
        hmon_init(&m->health, arg(argc, argv, "health"), m->exe, m->id);
}

int main(int argc, char **argv)
{
        static struct mon m;

        setup(&m, argc, argv);
        if (!m.id || !m.dir || !m.sockdir || !m.exe || m.pid <= 0 || m.sig_fd < 0) {
                fprintf(stderr, "isola-monitor: internal program of isola\n");
                return 2;
        }
        for (;;) {
                hmon_start(&m.health);
                loop(&m);
                hmon_stop(&m.health);
                drain(&m, &m.out);
                drain(&m, &m.err);
                if (!want_restart(&m))
                        break;
                write_exit_file(&m);
                notify(&m, 1);
                backoff(m.count);
                if (m.stopping)
                        break;
                pid_t p = restart(&m);
                if (p <= 0)
                        break;
                m.pid = p;
                m.count++;
                m.out.fd = arg_int(argc, argv, "out");
                m.err.fd = arg_int(argc, argv, "err");
        }
        notify(&m, 0);
        /* An attached CLI records the exit itself (it has the database open
         * already) and answers 'C'; if it died instead, we clean up. */
        if (m.notify_fd >= 0) {
                char ack = 0;
                if (read(m.notify_fd, &ack, 1) == 1 && ack == 'C') {
                        close(m.notify_fd);
                        remove_trash(arg(argc, argv, "trash"));
                        return 0;
                }
        }
        /* for readers of the row should we die before the cleanup ends */
        write_exit_file(&m);
        if (m.listen_fd >= 0) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", m.sockdir, m.id);
                unlink(path);
                close(m.listen_fd);
        }
        exec_cleanup(&m);
        return 1;
}
