/* Opening the state database and resolving the engine's directories. */
#include "db/db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/schema.h"
#include "util/fs.h"

#define DB_DEFAULT_ROOT    "/var/lib/isola"
#define DB_DEFAULT_RUNROOT "/run/isola/engine"
#define DB_BUSY_MS         10000

static int copy_path(char *dst, const char *src, const char *what, struct isola_err *err)
{
        if (!src[0] || src[0] != '/')
                return err_set(err, EINVAL, "%s '%s': must be an absolute path", what, src);
        if (snprintf(dst, PATH_MAX, "%s", src) >= PATH_MAX)
                return err_set(err, ENAMETOOLONG, "%s '%s': path too long", what, src);
        return 0;
}

int db_paths_resolve(const char *cli_root, struct db_paths *out, struct isola_err *err)
{
        const char *root = cli_root ? cli_root : getenv("ISOLA_ROOT");
        const char *run = getenv("ISOLA_RUNROOT");
        static const char *const subdirs[] = {"blobs/sha256", "layers", "containers", "volumes",
                                              "tmp"};

        if (copy_path(out->root, root && root[0] ? root : DB_DEFAULT_ROOT, "root", err) < 0)
                return -1;
        if (run && run[0]) {
                if (copy_path(out->runroot, run, "ISOLA_RUNROOT", err) < 0)
                        return -1;
        } else if (root && root[0]) {
                if (snprintf(out->runroot, PATH_MAX, "%s/run", out->root) >= PATH_MAX)
                        return err_set(err, ENAMETOOLONG, "root '%s': path too long", out->root);
        } else {
                snprintf(out->runroot, PATH_MAX, "%s", DB_DEFAULT_RUNROOT);
        }
        for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
                char p[PATH_MAX];
                if (snprintf(p, sizeof(p), "%s/%s", out->root, subdirs[i]) >= (int)sizeof(p))
                        return err_set(err, ENAMETOOLONG, "root '%s': path too long", out->root);
                if (fs_mkdir_p(p, 0700, err) < 0)
                        return -1;
        }
        return fs_mkdir_p(out->runroot, 0700, err);
}

int db_fail(sqlite3 *db, const char *what, struct isola_err *err)
{
        int code = sqlite3_errcode(db) & 0xff; /* primary code of an extended one */
        int e = code == SQLITE_BUSY || code == SQLITE_LOCKED ? EBUSY
                : code == SQLITE_FULL                        ? ENOSPC
                : code == SQLITE_CONSTRAINT                  ? EEXIST
                                                             : EIO;
        return err_set(err, e, "%s: %s", what, sqlite3_errmsg(db));
}

int db_exec(sqlite3 *db, const char *sql, struct isola_err *err)
{
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
                return db_fail(db, "database", err);
        return 0;
}

int db_begin(sqlite3 *db, struct isola_err *err)
{
        return db_exec(db, "BEGIN IMMEDIATE", err);
}

int db_commit(sqlite3 *db, struct isola_err *err)
{
        if (db_exec(db, "COMMIT", err) < 0) {
                db_rollback(db);
                return -1;
        }
        return 0;
}

void db_rollback(sqlite3 *db)
{
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

static int apply_schema(sqlite3 *db, struct isola_err *err)
{
        for (const char *const *s = db_schema; *s; s++) {
                if (db_exec(db, *s, err) < 0)
                        return err_prefix(err, "applying the schema");
        }
        for (const char *const *s = db_schema_upgrades; *s; s++) {
                char *msg = NULL;
                if (sqlite3_exec(db, *s, NULL, NULL, &msg) != SQLITE_OK &&
                    (!msg || !strstr(msg, "duplicate column"))) {
                        err_set(err, EIO, "upgrading the schema: %s", msg ? msg : "?");
                        sqlite3_free(msg);
                        return -1;
                }
                sqlite3_free(msg);
        }
        return 0;
}

int db_open(const struct db_paths *paths, sqlite3 **out, struct isola_err *err)
{
        char path[PATH_MAX + 16];
        sqlite3 *db = NULL;

        snprintf(path, sizeof(path), "%s/isola.db", paths->root);
        if (sqlite3_open_v2(path, &db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                                SQLITE_OPEN_EXRESCODE,
                            NULL) != SQLITE_OK) {
                err_set(err, EIO, "database '%s': %s", path, db ? sqlite3_errmsg(db) : "no memory");
                sqlite3_close(db);
                return -1;
        }
        chmod(path, 0600);
        sqlite3_busy_timeout(db, DB_BUSY_MS);
        if (db_exec(db,
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                    " PRAGMA foreign_keys=ON",
                    err) < 0 ||
            apply_schema(db, err) < 0) {
                err_prefix(err, "database '%s'", path);
                sqlite3_close(db);
                return -1;
        }
        *out = db;
        return 0;
}

void db_close(sqlite3 *db)
{
        sqlite3_close(db);
}
