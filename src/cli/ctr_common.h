/* Helpers shared by the container verbs (src/cli/ctr_*.c). */
#ifndef ISOLA_CLI_CTR_COMMON_H
#define ISOLA_CLI_CTR_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"

/* Opens the engine at --root (NULL: ISOLA_ROOT or the default); prints the
 * error. */
int cli_eng_open(const char *root, struct eng_ctx *c);
/* Prints "isola VERB: message" and returns 1 (or 125 when usage). */
int cli_fail(const char *verb, const struct isola_err *err);
/* Appends s to a NULL-terminated heap list. */
void cli_strv_add(char ***v, const char *s);
/* "512m", "1g", "100k", "4096" -> bytes; -1 on error. */
int64_t cli_parse_size(const char *s);
/* "2 minutes ago" style age of a unix-ns timestamp. */
void cli_ago(int64_t ns, char *buf, size_t len);

#endif
