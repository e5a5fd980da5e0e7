/* Seccomp filter built from the spec with libseccomp. */

/* Meson puts src/ctr on the include path, where this file shadows
 * libseccomp's header of the same name: fetch the next one on the path. It
 * stays outside the guard so that, whichever of src/ and src/ctr/ comes first,
 * the chain ends at the system header. */
#include_next <seccomp.h>

#ifndef ISOLA_CTR_SECCOMP_H
#define ISOLA_CTR_SECCOMP_H

#include <linux/filter.h>

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

/* A compiled filter, ready for seccomp(2). */
struct seccomp_prog {
        struct sock_filter *insns; /* NULL: no filter */
        unsigned short len;
        unsigned flags; /* SECCOMP_FILTER_FLAG_* from linux.seccomp.flags */
};

/* Compiles the filter (sc == NULL gives an empty program), through the
 * cache directory cache_dir (created 0700; ignored unless owned by us and not
 * group/other-writable; NULL = no cache). Call it before pivot_root so the
 * cache is reachable, e.g. before rootfs_setup in the init child; a cache hit
 * costs one small file read instead of ~9 ms of libseccomp for a default
 * podman profile. */
int seccomp_prepare(const struct spec_seccomp *sc, const char *cache_dir, struct seccomp_prog *out,
                    struct isola_err *err);

/* Loads a prepared program (the last step before execve); an empty one is a
 * no-op. Same privilege rule as seccomp_apply. */
int seccomp_load_prepared(const struct seccomp_prog *prog, struct isola_err *err);

void seccomp_prog_free(struct seccomp_prog *prog);

#endif
