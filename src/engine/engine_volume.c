/* Volumes: directories under <root>/volumes/<name>/_data that outlive
 * containers. Named ones are made by `volume create` or on first use by
 * -v NAME:/dst; anonymous ones (-v /dst, image Volumes) belong to one
 * container. container_volumes rows record who uses what, so an in-use
 * volume is never removed. */
#include "engine/engine_internal.h"
#include "engine/events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"

static int valid_name(const char *n, struct isola_err *err)
{
        size_t len = strlen(n);

        if (len == 0 || len > 255)
                return err_set(err, EINVAL, "volume '%s': name must be 1-255 characters", n);
        for (size_t i = 0; i < len; i++) {
                char ch = n[i];
                bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                          (ch >= '0' && ch <= '9') || (i > 0 && strchr("_.-", ch));
                if (!ok)
                        return err_set(err, EINVAL,
                                       "volume '%s': name must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
                                       n);
        }
        return 0;
}

static void vol_path(const struct eng_ctx *c, const char *name, bool data, char *buf, size_t len)
{
        snprintf(buf, len, "%s/volumes/%s%s", c->paths.root, name, data ? "/_data" : "");
}

static int step_done(struct eng_ctx *c, sqlite3_stmt *st, const char *what, struct isola_err *err)
{
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : db_fail(c->db, what, err);
}

static int insert_volume(struct eng_ctx *c, const char *name, bool anonymous, bool or_ignore,
                         struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        char path[PATH_MAX];

        vol_path(c, name, true, path, sizeof(path));
        if (fs_mkdir_p(path, 0755, err) < 0)
                return -1;
        if (sqlite3_prepare_v2(c->db,
                               or_ignore ? "INSERT OR IGNORE INTO volumes (name, created, "
                                           "anonymous) VALUES (?1, ?2, ?3)"
                                         : "INSERT INTO volumes (name, created, anonymous) "
                                           "VALUES (?1, ?2, ?3)",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "create volume", err);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, eng_now_ns());
        sqlite3_bind_int(st, 3, anonymous);
        if (sqlite3_step(st) != SQLITE_DONE) {
                bool dup = sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_PRIMARYKEY;
                sqlite3_finalize(st);
                if (dup)
                        return err_set(err, EEXIST, "volume '%s' already exists", name);
                return db_fail(c->db, "create volume", err);
        }
        sqlite3_finalize(st);
        return 0;
}

int eng_volume_create(struct eng_ctx *c, const char *name, bool anonymous, struct eng_volume *out,
                      struct isola_err *err)
{
        char gen[ENG_ID_LEN + 1];

        if (!name) {
                unsigned char rnd[ENG_ID_LEN / 2];
                if (getentropy(rnd, sizeof(rnd)) < 0)
                        return err_sys(err, "getentropy");
                for (size_t i = 0; i < sizeof(rnd); i++)
                        snprintf(gen + 2 * i, 3, "%02x", rnd[i]);
                name = gen;
        }
        if (valid_name(name, err) < 0 || insert_volume(c, name, anonymous, false, err) < 0)
                return -1;
        eng_event(c->db, "volume", "create", name, "driver", "local");
        return out ? eng_volume_get(c, name, out, err) : 0;
}

int eng_volume_use(struct eng_ctx *c, const char *id, const char *name, bool anonymous,
                   char path_out[PATH_MAX], struct isola_err *err)
{
        sqlite3_stmt *st = NULL;

        if (valid_name(name, err) < 0 || insert_volume(c, name, anonymous, true, err) < 0)
                return -1;
        if (sqlite3_prepare_v2(c->db,
                               "INSERT OR IGNORE INTO container_volumes (container_id, volume) "
                               "VALUES (?1, ?2)",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "use volume", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        if (step_done(c, st, "use volume", err) < 0)
                return -1;
        vol_path(c, name, true, path_out, PATH_MAX);
        return 0;
}

static const char vol_select[] =
    "SELECT v.name, v.created, v.anonymous, (SELECT count(*) FROM container_volumes cv "
    "WHERE cv.volume = v.name) FROM volumes v";

static void vol_read(struct eng_ctx *c, sqlite3_stmt *st, struct eng_volume *v)
{
        snprintf(v->name, sizeof(v->name), "%s", (const char *)sqlite3_column_text(st, 0));
        v->created = sqlite3_column_int64(st, 1);
        v->anonymous = sqlite3_column_int(st, 2) != 0;
        v->users = sqlite3_column_int(st, 3);
        vol_path(c, v->name, true, v->mountpoint, sizeof(v->mountpoint));
}

int eng_volume_get(struct eng_ctx *c, const char *name, struct eng_volume *out,
                   struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        char sql[sizeof(vol_select) + 32];
        int rc;

        snprintf(sql, sizeof(sql), "%s WHERE v.name = ?1", vol_select);
        if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "read volume", err);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                vol_read(c, st, out);
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW)
                return err_set(err, ENOENT, "volume '%s': no such volume", name);
        return 0;
}

int eng_volume_list(struct eng_ctx *c, struct eng_volume **out, size_t *n_out,
                    struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        struct eng_volume *v = NULL;
        size_t n = 0, cap = 0;
        char sql[sizeof(vol_select) + 32];

        snprintf(sql, sizeof(sql), "%s ORDER BY v.name", vol_select);
        if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "list volumes", err);
        while (sqlite3_step(st) == SQLITE_ROW) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        struct eng_volume *t = realloc(v, cap * sizeof(*t));
                        if (!t) {
                                free(v);
                                sqlite3_finalize(st);
                                return err_set(err, ENOMEM, "out of memory");
                        }
                        v = t;
                }
                vol_read(c, st, &v[n++]);
        }
        sqlite3_finalize(st);
        *out = v;
        *n_out = n;
        return 0;
}

static int delete_volume(struct eng_ctx *c, const char *name, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        char path[PATH_MAX];

        if (sqlite3_prepare_v2(c->db, "DELETE FROM volumes WHERE name = ?1", -1, &st, NULL) !=
            SQLITE_OK)
                return db_fail(c->db, "remove volume", err);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (step_done(c, st, "remove volume", err) < 0)
                return -1;
        eng_event(c->db, "volume", "destroy", name, "driver", "local");
        vol_path(c, name, false, path, sizeof(path));
        return eng_rmtree(path, err);
}

static int first_user(struct eng_ctx *c, const char *name, char *buf, size_t len)
{
        sqlite3_stmt *st = NULL;
        int found = 0;

        if (sqlite3_prepare_v2(c->db,
                               "SELECT c.name FROM container_volumes cv JOIN containers c ON "
                               "c.id = cv.container_id WHERE cv.volume = ?1 LIMIT 1",
                               -1, &st, NULL) != SQLITE_OK)
                return 0;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
                snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
                found = 1;
        }
        sqlite3_finalize(st);
        return found;
}

int eng_volume_remove(struct eng_ctx *c, const char *name, bool force, struct isola_err *err)
{
        struct eng_volume v = {0};
        char user[ENG_NAME_MAX];

        if (eng_volume_get(c, name, &v, err) < 0)
                return -1;
        if (first_user(c, name, user, sizeof(user))) {
                if (!force)
                        return err_set(err, EBUSY, "volume '%s' is in use by container '%s'", name,
                                       user);
                if (eng_remove(c, user, true, false, err) < 0)
                        return -1;
        }
        return delete_volume(c, name, err);
}

int eng_volume_prune(struct eng_ctx *c, char ***names_out, size_t *n_out, struct isola_err *err)
{
        struct eng_volume *v = NULL;
        size_t n = 0, k = 0;
        char **names;

        if (eng_volume_list(c, &v, &n, err) < 0)
                return -1;
        names = calloc(n + 1, sizeof(*names));
        for (size_t i = 0; i < n; i++) {
                if (v[i].users)
                        continue;
                if (delete_volume(c, v[i].name, err) < 0) {
                        free(v);
                        for (size_t j = 0; names && j < k; j++)
                                free(names[j]);
                        free(names);
                        return -1;
                }
                if (names)
                        names[k++] = strdup(v[i].name);
        }
        free(v);
        if (names_out) {
                *names_out = names;
        } else {
                for (size_t j = 0; names && j < k; j++)
                        free(names[j]);
                free(names);
        }
        if (n_out)
                *n_out = k;
        return 0;
}

int eng_volume_release(struct eng_ctx *c, const char *id, bool remove_anon, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        char **anon = NULL;
        size_t n = 0;

        if (remove_anon) {
                if (sqlite3_prepare_v2(c->db,
                                       "SELECT cv.volume FROM container_volumes cv JOIN volumes "
                                       "v ON v.name = cv.volume WHERE cv.container_id = ?1 AND "
                                       "v.anonymous = 1 AND (SELECT count(*) FROM "
                                       "container_volumes o WHERE o.volume = cv.volume) = 1",
                                       -1, &st, NULL) != SQLITE_OK)
                        return db_fail(c->db, "release volumes", err);
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                anon = calloc(1, sizeof(*anon));
                while (anon && sqlite3_step(st) == SQLITE_ROW) {
                        char **t = realloc(anon, (n + 2) * sizeof(*t));
                        if (!t)
                                break;
                        anon = t;
                        anon[n++] = strdup((const char *)sqlite3_column_text(st, 0));
                        anon[n] = NULL;
                }
                sqlite3_finalize(st);
        }
        int rc = 0;
        if (sqlite3_prepare_v2(c->db, "DELETE FROM container_volumes WHERE container_id = ?1", -1,
                               &st, NULL) != SQLITE_OK) {
                rc = db_fail(c->db, "release volumes", err);
        } else {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                rc = step_done(c, st, "release volumes", err);
        }
        for (size_t i = 0; i < n; i++) {
                if (rc == 0 && anon[i])
                        rc = delete_volume(c, anon[i], err);
                free(anon[i]);
        }
        free(anon);
        return rc;
}
