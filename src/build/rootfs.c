/* Build root file systems: an overlayfs of a stage's unpacked layers (from
 * the store, shared with every container) and a fresh upper dir in the
 * build's scratch dir; the upper dir is what the step changed. Layers are
 * stacked one by one with fsconfig's "lowerdir+", so their number is not
 * bounded by the mount(2) option page. The scratch dir of a build is
 * removed when the build ends, whatever happened. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/build_internal.h"
#include "util/cleanup.h"

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
        (void)sb;
        (void)ftw;
        if (flag == FTW_DP || flag == FTW_D)
                rmdir(path);
        else
                unlink(path);
        return 0;
}

void bld_rmtree(const char *path)
{
        /* FTW_MOUNT: never descend into something still mounted */
        nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int bld_mkscratch(struct bld_ctx *c, const char *what, char *buf, size_t len, struct isola_err *err)
{
        if (snprintf(buf, len, "%s/%s-%u", c->tmp, what, ++c->seq) >= (int)len)
                return err_set(err, ENAMETOOLONG, "scratch path too long");
        if (mkdir(buf, 0700) < 0)
                return err_sys(err, "mkdir '%s'", buf);
        return 0;
}

static int sub(const char *dir, const char *name, char *buf, size_t len, mode_t mode,
               struct isola_err *err)
{
        if (snprintf(buf, len, "%s/%s", dir, name) >= (int)len)
                return err_set(err, ENAMETOOLONG, "path too long");
        if (mkdir(buf, mode) < 0)
                return err_sys(err, "mkdir '%s'", buf);
        return 0;
}

static int fsconfig_str(int fd, const char *key, const char *value, struct isola_err *err)
{
        if (fsconfig(fd, FSCONFIG_SET_STRING, key, value, 0) < 0)
                return err_sys(err, "overlay %s '%s'", key, value);
        return 0;
}

static int overlay(struct bld_ctx *c, const struct bld_state *st, const struct bld_mount *m,
                   const char *work, const char *empty, struct isola_err *err)
{
        _cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0)
                return err_sys(err, "fsopen overlay");
        if (st->n_layers == 0 && fsconfig_str(fs, "lowerdir+", empty, err) < 0)
                return -1;
        for (size_t i = st->n_layers; i-- > 0;) { /* top-most first */
                char dir[PATH_MAX];
                img_layer_dir(c->s, st->layers[i].diff_id, dir, sizeof(dir));
                if (fsconfig_str(fs, "lowerdir+", dir, err) < 0)
                        return -1;
        }
        if (fsconfig_str(fs, "upperdir", m->upper, err) < 0 ||
            fsconfig_str(fs, "workdir", work, err) < 0)
                return -1;
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return err_sys(err, "overlay mount");
        _cleanup_close_ int mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
        if (mnt < 0 || move_mount(mnt, "", AT_FDCWD, m->merged, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return err_sys(err, "overlay mount on '%s'", m->merged);
        return 0;
}

int bld_mount(struct bld_ctx *c, const struct bld_state *st, struct bld_mount *m,
              struct isola_err *err)
{
        char work[PATH_MAX], empty[PATH_MAX] = "";
        memset(m, 0, sizeof(*m));
        if (bld_mkscratch(c, "fs", m->dir, sizeof(m->dir), err) < 0)
                return -1;
        /* scratch: overlay needs one lower dir, an empty one does */
        if (sub(m->dir, "upper", m->upper, sizeof(m->upper), 0755, err) < 0 ||
            sub(m->dir, "work", work, sizeof(work), 0700, err) < 0 ||
            sub(m->dir, "merged", m->merged, sizeof(m->merged), 0755, err) < 0 ||
            (st->n_layers == 0 && sub(m->dir, "empty", empty, sizeof(empty), 0755, err) < 0) ||
            overlay(c, st, m, work, empty, err) < 0) {
                bld_rmtree(m->dir);
                m->dir[0] = '\0';
                return -1;
        }
        m->mounted = true;
        return 0;
}

void bld_unmount(struct bld_mount *m)
{
        /* lazy: a process that still holds the mount cannot keep it alive */
        if (m->mounted && (umount2(m->merged, MNT_DETACH) == 0 || errno == EINVAL))
                m->mounted = false;
}

void bld_mount_free(struct bld_mount *m)
{
        bld_unmount(m);
        if (m->dir[0] && !m->mounted) /* never walk a tree that is still mounted */
                bld_rmtree(m->dir);
        m->dir[0] = '\0';
}
