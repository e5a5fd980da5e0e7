/* stop, kill, rm, wait, pause/unpause, rename, and the two entry points the
 * monitor runs: the cleanup after the last exit and a restart. */
#include "engine/engine_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctr/container.h"
#include "engine/events.h"
#include "util/cleanup.h"

static bool is_running(const struct eng_container *ct)
{
        return !strcmp(ct->state, "running") || !strcmp(ct->state, "paused");
}

static int parse_signal(const char *s, int *out, struct isola_err *err)
{
        static const struct {
                const char *name;
                int sig;
        } sigs[] = {{"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
                    {"USR1", SIGUSR1}, {"USR2", SIGUSR2},   {"TERM", SIGTERM}, {"STOP", SIGSTOP},
                    {"CONT", SIGCONT}, {"WINCH", SIGWINCH}, {"ALRM", SIGALRM}, {"PWR", SIGPWR}};
        char *end;
        long v = strtol(s, &end, 10);

        if (*s && !*end && v > 0 && v < 65) {
                *out = (int)v;
                return 0;
        }
        if (!strncasecmp(s, "SIG", 3))
                s += 3;
        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
                if (!strcasecmp(s, sigs[i].name)) {
                        *out = sigs[i].sig;
                        return 0;
                }
        return err_set(err, EINVAL, "signal '%s': unknown", s);
}

static void ctr_opts_of(const struct eng_ctx *c, struct ctr_opts *o)
{
        memset(o, 0, sizeof(*o));
        o->root = c->ctr_root;
}

static int update_exited(struct eng_ctx *c, const char *id, int code, int64_t finished,
                         struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int rc;

        if (sqlite3_prepare_v2(c->db,
                               "UPDATE containers SET state = 'exited', exit_code = ?2, "
                               "finished = ?3, pid = 0, monitor_pid = 0 WHERE id = ?1",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "record exit", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, code);
        sqlite3_bind_int64(st, 3, finished);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : db_fail(c->db, "record exit", err);
}

static int read_config(struct eng_ctx *c, const char *id, struct eng_config *cfg,
                       struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int rc = -1;

        if (sqlite3_prepare_v2(c->db, "SELECT config FROM containers WHERE id = ?1", -1, &st,
                               NULL) != SQLITE_OK)
                return db_fail(c->db, "read container", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
                rc = eng_config_from_json((const char *)sqlite3_column_text(st, 0), cfg, err);
        else
                err_set(err, ENOENT, "container '%s': no such container", id);
        sqlite3_finalize(st);
        return rc;
}

int eng_destroy(struct eng_ctx *c, const char *id, bool volumes, struct isola_err *err)
{
        struct ctr_opts o;
        struct isola_err ignore = {0};
        sqlite3_stmt *st = NULL;
        char path[PATH_MAX];

        ctr_opts_of(c, &o);
        ctr_delete(&o, id, true, &ignore);
        if (eng_rootfs_umount(c, id, err) < 0)
                return -1;
        eng_net_release(c, id, &ignore);
        if (db_begin(c->db, err) < 0)
                return -1;
        eng_event_container(c->db, id, "destroy");
        if (eng_volume_release(c, id, volumes, err) < 0 ||
            sqlite3_prepare_v2(c->db, "DELETE FROM containers WHERE id = ?1", -1, &st, NULL) !=
                SQLITE_OK) {
                db_rollback(c->db);
                return err->msg[0] ? -1 : db_fail(c->db, "remove container", err);
        }
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                db_fail(c->db, "remove container", err);
                db_rollback(c->db);
                return -1;
        }
        if (db_commit(c->db, err) < 0)
                return -1;
        /* after the row: a crash here leaves a dir that system prune removes */
        snprintf(path, sizeof(path), "%s/%s", c->mon_dir, id);
        unlink(path);
        eng_ctr_path(c, id, NULL, path, sizeof(path));
        return eng_rmtree_async(c, path, id, err);
}

int eng_cleanup(struct eng_ctx *c, const char *id, int code, int64_t finished,
                struct isola_err *err)
{
        struct eng_config cfg = {0};
        struct ctr_opts o;
        struct isola_err ignore = {0};
        int rc;

        if (read_config(c, id, &cfg, err) < 0)
                return -1;
        if (!finished) {
                char path[PATH_MAX];
                long long fin = 0;
                int ignored;
                FILE *f;
                eng_ctr_path(c, id, MON_EXIT_FILE, path, sizeof(path));
                f = fopen(path, "re");
                if (f && fscanf(f, "%d %lld", &ignored, &fin) != 2)
                        fin = 0;
                if (f)
                        fclose(f);
                finished = fin ? fin : eng_now_ns();
        }
        ctr_opts_of(c, &o);
        ctr_delete(&o, id, true, &ignore);
        char code_s[16];
        snprintf(code_s, sizeof(code_s), "%d", code);
        eng_event_container(c->db, id, "die", "exitCode", code_s);
        /* the network stays attached until rm: a restart keeps its address */
        if (cfg.auto_remove) {
                rc = eng_destroy(c, id, true, err);
        } else {
                /* Unmounted before the row says exited: a start that sees
                 * "exited" mounts the rootfs again, and an unmount after
                 * it would detach the new container's root (its exec then
                 * found no 'sh' in a compose up that re-ran a one-shot
                 * service). */
                bool unmounted = eng_rootfs_umount(c, id, &ignore) == 0;
                rc = update_exited(c, id, code, finished, err);
                if (!unmounted)
                        rc = -1;
        }
        eng_config_free(&cfg);
        return rc;
}

int eng_restart_in_monitor(struct eng_ctx *c, const char *id, int report_fd, struct isola_err *err)
{
        struct ctr_opts o;
        struct isola_err ignore = {0};
        char bundle[PATH_MAX], msg[32];
        struct ctr_create_args a = {.bundle = bundle, .detach = true};
        sqlite3_stmt *st = NULL;
        int status;
        pid_t pid = -1;

        ctr_opts_of(c, &o);
        ctr_delete(&o, id, true, &ignore);
        eng_ctr_path(c, id, NULL, bundle, sizeof(bundle));
        if (eng_rootfs_mount(c, id, err) < 0 || ctr_run(&o, id, &a, &status, err) < 0 ||
            eng_only_child(&pid, err) < 0)
                return -1;
        if (sqlite3_prepare_v2(c->db,
                               "UPDATE containers SET state = 'running', pid = ?2, started = ?3, "
                               "restart_count = restart_count + 1 WHERE id = ?1",
                               -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 2, pid);
                sqlite3_bind_int64(st, 3, eng_now_ns());
                sqlite3_step(st);
                sqlite3_finalize(st);
        }
        eng_event_container(c->db, id, "restart");
        int n = snprintf(msg, sizeof(msg), "P %d", pid);
        if (write(report_fd, msg, (size_t)n) != n)
                return err_sys(err, "report");
        return 0;
}

static int signal_ctr(struct eng_ctx *c, const char *id, int sig, bool all, struct isola_err *err)
{
        struct ctr_opts o;

        ctr_opts_of(c, &o);
        return ctr_kill(&o, id, sig, all, err);
}

/* Sends sig, waits up to timeout seconds, then SIGKILL; returns once the
 * monitor's cleanup has finished. */
static int stop_running(struct eng_ctx *c, struct eng_container *ct, int sig, int timeout,
                        struct isola_err *err)
{
        struct isola_err ignore = {0};
        struct ctr_opts o;
        int code, fd;

        ctr_opts_of(c, &o);
        if (!strcmp(ct->state, "paused"))
                ctr_resume(&o, ct->id, &ignore);
        fd = eng_mon_connect(c, ct->id, MON_CMD_STOP, err);
        if (fd < 0)
                return -1;
        if (sig != SIGKILL)
                signal_ctr(c, ct->id, sig, false, &ignore);
        if (sig == SIGKILL || eng_mon_wait(fd, timeout * 1000, &code) == 1) {
                signal_ctr(c, ct->id, SIGKILL, true, &ignore);
                eng_mon_wait(fd, -1, &code);
        }
        close(fd);
        return 0;
}

int eng_stop(struct eng_ctx *c, const char *ref, int timeout, struct isola_err *err)
{
        struct eng_container *ct = NULL;
        struct eng_config cfg = {0};
        int sig = SIGTERM, rc = -1;

        if (eng_get(c, ref, &ct, err) < 0)
                return -1;
        if (!is_running(ct)) {
                rc = 0;
                goto out;
        }
        if (eng_container_config(ct, &cfg, err) < 0)
                goto out;
        if (cfg.stop_signal && parse_signal(cfg.stop_signal, &sig, err) < 0)
                goto out;
        char sig_s[16];
        snprintf(sig_s, sizeof(sig_s), "%d", sig);
        eng_event_container(c->db, ct->id, "kill", "signal", sig_s);
        rc = stop_running(c, ct, sig, timeout >= 0 ? timeout : cfg.stop_timeout, err);
        if (rc == 0)
                eng_event_container(c->db, ct->id, "stop");
out:
        eng_config_free(&cfg);
        eng_container_free(ct);
        return rc < 0 ? err_prefix(err, "stop '%s'", ref) : 0;
}

int eng_kill(struct eng_ctx *c, const char *ref, const char *signal, struct isola_err *err)
{
        struct eng_container *ct = NULL;
        int sig = SIGKILL, rc = -1;

        if (eng_get(c, ref, &ct, err) < 0)
                return -1;
        if (signal && parse_signal(signal, &sig, err) < 0)
                goto out;
        if (!is_running(ct)) {
                err_set(err, EINVAL, "container '%s' is not running", ref);
                goto out;
        }
        rc = signal_ctr(c, ct->id, sig, false, err);
        if (rc == 0) {
                char sig_s[16];
                snprintf(sig_s, sizeof(sig_s), "%d", sig);
                eng_event_container(c->db, ct->id, "kill", "signal", sig_s);
        }
out:
        eng_container_free(ct);
        return rc;
}

int eng_remove(struct eng_ctx *c, const char *ref, bool force, bool volumes, struct isola_err *err)
{
        struct eng_container *ct = NULL;
        char id[ENG_ID_LEN + 1];
        int rc = -1;

        if (eng_get(c, ref, &ct, err) < 0)
                return -1;
        snprintf(id, sizeof(id), "%s", ct->id);
        if (is_running(ct)) {
                if (!force) {
                        err_set(err, EBUSY, "container '%s' is running: stop it first or use rm -f",
                                ref);
                        goto out;
                }
                /* docker rm -f reports the SIGKILL as a kill event */
                eng_event_container(c->db, ct->id, "kill", "signal", "9");
                if (stop_running(c, ct, SIGKILL, 0, err) < 0)
                        goto out;
        }
        eng_container_free(ct);
        ct = NULL;
        /* a --rm container is gone once its monitor finished */
        if (eng_resolve(c, id, id, err) < 0) {
                err_clear(err);
                return 0;
        }
        rc = eng_destroy(c, id, volumes, err);
out:
        eng_container_free(ct);
        return rc < 0 ? err_prefix(err, "rm '%s'", ref) : 0;
}

int eng_wait(struct eng_ctx *c, const char *ref, int *code_out, struct isola_err *err)
{
        struct eng_container *ct = NULL;
        char id[ENG_ID_LEN + 1];
        int fd, code;

        if (eng_get(c, ref, &ct, err) < 0)
                return -1;
        snprintf(id, sizeof(id), "%s", ct->id);
        *code_out = ct->exit_code;
        bool running = is_running(ct);
        eng_container_free(ct);
        if (!running)
                return 0;
        fd = eng_mon_connect(c, id, MON_CMD_WAIT, err);
        if (fd >= 0) {
                eng_mon_wait(fd, -1, &code);
                close(fd);
                if (code >= 0) {
                        *code_out = code;
                        return 0;
                }
        }
        /* the monitor was between its last answer and its cleanup (or is
         * gone): the row becomes final shortly */
        err_clear(err);
        for (;;) {
                if (eng_get(c, id, &ct, err) < 0)
                        return -1;
                *code_out = ct->exit_code;
                running = is_running(ct);
                eng_container_free(ct);
                if (!running)
                        return 0;
                struct timespec ts = {.tv_nsec = 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

int eng_pause(struct eng_ctx *c, const char *ref, bool pause, struct isola_err *err)
{
        struct eng_container *ct = NULL;
        struct ctr_opts o;
        int rc = -1;

        if (eng_get(c, ref, &ct, err) < 0)
                return -1;
        ctr_opts_of(c, &o);
        if (strcmp(ct->state, pause ? "running" : "paused") != 0) {
                err_set(err, EINVAL, "container '%s' is %s, not %s", ref, ct->state,
                        pause ? "running" : "paused");
        } else if ((pause ? ctr_pause(&o, ct->id, err) : ctr_resume(&o, ct->id, err)) == 0) {
                rc = eng_row_set_state(c, ct->id, pause ? "paused" : "running", err);
                if (rc == 0)
                        eng_event_container(c->db, ct->id, pause ? "pause" : "unpause");
        }
        eng_container_free(ct);
        return rc;
}

int eng_rename(struct eng_ctx *c, const char *ref, const char *new_name, struct isola_err *err)
{
        char id[ENG_ID_LEN + 1], other[ENG_ID_LEN + 1];
        sqlite3_stmt *st = NULL;
        size_t len = strlen(new_name);
        int rc;

        if (eng_resolve(c, ref, id, err) < 0)
                return -1;
        if (len == 0 || len >= ENG_NAME_MAX || strchr("_.-", new_name[0]) ||
            strspn(new_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
                len)
                return err_set(err, EINVAL, "name '%s': must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
                               new_name);
        if (eng_resolve(c, new_name, other, err) == 0 && !strcmp(other, id))
                return 0;
        err_clear(err);
        char old[ENG_NAME_MAX] = "";
        if (sqlite3_prepare_v2(c->db, "SELECT name FROM containers WHERE id = ?1", -1, &st, NULL) ==
            SQLITE_OK) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW)
                        snprintf(old, sizeof(old), "%s", (const char *)sqlite3_column_text(st, 0));
                sqlite3_finalize(st);
                st = NULL;
        }
        if (sqlite3_prepare_v2(c->db, "UPDATE containers SET name = ?2 WHERE id = ?1", -1, &st,
                               NULL) != SQLITE_OK)
                return db_fail(c->db, "rename", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, new_name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                if (sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_UNIQUE)
                        return err_set(err, EEXIST, "name '%s' is already in use", new_name);
                return db_fail(c->db, "rename", err);
        }
        eng_event_container(c->db, id, "rename", "oldName", old);
        return 0;
}
