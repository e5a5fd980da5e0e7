/* start: the process shape of a running container.
 *
 *   CLI ──fork──► M (setsid) ──ctr_run (in-process, detached)──► container init
 *    │             │ init is M's child; stdio = pipes (or a pty handed over a
 *    │             │ console socket)
 *    │             └─exec──► isola-monitor (same pid: still the init's parent)
 *    │ 1. writes the row (running, monitor pid) while M waits on `go`
 *    │ 2. `go` ──► M;  M reports "P <pid>" or "E <error>" on the report pipe
 *
 * The row is written before M may start the container, so the monitor's
 * cleanup (which marks the row exited) can never be overwritten by a late
 * 'running'. With attach, M keeps our stdio for the monitor to relay. */
#include "engine/engine_internal.h"
#include "engine/health.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ctr/container.h"
#include "ctr/state.h"
#include "ctr/terminal.h"
#include "engine/events.h"
#include "util/cleanup.h"

struct launch {
        struct eng_ctx *c;
        const char *id;
        const struct eng_config *cfg;
        bool attach;
        int restart_count;
        int go[2], report[2], notify[2];
        int out[2], errp[2], in[2];
        int aio[3]; /* our stdio, for the monitor to relay (attach) */
};

static void set_cloexec(int fd, bool on)
{
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0)
                fcntl(fd, F_SETFD, on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC);
}

static void report(int fd, char kind, const char *text)
{
        char buf[ISOLA_ERR_MSG_MAX + 4];
        int n = snprintf(buf, sizeof(buf), "%c %s", kind, text);
        if (write(fd, buf, (size_t)n) < 0)
                return;
}

/* A listening socket for the runtime's console hand-over, reached through a
 * dir fd because the runroot may be longer than sun_path. */
static int console_listen(struct launch *l, char path[128], struct isola_err *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int dfd = open(l->c->mon_dir, O_PATH | O_DIRECTORY | O_CLOEXEC), fd;

        if (dfd < 0)
                return err_sys(err, "'%s'", l->c->mon_dir);
        snprintf(path, 128, "/proc/self/fd/%d/%.64s.tty", dfd, l->id);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
                return err_sys(err, "console socket");
        return fd;
}

static int console_accept(int lfd, const char *path, struct isola_err *err)
{
        int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), master = -1;
        char buf[256];

        unlink(path);
        if (cfd < 0)
                return err_sys(err, "console socket");
        if (terminal_recv_fd(cfd, buf, sizeof(buf), &master) < 0 || master < 0) {
                close(cfd);
                return err_set(err, EIO, "no terminal from the runtime");
        }
        close(cfd);
        return master;
}

/* The monitor's socket, bound before the container is reported started so
 * that a `wait` right after `start` finds it. */
static int monitor_listen(struct launch *l)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int dfd = open(l->c->mon_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (dfd >= 0 && fd >= 0) {
                snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%.64s", dfd, l->id);
                unlink(sa.sun_path);
                if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
                        close(fd);
                        fd = -1;
                }
        }
        if (dfd >= 0)
                close(dfd);
        return fd;
}

static void fmt_fd(char *buf, size_t len, const char *key, int fd)
{
        if (fd >= 0)
                set_cloexec(fd, false);
        snprintf(buf, len, "%s=%d", key, fd);
}

static const char *const restart_names[] = {"no", "on-failure", "always"};

/* In M, after the container runs: becomes isola-monitor. */
static void exec_monitor(struct launch *l, pid_t pid, int pty, int listen_fd)
{
        char a[28][PATH_MAX + 16], mon[PATH_MAX], *argv[29];
        int n = 0, devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        const struct eng_config *cfg = l->cfg;

        snprintf(mon, sizeof(mon), "%s", l->c->self_exe);
        snprintf(strrchr(mon, '/') + 1, sizeof(mon) - (size_t)(strrchr(mon, '/') + 1 - mon),
                 "isola-monitor");
        snprintf(a[n++], sizeof(a[0]), "isola-monitor");
        snprintf(a[n++], sizeof(a[0]), "id=%s", l->id);
        snprintf(a[n], sizeof(a[0]), "dir=");
        eng_ctr_path(l->c, l->id, NULL, a[n] + 4, sizeof(a[0]) - 4);
        n++;
        snprintf(a[n++], sizeof(a[0]), "sockdir=%s", l->c->mon_dir);
        snprintf(a[n++], sizeof(a[0]), "exe=%s", l->c->self_exe);
        snprintf(a[n++], sizeof(a[0]), "pid=%d", (int)pid);
        fmt_fd(a[n++], sizeof(a[0]), "out", pty >= 0 ? pty : l->out[0]);
        fmt_fd(a[n++], sizeof(a[0]), "err", pty >= 0 ? -1 : l->errp[0]);
        fmt_fd(a[n++], sizeof(a[0]), "outw", pty >= 0 ? -1 : l->out[1]);
        fmt_fd(a[n++], sizeof(a[0]), "errw", pty >= 0 ? -1 : l->errp[1]);
        fmt_fd(a[n++], sizeof(a[0]), "in", pty >= 0 ? pty : l->in[1]);
        fmt_fd(a[n++], sizeof(a[0]), "ain", l->attach && (cfg->interactive) ? l->aio[0] : -1);
        fmt_fd(a[n++], sizeof(a[0]), "aout", l->attach ? l->aio[1] : -1);
        fmt_fd(a[n++], sizeof(a[0]), "aerr", l->attach ? l->aio[2] : -1);
        fmt_fd(a[n++], sizeof(a[0]), "notify", l->attach ? l->notify[1] : -1);
        fmt_fd(a[n++], sizeof(a[0]), "listen", listen_fd);
        snprintf(a[n++], sizeof(a[0]), "trash=%s/tmp/rm-%s", l->c->paths.root, l->id);
        snprintf(a[n++], sizeof(a[0]), "restart=%s", restart_names[cfg->restart]);
        snprintf(a[n++], sizeof(a[0]), "max=%d", cfg->restart_max);
        snprintf(a[n++], sizeof(a[0]), "count=%d", l->restart_count);
        snprintf(a[n++], sizeof(a[0]), "logmax=%u", ENG_LOG_MAX_SIZE);
        eng_health_monitor_arg(cfg, a[n++], sizeof(a[0]));
        for (int i = 0; i < n; i++)
                argv[i] = a[i];
        argv[n] = NULL;
        if (devnull >= 0) {
                dup2(devnull, 0);
                dup2(devnull, 1);
                dup2(devnull, 2);
        }
        setenv("ISOLA_ROOT", l->c->paths.root, 1);
        setenv("ISOLA_RUNROOT", l->c->paths.runroot, 1);
        execv(mon, argv);
        report(l->report[1], 'E', "cannot run isola-monitor next to the isola binary");
        _exit(127);
}

static int run_container(struct launch *l, pid_t *pid_out, int *pty_out, struct isola_err *err)
{
        struct ctr_opts opts = {.root = l->c->ctr_root};
        char bundle[PATH_MAX], cons_path[128];
        struct ctr_create_args a = {.bundle = bundle, .detach = true};
        _cleanup_close_ int lfd = -1;
        struct isola_err ignore = {0};
        int status;

        eng_ctr_path(l->c, l->id, NULL, bundle, sizeof(bundle));
        *pty_out = -1;
        if (l->cfg->tty) {
                lfd = console_listen(l, cons_path, err);
                if (lfd < 0)
                        return -1;
                a.console_socket = cons_path;
        }
        /* a previous run's runtime state */
        ctr_delete(&opts, l->id, true, &ignore);
        if (ctr_run(&opts, l->id, &a, &status, err) < 0)
                return -1;
        if (eng_only_child(pid_out, err) < 0)
                return -1;
        if (l->cfg->tty) {
                *pty_out = console_accept(lfd, cons_path, err);
                if (*pty_out < 0)
                        return -1;
                if (l->attach && isatty(l->aio[0])) {
                        struct winsize ws;
                        if (ioctl(l->aio[0], TIOCGWINSZ, &ws) == 0)
                                ioctl(*pty_out, TIOCSWINSZ, &ws);
                }
        }
        return 0;
}

static void child_stdio(struct launch *l)
{
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (l->cfg->tty) {
                dup2(devnull, 0);
                dup2(devnull, 1);
                dup2(devnull, 2);
                return;
        }
        dup2(l->in[0] >= 0 ? l->in[0] : devnull, 0);
        dup2(l->out[1], 1);
        dup2(l->errp[1], 2);
        if (l->in[0] >= 0)
                close(l->in[0]);
}

static void m_main(struct launch *l)
{
        struct isola_err err = {0};
        char go;
        pid_t pid;
        int pty;

        setsid();
        signal(SIGPIPE, SIG_IGN);
        close(l->go[1]);
        close(l->report[0]);
        if (l->notify[0] >= 0)
                close(l->notify[0]);
        if (read(l->go[0], &go, 1) != 1)
                _exit(1);
        for (int i = 0; i < 3; i++)
                l->aio[i] = l->attach ? fcntl(i, F_DUPFD_CLOEXEC, 10) : -1;
        child_stdio(l);
        if (run_container(l, &pid, &pty, &err) < 0) {
                report(l->report[1], 'E', err.msg);
                _exit(1);
        }
        char msg[32];
        int listen_fd = monitor_listen(l);
        snprintf(msg, sizeof(msg), "%d", (int)pid);
        report(l->report[1], 'P', msg);
        exec_monitor(l, pid, pty, listen_fd);
}

static int make_pipes(struct launch *l, struct isola_err *err)
{
        int *all[] = {l->go, l->report, l->notify, l->out, l->errp, l->in};

        for (size_t i = 0; i < ARRAY_SIZE(all); i++)
                all[i][0] = all[i][1] = -1;
        if (pipe2(l->go, O_CLOEXEC) < 0 || pipe2(l->report, O_CLOEXEC) < 0)
                return err_sys(err, "pipe");
        if (l->attach && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, l->notify) < 0)
                return err_sys(err, "socketpair");
        if (!l->cfg->tty && (pipe2(l->out, O_CLOEXEC) < 0 || pipe2(l->errp, O_CLOEXEC) < 0))
                return err_sys(err, "pipe");
        if (!l->cfg->tty && l->cfg->interactive && pipe2(l->in, O_CLOEXEC) < 0)
                return err_sys(err, "pipe");
        return 0;
}

static void close_pipes(struct launch *l)
{
        int *all[] = {l->go, l->report, l->notify, l->out, l->errp, l->in};

        for (size_t i = 0; i < ARRAY_SIZE(all); i++)
                for (int k = 0; k < 2; k++)
                        if (all[i][k] >= 0)
                                close(all[i][k]);
}

static int mark_running(struct eng_ctx *c, const char *id, pid_t mon, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        unsigned long long start = 0;
        int rc;

        proc_start_time(mon, &start);
        if (sqlite3_prepare_v2(c->db,
                               "UPDATE containers SET state = 'running', monitor_pid = ?2, "
                               "monitor_start = ?3, started = ?4, finished = 0, exit_code = 0, "
                               "pid = 0 WHERE id = ?1",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "start container", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, mon);
        sqlite3_bind_int64(st, 3, (int64_t)start);
        sqlite3_bind_int64(st, 4, eng_now_ns());
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : db_fail(c->db, "start container", err);
}

static int set_pid(struct eng_ctx *c, const char *id, pid_t pid)
{
        sqlite3_stmt *st = NULL;

        if (sqlite3_prepare_v2(c->db,
                               "UPDATE containers SET pid = ?2 WHERE id = ?1 AND "
                               "state = 'running'",
                               -1, &st, NULL) != SQLITE_OK)
                return -1;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, pid);
        sqlite3_step(st);
        sqlite3_finalize(st);
        return 0;
}

/* Reads M's report: the container's pid, or the error. */
static int read_report(int fd, pid_t *pid, struct isola_err *err)
{
        char buf[ISOLA_ERR_MSG_MAX + 8];
        size_t len = 0;
        ssize_t n;

        while (len < sizeof(buf) - 1 &&
               ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0 || (n < 0 && errno == EINTR)))
                if (n > 0)
                        len += (size_t)n;
        buf[len] = '\0';
        if (len > 2 && buf[0] == 'P') {
                *pid = atoi(buf + 2);
                return 0;
        }
        if (len > 2 && buf[0] == 'E')
                return err_set(err, EIO, "%s", buf + 2);
        return err_set(err, EIO, "the container's monitor died while starting it");
}

static int launch(struct launch *l, pid_t *pid_out, struct isola_err *err)
{
        pid_t m;
        int rc = -1;

        if (make_pipes(l, err) < 0)
                goto out;
        m = fork();
        if (m < 0) {
                err_sys(err, "fork");
                goto out;
        }
        if (m == 0)
                m_main(l);
        close(l->go[0]);
        l->go[0] = -1;
        close(l->report[1]);
        l->report[1] = -1;
        if (l->notify[1] >= 0) {
                close(l->notify[1]);
                l->notify[1] = -1;
        }
        if (mark_running(l->c, l->id, m, err) < 0) {
                kill(m, SIGKILL);
                waitpid(m, NULL, 0);
                goto out;
        }
        if (write(l->go[1], "g", 1) != 1 || read_report(l->report[0], pid_out, err) < 0) {
                struct isola_err ignore = {0};
                waitpid(m, NULL, 0);
                eng_row_set_state(l->c, l->id, "created", &ignore);
                goto out;
        }
        /* M is the monitor now and stays our child until we exit (a
         * long-lived caller would reap it through SIGCHLD). */
        set_pid(l->c, l->id, *pid_out);
        rc = 0;
out:
        return rc;
}

int eng_attach_finish(struct eng_ctx *c, const char *id, int notify_fd, int code,
                      struct isola_err *err)
{
        int rc;

        c->trash_by_monitor = true;
        rc = eng_cleanup(c, id, code, 0, err);
        c->trash_by_monitor = false;
        if (rc == 0 && write(notify_fd, "C", 1) != 1)
                rc = err_sys(err, "monitor of '%.12s'", id);
        return rc;
}

int eng_start(struct eng_ctx *c, const char *ref, const struct eng_start_opts *o,
              struct isola_err *err)
{
        struct eng_container *ct = NULL;
        struct eng_config cfg = {0};
        struct launch l = {.c = c};
        char path[PATH_MAX];
        pid_t pid = -1;
        int rc = -1;

        if (eng_get(c, ref, &ct, err) < 0)
                return -1;
        if (!strcmp(ct->state, "running") || !strcmp(ct->state, "paused")) {
                err_set(err, EBUSY, "container '%s' is already running", ref);
                goto out;
        }
        if (eng_container_config(ct, &cfg, err) < 0 || eng_rootfs_mount(c, ct->id, err) < 0)
                goto out;
        eng_ctr_path(c, ct->id, MON_EXIT_FILE, path, sizeof(path));
        unlink(path);
        l.id = ct->id;
        l.cfg = &cfg;
        l.attach = o && o->attach;
        l.restart_count = ct->restart_count;
        rc = launch(&l, &pid, err);
        if (rc == 0 && o && o->attach && o->notify_fd_out) {
                *o->notify_fd_out = l.notify[0];
                l.notify[0] = -1;
        }
        if (rc == 0 && o && o->pid_out)
                *o->pid_out = pid;
        if (rc == 0)
                eng_event_container(c->db, ct->id, "start");
        close_pipes(&l);
        if (rc < 0)
                err_prefix(err, "start container '%s'", ref);
out:
        eng_config_free(&cfg);
        eng_container_free(ct);
        return rc;
}
