/* Running one healthcheck: the test is exec'd in the container through the
 * runtime library (ctr_exec, in-process, detached so the process is our
 * child), its stdout+stderr go to a pipe of which the first
 * ENG_HEALTH_OUTPUT_MAX bytes are kept, and a process still running at the
 * timeout is killed (exit -1, as Docker). The caller is `isola _health`
 * (started by the monitor) or `isola healthcheck run`. */
#include "engine/engine_internal.h"
#include "engine/health.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctr/container.h"
#include "util/fs.h"

struct probe {
        int out_fd;
        pid_t pid;
        char buf[ENG_HEALTH_OUTPUT_MAX + 1];
        size_t len;
};

/* The exec'd process inherits our fds 0-2: point them at /dev/null and the
 * pipe for the duration of ctr_exec, then put ours back. */
static int spawn(struct eng_ctx *c, const char *id, char **args, struct probe *p,
                 struct isola_err *err)
{
        struct ctr_opts opts = {.root = c->ctr_root};
        char pid_file[PATH_MAX + 32], *text = NULL;
        struct ctr_exec_args a = {.args = args, .detach = true, .pid_file = pid_file};
        int pfd[2], saved[3], null, code = 0, rc;
        size_t len;

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return err_sys(err, "healthcheck: pipe");
        null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        for (int i = 0; i < 3; i++)
                saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
        eng_ctr_path(c, id, NULL, pid_file, sizeof(pid_file));
        snprintf(pid_file + strlen(pid_file), sizeof(pid_file) - strlen(pid_file), "/health-%d.pid",
                 (int)getpid());
        fflush(stdout);
        fflush(stderr);
        dup2(null, 0);
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        rc = ctr_exec(&opts, id, &a, &code, err);
        for (int i = 0; i < 3; i++) {
                if (saved[i] >= 0) {
                        dup2(saved[i], i);
                        close(saved[i]);
                }
        }
        if (null >= 0)
                close(null);
        close(pfd[1]);
        p->out_fd = pfd[0];
        if (rc == 0 && fs_read_file(pid_file, &text, &len, err) == 0) {
                p->pid = (pid_t)atoi(text);
                free(text);
        }
        unlink(pid_file);
        if (rc == 0 && p->pid <= 0)
                rc = err_set(err, EIO, "healthcheck: no pid from the runtime");
        if (rc < 0) {
                close(pfd[0]);
                p->out_fd = -1;
        }
        return rc;
}

static void take_output(struct probe *p)
{
        char tmp[4096];
        ssize_t n;

        while ((n = read(p->out_fd, tmp, sizeof(tmp))) > 0) {
                size_t room = ENG_HEALTH_OUTPUT_MAX - p->len;
                size_t k = (size_t)n < room ? (size_t)n : room;
                memcpy(p->buf + p->len, tmp, k);
                p->len += k;
        }
}

/* Waits for the process (reading its output) until deadline_ns; returns
 * its exit code, or -1 after killing it at the deadline. */
static int wait_probe(struct probe *p, int64_t deadline_ns, bool *timed_out)
{
        int pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0), status = 0;
        bool exited = false, hup = false;

        fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
        *timed_out = false;
        while (!exited) {
                /* a negative fd is skipped by poll: after HUP, only the pidfd */
                struct pollfd pf[2] = {{.fd = hup ? -1 : p->out_fd, .events = POLLIN},
                                       {.fd = pidfd, .events = POLLIN}};
                int64_t left = (deadline_ns - eng_now_ns()) / 1000000;
                if (left <= 0) {
                        *timed_out = true;
                        break;
                }
                /* without a pidfd (old kernel), look every 10 ms */
                int r = poll(pf, pidfd >= 0 ? 2 : 1, pidfd >= 0 ? (int)left : 10);
                if (r < 0 && errno != EINTR)
                        break;
                if (pf[0].revents)
                        take_output(p);
                if (pf[0].revents & (POLLHUP | POLLERR))
                        hup = pidfd >= 0;
                if (pidfd < 0 || pf[1].revents)
                        exited = waitpid(p->pid, &status, WNOHANG) == p->pid;
        }
        if (!exited) {
                kill(p->pid, SIGKILL);
                while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
                        ;
        }
        /* what is in the pipe now; a child of the check that keeps it open
         * is not waited for */
        take_output(p);
        if (pidfd >= 0)
                close(pidfd);
        if (*timed_out || !exited)
                return -1;
        return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static char **test_args(const struct eng_healthcheck *hc)
{
        char **args;
        size_t n = 0;

        if (!hc->test || !hc->test[0])
                return NULL;
        while (hc->test[n])
                n++;
        args = calloc(n + 3, sizeof(*args));
        if (!args)
                return NULL;
        if (!strcmp(hc->test[0], "CMD-SHELL")) {
                args[0] = "/bin/sh";
                args[1] = "-c";
                args[2] = hc->test[1] ? hc->test[1] : "";
                return args;
        }
        for (size_t i = 1; i < n; i++)
                args[i - 1] = hc->test[i];
        return args;
}

/* Runs the probe; fills r (output heap) whatever happened to it. */
static void probe_run(struct eng_ctx *c, const char *id, const struct eng_healthcheck *hc,
                      struct eng_health_result *r)
{
        int64_t timeout = hc->timeout > 0 ? hc->timeout : ENG_HEALTH_DEF_TIMEOUT;
        struct isola_err e = {0};
        struct probe *p = calloc(1, sizeof(*p));
        char **args = test_args(hc);
        bool timed_out = false;

        r->start = eng_now_ns();
        if (!p || !args || !args[0]) {
                r->exit_code = -1;
                r->output = strdup(!args || !args[0] ? "healthcheck: empty test" : "out of memory");
        } else if (spawn(c, id, args, p, &e) < 0) {
                r->exit_code = -1;
                r->output = strdup(e.msg);
        } else {
                r->exit_code = wait_probe(p, r->start + timeout, &timed_out);
                close(p->out_fd);
                if (timed_out) {
                        char msg[96];
                        snprintf(msg, sizeof(msg), "Health check exceeded timeout (%gs)",
                                 (double)timeout / 1e9);
                        r->output = strdup(msg);
                } else {
                        p->buf[p->len] = '\0';
                        r->output = strdup(p->buf);
                }
        }
        r->end = eng_now_ns();
        free(args);
        free(p);
}

int eng_health_run(struct eng_ctx *c, const char *ref, struct eng_health_result *result,
                   enum eng_health_status *status_out, struct isola_err *err)
{
        struct eng_container *ct = NULL, *now = NULL;
        struct eng_config cfg = {0};
        struct eng_health_result r = {0};
        int rc = -1;

        if (eng_get(c, ref, &ct, err) < 0 || eng_container_config(ct, &cfg, err) < 0)
                goto out;
        if (!eng_healthcheck_enabled(&cfg.health)) {
                err_set(err, EINVAL, "container '%s' has no defined healthcheck", ref);
                goto out;
        }
        if (strcmp(ct->state, "running") != 0) {
                err_set(err, EINVAL, "container '%s' is not running (state: %s)", ref, ct->state);
                goto out;
        }
        probe_run(c, ct->id, &cfg.health, &r);
        /* a result of a container that stopped (or restarted) meanwhile
         * says nothing about it */
        if (eng_get(c, ct->id, &now, err) < 0)
                goto out;
        if (strcmp(now->state, "running") != 0 || now->started != ct->started) {
                err_set(err, ESRCH, "container '%s' stopped during its healthcheck", ref);
                goto out;
        }
        if (eng_health_record(c, now, &cfg.health, &r, status_out, err) < 0)
                goto out;
        if (result) {
                *result = r;
                r.output = NULL;
        }
        rc = 0;
out:
        free(r.output);
        eng_container_free(now);
        eng_container_free(ct);
        eng_config_free(&cfg);
        return rc;
}

void eng_health_monitor_arg(const struct eng_config *cfg, char *buf, size_t len)
{
        const struct eng_healthcheck *h = &cfg->health;

        if (!eng_healthcheck_enabled(h)) {
                snprintf(buf, len, "health=");
                return;
        }
        snprintf(buf, len, "health=%lld,%lld,%lld,%lld",
                 (long long)((h->interval > 0 ? h->interval : ENG_HEALTH_DEF_INTERVAL) / 1000000),
                 (long long)((h->start_interval > 0 ? h->start_interval
                                                    : ENG_HEALTH_DEF_START_INTERVAL) /
                             1000000),
                 (long long)(h->start_period / 1000000),
                 (long long)((h->timeout > 0 ? h->timeout : ENG_HEALTH_DEF_TIMEOUT) / 1000000));
}
