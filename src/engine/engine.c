/* The engine context, container rows (lookup by name, id or id prefix), and
 * bringing a row's state up to date from what its monitor left. */
#include "engine/engine_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctr/state.h"
#include "util/cleanup.h"
#include "util/fs.h"

int64_t eng_now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void eng_ctr_path(const struct eng_ctx *c, const char *id, const char *name, char *buf, size_t len)
{
        if (name)
                snprintf(buf, len, "%s/containers/%s/%s", c->paths.root, id, name);
        else
                snprintf(buf, len, "%s/containers/%s", c->paths.root, id);
}

int eng_open(const char *cli_root, struct eng_ctx *out, struct isola_err *err)
{
        char path[PATH_MAX + 32];
        ssize_t n;

        memset(out, 0, sizeof(*out));
        if (db_paths_resolve(cli_root, &out->paths, err) < 0)
                return -1;
        snprintf(out->ctr_root, sizeof(out->ctr_root), "%s/ctr", out->paths.runroot);
        snprintf(out->mon_dir, sizeof(out->mon_dir), "%s/mon", out->paths.runroot);
        snprintf(path, sizeof(path), "%s/containers", out->paths.root);
        if (fs_mkdir_p(path, 0700, err) < 0 || fs_mkdir_p(out->mon_dir, 0700, err) < 0)
                return -1;
        snprintf(path, sizeof(path), "%s/volumes", out->paths.root);
        if (fs_mkdir_p(path, 0700, err) < 0)
                return -1;
        n = readlink("/proc/self/exe", out->self_exe, sizeof(out->self_exe) - 1);
        if (n < 0)
                return err_sys(err, "readlink /proc/self/exe");
        out->self_exe[n] = '\0';
        if (db_open(&out->paths, &out->db, err) < 0)
                return -1;
        /* Every command is a short-lived process, usually the last to close
         * the database: without this each one would checkpoint the WAL and
         * fsync twice on exit. sqlite's automatic checkpoints (WAL over 1000
         * pages) still keep the WAL bounded. */
        sqlite3_db_config(out->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        eng_net_startup(out);
        return 0;
}

void eng_close(struct eng_ctx *c)
{
        if (c->db)
                db_close(c->db);
        c->db = NULL;
}

int eng_only_child(pid_t *pid, struct isola_err *err)
{
        char path[64];
        _cleanup_free_ char *text = NULL;
        size_t len;

        snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)gettid());
        if (fs_read_file(path, &text, &len, err) < 0)
                return -1;
        *pid = (pid_t)atoi(text);
        return *pid > 0 ? 0 : err_set(err, ESRCH, "the container's init is gone");
}

static bool is_hex(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

int eng_resolve(struct eng_ctx *c, const char *ref, char id_out[ENG_ID_LEN + 1],
                struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int rc, found = 0;

        if (!ref || !*ref || strlen(ref) > 256)
                return err_set(err, EINVAL, "container '%s': invalid name or id", ref ? ref : "");
        if (sqlite3_prepare_v2(c->db, "SELECT id FROM containers WHERE name = ?1", -1, &st, NULL) !=
            SQLITE_OK)
                return db_fail(c->db, "lookup", err);
        sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
                snprintf(id_out, ENG_ID_LEN + 1, "%s", (const char *)sqlite3_column_text(st, 0));
                sqlite3_finalize(st);
                return 0;
        }
        sqlite3_finalize(st);
        if (!is_hex(ref) || strlen(ref) > ENG_ID_LEN)
                return err_set(err, ENOENT, "container '%s': no such container", ref);
        /* ids are lowercase hex, so the prefix needs no LIKE escaping */
        if (sqlite3_prepare_v2(c->db, "SELECT id FROM containers WHERE substr(id, 1, ?2) = ?1", -1,
                               &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "lookup", err);
        sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)strlen(ref));
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (found++ == 0)
                        snprintf(id_out, ENG_ID_LEN + 1, "%s",
                                 (const char *)sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return db_fail(c->db, "lookup", err);
        if (found == 0)
                return err_set(err, ENOENT, "container '%s': no such container", ref);
        if (found > 1)
                return err_set(err, EINVAL, "container '%s': ambiguous id prefix (%d matches)", ref,
                               found);
        return 0;
}

#define ROW_COLUMNS                                                                                \
        "id, name, image_id, image_name, config, state, pid, monitor_pid, exit_code, created, "    \
        "started, finished, restart_count, monitor_start"

static char *col_dup(sqlite3_stmt *st, int i)
{
        const unsigned char *t = sqlite3_column_text(st, i);
        return t ? strdup((const char *)t) : NULL;
}

static struct eng_container *row_read(sqlite3_stmt *st, int64_t *mon_start)
{
        struct eng_container *ct = calloc(1, sizeof(*ct));

        if (!ct)
                return NULL;
        snprintf(ct->id, sizeof(ct->id), "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(ct->name, sizeof(ct->name), "%s", (const char *)sqlite3_column_text(st, 1));
        ct->image_id = col_dup(st, 2);
        ct->image_name = col_dup(st, 3);
        ct->config_json = col_dup(st, 4);
        snprintf(ct->state, sizeof(ct->state), "%s", (const char *)sqlite3_column_text(st, 5));
        ct->pid = (pid_t)sqlite3_column_int(st, 6);
        ct->monitor_pid = (pid_t)sqlite3_column_int(st, 7);
        ct->exit_code = sqlite3_column_int(st, 8);
        ct->created = sqlite3_column_int64(st, 9);
        ct->started = sqlite3_column_int64(st, 10);
        ct->finished = sqlite3_column_int64(st, 11);
        ct->restart_count = sqlite3_column_int(st, 12);
        *mon_start = sqlite3_column_int64(st, 13);
        if (!ct->config_json) {
                eng_container_free(ct);
                return NULL;
        }
        return ct;
}

void eng_container_free(struct eng_container *ct)
{
        if (!ct)
                return;
        free(ct->image_id);
        free(ct->image_name);
        free(ct->config_json);
        free(ct);
}

void eng_container_list_free(struct eng_container **l, size_t n)
{
        for (size_t i = 0; i < n; i++)
                eng_container_free(l[i]);
        free(l);
}

bool eng_monitor_alive(pid_t pid, int64_t start)
{
        unsigned long long s;

        if (pid <= 0 || proc_start_time(pid, &s) < 0)
                return false;
        return (int64_t)s == start;
}

/* The monitor is gone but the row says running: it was killed, or the host
 * rebooted. Its exit file (if it got that far) has the code. */
static int sync_dead(struct eng_ctx *c, struct eng_container *ct, struct isola_err *err)
{
        char path[PATH_MAX];
        _cleanup_free_ char *text = NULL;
        size_t len;
        int code = 255;
        long long fin = 0;

        eng_ctr_path(c, ct->id, MON_EXIT_FILE, path, sizeof(path));
        if (fs_read_file(path, &text, &len, err) == 0)
                sscanf(text, "%d %lld", &code, &fin);
        err_clear(err);
        return eng_cleanup(c, ct->id, code, fin ? fin : eng_now_ns(), err);
}

static int get_by_id(struct eng_ctx *c, const char *id, struct eng_container **out,
                     struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        struct eng_container *ct = NULL;
        int64_t mon_start = 0;

        if (sqlite3_prepare_v2(c->db, "SELECT " ROW_COLUMNS " FROM containers WHERE id = ?1", -1,
                               &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "read container", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
                ct = row_read(st, &mon_start);
        sqlite3_finalize(st);
        if (!ct)
                return err_set(err, ENOENT, "container '%s': no such container", id);
        if ((!strcmp(ct->state, "running") || !strcmp(ct->state, "paused")) &&
            !eng_monitor_alive(ct->monitor_pid, mon_start)) {
                /* a failed clean-up still marks the row exited */
                int rc = sync_dead(c, ct, err);
                eng_container_free(ct);
                if (rc < 0)
                        return -1;
                return get_by_id(c, id, out, err);
        }
        *out = ct;
        return 0;
}

int eng_get(struct eng_ctx *c, const char *ref, struct eng_container **out, struct isola_err *err)
{
        char id[ENG_ID_LEN + 1];

        if (eng_resolve(c, ref, id, err) < 0)
                return -1;
        return get_by_id(c, id, out, err);
}

int eng_list(struct eng_ctx *c, struct eng_container ***out, size_t *n_out, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        char **ids = NULL;
        size_t n = 0, cap = 0;

        if (sqlite3_prepare_v2(c->db, "SELECT id FROM containers ORDER BY created DESC", -1, &st,
                               NULL) != SQLITE_OK)
                return db_fail(c->db, "list containers", err);
        while (sqlite3_step(st) == SQLITE_ROW) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        char **t = realloc(ids, cap * sizeof(*t));
                        if (!t)
                                break;
                        ids = t;
                }
                ids[n++] = strdup((const char *)sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        struct eng_container **l = calloc(n + 1, sizeof(struct eng_container *));
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                /* a row removed meanwhile (a --rm container exiting) is skipped */
                if (l && ids[i] && get_by_id(c, ids[i], &l[k], err) == 0)
                        k++;
                free(ids[i]);
        }
        free(ids);
        err_clear(err);
        if (!l)
                return err_set(err, ENOMEM, "out of memory");
        *out = l;
        *n_out = k;
        return 0;
}

int eng_row_set_state(struct eng_ctx *c, const char *id, const char *state, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int rc;

        if (sqlite3_prepare_v2(c->db, "UPDATE containers SET state = ?2 WHERE id = ?1", -1, &st,
                               NULL) != SQLITE_OK)
                return db_fail(c->db, "update container", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : db_fail(c->db, "update container", err);
}

int eng_mon_connect(const struct eng_ctx *c, const char *id, char cmd, struct isola_err *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int dfd = open(c->mon_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int fd;

        if (dfd < 0)
                return err_sys(err, "'%s'", c->mon_dir);
        /* through the dir fd: the runroot may be longer than sun_path */
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%.64s", dfd, id);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return err_sys(err, "socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || write(fd, &cmd, 1) != 1) {
                err_sys(err, "monitor of container '%.12s'", id);
                close(fd);
                return -1;
        }
        return fd;
}

int eng_mon_wait(int fd, int timeout_ms, int *code_out)
{
        char buf[64];
        size_t len = 0;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int64_t deadline = timeout_ms < 0 ? -1 : eng_now_ns() + (int64_t)timeout_ms * 1000000;

        *code_out = -1;
        for (;;) {
                int wait = -1;
                if (deadline >= 0) {
                        int64_t left = (deadline - eng_now_ns()) / 1000000;
                        if (left <= 0)
                                return 1;
                        wait = (int)left;
                }
                int r = poll(&pf, 1, wait);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r == 0)
                        return 1;
                ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
                if (len >= sizeof(buf) - 1)
                        len = 0; /* garbage: keep draining */
        }
        buf[len] = '\0';
        if (len)
                *code_out = atoi(buf);
        return 0;
}
