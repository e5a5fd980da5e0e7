/* qcow2 images as hostile as a guest: the input becomes a memfd that the
 * block layer opens by path (format forced to qcow2, writable), then reads
 * and writes at offsets chosen by the input's first bytes, including
 * partial-cluster writes that allocate and copy on write.
 * Seeds in corpus/qcow2/ come from qemu-img create -o cluster_size=512 (v3,
 * v2 via compat=0.10, refcount_bits=64, overlays on raw and qcow2) plus
 * qemu-io writes, so they stay a few KiB. Backing names resolve under
 * /proc/self/fd, which also exercises the chain-depth bound. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/block/bdev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t pick(const uint8_t *data, size_t size, size_t at, uint64_t lim)
{
        uint64_t v = 0;
        for (size_t i = 0; i < 8 && at + i < size; i++)
                v = v << 8 | data[at + i];
        return lim ? v % lim : 0;
}

static void exercise(struct bdev *bd, const uint8_t *data, size_t size)
{
        static uint8_t buf[70000];
        struct isola_err err;
        uint64_t n = bd->size < sizeof(buf) ? bd->size : sizeof(buf);
        if (n == 0)
                return;
        (void)bdev_pread(bd, buf, (size_t)n, 0, &err);
        uint64_t off = pick(data, size, 8, bd->size - n + 1);
        (void)bdev_pread(bd, buf, (size_t)n, off, &err);
        memset(buf, 0xa5, sizeof(buf));
        /* a partial write (copy-on-write) and a larger unaligned one */
        uint64_t woff = pick(data, size, 24, bd->size);
        size_t wlen = bd->size - woff < 777 ? (size_t)(bd->size - woff) : 777;
        (void)bdev_pwrite(bd, buf, wlen, woff, &err);
        off = pick(data, size, 40, bd->size - n + 1);
        struct iovec iov[2] = {{buf, (size_t)n / 3}, {buf + n / 3, (size_t)(n - n / 3)}};
        (void)bdev_pwritev(bd, iov, 2, off, &err);
        (void)bdev_preadv(bd, iov, 2, off, &err);
        (void)bdev_flush(bd, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char path[64];
        int fd = memfd_create("qcow2", MFD_CLOEXEC);
        if (fd < 0)
                return 0;
        if (write(fd, data, size) == (ssize_t)size) {
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                struct isola_err err;
                struct bdev *bd;
                if (bdev_open(path, BDEV_FMT_QCOW2, 0, &bd, &err) == 0) {
                        exercise(bd, data, size);
                        bdev_close(bd);
                } else if (bdev_open(path, BDEV_FMT_QCOW2, BDEV_RDONLY, &bd, &err) == 0) {
                        /* dirty, corrupt or with snapshots: still readable */
                        uint8_t b[4096];
                        (void)bdev_pread(bd, b, bd->size < sizeof(b) ? bd->size : sizeof(b), 0,
                                         &err);
                        bdev_close(bd);
                }
        }
        close(fd);
        return 0;
}
