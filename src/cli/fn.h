/* `isola fn` verbs shared between fn.c and fn_run.c. */
#ifndef ISOLA_CLI_FN_H
#define ISOLA_CLI_FN_H

#include <sqlite3.h>

#include "db/db.h"

int cli_fn_open(const char *verb, struct db_paths *p, sqlite3 **db);
int cli_fn_invoke(int argc, char **argv);
int cli_fn_serve(int argc, char **argv);
int cli_fn_logs(int argc, char **argv);
int cli_fn_usage(int argc, char **argv);
/* "ADDR:PORT" of a running `fn serve` for this root, or -1. */
int cli_fn_gateway_addr(const struct db_paths *p, char *buf, size_t len);

#endif
