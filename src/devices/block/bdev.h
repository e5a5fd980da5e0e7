/* Block devices for the VMM's disks: one interface over a raw file or a
 * qcow2 image (with its backing chain). Reads and writes take byte offsets
 * and iovecs and either transfer everything or fail with an isola_err.
 * Not thread-safe: one caller (a device's I/O path) at a time. */
#ifndef ISOLA_DEVICES_BLOCK_BDEV_H
#define ISOLA_DEVICES_BLOCK_BDEV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "util/err.h"

enum bdev_format {
        BDEV_FMT_AUTO = 0, /* qcow2 when the magic says so, else raw */
        BDEV_FMT_RAW,
        BDEV_FMT_QCOW2,
};

/* bdev_open flags */
#define BDEV_RDONLY 0x1

/* Backing chains longer than this are refused (also what stops loops). */
#define BDEV_MAX_CHAIN 16

struct bdev;

struct bdev_ops {
        int (*preadv)(struct bdev *bd, const struct iovec *iov, int iovcnt, uint64_t off,
                      struct isola_err *err);
        int (*pwritev)(struct bdev *bd, const struct iovec *iov, int iovcnt, uint64_t off,
                       struct isola_err *err);
        int (*flush)(struct bdev *bd, struct isola_err *err);
        void (*close)(struct bdev *bd);
};

struct bdev {
        const struct bdev_ops *ops;
        enum bdev_format fmt;
        uint64_t size; /* virtual size in bytes */
        bool read_only;
        char *path;
        struct bdev *backing; /* qcow2 only; NULL when none */
        char *backing_name;   /* as written in the image */
        void *priv;           /* the back end's state */
};

int bdev_open(const char *path, enum bdev_format fmt, int flags, struct bdev **out,
              struct isola_err *err);
void bdev_close(struct bdev *bd);

int bdev_preadv(struct bdev *bd, const struct iovec *iov, int iovcnt, uint64_t off,
                struct isola_err *err);
int bdev_pwritev(struct bdev *bd, const struct iovec *iov, int iovcnt, uint64_t off,
                 struct isola_err *err);
int bdev_pread(struct bdev *bd, void *buf, size_t len, uint64_t off, struct isola_err *err);
int bdev_pwrite(struct bdev *bd, const void *buf, size_t len, uint64_t off, struct isola_err *err);
int bdev_flush(struct bdev *bd, struct isola_err *err);

const char *bdev_format_name(enum bdev_format fmt);
int bdev_parse_format(const char *name, enum bdev_format *out, struct isola_err *err);

/* Creates a qcow2 v3 image of `size` bytes (64 KiB clusters). backing_path
 * may be NULL; backing_fmt NULL means "detect" (the image records the
 * detected format). Fails if path exists. */
int bdev_qcow2_create(const char *path, uint64_t size, const char *backing_path,
                      const char *backing_fmt, struct isola_err *err);

/* The images above one being opened as a backing file: a chain that comes
 * back to one of them is a loop; depth bounds the chain. */
struct bdev_chain {
        dev_t dev;
        ino_t ino;
        int depth; /* 0 for the top image */
        const struct bdev_chain *up;
};

/* Back ends, used by bdev_open; `up` is NULL for the top image. */
int bdev_raw_open(const char *path, int flags, struct bdev **out, struct isola_err *err);
int bdev_qcow2_open(const char *path, int flags, const struct bdev_chain *up, struct bdev **out,
                    struct isola_err *err);
int bdev_open_chain(const char *path, enum bdev_format fmt, int flags, const struct bdev_chain *up,
                    struct bdev **out, struct isola_err *err);

/* The path of backing file `name` of image `image`: relative names are
 * relative to the image's directory. The caller frees *out. */
int bdev_backing_path(const char *image, const char *name, char **out, struct isola_err *err);

/* iovec helpers shared by the back ends */
size_t bdev_iov_len(const struct iovec *iov, int iovcnt);
/* Copies len bytes between buf and the iovec starting `skip` bytes in. */
void bdev_iov_to_buf(const struct iovec *iov, int iovcnt, size_t skip, void *buf, size_t len);
void bdev_iov_from_buf(const struct iovec *iov, int iovcnt, size_t skip, const void *buf,
                       size_t len);

#endif
