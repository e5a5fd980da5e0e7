/* File helpers: whole-file reads and writes, mkdir -p. */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

int fs_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = pwrite(fd, p, len, off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (n == 0)
                                errno = EIO;
                        return -1;
                }
                p += n;
                len -= (size_t)n;
                off += n;
        }
        return 0;
}

int fs_write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int fs_read_fd(int fd, size_t max, char **buf_out, size_t *len_out, struct isola_err *err)
{
        size_t cap = 4096, len = 0;
        _cleanup_free_ char *buf = malloc(cap + 1);

        if (!buf)
                return err_set(err, ENOMEM, "out of memory");
        for (;;) {
                ssize_t n;
                if (len == cap) {
                        char *grown;
                        if (cap >= max)
                                return err_set(err, EFBIG, "file larger than %zu bytes", max);
                        cap = cap * 2 > max ? max : cap * 2;
                        grown = realloc(buf, cap + 1);
                        if (!grown)
                                return err_set(err, ENOMEM, "out of memory");
                        buf = grown;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return err_sys(err, "read");
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        if (len_out)
                *len_out = len;
        *buf_out = steal_ptr(&buf);
        return 0;
}

int fs_read_file(const char *path, char **buf_out, size_t *len_out, struct isola_err *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return err_sys(err, "open '%s'", path);
        if (fs_read_fd(fd, 64u << 20, buf_out, len_out, err) < 0)
                return err_prefix(err, "'%s'", path);
        return 0;
}

int fs_write_file(const char *path, const void *buf, size_t len, int flags, mode_t mode,
                  struct isola_err *err)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | flags, mode);

        if (fd < 0)
                return err_sys(err, "open '%s'", path);
        if (fs_write_all(fd, buf, len) < 0)
                return err_sys(err, "write '%s'", path);
        return 0;
}

int fs_write_str(const char *path, const char *str, struct isola_err *err)
{
        return fs_write_file(path, str, strlen(str), 0, 0, err);
}

int fs_mkdir_p(const char *path, mode_t mode, struct isola_err *err)
{
        char tmp[PATH_MAX];
        size_t len = strlen(path);

        if (len == 0 || len >= sizeof(tmp))
                return err_set(err, ENAMETOOLONG, "invalid directory path '%s'", path);
        memcpy(tmp, path, len + 1);
        for (char *p = tmp + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(tmp, mode) < 0 && errno != EEXIST)
                        return err_sys(err, "mkdir '%s'", tmp);
                *p = '/';
        }
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
                return err_sys(err, "mkdir '%s'", tmp);
        return 0;
}
