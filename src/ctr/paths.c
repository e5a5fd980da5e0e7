/* linux.maskedPaths and linux.readonlyPaths, applied after pivot_root so the
 * paths resolve inside the container. Masking hides a file behind /dev/null
 * and a directory behind an empty read-only tmpfs; a read-only path is a
 * self-bind remounted read-only. Paths that do not exist are skipped. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctr/rootfs.h"
#include "ctr/rootfs_internal.h"
#include "util/cleanup.h"

static int open_existing(const char *path, struct isola_err *err)
{
        int fd = open(path, O_PATH | O_CLOEXEC);

        if (fd < 0 && errno != ENOENT && errno != ENOTDIR)
                return err_sys(err, "opening '%s'", path);
        return fd < 0 ? -2 : fd;
}

static int mask_path(const char *path, struct isola_err *err)
{
        _cleanup_close_ int fd = open_existing(path, err);
        struct stat st;

        if (fd == -2)
                return 0;
        if (fd < 0)
                return err_prefix(err, "maskedPaths");
        if (fstat(fd, &st) < 0)
                return err_sys(err, "maskedPaths: stat '%s'", path);
        if (S_ISDIR(st.st_mode)) {
                if (rootfs_mount_fd("tmpfs", fd, "tmpfs", MS_RDONLY, NULL) < 0)
                        return err_sys(err, "maskedPaths: read-only tmpfs over '%s'", path);
        } else if (rootfs_mount_fd("/dev/null", fd, NULL, MS_BIND, NULL) < 0) {
                return err_sys(err, "maskedPaths: bind of /dev/null over '%s'", path);
        }
        return 0;
}

static int readonly_path(const char *path, struct isola_err *err)
{
        _cleanup_close_ int fd = open_existing(path, err);
        _cleanup_close_ int mnt = -1;
        struct fd_path src;

        if (fd == -2)
                return 0;
        if (fd < 0)
                return err_prefix(err, "readonlyPaths");
        src = fd_path_of(fd);
        if (rootfs_mount_fd(src.s, fd, NULL, MS_BIND | MS_REC, NULL) < 0)
                return err_sys(err, "readonlyPaths: bind of '%s' onto itself", path);
        /* The remount must address the new bind, not the directory below. */
        mnt = open(path, O_PATH | O_CLOEXEC);
        if (mnt < 0)
                return err_sys(err, "readonlyPaths: reopening '%s'", path);
        if (rootfs_mount_fd(NULL, mnt, NULL,
                            MS_BIND | MS_REMOUNT | MS_RDONLY | rootfs_locked_flags(mnt), NULL) < 0)
                return err_sys(err, "readonlyPaths: remounting '%s' read-only", path);
        return 0;
}

int rootfs_apply_paths(const struct spec *spec, struct isola_err *err)
{
        for (size_t i = 0; i < spec->linux.n_masked_paths; i++)
                if (mask_path(spec->linux.masked_paths[i], err) < 0)
                        return -1;
        for (size_t i = 0; i < spec->linux.n_readonly_paths; i++)
                if (readonly_path(spec->linux.readonly_paths[i], err) < 0)
                        return -1;
        return 0;
}
