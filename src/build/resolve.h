/* Paths and owners inside a build root (see resolve.c). */
#ifndef ISOLA_BUILD_RESOLVE_H
#define ISOLA_BUILD_RESOLVE_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/err.h"

struct bld_owner {
        uid_t uid;
        gid_t gid;
        bool set;
};

/* openat2 with RESOLVE_IN_ROOT (path absolute or relative to the root);
 * -1 with errno. */
int bld_open_in_root(int rootfd, const char *path, int flags, mode_t mode);
/* mkdir -p inside the root; new directories get mode and own (may be
 * NULL). Returns an O_PATH fd of the directory. */
int bld_mkdir_in_root(int rootfd, const char *path, mode_t mode, const struct bld_owner *own,
                      struct isola_err *err);
/* "user[:group]" by id or by name from the root's /etc/passwd and
 * /etc/group. chown: COPY --chown rules (a user alone means gid = uid);
 * otherwise USER rules (the passwd group, else 0). */
int bld_lookup_owner(int rootfd, const char *spec, bool chown, struct bld_owner *out,
                     struct isola_err *err);

#endif
