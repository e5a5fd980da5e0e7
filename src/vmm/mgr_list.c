/* Managed VMs: create (checks first, then the row), list, inspect, rm. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/fs.h"
#include "vmm/ctl.h"
#include "vmm/mgr_internal.h"
#include "vmm/snapshot_mgr.h"

static bool valid_name(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > VM_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '.' || c == '-'));
                if (!ok)
                        return false;
        }
        return true;
}

/* The VM starts later from another directory (or from isola serve): its
 * files are stored by absolute path. */
static int absolute_key(struct json_object *o, const char *key, struct isola_err *err)
{
        struct json_object *v;
        char abs[PATH_MAX];

        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        const char *path = json_object_get_string(v);
        if (!realpath(path, abs))
                return err_sys(err, "'%s'", path);
        json_object_object_add(o, key, json_object_new_string(abs));
        return 0;
}

static int absolute_paths(struct json_object *o, struct isola_err *err)
{
        struct json_object *disks;

        if (absolute_key(o, "kernel", err) < 0 || absolute_key(o, "initrd", err) < 0)
                return -1;
        if (!json_object_object_get_ex(o, "disks", &disks))
                return 0;
        for (size_t i = 0; i < json_object_array_length(disks); i++)
                if (absolute_key(json_object_array_get_idx(disks, i), "path", err) < 0)
                        return -1;
        return 0;
}

static int check_host_memory(const struct machine_config *cfg, struct isola_err *err)
{
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

        if (pages <= 0 || size <= 0)
                return 0;
        uint64_t host_mib = ((uint64_t)pages * (uint64_t)size) >> 20;
        if (cfg->memory_mib > host_mib)
                return err_set(err, ENOMEM, "--memory %llu: the host has only %llu MiB",
                               (unsigned long long)cfg->memory_mib, (unsigned long long)host_mib);
        return 0;
}

static int name_taken(struct vm_mgr *m, const char *name, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;

        if (sqlite3_prepare_v2(m->db, "SELECT 1 FROM vms WHERE name = ?1", -1, &st, NULL) !=
            SQLITE_OK)
                return db_fail(m->db, "reading VMs", err);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc == SQLITE_ROW)
                return err_set(err, EEXIST, "a VM named '%s' already exists", name);
        return rc == SQLITE_DONE ? 0 : db_fail(m->db, "reading VMs", err);
}

static int insert_row(struct vm_mgr *m, const char *id, const char *name, const char *config,
                      struct isola_err *err)
{
        sqlite3_stmt *st = NULL;

        if (sqlite3_prepare_v2(m->db,
                               "INSERT INTO vms (id, name, config, state, created) "
                               "VALUES (?1, ?2, ?3, 'created', ?4)",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(m->db, "storing the VM", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, config, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc == SQLITE_CONSTRAINT)
                return err_set(err, EEXIST, "a VM named '%s' already exists", name);
        return rc == SQLITE_DONE ? 0 : db_fail(m->db, "storing the VM", err);
}

int vm_mgr_create(struct vm_mgr *m, const char *name, const struct machine_config *cfg,
                  char id_out[65], struct isola_err *err)
{
        uint8_t rnd[32];
        struct vm_paths p = {0};

        if (!valid_name(name))
                return err_set(err, EINVAL,
                               "VM name '%s': use 1 to %d letters, digits, '_', '.', '-' "
                               "(starting with a letter or digit)",
                               name, VM_NAME_MAX);
        if (cfg->console_log)
                return err_set(err, EINVAL,
                               "--console-log: a managed VM logs its console itself "
                               "(see `isola vm logs`)");
        if (name_taken(m, name, err) < 0 || check_host_memory(cfg, err) < 0 ||
            machine_check(cfg, err) < 0)
                return -1;
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
                return err_sys(err, "getrandom");
        for (size_t i = 0; i < sizeof(rnd); i++)
                snprintf(id_out + 2 * i, 3, "%02x", rnd[i]);
        if (mgr_paths(m, id_out, &p, err) < 0)
                return -1;
        struct json_object *o = machine_config_to_json(cfg);
        if (!o)
                return err_set(err, ENOMEM, "out of memory");
        if (absolute_paths(o, err) < 0) {
                json_object_put(o);
                return -1;
        }
        int rc = insert_row(m, id_out, name,
                            json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE),
                            err);
        json_object_put(o);
        return rc;
}

static const char *shown_state(struct vm_mgr *m, struct vm_row *row)
{
        char sock[PATH_MAX];
        struct isola_err err = {0};
        char *answer = NULL;
        int status = 0;

        if (!mgr_alive(m, row))
                return row->state;
        /* Paused lives in the VMM only. */
        if (vm_mgr_path(m, row->id, "ctl", sock, sizeof(sock), &err) < 0 ||
            ctl_request(sock, "GET", "/", NULL, &status, &answer, &err) < 0)
                return "running";
        bool paused = status == 200 && strstr(answer, "\"Paused\"") != NULL;
        free(answer);
        return paused ? "paused" : "running";
}

static struct json_object *row_json(struct vm_mgr *m, struct vm_row *row)
{
        struct json_object *o = json_object_new_object();
        struct json_object *cfg = json_tokener_parse(row->config);
        const char *state = shown_state(m, row);

        json_object_object_add(o, "id", json_object_new_string(row->id));
        json_object_object_add(o, "name", json_object_new_string(row->name));
        json_object_object_add(o, "state", json_object_new_string(state));
        struct json_object *v;
        if (cfg && json_object_object_get_ex(cfg, "cpus", &v))
                json_object_object_add(o, "cpus", json_object_get(v));
        if (cfg && json_object_object_get_ex(cfg, "memory_mib", &v))
                json_object_object_add(o, "memory_mib", json_object_get(v));
        if (cfg && json_object_object_get_ex(cfg, "pv", &v))
                json_object_object_add(o, "pv", json_object_get(v));
        json_object_object_add(o, "created", json_object_new_int64(row->created));
        json_object_object_add(o, "started", json_object_new_int64(row->started));
        json_object_object_add(o, "finished", json_object_new_int64(row->finished));
        json_object_object_add(o, "exit_code", json_object_new_int(row->exit_code));
        json_object_object_add(o, "exit_reason", json_object_new_string(row->exit_reason));
        json_object_object_add(
            o, "vmm_pid", json_object_new_int(strcmp(row->state, "running") ? 0 : row->vmm_pid));
        json_object_put(cfg);
        return o;
}

int vm_mgr_list(struct vm_mgr *m, struct json_object **out, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        struct json_object *arr = json_object_new_array();
        /* Ids first: answering for a row may update it (a lost monitor). */
        char(*ids)[65] = NULL;
        size_t n = 0;

        if (!arr)
                return err_set(err, ENOMEM, "out of memory");
        if (sqlite3_prepare_v2(m->db, "SELECT id FROM vms ORDER BY created, name", -1, &st, NULL) !=
            SQLITE_OK) {
                json_object_put(arr);
                return db_fail(m->db, "listing VMs", err);
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
                char(*more)[65] = realloc(ids, (n + 1) * sizeof(*ids));
                if (!more)
                        break;
                ids = more;
                snprintf(ids[n++], 65, "%s", (const char *)sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        for (size_t i = 0; i < n; i++) {
                struct vm_row row;
                if (mgr_load(m, ids[i], &row, err) < 0)
                        continue; /* removed meanwhile */
                json_object_array_add(arr, row_json(m, &row));
                mgr_row_free(&row);
        }
        free(ids);
        *out = arr;
        return 0;
}

int vm_mgr_inspect(struct vm_mgr *m, const char *ref, struct json_object **out,
                   struct isola_err *err)
{
        struct vm_row row;
        struct vm_paths p = {0};

        if (mgr_load(m, ref, &row, err) < 0)
                return -1;
        if (mgr_paths(m, row.id, &p, err) < 0) {
                mgr_row_free(&row);
                return -1;
        }
        struct json_object *o = row_json(m, &row);
        json_object_object_add(o, "config", json_tokener_parse(row.config));
        struct json_object *paths = json_object_new_object();
        json_object_object_add(paths, "control_socket", json_object_new_string(p.ctl));
        json_object_object_add(paths, "console_socket", json_object_new_string(p.console));
        json_object_object_add(paths, "console_log", json_object_new_string(p.log));
        json_object_object_add(o, "paths", paths);
        if (!strcmp(row.state, "running")) {
                char *answer = NULL;
                int status = 0;
                struct isola_err e2 = {0};
                if (ctl_request(p.ctl, "GET", "/stats", NULL, &status, &answer, &e2) == 0 &&
                    status == 200)
                        json_object_object_add(o, "stats", json_tokener_parse(answer));
                free(answer);
        }
        mgr_row_free(&row);
        *out = o;
        return 0;
}

static void remove_data(const struct vm_paths *p)
{
        (void)unlink(p->log);
        char old[PATH_MAX + 4];
        snprintf(old, sizeof(old), "%s.1", p->log);
        (void)unlink(old);
        (void)rmdir(p->data_dir);
}

/* Kills a running VM for rm -f. One that ended by itself meanwhile is gone
 * all the same: its monitor may have recorded the end (the kill then finds it
 * "not running") but still be exiting, so rm waits for the monitor first. */
static int kill_for_rm(struct vm_mgr *m, struct vm_row *row, struct isola_err *err)
{
        struct isola_err e = {0};

        if (vm_mgr_kill(m, row->id, 0, &e) == 0)
                return 0;
        if (e.errnum == ESRCH && mgr_wait_gone(row, KILL_WAIT_MS))
                return 0;
        if (!mgr_alive(m, row))
                return 0;
        if (err)
                *err = e;
        return -1;
}

int vm_mgr_rm(struct vm_mgr *m, const char *ref, bool force, struct isola_err *err)
{
        struct vm_row row;
        struct vm_paths p = {0};
        sqlite3_stmt *st = NULL;

        if (mgr_load(m, ref, &row, err) < 0)
                return -1;
        int rc = mgr_paths(m, row.id, &p, err);
        if (rc == 0 && mgr_alive(m, &row)) {
                if (!force)
                        rc = err_set(err, EBUSY, "VM %s is running: stop it first or use rm -f",
                                     row.name);
                else
                        rc = kill_for_rm(m, &row, err);
        }
        /* Its snapshots go with it; images that stay are made independent
         * of them first (a failure keeps the VM, to retry). */
        if (rc == 0)
                rc = vm_snap_drop_all(m, row.id, err);
        if (rc == 0 &&
            sqlite3_prepare_v2(m->db, "DELETE FROM vms WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
                rc = db_fail(m->db, "removing the VM", err);
        if (rc == 0) {
                sqlite3_bind_text(st, 1, row.id, -1, SQLITE_STATIC);
                if (sqlite3_step(st) != SQLITE_DONE)
                        rc = db_fail(m->db, "removing the VM", err);
                sqlite3_finalize(st);
        }
        if (rc == 0) {
                mgr_remove_run_dir(&p);
                remove_data(&p);
        }
        mgr_row_free(&row);
        return rc;
}
