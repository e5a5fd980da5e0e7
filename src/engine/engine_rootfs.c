/* A container's root file system: an overlayfs of its lower dirs (the
 * image's unpacked layers, shared by every container of the image) with the
 * container's own upper and work dirs, mounted at <ctrdir>/merged in the
 * host's mount namespace. Layers are added one by one with fsconfig's
 * "lowerdir+" so the page-size limit of the mount(2) option string does not
 * bound the number of layers. */
#include "engine/engine_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"

int eng_rootfs_lowers(struct eng_ctx *c, const struct eng_container *ct, char ***out, size_t *n_out,
                      struct isola_err *err)
{
        struct eng_config cfg;

        if (ct->image_id && *ct->image_id)
                return eng_image_layers(c, ct->image_id, out, n_out, err);
        if (eng_container_config(ct, &cfg, err) < 0)
                return -1;
        if (!cfg.rootfs) {
                eng_config_free(&cfg);
                return err_set(err, EINVAL, "container '%s' has neither image nor rootfs",
                               ct->name);
        }
        *out = calloc(2, sizeof(char *));
        if (*out)
                (*out)[0] = steal_ptr(&cfg.rootfs);
        eng_config_free(&cfg);
        *n_out = 1;
        return *out ? 0 : err_set(err, ENOMEM, "out of memory");
}

bool eng_rootfs_mounted(const struct eng_ctx *c, const char *id)
{
        char dir[PATH_MAX], merged[PATH_MAX];
        struct stat a, b;

        eng_ctr_path(c, id, NULL, dir, sizeof(dir));
        eng_ctr_path(c, id, "merged", merged, sizeof(merged));
        return stat(dir, &a) == 0 && stat(merged, &b) == 0 && a.st_dev != b.st_dev;
}

static int fsconfig_str(int fd, const char *key, const char *value, struct isola_err *err)
{
        if (fsconfig(fd, FSCONFIG_SET_STRING, key, value, 0) < 0)
                return err_sys(err, "overlay %s '%s'", key, value);
        return 0;
}

/* volatile: no syncfs of the upper dir on unmount; for --rm containers,
 * whose upper dir is deleted right after. */
static int mount_overlay(char **lowers, size_t n, const char *upper, const char *work,
                         const char *merged, bool volatile_upper, struct isola_err *err)
{
        _cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
        _cleanup_close_ int mnt = -1;

        if (fs < 0)
                return err_sys(err, "fsopen overlay");
        /* lowerdir+ stacks in the order given, top-most first */
        for (size_t i = n; i-- > 0;)
                if (fsconfig_str(fs, "lowerdir+", lowers[i], err) < 0)
                        return -1;
        if (fsconfig_str(fs, "upperdir", upper, err) < 0 ||
            fsconfig_str(fs, "workdir", work, err) < 0)
                return -1;
        if (volatile_upper && fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0)
                return err_sys(err, "overlay volatile");
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return err_sys(err, "create overlay");
        mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
        if (mnt < 0)
                return err_sys(err, "fsmount overlay");
        if (move_mount(mnt, "", AT_FDCWD, merged, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return err_sys(err, "mount overlay on '%s'", merged);
        return 0;
}

int eng_rootfs_mount(struct eng_ctx *c, const char *id, struct isola_err *err)
{
        struct eng_container *ct = NULL;
        struct eng_config cfg = {0};
        char **lowers = NULL;
        size_t n = 0;
        int rc;

        if (eng_rootfs_mounted(c, id))
                return 0;
        if (eng_get(c, id, &ct, err) < 0)
                return -1;
        rc = eng_container_config(ct, &cfg, err);
        if (rc == 0)
                rc = eng_rootfs_lowers(c, ct, &lowers, &n, err);
        eng_container_free(ct);
        if (rc == 0)
                rc = eng_rootfs_mount_lowers(c, id, lowers, n, cfg.auto_remove, err);
        for (size_t i = 0; i < n; i++)
                free(lowers[i]);
        free(lowers);
        eng_config_free(&cfg);
        return rc;
}

int eng_rootfs_mount_lowers(struct eng_ctx *c, const char *id, char **lowers, size_t n,
                            bool volatile_upper, struct isola_err *err)
{
        char upper[PATH_MAX], work[PATH_MAX], merged[PATH_MAX];

        eng_ctr_path(c, id, "upper", upper, sizeof(upper));
        eng_ctr_path(c, id, "work", work, sizeof(work));
        eng_ctr_path(c, id, "merged", merged, sizeof(merged));
        if (mount_overlay(lowers, n, upper, work, merged, volatile_upper, err) < 0)
                return err_prefix(err, "root file system of '%.12s'", id);
        return 0;
}

int eng_rootfs_umount(struct eng_ctx *c, const char *id, struct isola_err *err)
{
        char merged[PATH_MAX];

        eng_ctr_path(c, id, "merged", merged, sizeof(merged));
        while (eng_rootfs_mounted(c, id)) {
                if (umount2(merged, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                        return err_sys(err, "unmount '%s'", merged);
        }
        return 0;
}

int eng_rmtree_async(struct eng_ctx *c, const char *path, const char *tag, struct isola_err *err)
{
        char trash[PATH_MAX];
        pid_t child;

        snprintf(trash, sizeof(trash), "%s/tmp/rm-%s", c->paths.root, tag);
        if (rename(path, trash) < 0)
                return eng_rmtree(path, err);
        if (c->trash_by_monitor)
                return 0;
        /* double fork: the remover is nobody's child to reap */
        child = fork();
        if (child < 0)
                return eng_rmtree(trash, err);
        if (child == 0) {
                if (fork() == 0) {
                        struct isola_err ignore = {0};
                        setsid();
                        eng_rmtree(trash, &ignore);
                }
                _exit(0);
        }
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
                ;
        return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
        (void)sb;
        (void)ftw;
        if (flag == FTW_DP)
                return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
        return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int eng_rmtree(const char *path, struct isola_err *err)
{
        struct stat sb;

        if (lstat(path, &sb) < 0)
                return errno == ENOENT ? 0 : err_sys(err, "'%s'", path);
        if (nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
                return err_sys(err, "remove '%s'", path);
        return 0;
}

/* Bytes allocated below dirfd (which it closes), not crossing mounts. */
static uint64_t du_dir(int dirfd, dev_t dev, int depth)
{
        DIR *d = fdopendir(dirfd);
        struct dirent *e;
        uint64_t total = 0;

        if (!d) {
                close(dirfd);
                return 0;
        }
        while ((e = readdir(d))) {
                struct stat sb;
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
                    fstatat(dirfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || sb.st_dev != dev)
                        continue;
                total += (uint64_t)sb.st_blocks * 512;
                if (S_ISDIR(sb.st_mode) && depth < 256) {
                        int sub = openat(dirfd, e->d_name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0)
                                total += du_dir(sub, dev, depth + 1);
                }
        }
        closedir(d);
        return total;
}

uint64_t eng_du(const char *path)
{
        struct stat sb;
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0)
                return 0;
        if (fstat(fd, &sb) < 0) {
                close(fd);
                return 0;
        }
        return (uint64_t)sb.st_blocks * 512 + du_dir(fd, sb.st_dev, 0);
}
