/* qcow2 internals shared by the opener (qcow2.c), the I/O path
 * (qcow2_io.c) and the creator (qcow2_create.c). On-disk numbers are big
 * endian; see docs/disks.md for the subset supported. */
#ifndef ISOLA_DEVICES_BLOCK_QCOW2_H
#define ISOLA_DEVICES_BLOCK_QCOW2_H

#include <stddef.h>
#include <stdint.h>

#include "devices/block/bdev.h"

#define QCOW2_MAGIC            0x514649fbu /* "QFI\xfb" */
#define QCOW2_V2_HEADER_LEN    72u
#define QCOW2_V3_HEADER_LEN    104u
#define QCOW2_MIN_CLUSTER_BITS 9u
#define QCOW2_MAX_CLUSTER_BITS 21u
/* qemu's own limits, so any image qemu accepts is accepted here */
#define QCOW2_MAX_L1_BYTES     (32u << 20)
#define QCOW2_MAX_RT_BYTES     (8u << 20)
#define QCOW2_MAX_SIZE         (1ull << 55)
#define QCOW2_MAX_BACKING_NAME 1023u
#define QCOW2_MAX_SNAPSHOTS    65536u

#define QCOW2_EXT_END         0x00000000u
#define QCOW2_EXT_BACKING_FMT 0xe2792acau
#define QCOW2_EXT_FEATURES    0x6803f857u
#define QCOW2_EXT_DATA_FILE   0x44415441u

#define QCOW2_INCOMPAT_DIRTY   (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)

#define QCOW2_OFLAG_COPIED     (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define QCOW2_OFLAG_ZERO       (1ull << 0)
#define QCOW2_OFFSET_MASK      0x00fffffffffffe00ull
/* L1 entries: only the offset and COPIED may be set */
#define QCOW2_L1_RESERVED (~(QCOW2_OFFSET_MASK | QCOW2_OFLAG_COPIED))
/* standard L2 entries: offset, COPIED, COMPRESSED (checked first), ZERO */
#define QCOW2_L2_RESERVED (~(QCOW2_OFFSET_MASK | QCOW2_OFLAG_COPIED | QCOW2_OFLAG_ZERO))

#define QCOW2_L2_CACHE 8

struct qcow2_l2_slot {
        uint64_t off; /* host offset of the table, 0 = empty slot */
        uint64_t *tab;
        uint64_t used; /* last-use stamp for eviction */
};

struct qcow2 {
        int fd;
        uint64_t file_size;
        uint32_t version;
        uint32_t cluster_bits;
        uint64_t cs;         /* cluster size */
        uint64_t l2_entries; /* entries per L2 table */
        uint64_t incompat, autoclear;
        uint32_t nb_snapshots;

        uint64_t *l1; /* host byte order */
        uint32_t l1_size;
        uint64_t l1_off;

        uint64_t *rt; /* host byte order */
        uint64_t rt_entries;
        uint64_t rt_off;
        uint32_t rt_clusters;
        uint32_t rc_bytes;   /* width of one refcount (refcount_order 3..6) */
        uint64_t rb_entries; /* refcounts per refcount block */

        /* Sorted host offsets of every metadata cluster (header, L1, refcount
         * table and blocks, L2 tables, snapshot table): the image is refused
         * when two overlap, and guest data never lands on one. */
        uint64_t *meta;
        size_t n_meta, cap_meta;

        uint64_t next_alloc; /* cluster index where allocation resumes */
        int alloc_depth;     /* recursion guard: refcount blocks need refcounts */

        struct qcow2_l2_slot l2c[QCOW2_L2_CACHE];
        uint64_t stamp;
        uint64_t rb_off; /* cached refcount block */
        uint8_t *rb;

        uint8_t *buf; /* one-cluster bounce buffers */
        uint8_t *buf2;
};

/* qcow2.c */
int qcow2_meta_add(struct qcow2 *q, uint64_t off, const char *path, const char *what,
                   struct isola_err *err);
int qcow2_is_meta(const struct qcow2 *q, uint64_t off);
void qcow2_meta_del(struct qcow2 *q, uint64_t off);
int qcow2_pread_full(struct qcow2 *q, void *buf, size_t len, uint64_t off, const char *path,
                     const char *what, struct isola_err *err);
int qcow2_pwrite_full(struct qcow2 *q, const void *buf, size_t len, uint64_t off, const char *path,
                      const char *what, struct isola_err *err);

/* qcow2_io.c */
extern const struct bdev_ops qcow2_ops;
void qcow2_free(struct qcow2 *q);

#endif
