/* The engine's state database: one SQLite file (WAL) under the isola root
 * holding images, containers, volumes, networks, leases (and later VMs and
 * functions). Every component writes its rows through the sqlite3 handle;
 * this module opens the file, applies the schema and resolves the root. */
#ifndef ISOLA_DB_DB_H
#define ISOLA_DB_DB_H

#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "util/err.h"

/* Where the engine keeps its state.
 *   root:    persistent (default /var/lib/isola; --root or ISOLA_ROOT)
 *            isola.db, blobs/sha256/<hex>, layers/<hex>/, containers/<id>/,
 *            volumes/<name>/_data, tmp/
 *   runroot: volatile (default /run/isola/engine; ISOLA_RUNROOT, or
 *            <root>/run when only the root was moved) — runtime state of the
 *            ctr library, monitor sockets, locks */
struct db_paths {
        char root[PATH_MAX];
        char runroot[PATH_MAX];
};

/* cli_root may be NULL (then ISOLA_ROOT, then the default). Creates the
 * directories. */
int db_paths_resolve(const char *cli_root, struct db_paths *out, struct isola_err *err);

/* Opens (creating) <root>/isola.db in WAL mode with a busy timeout, foreign
 * keys on, and the schema applied. */
int db_open(const struct db_paths *paths, sqlite3 **out, struct isola_err *err);
void db_close(sqlite3 *db);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK with errors in err. */
int db_begin(sqlite3 *db, struct isola_err *err);
int db_commit(sqlite3 *db, struct isola_err *err);
void db_rollback(sqlite3 *db);

/* Runs SQL without results. */
int db_exec(sqlite3 *db, const char *sql, struct isola_err *err);
/* Records sqlite's message for a failed call as "what: message". */
int db_fail(sqlite3 *db, const char *what, struct isola_err *err);

#endif
