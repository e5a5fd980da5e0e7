/* The block-device front: format detection, the chain opener, argument
 * checks shared by every back end, and the raw (plain file) back end. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/block/bdev.h"
#include "util/cleanup.h"

struct raw_priv {
        int fd;
};

size_t bdev_iov_len(const struct iovec *iov, int iovcnt)
{
        size_t n = 0;
        for (int i = 0; i < iovcnt; i++)
                n += iov[i].iov_len;
        return n;
}

static void iov_copy(const struct iovec *iov, int iovcnt, size_t skip, void *buf, size_t len,
                     bool to_buf)
{
        char *p = buf;
        for (int i = 0; i < iovcnt && len > 0; i++) {
                if (skip >= iov[i].iov_len) {
                        skip -= iov[i].iov_len;
                        continue;
                }
                size_t n = iov[i].iov_len - skip;
                if (n > len)
                        n = len;
                char *base = (char *)iov[i].iov_base + skip;
                if (to_buf)
                        memcpy(p, base, n);
                else
                        memcpy(base, p, n);
                p += n;
                len -= n;
                skip = 0;
        }
}

void bdev_iov_to_buf(const struct iovec *iov, int iovcnt, size_t skip, void *buf, size_t len)
{
        iov_copy(iov, iovcnt, skip, buf, len, true);
}

void bdev_iov_from_buf(const struct iovec *iov, int iovcnt, size_t skip, const void *buf,
                       size_t len)
{
        iov_copy(iov, iovcnt, skip, (void *)buf, len, false);
}

const char *bdev_format_name(enum bdev_format fmt)
{
        switch (fmt) {
        case BDEV_FMT_RAW:
                return "raw";
        case BDEV_FMT_QCOW2:
                return "qcow2";
        default:
                return "auto";
        }
}

int bdev_parse_format(const char *name, enum bdev_format *out, struct isola_err *err)
{
        if (!strcmp(name, "raw"))
                *out = BDEV_FMT_RAW;
        else if (!strcmp(name, "qcow2"))
                *out = BDEV_FMT_QCOW2;
        else if (!strcmp(name, "auto"))
                *out = BDEV_FMT_AUTO;
        else
                return err_set(err, EINVAL, "unknown disk format '%s' (raw, qcow2)", name);
        return 0;
}

/* A request must lie inside the device; it is checked here once so back ends
 * can trust off + len. */
static int check_range(struct bdev *bd, const struct iovec *iov, int iovcnt, uint64_t off,
                       struct isola_err *err)
{
        if (iovcnt < 0 || iovcnt > IOV_MAX)
                return err_set(err, EINVAL, "%s: bad iovec count %d", bd->path, iovcnt);
        uint64_t len = bdev_iov_len(iov, iovcnt);
        if (off > bd->size || len > bd->size - off)
                return err_set(err, EINVAL, "%s: request at %llu+%llu beyond size %llu", bd->path,
                               (unsigned long long)off, (unsigned long long)len,
                               (unsigned long long)bd->size);
        return 0;
}

int bdev_preadv(struct bdev *bd, const struct iovec *iov, int iovcnt, uint64_t off,
                struct isola_err *err)
{
        if (check_range(bd, iov, iovcnt, off, err) < 0)
                return -1;
        return bd->ops->preadv(bd, iov, iovcnt, off, err);
}

int bdev_pwritev(struct bdev *bd, const struct iovec *iov, int iovcnt, uint64_t off,
                 struct isola_err *err)
{
        if (bd->read_only)
                return err_set(err, EROFS, "%s: opened read-only", bd->path);
        if (check_range(bd, iov, iovcnt, off, err) < 0)
                return -1;
        return bd->ops->pwritev(bd, iov, iovcnt, off, err);
}

int bdev_pread(struct bdev *bd, void *buf, size_t len, uint64_t off, struct isola_err *err)
{
        struct iovec iov = {.iov_base = buf, .iov_len = len};
        return bdev_preadv(bd, &iov, 1, off, err);
}

int bdev_pwrite(struct bdev *bd, const void *buf, size_t len, uint64_t off, struct isola_err *err)
{
        struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
        return bdev_pwritev(bd, &iov, 1, off, err);
}

int bdev_flush(struct bdev *bd, struct isola_err *err)
{
        return bd->ops->flush(bd, err);
}

void bdev_close(struct bdev *bd)
{
        if (!bd)
                return;
        bdev_close(bd->backing);
        if (bd->ops)
                bd->ops->close(bd);
        free(bd->backing_name);
        free(bd->path);
        free(bd);
}

/* ---- raw ---- */

static int raw_preadv(struct bdev *bd, const struct iovec *iov, int iovcnt, uint64_t off,
                      struct isola_err *err)
{
        struct raw_priv *r = bd->priv;
        size_t want = bdev_iov_len(iov, iovcnt), done = 0;
        /* preadv may return short; retry from where it stopped. */
        while (done < want) {
                struct iovec tmp[1];
                ssize_t n;
                if (done == 0) {
                        n = preadv(r->fd, iov, iovcnt, (off_t)off);
                } else {
                        char buf[4096];
                        size_t len = want - done < sizeof(buf) ? want - done : sizeof(buf);
                        tmp[0] = (struct iovec){.iov_base = buf, .iov_len = len};
                        n = preadv(r->fd, tmp, 1, (off_t)(off + done));
                        if (n > 0)
                                bdev_iov_from_buf(iov, iovcnt, done, buf, (size_t)n);
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return err_sys(err, "%s: read at %llu", bd->path,
                                       (unsigned long long)(off + done));
                if (n == 0) {
                        /* a file shorter than its recorded size reads as zeros */
                        char zero[4096] = {0};
                        while (done < want) {
                                size_t len =
                                    want - done < sizeof(zero) ? want - done : sizeof(zero);
                                bdev_iov_from_buf(iov, iovcnt, done, zero, len);
                                done += len;
                        }
                        break;
                }
                done += (size_t)n;
        }
        return 0;
}

static int raw_pwritev(struct bdev *bd, const struct iovec *iov, int iovcnt, uint64_t off,
                       struct isola_err *err)
{
        struct raw_priv *r = bd->priv;
        size_t want = bdev_iov_len(iov, iovcnt), done = 0;
        while (done < want) {
                ssize_t n;
                if (done == 0) {
                        n = pwritev(r->fd, iov, iovcnt, (off_t)off);
                } else {
                        char buf[4096];
                        size_t len = want - done < sizeof(buf) ? want - done : sizeof(buf);
                        bdev_iov_to_buf(iov, iovcnt, done, buf, len);
                        n = pwrite(r->fd, buf, len, (off_t)(off + done));
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return err_sys(err, "%s: write at %llu", bd->path,
                                       (unsigned long long)(off + done));
                done += (size_t)n;
        }
        return 0;
}

static int raw_flush(struct bdev *bd, struct isola_err *err)
{
        struct raw_priv *r = bd->priv;
        if (fdatasync(r->fd) < 0)
                return err_sys(err, "%s: flush", bd->path);
        return 0;
}

static void raw_close(struct bdev *bd)
{
        struct raw_priv *r = bd->priv;
        if (r) {
                close(r->fd);
                free(r);
        }
}

static const struct bdev_ops raw_ops = {
    .preadv = raw_preadv,
    .pwritev = raw_pwritev,
    .flush = raw_flush,
    .close = raw_close,
};

int bdev_raw_open(const char *path, int flags, struct bdev **out, struct isola_err *err)
{
        bool ro = flags & BDEV_RDONLY;
        _cleanup_close_ int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return err_sys(err, "%s: open", path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return err_sys(err, "%s: stat", path);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                return err_set(err, EINVAL, "%s: not a regular file or block device", path);
        uint64_t size = (uint64_t)st.st_size;
        if (S_ISBLK(st.st_mode)) {
                off_t end = lseek(fd, 0, SEEK_END);
                if (end < 0)
                        return err_sys(err, "%s: size", path);
                size = (uint64_t)end;
        }
        struct bdev *bd = calloc(1, sizeof(*bd));
        struct raw_priv *r = calloc(1, sizeof(*r));
        char *p = strdup(path);
        if (!bd || !r || !p) {
                free(bd);
                free(r);
                free(p);
                return err_set(err, ENOMEM, "%s: out of memory", path);
        }
        r->fd = steal_fd(&fd);
        *bd = (struct bdev){.ops = &raw_ops,
                            .fmt = BDEV_FMT_RAW,
                            .size = size,
                            .read_only = ro,
                            .path = p,
                            .priv = r};
        *out = bd;
        return 0;
}

int bdev_backing_path(const char *image, const char *name, char **out, struct isola_err *err)
{
        if (name[0] == '/') {
                *out = strdup(name);
                return *out ? 0 : err_set(err, ENOMEM, "%s: out of memory", image);
        }
        const char *slash = strrchr(image, '/');
        int dlen = slash ? (int)(slash - image) : 1;
        const char *dir = slash ? image : ".";
        if (slash == image)
                dlen = 0; /* "/x.qcow2": the root directory */
        if (asprintf(out, "%.*s/%s", dlen, dir, name) < 0) {
                *out = NULL;
                return err_set(err, ENOMEM, "%s: out of memory", image);
        }
        return 0;
}

/* O_NONBLOCK on every open: a backing name from a hostile image may name a
 * FIFO, which would otherwise block in open(); regular files ignore it. */
static int detect_format(const char *path, enum bdev_format *out, struct isola_err *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return err_sys(err, "%s: open", path);
        unsigned char magic[4] = {0};
        ssize_t n = pread(fd, magic, sizeof(magic), 0);
        if (n < 0)
                return err_sys(err, "%s: read", path);
        *out = (n == 4 && !memcmp(magic, "QFI\xfb", 4)) ? BDEV_FMT_QCOW2 : BDEV_FMT_RAW;
        return 0;
}

int bdev_open_chain(const char *path, enum bdev_format fmt, int flags, const struct bdev_chain *up,
                    struct bdev **out, struct isola_err *err)
{
        if (up && up->depth + 1 >= BDEV_MAX_CHAIN)
                return err_set(err, ELOOP, "%s: backing chain deeper than %d", path,
                               BDEV_MAX_CHAIN);
        if (fmt == BDEV_FMT_AUTO && detect_format(path, &fmt, err) < 0)
                return -1;
        if (fmt == BDEV_FMT_QCOW2)
                return bdev_qcow2_open(path, flags, up, out, err);
        return bdev_raw_open(path, flags, out, err);
}

int bdev_open(const char *path, enum bdev_format fmt, int flags, struct bdev **out,
              struct isola_err *err)
{
        return bdev_open_chain(path, fmt, flags, NULL, out, err);
}
