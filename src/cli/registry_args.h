/* Flags shared by the registry verbs (pull, push, login, logout): TLS,
 * certificates, the auth file, credentials and the store root. */
#ifndef ISOLA_CLI_REGISTRY_ARGS_H
#define ISOLA_CLI_REGISTRY_ARGS_H

#include <getopt.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "db/db.h"
#include "image/image.h"
#include "image/registry.h"

enum {
        CLI_REG_ROOT = 400,
        CLI_REG_TLS_VERIFY,
        CLI_REG_CERT_DIR,
        CLI_REG_AUTHFILE,
        CLI_REG_CREDS,
        CLI_REG_HELP,
};

/* getopt_long entries for the shared flags (append to a verb's own). */
#define CLI_REG_OPTIONS                                                                            \
        {"root", required_argument, NULL, CLI_REG_ROOT},                                           \
            {"tls-verify", optional_argument, NULL, CLI_REG_TLS_VERIFY},                           \
            {"cert-dir", required_argument, NULL, CLI_REG_CERT_DIR},                               \
            {"authfile", required_argument, NULL, CLI_REG_AUTHFILE},                               \
            {"creds", required_argument, NULL, CLI_REG_CREDS},                                     \
        {                                                                                          \
                "help", no_argument, NULL, CLI_REG_HELP                                            \
        }

#define CLI_REG_USAGE                                                                              \
        "  --root DIR             the store (default $ISOLA_ROOT or /var/lib/isola)\n"             \
        "  --tls-verify=false     no certificate checks; plain HTTP if TLS fails\n"                \
        "  --cert-dir DIR         *.crt CAs and a *.cert/*.key client pair\n"                      \
        "  --authfile FILE        credentials (default $REGISTRY_AUTH_FILE or ROOT/auth.json)\n"

struct cli_reg {
        struct reg_opts opts;
        const char *root;
        char *creds; /* --creds copy, split at ':' */
        size_t creds_len;
        struct db_paths paths;
};

/* Applies a shared flag: 1 when it was one, 0 when not, -1 after printing a
 * usage error. */
int cli_reg_flag(struct cli_reg *c, const char *verb, int opt, const char *arg);
/* Resolves the root (and the default auth file under it). */
int cli_reg_resolve_root(struct cli_reg *c, struct isola_err *err);
/* Opens the database and the store under the root. */
int cli_reg_open_store(struct cli_reg *c, sqlite3 **db, struct img_store *s, struct isola_err *err);
void cli_reg_free(struct cli_reg *c);

#endif
