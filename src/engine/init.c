/* isola-init: PID 1 for `run --init`, bind-mounted at /run/isola-init. It
 * runs the command as its child, forwards the signals a container receives
 * (stop, kill, ^C) to it, reaps every orphan the command leaves, and exits
 * with the command's status (128+N when killed by signal N). libc only. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        sigset_t all, old;
        pid_t child;
        int first = 1;

        if (argc > 1 && !strcmp(argv[1], "--"))
                first = 2;
        if (first >= argc) {
                fprintf(stderr, "usage: isola-init [--] COMMAND [ARG...]\n");
                return 2;
        }
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, &old);
        child = fork();
        if (child < 0) {
                perror("isola-init: fork");
                return 1;
        }
        if (child == 0) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                setpgid(0, 0);
                execvp(argv[first], argv + first);
                fprintf(stderr, "isola-init: %s: %s\n", argv[first], strerror(errno));
                _exit(errno == ENOENT ? 127 : 126);
        }
        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&all, &si);
                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        kill(child, sig);
                        continue;
                }
                int status;
                pid_t p;
                while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
                        if (p != child)
                                continue;
                        if (WIFSIGNALED(status))
                                return 128 + WTERMSIG(status);
                        return WEXITSTATUS(status);
                }
        }
}
