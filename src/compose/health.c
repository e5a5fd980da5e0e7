/* Healthchecks of compose services. The engine has no health support, so
 * compose measures health itself, when it looks: a check is run when one is
 * due (interval, or start_interval during start_period, after the last
 * check or the start) by `up` while it waits for service_healthy or --wait,
 * and by `ps`. The check runs through the engine's exec in a child process
 * (its own database connection; output captured, bounded); the result is
 * kept in compose_containers. Semantics as Docker: `retries` consecutive
 * failures after start_period make a container unhealthy, one success
 * healthy; failures inside start_period do not count. */
#include "compose/engine_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUTPUT_MAX 4096

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void child(struct cmp_real *r, const struct cmp_healthcheck *h, const char *id, int out)
{
        struct eng_ctx eng;
        struct isola_err err = {0};
        char *shell[] = {"/bin/sh", "-c", (char *)(h->test.n > 1 ? h->test.v[1] : "false"), NULL};
        char **args = shell;
        struct eng_exec_opts o = {0};
        int code = 127, null = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
                _exit(126);
        if (!strcmp(h->test.v[0], "CMD")) {
                args = calloc(h->test.n, sizeof(*args));
                if (!args)
                        _exit(126);
                for (size_t i = 1; i < h->test.n; i++)
                        args[i - 1] = (char *)h->test.v[i];
        }
        o.args = args;
        /* a fresh connection: the parent's sqlite handle must not cross fork */
        if (eng_open(r->root, &eng, &err) < 0 || eng_exec(&eng, id, &o, &code, &err) < 0) {
                dprintf(2, "%s\n", err.msg);
                _exit(126);
        }
        _exit(code & 0xff);
}

/* Runs the check; returns its exit code (or -1 on timeout) and its output. */
static int run_check(struct cmp_real *r, const struct cmp_healthcheck *h, const char *id,
                     int64_t timeout_ms, char *output, struct isola_err *err)
{
        int pfd[2], status = 0;
        size_t used = 0;
        pid_t pid;
        int64_t deadline = now_ms() + timeout_ms;

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return err_sys(err, "healthcheck: pipe");
        pid = fork();
        if (pid < 0) {
                close(pfd[0]);
                close(pfd[1]);
                return err_sys(err, "healthcheck: fork");
        }
        if (pid == 0)
                child(r, h, id, pfd[1]);
        close(pfd[1]);
        fcntl(pfd[0], F_SETFL, O_NONBLOCK);
        for (;;) {
                char buf[512];
                ssize_t n = read(pfd[0], buf, sizeof(buf));
                pid_t w;

                if (n > 0) {
                        size_t take =
                            (size_t)n < OUTPUT_MAX - 1 - used ? (size_t)n : OUTPUT_MAX - 1 - used;

                        memcpy(output + used, buf, take);
                        used += take;
                        continue;
                }
                w = waitpid(pid, &status, WNOHANG);
                if (w == pid)
                        break;
                if (now_ms() > deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        close(pfd[0]);
                        snprintf(output, OUTPUT_MAX, "healthcheck timed out after %lld ms",
                                 (long long)timeout_ms);
                        return -1;
                }
                usleep(5000);
        }
        close(pfd[0]);
        output[used] = '\0';
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char *const names[] = {"", "starting", "healthy", "unhealthy"};

int cmp_health_update(struct cmp_real *r, const struct cmp_service *s, const char *id,
                      int64_t started_ns, enum cmp_health *out, struct isola_err *err)
{
        const struct cmp_healthcheck *h = &s->healthcheck;
        int64_t now = now_ms(), started = started_ns / 1000000, last = 0;
        int64_t interval = h->interval_ms > 0 ? h->interval_ms : 30000;
        int64_t timeout = h->timeout_ms > 0 ? h->timeout_ms : 30000;
        int64_t start_interval = h->start_interval_ms > 0 ? h->start_interval_ms : 5000;
        int retries = h->retries >= 0 ? h->retries : 3, failures = 0, code;
        enum cmp_health health = CMP_HEALTH_STARTING;
        char output[OUTPUT_MAX] = "";
        bool in_start;
        sqlite3_stmt *st;

        if (sqlite3_prepare_v2(r->eng.db,
                               "SELECT health, failures, last_check FROM compose_containers "
                               "WHERE container_id = ?1",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(r->eng.db, "compose health", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
                const char *hs = (const char *)sqlite3_column_text(st, 0);

                for (int i = 1; i < 4; i++)
                        if (!strcmp(hs, names[i]))
                                health = (enum cmp_health)i;
                failures = sqlite3_column_int(st, 1);
                last = sqlite3_column_int64(st, 2);
        }
        sqlite3_finalize(st);
        /* a restarted container starts over */
        if (last && last < started) {
                last = 0;
                failures = 0;
                health = CMP_HEALTH_STARTING;
        }
        in_start = now - started < h->start_period_ms;
        *out = health;
        if (now - (last ? last : started) < (in_start ? start_interval : interval))
                return 0;
        code = run_check(r, h, id, timeout, output, err);
        if (code == 0) {
                health = CMP_HEALTH_HEALTHY;
                failures = 0;
        } else if (!in_start && ++failures >= retries) {
                health = CMP_HEALTH_UNHEALTHY;
        }
        *out = health;
        if (sqlite3_prepare_v2(r->eng.db,
                               "UPDATE compose_containers SET health = ?2, failures = ?3, "
                               "last_check = ?4, last_output = ?5 WHERE container_id = ?1",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(r->eng.db, "compose health", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, names[health], -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, failures);
        sqlite3_bind_int64(st, 4, now_ms());
        sqlite3_bind_text(st, 5, output, -1, SQLITE_STATIC);
        code = sqlite3_step(st);
        sqlite3_finalize(st);
        return code == SQLITE_DONE ? 0 : db_fail(r->eng.db, "compose health", err);
}
