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

#endif
