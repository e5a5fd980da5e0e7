/* YAML text → compose tree (libyaml). */
#ifndef ISOLA_COMPOSE_YAML_LOAD_H
#define ISOLA_COMPOSE_YAML_LOAD_H

#include "compose/tree.h"

/* Parses one compose file; errors read "file:line:col: problem". The root
 * must be a mapping. data need not be NUL-terminated. */
int cmp_yaml_load(struct cmp_arena *a, const char *file, const char *data, size_t len,
                  struct cmp_node **out, struct isola_err *err);

#endif
