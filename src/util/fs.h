/* Small file-system helpers shared by every component. */
#ifndef ISOLA_UTIL_FS_H
#define ISOLA_UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

/* Reads a whole file into a NUL-terminated heap buffer; *len_out excludes the NUL. */
int fs_read_file(const char *path, char **buf_out, size_t *len_out, struct isola_err *err);
/* Reads at most max bytes from an already open fd into a NUL-terminated buffer. */
int fs_read_fd(int fd, size_t max, char **buf_out, size_t *len_out, struct isola_err *err);
/* Writes buf to path (O_WRONLY|O_TRUNC, creating with mode when flags contain O_CREAT). */
int fs_write_file(const char *path, const void *buf, size_t len, int flags, mode_t mode,
                  struct isola_err *err);
/* Writes a string to an existing file such as a cgroup or /proc knob. */
int fs_write_str(const char *path, const char *str, struct isola_err *err);
/* mkdir -p; existing directories are fine. */
int fs_mkdir_p(const char *path, mode_t mode, struct isola_err *err);
/* Writes all of buf to fd, retrying on EINTR and short writes. */
int fs_write_all(int fd, const void *buf, size_t len);
/* The same at offset off (pwrite); -1 with errno. */
int fs_pwrite_all(int fd, const void *buf, size_t len, off_t off);

#endif
