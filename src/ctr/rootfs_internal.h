/* Helpers shared by rootfs.c, rootfs_cgroup.c, devices.c and paths.c: safe
 * path resolution inside the container root and mount-by-fd. */
#ifndef ISOLA_CTR_ROOTFS_INTERNAL_H
#define ISOLA_CTR_ROOTFS_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "ctr/spec.h"
#include "util/err.h"

/* "/proc/self/fd/N": lets mount(2) act on what an O_PATH fd resolved to. */
struct fd_path {
        char s[32];
};
struct fd_path fd_path_of(int fd);

/* Like rootfs_open_in_root but creates missing components: directories, and
 * an empty file for the last one when last_is_file. Dangling symlinks are
 * followed (inside the root) and their target created. Returns an O_PATH fd. */
int rootfs_mkpath_in_root(int root_fd, const char *path, bool last_is_file, struct isola_err *err);

/* Flags a bind remount must keep or the kernel refuses it (EPERM) when they
 * are locked by a less privileged mount namespace: nosuid/nodev/noexec/atime. */
unsigned long rootfs_locked_flags(int fd);

/* mount(2) of `src` (may be NULL) onto what target_fd refers to. */
int rootfs_mount_fd(const char *src, int target_fd, const char *type, unsigned long flags,
                    const void *data);

/* True when the spec asks for a new or joined namespace of this kind. */
bool rootfs_has_ns(const struct spec *spec, enum spec_ns_kind kind);

/* Mounts a "cgroup"/"cgroup2" spec mount on target_fd (resolved inside the
 * root); m->destination names it in errors. */
int rootfs_mount_cgroup(const struct spec *spec, const struct spec_mount *m, int root_fd,
                        int target_fd, struct isola_err *err);

/* devices_setup on an already open root directory. */
int devices_setup_at(const struct spec *spec, int root_fd, int console_slave_fd, bool in_userns,
                     struct isola_err *err);

#endif
