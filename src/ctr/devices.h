/* /dev population inside the container: linux.devices, the OCI default
 * devices, the /dev/fd & std* symlinks, /dev/ptmx and /dev/console. */
#ifndef ISOLA_CTR_DEVICES_H
#define ISOLA_CTR_DEVICES_H

#include <stdbool.h>

#include "ctr/spec.h"
#include "util/err.h"

/* Creates the devices below rootfs_abs (before pivot_root). In a user
 * namespace mknod is not permitted, so host nodes are bind-mounted instead.
 * console_slave_fd >= 0 is bind-mounted on /dev/console. */
int devices_setup(const struct spec *spec, const char *rootfs_abs, int console_slave_fd,
                  bool in_userns, struct isola_err *err);

/* After pivot_root: bind-mounts the pty slave on /dev/console (created if
 * missing). Use it when the pty is opened from the container's own devpts
 * (open "/dev/ptmx" after rootfs_setup), so that the slave shows up as
 * /dev/pts/N inside the container as with runc; rootfs_setup pre-creates
 * /dev/console when process.terminal is set so this works under a
 * read-only root. */
int devices_bind_console(int slave_fd, struct isola_err *err);

#endif
