/* Final per-process set-up of a container process (see init_process.h). */
#include "ctr/init_process.h"

#include <errno.h>
#include <signal.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctr/caps.h"
#include "ctr/init.h"
#include "ctr/process_attrs.h"
#include "ctr/seccomp.h"

int init_process_prepare(const struct spec_process *p, const struct seccomp_prog *sc,
                         char **exe_out, struct isola_err *err)
{
        const char *cwd = p->cwd ? p->cwd : "/";
        bool cwd_done;

        if (process_rlimits_apply(p, err) < 0)
                return -1;
        /* Root may reach a cwd the container user cannot traverse to, and
         * the reverse happens with root squashing: try both sides. */
        cwd_done = chdir(cwd) == 0;
        if (!p->no_new_privileges && seccomp_load_prepared(sc, err) < 0)
                return err_prefix(err, "seccomp");
        if (p->user.uid != 0 && caps_keep_across_setuid(err) < 0)
                return -1;
        if (process_user_apply(&p->user, err) < 0)
                return err_prefix(err, "user %u:%u", p->user.uid, p->user.gid);
        if (!cwd_done && chdir(cwd) < 0)
                return err_sys(err, "process.cwd '%s'", cwd);
        if (caps_apply(&p->caps, err) < 0)
                return err_prefix(err, "capabilities");
        if (p->no_new_privileges && process_no_new_privs(err) < 0)
                return -1;
        return init_find_executable(p->args ? p->args[0] : NULL, p->env, exe_out, err);
}

/* The runtime's caller may have ignored or blocked signals (nohup, a shell
 * job, a supervisor); ignored dispositions and the mask survive execve, so
 * the container process starts from the defaults instead. */
static void reset_signals(void)
{
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigset_t none;

        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
}

_Noreturn void init_process_exec(const struct spec_process *p, const struct seccomp_prog *sc,
                                 const char *exe, int preserve_fds)
{
        struct isola_err err = {0};
        char *empty_env[] = {NULL};

        if (p->no_new_privileges && seccomp_load_prepared(sc, &err) < 0) {
                dprintf(STDERR_FILENO, "isola: seccomp: %s\n", err.msg);
                _exit(127);
        }
        reset_signals();
        syscall(SYS_close_range, 3 + (unsigned)preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
        execve(exe, p->args, p->env ? p->env : empty_env);
        dprintf(STDERR_FILENO, "isola: exec '%s': %s\n", exe, strerror(errno));
        _exit(127);
}
