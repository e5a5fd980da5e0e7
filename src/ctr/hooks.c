/* Hook execution. The state goes through a socketpair rather than a pipe so
 * that a hook which never reads stdin cannot kill us with SIGPIPE
 * (MSG_NOSIGNAL) and the library never touches signal dispositions. */
#include "ctr/hooks.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const kind_names[] = {"prestart",       "createRuntime", "createContainer",
                                         "startContainer", "poststart",     "poststop"};

const char *hooks_kind_name(enum spec_hook_kind kind)
{
        return kind_names[kind];
}

static void hook_child(const struct spec_hook *h, int in_fd)
{
        char *argv_default[] = {h->path, NULL};
        char *envp_empty[] = {NULL};

        dup2(in_fd, STDIN_FILENO);
        /* Hooks write to our stdout, which may be the caller's pipe:
         * keep it, as runc does. */
        execve(h->path, h->args ? h->args : argv_default, h->env ? h->env : envp_empty);
        dprintf(STDERR_FILENO, "exec hook '%s': %s\n", h->path, strerror(errno));
        _exit(127);
}

/* Waits for the hook, killing it when the timeout expires. */
static int hook_wait(pid_t pid, int timeout_s, int *status)
{
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        int timed_out = 0;

        if (pidfd >= 0 && timeout_s > 0) {
                struct pollfd pf = {.fd = pidfd, .events = POLLIN};
                int r;
                do
                        r = poll(&pf, 1, timeout_s * 1000);
                while (r < 0 && errno == EINTR);
                if (r == 0) {
                        kill(pid, SIGKILL);
                        timed_out = 1;
                }
        }
        if (pidfd >= 0)
                close(pidfd);
        while (waitpid(pid, status, 0) < 0)
                if (errno != EINTR)
                        return -1;
        return timed_out;
}

static int hook_run_one(const struct spec_hook *h, const char *kind, const char *state_json,
                        struct isola_err *err)
{
        int sv[2], status = 0, r;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return err_sys(err, "%s hook '%s': socketpair", kind, h->path);
        pid = fork();
        if (pid < 0) {
                close(sv[0]);
                close(sv[1]);
                return err_sys(err, "%s hook '%s': fork", kind, h->path);
        }
        if (pid == 0)
                hook_child(h, sv[1]);
        close(sv[1]);
        send(sv[0], state_json, strlen(state_json), MSG_NOSIGNAL);
        shutdown(sv[0], SHUT_WR);
        r = hook_wait(pid, h->timeout, &status);
        close(sv[0]);
        if (r < 0)
                return err_sys(err, "%s hook '%s': wait", kind, h->path);
        if (r > 0)
                return err_set(err, ETIMEDOUT, "%s hook '%s' timed out after %d s", kind, h->path,
                               h->timeout);
        if (WIFSIGNALED(status))
                return err_set(err, ECHILD, "%s hook '%s' killed by signal %d", kind, h->path,
                               WTERMSIG(status));
        if (WEXITSTATUS(status) != 0)
                return err_set(err, ECHILD, "%s hook '%s' failed with exit status %d", kind,
                               h->path, WEXITSTATUS(status));
        return 0;
}

int hooks_run(const struct spec *spec, enum spec_hook_kind kind, const char *state_json,
              struct isola_err *err)
{
        for (size_t i = 0; i < spec->n_hooks[kind]; i++)
                if (hook_run_one(&spec->hooks[kind][i], kind_names[kind], state_json, err) < 0)
                        return -1;
        return 0;
}
