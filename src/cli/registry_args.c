/* Flags shared by the registry verbs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/registry_args.h"

int cli_reg_flag(struct cli_reg *c, const char *verb, int opt, const char *arg)
{
        switch (opt) {
        case CLI_REG_ROOT:
                c->root = arg;
                return 1;
        case CLI_REG_TLS_VERIFY:
                if (!arg || !strcmp(arg, "true")) {
                        c->opts.tls = REG_TLS_VERIFY;
                } else if (!strcmp(arg, "false")) {
                        c->opts.tls = REG_TLS_NO_VERIFY;
                } else {
                        fprintf(stderr, "isola %s: --tls-verify '%s': expected true or false\n",
                                verb, arg);
                        return -1;
                }
                return 1;
        case CLI_REG_CERT_DIR:
                c->opts.cert_dir = arg;
                return 1;
        case CLI_REG_AUTHFILE:
                c->opts.authfile = arg;
                return 1;
        case CLI_REG_CREDS: {
                cli_reg_free(c);
                c->creds = strdup(arg);
                if (!c->creds)
                        return -1;
                c->creds_len = strlen(arg);
                char *colon = strchr(c->creds, ':');
                if (colon)
                        *colon = '\0';
                if (!c->creds[0]) {
                        fprintf(stderr, "isola %s: --creds: expected USER[:PASSWORD]\n", verb);
                        return -1;
                }
                c->opts.username = c->creds;
                c->opts.password = colon ? colon + 1 : "";
                return 1;
        }
        default:
                return 0;
        }
}

int cli_reg_resolve_root(struct cli_reg *c, struct isola_err *err)
{
        if (db_paths_resolve(c->root, &c->paths, err) < 0)
                return -1;
        c->opts.root = c->paths.root;
        return 0;
}

int cli_reg_open_store(struct cli_reg *c, sqlite3 **db, struct img_store *s, struct isola_err *err)
{
        if (cli_reg_resolve_root(c, err) < 0 || db_open(&c->paths, db, err) < 0)
                return -1;
        img_store_init(s, &c->paths, *db);
        return 0;
}

void cli_reg_free(struct cli_reg *c)
{
        if (c->creds)
                explicit_bzero(c->creds, c->creds_len);
        free(c->creds);
        c->creds = NULL;
}
