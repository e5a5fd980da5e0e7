/* Timing core of bench/ctr-lifecycle: runs create, start, wait, delete of one
 * container per runtime per round, interleaving the runtimes (A B C A B C ...)
 * so that drift on the shared host hits them all alike. It is a child
 * subreaper, so the container process is re-parented to it on `create` and
 * "wait" is a waitpid() on the pid from --pid-file, with no polling.
 *
 * usage: ctr-lifecycle-helper ROUNDS BUNDLE WORKDIR NAME=BINARY...
 * Prints one line per runtime:
 *   NAME ok N median_ms min_ms mean_ms peak_rss_kb
 *   NAME failed STEP (round R)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNTIMES 8

struct runtime {
        const char *name, *binary;
        char root[4096];
        double *ms;
        long peak_rss_kb;
        int done;
        const char *failed_step;
        int failed_round;
};

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs the runtime with args, waits for it and returns its exit status;
 * tracks the largest RSS any invocation reached. */
static int run(struct runtime *rt, char *const args[])
{
        char *argv[16];
        int n = 0, status;
        struct rusage ru;
        pid_t pid;

        argv[n++] = (char *)rt->binary;
        argv[n++] = "--root";
        argv[n++] = rt->root;
        for (int i = 0; args[i] && n < 15; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                execv(argv[0], argv);
                _exit(127);
        }
        while (wait4(pid, &status, 0, &ru) < 0)
                if (errno != EINTR)
                        return -1;
        if (ru.ru_maxrss > rt->peak_rss_kb)
                rt->peak_rss_kb = ru.ru_maxrss;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static pid_t read_pid(const char *path)
{
        FILE *f = fopen(path, "r");
        long pid = -1;

        if (!f)
                return -1;
        if (fscanf(f, "%ld", &pid) != 1)
                pid = -1;
        fclose(f);
        return (pid_t)pid;
}

/* Reaps until `pid` is gone and returns its wait status; other re-parented
 * helpers are reaped too. */
static int wait_for(pid_t pid, int *status)
{
        for (;;) {
                pid_t got = waitpid(-1, status, 0);

                if (got == pid)
                        return 0;
                if (got < 0 && errno != EINTR)
                        return -1;
        }
}

static void cycle(struct runtime *rt, int round, const char *bundle, const char *workdir)
{
        char id[64], pidfile[4096];
        double t0;
        pid_t pid;
        int status;

        snprintf(id, sizeof(id), "bench-%s-%d-%d", rt->name, (int)getpid(), round);
        snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", workdir, id);
        t0 = now_ms();
        if (run(rt, (char *[]){"create", "--bundle", (char *)bundle, "--pid-file", pidfile, id,
                               NULL}) != 0) {
                rt->failed_step = "create";
                goto fail;
        }
        pid = read_pid(pidfile);
        if (pid <= 0) {
                rt->failed_step = "create (no pid file)";
                goto fail;
        }
        if (run(rt, (char *[]){"start", id, NULL}) != 0) {
                rt->failed_step = "start";
                goto fail;
        }
        if (wait_for(pid, &status) < 0) {
                rt->failed_step = "wait";
                goto fail;
        }
        /* /bin/true exiting 0 shows the container really ran. */
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                rt->failed_step = "container exit status";
                goto fail;
        }
        if (run(rt, (char *[]){"delete", id, NULL}) != 0) {
                rt->failed_step = "delete";
                goto fail;
        }
        rt->ms[rt->done++] = now_ms() - t0;
        unlink(pidfile);
        return;
fail:
        rt->failed_round = round;
        run(rt, (char *[]){"delete", "--force", id, NULL});
        unlink(pidfile);
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static void report(struct runtime *rt)
{
        double sum = 0, median;

        if (rt->failed_step) {
                printf("%s failed %s (round %d)\n", rt->name, rt->failed_step, rt->failed_round);
                return;
        }
        qsort(rt->ms, rt->done, sizeof(double), cmp_double);
        for (int i = 0; i < rt->done; i++)
                sum += rt->ms[i];
        median = rt->done % 2 ? rt->ms[rt->done / 2]
                              : (rt->ms[rt->done / 2 - 1] + rt->ms[rt->done / 2]) / 2;
        printf("%s ok %d %.2f %.2f %.2f %ld\n", rt->name, rt->done, median, rt->ms[0],
               sum / rt->done, rt->peak_rss_kb);
}

int main(int argc, char **argv)
{
        struct runtime rts[MAX_RUNTIMES] = {0};
        int rounds, n = 0;

        if (argc < 5) {
                fprintf(stderr, "usage: %s ROUNDS BUNDLE WORKDIR NAME=BINARY...\n", argv[0]);
                return 2;
        }
        rounds = atoi(argv[1]);
        if (rounds < 1)
                return 2;
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                perror("PR_SET_CHILD_SUBREAPER");
                return 1;
        }
        for (int i = 4; i < argc && n < MAX_RUNTIMES; i++, n++) {
                char *eq = strchr(argv[i], '=');

                if (!eq)
                        return 2;
                *eq = '\0';
                rts[n].name = argv[i];
                rts[n].binary = eq + 1;
                snprintf(rts[n].root, sizeof(rts[n].root), "%s/root-%s", argv[3], argv[i]);
                rts[n].ms = calloc(rounds, sizeof(double));
                if (!rts[n].ms)
                        return 1;
        }
        for (int r = 0; r < rounds; r++)
                for (int i = 0; i < n; i++)
                        if (!rts[i].failed_step)
                                cycle(&rts[i], r, argv[2], argv[3]);
        for (int i = 0; i < n; i++) {
                report(&rts[i]);
                free(rts[i].ms);
        }
        return 0;
}
