/* Seccomp filter built from the spec with libseccomp. */

/* Meson puts src/ctr on the include path, where this file shadows
 * libseccomp's header of the same name: fetch the next one on the path. It
 * stays outside the guard so that, whichever of src/ and src/ctr/ comes first,
 * the chain ends at the system header. */
#include_next <seccomp.h>

#ifndef ISOLA_CTR_SECCOMP_H
#define ISOLA_CTR_SECCOMP_H

#include "ctr/spec.h"
#include "util/err.h"

/* Builds (does not load) the filter. Syscall names unknown for the
 * architecture are skipped; an invalid rule is an error naming the syscall.
 * The caller releases the result with seccomp_release(). */
scmp_filter_ctx seccomp_build(const struct spec_seccomp *sc, struct isola_err *err);

/* Builds and loads the filter into the calling thread (last step before
 * execve). sc == NULL is a no-op. The filter does not force no_new_privs, so
 * without noNewPrivileges loading needs CAP_SYS_ADMIN: the caller must then
 * load it before caps_apply drops that capability. */
int seccomp_apply(const struct spec_seccomp *sc, struct isola_err *err);

#endif
