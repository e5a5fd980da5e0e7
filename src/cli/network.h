/* Shared by the `isola network` front end files. */
#ifndef ISOLA_CLI_NETWORK_H
#define ISOLA_CLI_NETWORK_H

#include "net/net.h"

/* Opens the database (ISOLA_ROOT or the default root). */
int cli_net_open(struct net_ctx *c, struct isola_err *err);
/* Prints "isola network VERB: message"; returns 1. */
int cli_net_fail(const char *verb, const struct isola_err *err);

int cli_net_rm(int argc, char **argv);
int cli_net_prune(int argc, char **argv);
int cli_net_connect(int argc, char **argv);
int cli_net_disconnect(int argc, char **argv);

#endif
