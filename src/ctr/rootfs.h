/* Container root file system set-up, run in the init child after the
 * namespaces exist: mounts from the spec, /dev, pivot_root (or chroot),
 * masked/read-only paths and a read-only root. */
#ifndef ISOLA_CTR_ROOTFS_H
#define ISOLA_CTR_ROOTFS_H

#include <stdbool.h>

#include "ctr/spec.h"
#include "util/err.h"

/* Performs the whole file-system set-up in the current (new) mount namespace:
 * rootfs propagation, self-bind of rootfs_abs, every spec mount (destinations
 * resolved inside the rootfs, never through a symlink that escapes it),
 * devices (see devices.h), pivot_root (or MS_MOVE + chroot when no_pivot),
 * linux.sysctl (process_sysctl_apply: it must precede readonlyPaths, which
 * usually cover /proc/sys; calling process_sysctl_apply again afterwards is
 * harmless), masked and read-only paths, and a read-only root when
 * root.readonly.
 * console_slave_fd (or -1) is bind-mounted on /dev/console; better, pass -1
 * and after this call open the pty from the container's /dev/ptmx and call
 * devices_bind_console, so the slave is /dev/pts/N inside (as with runc).
 * in_userns: switches to uid/gid 0 of the new user namespace first if the
 * caller has not, and bind-mounts host device nodes instead of mknod.
 * Afterwards the cwd is "/" of the container. */
int rootfs_setup(const struct spec *spec, const char *rootfs_abs, int console_slave_fd,
                 bool no_pivot, bool in_userns, struct isola_err *err);

/* Step-by-step entry points used by rootfs_setup (exposed for tests). */

/* Opens path (relative to the directory root_fd) without letting any
 * component (symlinks, "..") leave root_fd; returns an O_PATH fd. */
int rootfs_open_in_root(int root_fd, const char *path, int flags, struct isola_err *err);

/* Mounts every spec mount below rootfs_abs (already a mount point). */
int rootfs_mount_all(const struct spec *spec, const char *rootfs_abs, struct isola_err *err);

/* Makes rootfs_abs the new root; cwd becomes "/". */
int rootfs_pivot(const char *rootfs_abs, bool no_pivot, struct isola_err *err);

/* maskedPaths and readonlyPaths, relative to the current root (after pivot). */
int rootfs_apply_paths(const struct spec *spec, struct isola_err *err);

/* Remounts "/" read-only (after pivot). */
int rootfs_readonly_root(struct isola_err *err);

#endif
