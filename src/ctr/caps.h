/* Linux capability sets of the container process (libcap). */
#ifndef ISOLA_CTR_CAPS_H
#define ISOLA_CTR_CAPS_H

#include "ctr/spec.h"
#include "util/err.h"

/* Sets PR_SET_KEEPCAPS so permitted caps survive the switch to a non-root
 * uid in process_user_apply; call before it. */
int caps_keep_across_setuid(struct isola_err *err);

/* Applies the five sets: drops bounding entries not in caps->bounding, then
 * inheritable/permitted/effective, then the ambient set. Call after the
 * uid/gid switch. */
int caps_apply(const struct spec_caps *caps, struct isola_err *err);

#endif
