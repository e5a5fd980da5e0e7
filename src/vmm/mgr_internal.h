/* What the manager's files share: the handle, a VM's row, its paths, and
 * the monitor and VMM processes' entry points. */
#ifndef ISOLA_VMM_MGR_INTERNAL_H
#define ISOLA_VMM_MGR_INTERNAL_H

#include <limits.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/types.h>

#include "db/db.h"
#include "vmm/machine.h"
#include "vmm/mgr.h"

#define VM_NAME_MAX 64

struct vm_mgr {
        struct db_paths paths;
        sqlite3 *db;
};

struct vm_row {
        char id[65];
        char name[VM_NAME_MAX + 1];
        char *config; /* machine JSON (heap) */
        char state[16];
        int vmm_pid, monitor_pid;
        int64_t monitor_start;
        int exit_code;
        char exit_reason[32];
        int64_t created, started, finished;
};

struct vm_paths {
        char run_dir[PATH_MAX];  /* <runroot>/vms/<id12> */
        char data_dir[PATH_MAX]; /* <root>/vms/<id12> */
        char ctl[PATH_MAX], console[PATH_MAX], log[PATH_MAX];
        char go[PATH_MAX]; /* an incoming migration's go socket (migrate.h) */
};

/* mgr.c */
int mgr_load(struct vm_mgr *m, const char *ref, struct vm_row *row, struct isola_err *err);
void mgr_row_free(struct vm_row *row);
int mgr_paths(const struct vm_mgr *m, const char *id, struct vm_paths *p, struct isola_err *err);
/* /proc/<pid>/stat start time; 0 when the process is gone (or a zombie). */
int64_t mgr_proc_start(pid_t pid);
/* Whether the row's monitor still runs; a running row whose monitor is
 * gone is marked stopped ("vmm-lost") and its run directory removed. */
bool mgr_alive(struct vm_mgr *m, struct vm_row *row);
/* Waits up to ms for the monitor to go; true when it has. */
bool mgr_wait_gone(const struct vm_row *row, long ms);
/* How long a kill (and rm -f) waits for a VM's monitor to go. */
#define KILL_WAIT_MS 10000
void mgr_remove_run_dir(const struct vm_paths *p);
/* Row updates made by the monitor (own db handle). */
int mgr_set_running(sqlite3 *db, const char *id, pid_t vmm, pid_t monitor, struct isola_err *err);
int mgr_set_stopped(sqlite3 *db, const char *id, int code, const char *reason,
                    struct isola_err *err);

/* mgr_run.c: the monitor process (forked by vm_mgr_start); ready_fd gets
 * "ok\n" or "error: ...\n". Never returns. */
void mgr_monitor_main(const struct db_paths *dbp, const struct vm_row *row,
                      const struct vm_paths *p, const struct machine_config *cfg, int ready_fd)
    __attribute__((noreturn));

/* mgr_console.c: the monitor's side of the console. The VMM writes
 * console.log itself; the monitor relays it to one attached `vm console`
 * client and rotates it. */
struct mon_console {
        const struct vm_paths *p;
        int log_fd;       /* the monitor's descriptor of console.log */
        int listen_fd;    /* console.sock */
        int client_fd;    /* the attached client, or -1 */
        int notify_fd;    /* inotify on console.log while a client is attached, or -1 */
        off_t client_off; /* how much of console.log the client has */
        off_t max;        /* rotate past this size */
};
#define MCON_TICK_MS 1000 /* how often the monitor checks whether to rotate */
int mcon_open(struct mon_console *c, const struct vm_paths *p);
/* fds[0..2]: console.sock, the client, inotify (fd -1: none). */
void mcon_pollfds(const struct mon_console *c, struct pollfd fds[3]);
void mcon_events(struct mon_console *c, const struct pollfd fds[3], int in_fd);
void mcon_rotate(struct mon_console *c);
void mcon_close(struct mon_console *c);

/* mgr_vmm.c: the VMM process; returns its exit status. con_out is the
 * console log (the VMM reopens it when the monitor has rotated it). */
int mgr_vmm_main(const struct vm_row *row, const struct vm_paths *p,
                 const struct machine_config *cfg, int con_in, int con_out, int ready_fd);

#endif
