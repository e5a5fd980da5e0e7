/* Disks in snapshots: at snapshot time every writable disk image is copied
 * into the snapshot (a reflink where the file system has them, so the copy
 * costs no time or space until the VM writes); revert copies it back and a
 * restore under a new name copies it beside the original. Copies go to a
 * temporary name, are fsync'ed and renamed, so a crash never leaves a half
 * image under a real name. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/block/bdev.h"
#include "devices/dev_state.h"
#include "util/cleanup.h"
#include "vmm/machine.h"
#include "vmm/snapshot.h"

static int copy_data(int in, int out, off_t size, const char *src, struct isola_err *err)
{
        if (ioctl(out, FICLONE, in) == 0)
                return 0;
        off_t done = 0;
        while (done < size) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)(size - done), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return err_sys(err, "copying '%s'", src);
                done += n;
        }
        return 0;
}

int snap_copy_file(const char *src, const char *dst, struct isola_err *err)
{
        char tmp[PATH_MAX];
        struct stat sb;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp-%d", dst, (int)getpid()) >= (int)sizeof(tmp))
                return err_set(err, ENAMETOOLONG, "'%s': path too long", dst);
        _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0 || fstat(in, &sb) < 0)
                return err_sys(err, "disk image '%s'", src);
        if (!S_ISREG(sb.st_mode))
                return err_set(err, EINVAL, "disk image '%s': not a regular file", src);
        unlink(tmp);
        _cleanup_close_ int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out < 0)
                return err_sys(err, "creating '%s'", tmp);
        int rc = copy_data(in, out, sb.st_size, src, err);
        if (rc == 0 && (ftruncate(out, sb.st_size) < 0 || fsync(out) < 0 || rename(tmp, dst) < 0))
                rc = err_sys(err, "writing '%s'", dst);
        if (rc < 0)
                unlink(tmp);
        return rc;
}

static bool is_qcow2(const char *path)
{
        unsigned char magic[4] = {0};
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        return fd >= 0 && pread(fd, magic, 4, 0) == 4 && !memcmp(magic, "QFI\xfb", 4);
}

int snap_overlay(const char *base, const char *dst, struct isola_err *err)
{
        char tmp[PATH_MAX];
        struct bdev *bd;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp-%d", dst, (int)getpid()) >= (int)sizeof(tmp))
                return err_set(err, ENAMETOOLONG, "'%s': path too long", dst);
        if (bdev_open(base, BDEV_FMT_QCOW2, BDEV_RDONLY, &bd, err) < 0)
                return -1;
        uint64_t size = bd->size;
        bdev_close(bd);
        unlink(tmp);
        if (bdev_qcow2_create(tmp, size, base, "qcow2", err) < 0)
                return -1;
        _cleanup_close_ int fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0 || rename(tmp, dst) < 0) {
                err_sys(err, "new overlay '%s'", dst);
                unlink(tmp);
                return -1;
        }
        return 0;
}

static void disk_file(char *out, size_t len, const char *dir, unsigned i, bool qcow2)
{
        snprintf(out, len, "%s/disk%u%s", dir, i, qcow2 ? ".qcow2" : "");
}

/* Every writable disk is flushed first. A qcow2 image is frozen: moved into
 * the snapshot (same file system) and, once the snapshot is in place, the
 * VM continues on a new overlay at the disk's path (snap_disks_continue).
 * Raw images, and qcow2 ones on another file system, are copied. */
int snap_disks_save(const struct machine_parts *p, const struct machine_config *cfg,
                    const char *tmp, bool frozen[], struct isola_err *err)
{
        char dst[PATH_MAX];

        if (p->ide && ide_flush_disk(p->ide, err) < 0)
                return -1;
        for (unsigned i = 0; i < SNAP_MAX_DISKS; i++)
                if (p->blk[i] && virtio_blk_flush_disk(p->blk[i], err) < 0)
                        return -1;
        for (unsigned i = 0; i < cfg->n_disks && i < SNAP_MAX_DISKS; i++) {
                const char *path = cfg->disks[i].path;
                frozen[i] = false;
                if (cfg->disks[i].readonly)
                        continue;
                if (is_qcow2(path)) {
                        disk_file(dst, sizeof(dst), tmp, i, true);
                        if (rename(path, dst) == 0) {
                                frozen[i] = true;
                                continue;
                        }
                        if (errno != EXDEV) {
                                snap_disks_unfreeze(cfg, tmp, frozen);
                                return err_sys(err, "freezing disk '%s'", path);
                        }
                }
                disk_file(dst, sizeof(dst), tmp, i, false);
                if (snap_copy_file(path, dst, err) < 0) {
                        snap_disks_unfreeze(cfg, tmp, frozen);
                        return -1;
                }
        }
        return 0;
}

void snap_disks_unfreeze(const struct machine_config *cfg, const char *dir, bool frozen[])
{
        char src[PATH_MAX];

        for (unsigned i = 0; i < cfg->n_disks && i < SNAP_MAX_DISKS; i++) {
                if (!frozen[i])
                        continue;
                disk_file(src, sizeof(src), dir, i, true);
                if (rename(src, cfg->disks[i].path) == 0)
                        frozen[i] = false;
        }
}

/* The VM's disk i opens path afresh (the device keeps its state). */
static int disk_reopen(const struct machine_parts *p, const struct machine_disk *d, unsigned i,
                       struct isola_err *err)
{
        return d->bus == MACHINE_DISK_IDE ? ide_reopen_disk(p->ide, d->path, err)
                                          : virtio_blk_reopen_disk(p->blk[i], d->path, err);
}

int snap_disks_continue(const struct machine_parts *p, const struct machine_config *cfg,
                        const char *dir, bool frozen[], struct isola_err *err)
{
        char base[PATH_MAX];

        for (unsigned i = 0; i < cfg->n_disks && i < SNAP_MAX_DISKS; i++) {
                if (!frozen[i])
                        continue;
                const struct machine_disk *d = &cfg->disks[i];
                disk_file(base, sizeof(base), dir, i, true);
                int rc = snap_overlay(base, d->path, err);
                if (rc == 0)
                        rc = disk_reopen(p, d, i, err);
                if (rc < 0) {
                        /* The VM keeps writing the image it has open: it
                         * must not stay inside the snapshot. */
                        unlink(d->path);
                        if (rename(base, d->path) == 0)
                                frozen[i] = false;
                        return err_prefix(err, "disk %u", i);
                }
        }
        return 0;
}

/* An incoming migration's destination opened the disks before the source
 * flushed them (qcow2 metadata): it opens them again before it loads the
 * state, so no table read earlier is used. */
static int disks_reopen(const struct machine_parts *p, const struct machine_config *cfg,
                        struct isola_err *err)
{
        for (unsigned i = 0; i < cfg->n_disks && i < SNAP_MAX_DISKS; i++)
                if (disk_reopen(p, &cfg->disks[i], i, err) < 0)
                        return err_prefix(err, "disk %u", i);
        return 0;
}

int snapshot_restore_incoming(struct machine *m, const struct machine_config *cfg, const char *dir,
                              bool mapped, const uint8_t *state, size_t len, struct isola_err *err)
{
        struct machine_parts p;

        machine_get_parts(m, &p);
        if (disks_reopen(&p, cfg, err) < 0)
                return err_prefix(err, "incoming migration");
        return state ? snapshot_restore_state(m, dir, mapped, state, len, err)
                     : snapshot_restore(m, dir, mapped, err);
}

/* Where a snapshot's disk i goes back: a new overlay over its frozen qcow2
 * image, or a copy of its raw copy. */
int snap_disk_put(const char *snap, unsigned i, const char *dst, struct isola_err *err)
{
        char src[PATH_MAX];
        struct stat sb;

        disk_file(src, sizeof(src), snap, i, true);
        if (stat(src, &sb) == 0)
                return snap_overlay(src, dst, err);
        disk_file(src, sizeof(src), snap, i, false);
        return snap_copy_file(src, dst, err);
}
