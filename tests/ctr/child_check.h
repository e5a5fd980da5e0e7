/* Runs a check function in a forked child and turns the child's results
 * into TAP lines in the parent (tests that change process-wide state:
 * capabilities, mounts, root directory). Shared by the secure unit tests. */
#ifndef ISOLA_TESTS_CTR_CHILD_CHECK_H
#define ISOLA_TESTS_CTR_CHILD_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

static int report_fd;

/* Child-side check: sent to the parent, which numbers it. */
static void child_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static void child_ok(int cond, const char *fmt, ...)
{
        char line[512];
        va_list ap;
        int n;

        line[0] = cond ? '1' : '0';
        va_start(ap, fmt);
        n = vsnprintf(line + 1, sizeof(line) - 2, fmt, ap);
        va_end(ap);
        if (n < 0)
                n = 0;
        if ((size_t)n > sizeof(line) - 3)
                n = (int)sizeof(line) - 3;
        line[n + 1] = '\n';
        if (write(report_fd, line, (size_t)n + 2) < 0)
                _exit(3);
}

static __attribute__((unused)) void run_child(void (*fn)(void))
{
        int p[2];
        pid_t pid;
        char buf[8192];
        size_t len = 0;
        ssize_t n;
        int status;

        if (pipe(p) < 0)
                return;
        pid = fork();
        if (pid == 0) {
                close(p[0]);
                report_fd = p[1];
                fn();
                _exit(0);
        }
        close(p[1]);
        while (len < sizeof(buf) - 1 && (n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
                len += (size_t)n;
        buf[len] = '\0';
        close(p[0]);
        waitpid(pid, &status, 0);
        for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                tap_ok(l[0] == '1', "%s", l + 1);
        tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exited cleanly");
}

#endif
