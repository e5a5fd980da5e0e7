/* Managed VMs, the state side: the handle, rows of table `vms`, names and
 * id prefixes, the paths of a VM, and whether its monitor still lives. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "vmm/migrate.h"
#include "vmm/mgr_internal.h"

int vm_mgr_open(const char *cli_root, struct vm_mgr **out, struct isola_err *err)
{
        struct vm_mgr *m = calloc(1, sizeof(*m));

        if (!m)
                return err_set(err, ENOMEM, "out of memory");
        if (db_paths_resolve(cli_root, &m->paths, err) < 0 || db_open(&m->paths, &m->db, err) < 0) {
                free(m);
                return -1;
        }
        *out = m;
        return 0;
}

void vm_mgr_close(struct vm_mgr *m)
{
        if (!m)
                return;
        db_close(m->db);
        free(m);
}

void mgr_row_free(struct vm_row *row)
{
        free(row->config);
        row->config = NULL;
}

static void copy_col(char *dst, size_t len, sqlite3_stmt *st, int col)
{
        const unsigned char *s = sqlite3_column_text(st, col);

        snprintf(dst, len, "%s", s ? (const char *)s : "");
}

#define ROW_COLUMNS                                                                                \
        "id, name, config, state, vmm_pid, monitor_pid, monitor_start, exit_code, exit_reason, "   \
        "created, started, finished"

static int read_row(sqlite3_stmt *st, struct vm_row *row, struct isola_err *err)
{
        memset(row, 0, sizeof(*row));
        copy_col(row->id, sizeof(row->id), st, 0);
        copy_col(row->name, sizeof(row->name), st, 1);
        const unsigned char *cfg = sqlite3_column_text(st, 2);
        row->config = strdup(cfg ? (const char *)cfg : "{}");
        if (!row->config)
                return err_set(err, ENOMEM, "out of memory");
        copy_col(row->state, sizeof(row->state), st, 3);
        row->vmm_pid = sqlite3_column_int(st, 4);
        row->monitor_pid = sqlite3_column_int(st, 5);
        row->monitor_start = sqlite3_column_int64(st, 6);
        row->exit_code = sqlite3_column_int(st, 7);
        copy_col(row->exit_reason, sizeof(row->exit_reason), st, 8);
        row->created = sqlite3_column_int64(st, 9);
        row->started = sqlite3_column_int64(st, 10);
        row->finished = sqlite3_column_int64(st, 11);
        return 0;
}

/* A name, a full id, or a unique prefix of at least 4 hex digits. */
int mgr_load(struct vm_mgr *m, const char *ref, struct vm_row *row, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int n = 0, rc;

        memset(row, 0, sizeof(*row));
        if (sqlite3_prepare_v2(m->db,
                               "SELECT " ROW_COLUMNS " FROM vms WHERE name = ?1 UNION ALL "
                               "SELECT " ROW_COLUMNS " FROM vms WHERE length(?1) >= 4 AND "
                               "substr(id, 1, length(?1)) = ?1 AND name != ?1 LIMIT 3",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(m->db, "reading VMs", err);
        sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                /* An exact name wins over id prefixes (it comes first). */
                if (n == 0 && read_row(st, row, err) < 0) {
                        sqlite3_finalize(st);
                        return -1;
                }
                if (n == 0 && !strcmp(row->name, ref)) {
                        n = 1;
                        break;
                }
                n++;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
                if (n)
                        mgr_row_free(row);
                return db_fail(m->db, "reading VMs", err);
        }
        if (n == 0)
                return err_set(err, ENOENT, "no such VM: %s", ref);
        if (n > 1) {
                mgr_row_free(row);
                return err_set(err, EINVAL, "'%s' matches several VMs: give more of the id", ref);
        }
        return 0;
}

int mgr_paths(const struct vm_mgr *m, const char *id, struct vm_paths *p, struct isola_err *err)
{
        char id12[13];

        snprintf(id12, sizeof(id12), "%.12s", id);
        if (snprintf(p->run_dir, sizeof(p->run_dir), "%s/vms/%s", m->paths.runroot, id12) >=
                (int)sizeof(p->run_dir) ||
            snprintf(p->data_dir, sizeof(p->data_dir), "%s/vms/%s", m->paths.root, id12) >=
                (int)sizeof(p->data_dir))
                return err_set(err, ENAMETOOLONG, "VM %s: state path too long", id12);
        snprintf(p->ctl, sizeof(p->ctl), "%s/ctl.sock", p->run_dir);
        snprintf(p->console, sizeof(p->console), "%s/console.sock", p->run_dir);
        snprintf(p->go, sizeof(p->go), "%s/%s", p->run_dir, MIGRATE_GO_SOCK);
        snprintf(p->log, sizeof(p->log), "%s/console.log", p->data_dir);
        /* sockaddr_un holds 108 bytes. */
        if (strlen(p->console) >= 108)
                return err_set(err, ENAMETOOLONG,
                               "VM sockets under '%s' would be too long; use a shorter "
                               "ISOLA_RUNROOT",
                               m->paths.runroot);
        return 0;
}

int64_t mgr_proc_start(pid_t pid)
{
        char path[64], buf[1024];

        if (pid <= 0)
                return 0;
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        bool got = fgets(buf, sizeof(buf), f) != NULL;
        fclose(f);
        if (!got)
                return 0;
        /* Fields after the command name, which may hold spaces and ')'. */
        char *p = strrchr(buf, ')');
        char state = 0;
        unsigned long long start = 0;
        if (!p || sscanf(p + 1,
                         " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
                         "%*d %*d %llu",
                         &state, &start) != 2)
                return 0;
        if (state == 'Z' || state == 'X')
                return 0;
        return (int64_t)start;
}

void mgr_remove_run_dir(const struct vm_paths *p)
{
        (void)unlink(p->ctl);
        (void)unlink(p->console);
        (void)rmdir(p->run_dir);
}

bool mgr_alive(struct vm_mgr *m, struct vm_row *row)
{
        struct isola_err err = {0};
        struct vm_paths p = {0};

        if (strcmp(row->state, "running") != 0)
                return false;
        if (row->monitor_pid > 0 && mgr_proc_start(row->monitor_pid) == row->monitor_start)
                return true;
        /* The monitor died without recording the end (kill -9). */
        if (mgr_set_stopped(m->db, row->id, -1, "vmm-lost", &err) == 0) {
                snprintf(row->state, sizeof(row->state), "stopped");
                snprintf(row->exit_reason, sizeof(row->exit_reason), "vmm-lost");
                row->exit_code = -1;
        }
        if (mgr_paths(m, row->id, &p, &err) == 0)
                mgr_remove_run_dir(&p);
        return false;
}

bool mgr_wait_gone(const struct vm_row *row, long ms)
{
        for (long waited = 0;; waited += 20) {
                if (mgr_proc_start(row->monitor_pid) != row->monitor_start)
                        return true;
                if (waited >= ms)
                        return false;
                struct timespec ts = {0, 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

int mgr_set_running(sqlite3 *db, const char *id, pid_t vmm, pid_t monitor, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;

        if (sqlite3_prepare_v2(db,
                               "UPDATE vms SET state = 'running', vmm_pid = ?2, monitor_pid = ?3, "
                               "monitor_start = ?4, started = ?5, finished = 0, exit_code = 0, "
                               "exit_reason = '' WHERE id = ?1",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(db, "recording the start", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, vmm);
        sqlite3_bind_int(st, 3, monitor);
        sqlite3_bind_int64(st, 4, mgr_proc_start(monitor));
        sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : db_fail(db, "recording the start", err);
}

int mgr_set_stopped(sqlite3 *db, const char *id, int code, const char *reason,
                    struct isola_err *err)
{
        sqlite3_stmt *st = NULL;

        if (sqlite3_prepare_v2(db,
                               "UPDATE vms SET state = 'stopped', vmm_pid = 0, monitor_pid = 0, "
                               "monitor_start = 0, exit_code = ?2, exit_reason = ?3, "
                               "finished = ?4 WHERE id = ?1 AND state = 'running'",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(db, "recording the stop", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, code);
        sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : db_fail(db, "recording the stop", err);
}

int vm_mgr_path(struct vm_mgr *m, const char *ref, const char *which, char *buf, size_t len,
                struct isola_err *err)
{
        struct vm_row row;
        struct vm_paths p = {0};

        if (mgr_load(m, ref, &row, err) < 0)
                return -1;
        int rc = mgr_paths(m, row.id, &p, err);
        mgr_row_free(&row);
        if (rc < 0)
                return -1;
        const char *s = !strcmp(which, "ctl")       ? p.ctl
                        : !strcmp(which, "console") ? p.console
                        : !strcmp(which, "go")      ? p.go
                                                    : p.log;
        if (strlen(s) >= len)
                return err_set(err, ENAMETOOLONG, "VM %s: path too long", ref);
        snprintf(buf, len, "%s", s);
        return 0;
}

int vm_mgr_ctl_path(struct vm_mgr *m, const char *ref, char *buf, size_t len, struct isola_err *err)
{
        struct vm_row row;

        if (mgr_load(m, ref, &row, err) < 0)
                return -1;
        bool alive = mgr_alive(m, &row);
        mgr_row_free(&row);
        if (!alive)
                return err_set(err, ENOTCONN, "VM %s is not running", ref);
        return vm_mgr_path(m, ref, "ctl", buf, len, err);
}
