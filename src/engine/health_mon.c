/* See health_mon.h. The check itself (exec in the container, timeout,
 * recording) is `isola _health ID` (health_run.c): the monitor stays small
 * and only decides when. The check's exit code tells the status it
 * recorded (0 healthy, 1 unhealthy, 2 starting), which picks Docker's
 * start_interval while the container is starting inside its start period. */
#include "engine/health_mon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the monitor's own kill comes this long after the check's timeout */
#define HMON_GRACE_MS 5000

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hmon_init(struct hmon *h, const char *arg, const char *exe, const char *id)
{
        char *end;

        memset(h, 0, sizeof(*h));
        h->exe = exe;
        h->id = id;
        if (!arg || !*arg)
                return;
        h->interval = strtoll(arg, &end, 10);
        if (*end == ',')
                h->start_interval = strtoll(end + 1, &end, 10);
        if (*end == ',')
                h->start_period = strtoll(end + 1, &end, 10);
        if (*end == ',')
                h->timeout = strtoll(end + 1, &end, 10);
        if (h->interval <= 0 || h->start_interval <= 0 || h->timeout <= 0)
                h->interval = 0;
}

static long long next_delay(const struct hmon *h)
{
        if (h->starting && now_ms() - h->started < h->start_period)
                return h->start_interval;
        return h->interval;
}

void hmon_start(struct hmon *h)
{
        if (h->interval <= 0)
                return;
        h->started = now_ms();
        h->starting = 1;
        h->next = h->started + next_delay(h);
}

int hmon_timeout(const struct hmon *h)
{
        long long at, left;

        if (h->interval <= 0 || (!h->pid && !h->next))
                return -1;
        at = h->pid ? h->deadline : h->next;
        left = at - now_ms();
        if (left < 0)
                return 0;
        return left > 3600000 ? 3600000 : (int)left;
}

static void spawn(struct hmon *h)
{
        pid_t pid = fork();

        if (pid == 0) {
                /* the check dies with us; it gets none of our fds */
                prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                if (getppid() == 1)
                        _exit(1);
                syscall(SYS_close_range, 3U, ~0U, 0U);
                execl(h->exe, "isola", "_health", h->id, (char *)NULL);
                _exit(127);
        }
        if (pid < 0) {
                h->next = now_ms() + h->interval;
                return;
        }
        h->pid = pid;
        h->next = 0;
        h->deadline = now_ms() + h->timeout + HMON_GRACE_MS;
}

void hmon_tick(struct hmon *h)
{
        long long now;

        if (h->interval <= 0)
                return;
        now = now_ms();
        if (h->pid && now >= h->deadline) {
                kill(h->pid, SIGKILL);
                h->deadline = now + HMON_GRACE_MS; /* reaped through SIGCHLD */
        } else if (!h->pid && h->next && now >= h->next) {
                spawn(h);
        }
}

int hmon_reaped(struct hmon *h, pid_t pid, int status)
{
        if (!h->pid || pid != h->pid)
                return 0;
        h->pid = 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) <= 1)
                h->starting = 0;
        if (h->next == 0 && h->started)
                h->next = now_ms() + next_delay(h);
        return 1;
}

void hmon_stop(struct hmon *h)
{
        if (h->pid > 0) {
                kill(h->pid, SIGKILL);
                while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        h->pid = 0;
        h->next = 0;
        h->started = 0;
}
