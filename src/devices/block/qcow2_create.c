/* Creates qcow2 v3 images in qemu's own layout: header cluster (header,
 * backing-format extension, end marker, backing name), one refcount-table
 * cluster, one refcount block, then the L1 table. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/block/qcow2.h"
#include "util/fs.h"

#define CREATE_CLUSTER_BITS 16u

static void put32(uint8_t *p, uint32_t v)
{
        v = htobe32(v);
        memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
        v = htobe64(v);
        memcpy(p, &v, 8);
}

/* Opens the backing file the way the new image will (relative to the new
 * image's directory) to check it and learn its size and format. */
static int probe_backing(const char *path, const char *backing, const char *fmt_name,
                         uint64_t *size, const char **fmt_out, struct isola_err *err)
{
        enum bdev_format fmt = BDEV_FMT_AUTO;
        if (fmt_name && bdev_parse_format(fmt_name, &fmt, err) < 0)
                return -1;
        char *full;
        if (bdev_backing_path(path, backing, &full, err) < 0)
                return -1;
        struct bdev *bd;
        int rc = bdev_open_chain(full, fmt, BDEV_RDONLY, NULL, &bd, err);
        free(full);
        if (rc < 0)
                return err_prefix(err, "%s: backing file", path);
        if (*size == 0)
                *size = bd->size;
        *fmt_out = bdev_format_name(bd->fmt);
        bdev_close(bd);
        return 0;
}

/* Fills the header cluster; returns -1 if the backing name does not fit. */
static int build_header(uint8_t *h, uint64_t cs, uint64_t size, uint32_t l1_size,
                        const char *backing, const char *fmt)
{
        put32(h, QCOW2_MAGIC);
        put32(h + 4, 3);
        put32(h + 20, CREATE_CLUSTER_BITS);
        put64(h + 24, size);
        put32(h + 36, l1_size);
        put64(h + 40, 3 * cs);
        put64(h + 48, cs);
        put32(h + 56, 1);
        put32(h + 96, 4); /* 16-bit refcounts, qemu's default */
        put32(h + 100, QCOW2_V3_HEADER_LEN);
        size_t pos = QCOW2_V3_HEADER_LEN;
        if (backing) {
                size_t flen = strlen(fmt), blen = strlen(backing);
                put32(h + pos, QCOW2_EXT_BACKING_FMT);
                put32(h + pos + 4, (uint32_t)flen);
                memcpy(h + pos + 8, fmt, flen);
                pos += 8 + ((flen + 7) & ~(size_t)7);
                pos += 8; /* end-of-extensions marker: zeros */
                if (blen == 0 || blen > QCOW2_MAX_BACKING_NAME || pos + blen > cs)
                        return -1;
                memcpy(h + pos, backing, blen);
                put64(h + 8, pos);
                put32(h + 16, (uint32_t)blen);
        }
        return 0;
}

static int write_image(int fd, const char *path, uint64_t size, const char *backing,
                       const char *fmt, struct isola_err *err)
{
        const uint64_t cs = 1ull << CREATE_CLUSTER_BITS;
        uint64_t per_l1 = cs * (cs / 8);
        uint64_t l1_size = (size + per_l1 - 1) / per_l1;
        uint64_t l1_clusters = (l1_size * 8 + cs - 1) / cs;
        if (l1_clusters == 0)
                l1_clusters = 1;
        uint64_t nclusters = 3 + l1_clusters;
        /* the first three clusters in memory; the L1 table is all zeros */
        uint8_t *img = calloc(3, cs);
        if (!img)
                return err_set(err, ENOMEM, "%s: out of memory", path);
        if (build_header(img, cs, size, (uint32_t)l1_size, backing, fmt) < 0) {
                free(img);
                return err_set(err, ENAMETOOLONG, "%s: backing file name too long", path);
        }
        put64(img + cs, 2 * cs); /* refcount table -> block at cluster 2 */
        for (uint64_t c = 0; c < nclusters; c++)
                img[2 * cs + c * 2 + 1] = 1; /* 16-bit big-endian refcount 1 */
        int wrc = fs_write_all(fd, img, 3 * cs);
        free(img);
        if (wrc < 0)
                return err_sys(err, "%s: write", path);
        if (ftruncate(fd, (off_t)(nclusters * cs)) < 0)
                return err_sys(err, "%s: truncate", path);
        if (fsync(fd) < 0)
                return err_sys(err, "%s: fsync", path);
        return 0;
}

int bdev_qcow2_create(const char *path, uint64_t size, const char *backing_path,
                      const char *backing_fmt, struct isola_err *err)
{
        const char *fmt = NULL;
        if (backing_path && probe_backing(path, backing_path, backing_fmt, &size, &fmt, err) < 0)
                return -1;
        if (!backing_path && backing_fmt)
                return err_set(err, EINVAL, "%s: a backing format needs a backing file", path);
        /* 1 PiB keeps the L1 table within one refcount block's reach */
        if (size == 0 || size > (1ull << 50))
                return err_set(err, EINVAL, "%s: size %llu out of range (1 byte .. 1 PiB)", path,
                               (unsigned long long)size);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
                return err_sys(err, "%s: create", path);
        int rc = write_image(fd, path, size, backing_path, fmt, err);
        close(fd);
        if (rc < 0)
                unlink(path);
        return rc;
}
