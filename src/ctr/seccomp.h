/* Seccomp filter built from the spec with libseccomp. */
#ifndef ISOLA_CTR_SECCOMP_H
#define ISOLA_CTR_SECCOMP_H

#include <seccomp.h>

#include "ctr/spec.h"
#include "util/err.h"

/* Builds (does not load) the filter. Syscall names unknown for the
 * architecture are skipped; an invalid rule is an error naming the syscall.
 * The caller releases the result with seccomp_release(). */
scmp_filter_ctx seccomp_build(const struct spec_seccomp *sc, struct isola_err *err);

/* Builds and loads the filter into the calling thread (last step before
 * execve). sc == NULL is a no-op. */
int seccomp_apply(const struct spec_seccomp *sc, struct isola_err *err);

#endif
