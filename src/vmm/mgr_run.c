/* Starting a managed VM: `vm start` forks a monitor (setsid, double fork)
 * that owns the console (the log file the VMM writes, its rotation, the
 * input pipe to the VMM, console.sock for `vm console`: mgr_console.c)
 * and the exit status, and forks the VMM process. The start
 * command waits for the VMM's "ok" or its error; on an error the monitor
 * has already removed what it made. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fs.h"
#include "vmm/mgr_internal.h"

struct monitor {
        const struct vm_row *row;
        const struct vm_paths *p;
        struct mon_console con;
        int in_fd, sig_fd;
        pid_t vmm;
};

static const char *reason_of(int status, int *code)
{
        if (WIFSIGNALED(status)) {
                *code = 128 + WTERMSIG(status);
                return "killed";
        }
        *code = WEXITSTATUS(status);
        switch (*code) {
        case VM_EXIT_POWEROFF:
                return "poweroff";
        case VM_EXIT_RESET:
                return "reset";
        case VM_EXIT_TRIPLE_FAULT:
                return "triple-fault";
        case VM_EXIT_INTERNAL:
                return "internal-error";
        case VM_EXIT_VMM_ERROR:
                return "vmm-error";
        default:
                return *code > 128 ? "stopped" : "vmm-error";
        }
}

/* Serves the console until the VMM exits; returns its wait status. */
static int relay(struct monitor *mon)
{
        int status = 0;

        for (;;) {
                struct pollfd fds[4];
                mcon_pollfds(&mon->con, fds);
                fds[3] = (struct pollfd){.fd = mon->sig_fd, .events = POLLIN};
                int n = poll(fds, 4, MCON_TICK_MS);
                if (n < 0 && errno != EINTR)
                        break;
                if (n > 0)
                        mcon_events(&mon->con, fds, mon->in_fd);
                if (fds[3].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(mon->sig_fd, &si, sizeof(si)) == sizeof(si) &&
                            si.ssi_signo != SIGCHLD)
                                kill(mon->vmm, (int)si.ssi_signo); /* SIGTERM: a clean stop */
                        if (waitpid(mon->vmm, &status, WNOHANG) == mon->vmm)
                                break;
                }
                mcon_rotate(&mon->con);
        }
        return status;
}

/* stdin and stdout /dev/null; stderr (the VMM's own messages: a guest's
 * triple fault) the console log. */
static int setup_stdio(const struct mon_console *con)
{
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (null < 0)
                return -1;
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(con->log_fd, STDERR_FILENO);
        close(null);
        return 0;
}

static void monitor_fail(int ready_fd, const struct vm_paths *p, const char *msg)
{
        dprintf(ready_fd, "error: %s\n", msg);
        mgr_remove_run_dir(p);
        _exit(1);
}

void mgr_monitor_main(const struct db_paths *dbp, const struct vm_row *row,
                      const struct vm_paths *p, const struct machine_config *cfg, int ready_fd)
{
        struct monitor mon = {.row = row, .p = p};
        struct isola_err err = {0};
        int in_pipe[2], vready[2];
        char msg[ISOLA_ERR_MSG_MAX + 16];
        sigset_t sigs;

        if (mcon_open(&mon.con, p) < 0 || setup_stdio(&mon.con) < 0)
                monitor_fail(ready_fd, p, "cannot open the console log or socket");
        if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(vready, O_CLOEXEC) < 0)
                monitor_fail(ready_fd, p, "cannot create the console pipes");
        fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGCHLD);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGHUP);
        sigprocmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);
        mon.sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
        mon.vmm = fork();
        if (mon.vmm < 0)
                monitor_fail(ready_fd, p, "fork failed");
        if (mon.vmm == 0) {
                /* The VMM writes the log through a descriptor of its own
                 * (the monitor's is O_CLOEXEC and moves on rotation). */
                int log_out = fcntl(mon.con.log_fd, F_DUPFD_CLOEXEC, 3);
                close(ready_fd);
                mcon_close(&mon.con);
                close(in_pipe[1]);
                close(vready[0]);
                sigprocmask(SIG_UNBLOCK, &sigs, NULL);
                _exit(mgr_vmm_main(row, p, cfg, in_pipe[0], log_out, vready[1]));
        }
        close(in_pipe[0]);
        close(vready[1]);
        mon.in_fd = in_pipe[1];
        size_t len = 0;
        ssize_t n;
        while (len < sizeof(msg) - 1 &&
               ((n = read(vready[0], msg + len, sizeof(msg) - 1 - len)) > 0 ||
                (n < 0 && errno == EINTR)))
                len += n > 0 ? (size_t)n : 0;
        msg[len] = '\0';
        close(vready[0]);
        sqlite3 *db = NULL;
        if (strncmp(msg, "ok", 2) != 0 || db_open(dbp, &db, &err) < 0 ||
            mgr_set_running(db, row->id, mon.vmm, getpid(), &err) < 0) {
                kill(mon.vmm, SIGKILL);
                waitpid(mon.vmm, NULL, 0);
                if (strncmp(msg, "error: ", 7) == 0)
                        msg[strcspn(msg, "\n")] = '\0';
                monitor_fail(ready_fd, p,
                             !strncmp(msg, "error: ", 7) ? msg + 7
                             : err.msg[0]                ? err.msg
                                          : "the VMM exited before the guest started");
        }
        dprintf(ready_fd, "ok\n");
        close(ready_fd);
        int code, status = relay(&mon);
        const char *reason = reason_of(status, &code);
        /* Sockets go before the row says stopped: whoever sees "stopped"
         * finds nothing left. */
        mcon_close(&mon.con);
        mgr_remove_run_dir(p);
        if (mgr_set_stopped(db, row->id, code, reason, &err) < 0)
                dprintf(STDERR_FILENO, "isola monitor: %s\n", err.msg);
        db_close(db);
        _exit(0);
}

int vm_mgr_monitor(const char *id, int ready_fd)
{
        struct machine_config cfg;
        struct isola_err err = {0};
        struct vm_mgr *m = NULL;
        struct db_paths dbp;
        struct vm_row row;
        struct vm_paths p = {0};

        machine_config_init(&cfg);
        if (vm_mgr_open(NULL, &m, &err) < 0 || mgr_load(m, id, &row, &err) < 0) {
                dprintf(ready_fd, "error: %s\n", err.msg);
                return 1;
        }
        if (mgr_paths(m, row.id, &p, &err) < 0 ||
            machine_config_load_string(&cfg, row.config, "stored configuration", &err) < 0) {
                dprintf(ready_fd, "error: %s\n", err.msg);
                return 1;
        }
        /* No database connection may cross the VMM's fork. */
        dbp = m->paths;
        vm_mgr_close(m);
        mgr_monitor_main(&dbp, &row, &p, &cfg, ready_fd);
}

/* The monitor is a fresh `isola vm _monitor ID 3`: the caller may have
 * threads (isola serve) and has a database connection, neither of which
 * survives a fork without exec. Only async-signal-safe calls between fork
 * and exec. */
static pid_t spawn_monitor(const char *id, int ready_fd)
{
        char *argv[] = {"isola", "vm", "_monitor", (char *)id, "3", NULL};
        pid_t pid = fork();

        if (pid != 0)
                return pid;
        setsid();
        pid_t mon = fork();
        if (mon != 0)
                _exit(mon < 0);
        if (ready_fd == 3)
                fcntl(3, F_SETFD, 0);
        else if (dup2(ready_fd, 3) < 0)
                _exit(127);
        execv("/proc/self/exe", argv);
        _exit(127);
}

int vm_mgr_start(struct vm_mgr *m, const char *ref, struct isola_err *err)
{
        struct machine_config cfg;
        struct vm_row row;
        struct vm_paths p = {0};
        int ready[2] = {-1, -1}, rc = -1;

        if (mgr_load(m, ref, &row, err) < 0)
                return -1;
        machine_config_init(&cfg);
        if (mgr_alive(m, &row)) {
                err_set(err, EBUSY, "VM %s is already running", row.name);
                goto out;
        }
        /* The files may have gone since create: say so before forking. */
        if (machine_config_load_string(&cfg, row.config, "stored configuration", err) < 0 ||
            machine_check(&cfg, err) < 0 || mgr_paths(m, row.id, &p, err) < 0 ||
            fs_mkdir_p(p.run_dir, 0700, err) < 0 || fs_mkdir_p(p.data_dir, 0700, err) < 0)
                goto out;
        if (pipe2(ready, O_CLOEXEC) < 0) {
                err_sys(err, "pipe");
                goto out;
        }
        fflush(stdout);
        fflush(stderr);
        pid_t pid = spawn_monitor(row.id, ready[1]);
        if (pid < 0) {
                err_sys(err, "fork");
                goto out;
        }
        close(ready[1]);
        ready[1] = -1;
        waitpid(pid, NULL, 0);
        char *answer = NULL;
        size_t len = 0;
        if (fs_read_fd(ready[0], ISOLA_ERR_MSG_MAX + 16, &answer, &len, err) < 0)
                goto out;
        answer[strcspn(answer, "\n")] = '\0';
        if (!strcmp(answer, "ok"))
                rc = 0;
        else if (!strncmp(answer, "error: ", 7))
                err_set(err, EIO, "%s", answer + 7);
        else
                err_set(err, EIO, "the VM's monitor exited before the VM started");
        free(answer);
        if (rc < 0)
                mgr_remove_run_dir(&p);
out:
        if (ready[0] >= 0)
                close(ready[0]);
        if (ready[1] >= 0)
                close(ready[1]);
        machine_config_free(&cfg);
        mgr_row_free(&row);
        return rc;
}
