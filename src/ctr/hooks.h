/* OCI hooks: each hook runs as a child with the container state JSON on its
 * stdin, with an optional timeout after which it is killed. */
#ifndef ISOLA_CTR_HOOKS_H
#define ISOLA_CTR_HOOKS_H

#include "ctr/spec.h"
#include "util/err.h"

/* Runs spec's hooks of `kind` in order; stops at the first failure with an
 * error naming the hook path and the kind. */
int hooks_run(const struct spec *spec, enum spec_hook_kind kind, const char *state_json,
              struct isola_err *err);

const char *hooks_kind_name(enum spec_hook_kind kind);

#endif
