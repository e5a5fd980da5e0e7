/* The file copying half of COPY/ADD (copy_files.c). */
#ifndef ISOLA_BUILD_COPY_FILES_H
#define ISOLA_BUILD_COPY_FILES_H

#include <stdbool.h>
#include <sys/types.h>

#include "build/ignore.h"
#include "build/resolve.h"
#include "util/err.h"

struct bld_copy_job {
        int src_root, dst_root;      /* both resolved with RESOLVE_IN_ROOT */
        const struct bld_ignore *ig; /* context sources only */
        struct bld_owner own;        /* set: every copied file gets it */
        mode_t chmod;
        bool has_chmod, add, from_context;
};

/* Copies one source (a path in src_root) to dest (an absolute path in
 * dst_root) by Docker's rules; dest_slash: the destination was written
 * with a trailing '/'. */
int bld_copy_one(struct bld_copy_job *j, const char *src, const char *dest, bool dest_slash,
                 struct isola_err *err);

#endif
