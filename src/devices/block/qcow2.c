/* qcow2 opener: reads and checks the header, its extensions, the L1 and
 * refcount tables and the metadata layout, then opens the backing chain.
 * Every number in the file is treated as hostile: offsets must be aligned
 * and inside the file, table sizes are bounded, metadata clusters may not
 * overlap, and the chain depth is bounded. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/block/qcow2.h"

struct qcow2_hdr {
        uint64_t backing_off;
        uint32_t backing_len;
        uint32_t rt_clusters;
        uint64_t size;
        uint32_t crypt;
        uint64_t snap_off;
        uint32_t header_len;
        uint32_t refcount_order;
        char backing_fmt[17];
};

static uint32_t get32(const uint8_t *p)
{
        uint32_t v;
        memcpy(&v, p, 4);
        return be32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
        uint64_t v;
        memcpy(&v, p, 8);
        return be64toh(v);
}

int qcow2_pread_full(struct qcow2 *q, void *buf, size_t len, uint64_t off, const char *path,
                     const char *what, struct isola_err *err)
{
        size_t done = 0;
        while (done < len) {
                ssize_t n = pread(q->fd, (char *)buf + done, len - done, (off_t)(off + done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return err_sys(err, "%s: reading %s at %llu", path, what,
                                       (unsigned long long)off);
                if (n == 0)
                        return err_set(err, EINVAL,
                                       "%s: %s at %llu lies beyond the end of the file", path, what,
                                       (unsigned long long)off);
                done += (size_t)n;
        }
        return 0;
}

int qcow2_pwrite_full(struct qcow2 *q, const void *buf, size_t len, uint64_t off, const char *path,
                      const char *what, struct isola_err *err)
{
        size_t done = 0;
        while (done < len) {
                ssize_t n =
                    pwrite(q->fd, (const char *)buf + done, len - done, (off_t)(off + done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return err_sys(err, "%s: writing %s at %llu", path, what,
                                       (unsigned long long)off);
                done += (size_t)n;
        }
        if (off + len > q->file_size)
                q->file_size = off + len;
        return 0;
}

static int meta_find(const struct qcow2 *q, uint64_t off, size_t *pos)
{
        size_t lo = 0, hi = q->n_meta;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (q->meta[mid] < off)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *pos = lo;
        return lo < q->n_meta && q->meta[lo] == off;
}

int qcow2_is_meta(const struct qcow2 *q, uint64_t off)
{
        size_t pos;
        return meta_find(q, off & ~(q->cs - 1), &pos);
}

int qcow2_meta_add(struct qcow2 *q, uint64_t off, const char *path, const char *what,
                   struct isola_err *err)
{
        size_t pos;
        if (meta_find(q, off, &pos))
                return err_set(err, EINVAL, "%s: %s at %llu overlaps other metadata", path, what,
                               (unsigned long long)off);
        if (q->n_meta == q->cap_meta) {
                size_t cap = q->cap_meta ? q->cap_meta * 2 : 64;
                uint64_t *m = realloc(q->meta, cap * sizeof(*m));
                if (!m)
                        return err_set(err, ENOMEM, "%s: out of memory", path);
                q->meta = m;
                q->cap_meta = cap;
        }
        memmove(q->meta + pos + 1, q->meta + pos, (q->n_meta - pos) * sizeof(*q->meta));
        q->meta[pos] = off;
        q->n_meta++;
        return 0;
}

void qcow2_meta_del(struct qcow2 *q, uint64_t off)
{
        size_t pos;
        if (!meta_find(q, off, &pos))
                return;
        memmove(q->meta + pos, q->meta + pos + 1, (q->n_meta - pos - 1) * sizeof(*q->meta));
        q->n_meta--;
}

/* A table of `bytes` at `off` must be cluster aligned, inside the file, and
 * its clusters join the metadata set. */
static int check_table(struct qcow2 *q, uint64_t off, uint64_t bytes, const char *path,
                       const char *what, struct isola_err *err)
{
        if (off == 0 || off & (q->cs - 1))
                return err_set(err, EINVAL, "%s: %s offset %llu is not cluster aligned", path, what,
                               (unsigned long long)off);
        if (off > q->file_size || bytes > q->file_size - off)
                return err_set(err, EINVAL, "%s: %s (%llu bytes at %llu) exceeds the file", path,
                               what, (unsigned long long)bytes, (unsigned long long)off);
        for (uint64_t c = 0; c < bytes; c += q->cs)
                if (qcow2_meta_add(q, off + c, path, what, err) < 0)
                        return -1;
        return 0;
}

static int parse_header(struct qcow2 *q, const uint8_t *h, struct qcow2_hdr *hd, const char *path,
                        struct isola_err *err)
{
        if (get32(h) != QCOW2_MAGIC)
                return err_set(err, EINVAL, "%s: header: not a qcow2 image (bad magic)", path);
        q->version = get32(h + 4);
        if (q->version != 2 && q->version != 3)
                return err_set(err, ENOTSUP, "%s: header: qcow2 version %u not supported", path,
                               q->version);
        hd->backing_off = get64(h + 8);
        hd->backing_len = get32(h + 16);
        q->cluster_bits = get32(h + 20);
        hd->size = get64(h + 24);
        hd->crypt = get32(h + 32);
        q->l1_size = get32(h + 36);
        q->l1_off = get64(h + 40);
        q->rt_off = get64(h + 48);
        hd->rt_clusters = get32(h + 56);
        q->nb_snapshots = get32(h + 60);
        hd->snap_off = get64(h + 64);
        hd->header_len = QCOW2_V2_HEADER_LEN;
        hd->refcount_order = 4;
        if (q->version == 3) {
                q->incompat = get64(h + 72);
                q->autoclear = get64(h + 88);
                hd->refcount_order = get32(h + 96);
                hd->header_len = get32(h + 100);
        }
        if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS || q->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
                return err_set(err, EINVAL, "%s: header: cluster_bits %u out of range 9..21", path,
                               q->cluster_bits);
        q->cs = 1ull << q->cluster_bits;
        q->l2_entries = q->cs / 8;
        if (hd->crypt != 0)
                return err_set(err, ENOTSUP, "%s: header: encrypted images are not supported",
                               path);
        if (hd->header_len < (q->version == 3 ? QCOW2_V3_HEADER_LEN : QCOW2_V2_HEADER_LEN) ||
            hd->header_len > q->cs || hd->header_len % 8)
                return err_set(err, EINVAL, "%s: header: bad header_length %u", path,
                               hd->header_len);
        uint64_t unknown = q->incompat & ~(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT);
        if (unknown)
                return err_set(err, ENOTSUP,
                               "%s: header: incompatible features 0x%llx not supported "
                               "(external data file, compression type or extended L2)",
                               path, (unsigned long long)unknown);
        if (hd->refcount_order < 3 || hd->refcount_order > 6)
                return err_set(err, ENOTSUP, "%s: header: refcount_order %u not supported (3..6)",
                               path, hd->refcount_order);
        q->rc_bytes = 1u << (hd->refcount_order - 3);
        q->rb_entries = q->cs / q->rc_bytes;
        if (hd->size > QCOW2_MAX_SIZE)
                return err_set(err, EINVAL, "%s: header: virtual size %llu too large", path,
                               (unsigned long long)hd->size);
        return 0;
}

static int parse_extensions(struct qcow2 *q, const uint8_t *h, struct qcow2_hdr *hd,
                            const char *path, struct isola_err *err)
{
        uint64_t end = q->cs < q->file_size ? q->cs : q->file_size;
        /* The backing name, when present, ends the extension area. */
        if (hd->backing_off && hd->backing_off < end)
                end = hd->backing_off;
        uint64_t pos = hd->header_len;
        while (pos + 8 <= end) {
                uint32_t type = get32(h + pos), len = get32(h + pos + 4);
                pos += 8;
                if (type == QCOW2_EXT_END)
                        return 0;
                if (len > end - pos)
                        return err_set(err, EINVAL,
                                       "%s: header extension 0x%08x: length %u exceeds the "
                                       "header cluster",
                                       path, type, len);
                if (type == QCOW2_EXT_BACKING_FMT) {
                        if (len == 0 || len >= sizeof(hd->backing_fmt))
                                return err_set(err, EINVAL,
                                               "%s: backing format extension: bad length %u", path,
                                               len);
                        memcpy(hd->backing_fmt, h + pos, len);
                        hd->backing_fmt[len] = 0;
                } else if (type == QCOW2_EXT_DATA_FILE) {
                        return err_set(err, ENOTSUP,
                                       "%s: header extension: external data files are not "
                                       "supported",
                                       path);
                }
                /* Others (feature names, bitmaps) stay as they are: the
                 * header cluster is never rewritten, only single fields. */
                pos += ((uint64_t)len + 7) & ~7ull;
        }
        /* A missing end marker is tolerated like qemu does when the area is
         * exhausted exactly; anything else is malformed. */
        if (pos != end && pos < end)
                return err_set(err, EINVAL, "%s: header extensions: truncated", path);
        return 0;
}

static int read_backing_name(struct qcow2 *q, struct bdev *bd, const uint8_t *h,
                             const struct qcow2_hdr *hd, const char *path, struct isola_err *err)
{
        if (hd->backing_off == 0)
                return 0;
        uint64_t lim = q->cs < q->file_size ? q->cs : q->file_size;
        if (hd->backing_len == 0 || hd->backing_len > QCOW2_MAX_BACKING_NAME ||
            hd->backing_off < hd->header_len || hd->backing_off > lim ||
            hd->backing_len > lim - hd->backing_off)
                return err_set(err, EINVAL,
                               "%s: header: backing file name (%u bytes at %llu) is outside "
                               "the header cluster",
                               path, hd->backing_len, (unsigned long long)hd->backing_off);
        if (memchr(h + hd->backing_off, 0, hd->backing_len))
                return err_set(err, EINVAL, "%s: header: backing file name contains NUL", path);
        bd->backing_name = strndup((const char *)h + hd->backing_off, hd->backing_len);
        if (!bd->backing_name)
                return err_set(err, ENOMEM, "%s: out of memory", path);
        return 0;
}

static int load_tables(struct qcow2 *q, const struct qcow2_hdr *hd, const char *path,
                       struct isola_err *err)
{
        if (qcow2_meta_add(q, 0, path, "header", err) < 0)
                return -1;
        uint64_t per_l1 = q->cs * q->l2_entries;
        uint64_t need = (hd->size + per_l1 - 1) / per_l1;
        if (q->l1_size < need || (uint64_t)q->l1_size * 8 > QCOW2_MAX_L1_BYTES)
                return err_set(err, EINVAL, "%s: L1 table: size %u invalid (need %llu)", path,
                               q->l1_size, (unsigned long long)need);
        if ((uint64_t)hd->rt_clusters * q->cs > QCOW2_MAX_RT_BYTES || hd->rt_clusters == 0)
                return err_set(err, EINVAL, "%s: refcount table: %u clusters invalid", path,
                               hd->rt_clusters);
        if (q->l1_size &&
            check_table(q, q->l1_off, (uint64_t)q->l1_size * 8, path, "L1 table", err) < 0)
                return -1;
        q->rt_entries = (uint64_t)hd->rt_clusters * q->cs / 8;
        q->rt_clusters = hd->rt_clusters;
        if (check_table(q, q->rt_off, (uint64_t)hd->rt_clusters * q->cs, path, "refcount table",
                        err) < 0)
                return -1;
        if (q->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
                return err_set(err, EINVAL, "%s: header: %u snapshots is too many", path,
                               q->nb_snapshots);
        if (q->nb_snapshots && check_table(q, hd->snap_off, 1, path, "snapshot table", err) < 0)
                return -1;
        q->l1 = calloc(q->l1_size ? q->l1_size : 1, 8);
        q->rt = calloc(q->rt_entries, 8);
        if (!q->l1 || !q->rt)
                return err_set(err, ENOMEM, "%s: out of memory", path);
        if (qcow2_pread_full(q, q->l1, (size_t)q->l1_size * 8, q->l1_off, path, "L1 table", err) <
                0 ||
            qcow2_pread_full(q, q->rt, q->rt_entries * 8, q->rt_off, path, "refcount table", err) <
                0)
                return -1;
        for (uint32_t i = 0; i < q->l1_size; i++) {
                q->l1[i] = be64toh(q->l1[i]);
                uint64_t off = q->l1[i] & QCOW2_OFFSET_MASK;
                if (q->l1[i] & QCOW2_L1_RESERVED)
                        return err_set(err, EINVAL, "%s: L1 table: entry %u has reserved bits",
                                       path, i);
                if (off && check_table(q, off, q->cs, path, "L2 table", err) < 0)
                        return err_prefix(err, "L1 entry %u", i);
        }
        for (uint64_t i = 0; i < q->rt_entries; i++) {
                q->rt[i] = be64toh(q->rt[i]);
                if (q->rt[i] & (q->cs - 1))
                        return err_set(err, EINVAL,
                                       "%s: refcount table: entry %llu is not cluster aligned",
                                       path, (unsigned long long)i);
                if (q->rt[i] && check_table(q, q->rt[i], q->cs, path, "refcount block", err) < 0)
                        return -1;
        }
        return 0;
}

static int open_backing(struct bdev *bd, const struct qcow2_hdr *hd, const struct bdev_chain *self,
                        struct isola_err *err)
{
        if (!bd->backing_name)
                return 0;
        enum bdev_format fmt = BDEV_FMT_AUTO;
        if (hd->backing_fmt[0] && bdev_parse_format(hd->backing_fmt, &fmt, err) < 0)
                return err_prefix(err, "%s: backing format", bd->path);
        char *full;
        if (bdev_backing_path(bd->path, bd->backing_name, &full, err) < 0)
                return -1;
        int rc = bdev_open_chain(full, fmt, BDEV_RDONLY, self, &bd->backing, err);
        free(full);
        return rc < 0 ? err_prefix(err, "%s: backing file", bd->path) : 0;
}

/* Clears autoclear bits (qemu's rule for writers that do not know them)
 * in place; the rest of the header cluster is left as it was. */
static int clear_autoclear(struct qcow2 *q, const char *path, struct isola_err *err)
{
        if (q->version < 3 || q->autoclear == 0)
                return 0;
        uint64_t zero = 0;
        q->autoclear = 0;
        return qcow2_pwrite_full(q, &zero, 8, 88, path, "header", err);
}

static int qcow2_setup(struct qcow2 *q, struct bdev *bd, int flags, const struct bdev_chain *up,
                       struct isola_err *err)
{
        struct stat st;
        if (fstat(q->fd, &st) < 0)
                return err_sys(err, "%s: stat", bd->path);
        q->file_size = (uint64_t)st.st_size;
        for (const struct bdev_chain *c = up; c; c = c->up)
                if (c->dev == st.st_dev && c->ino == st.st_ino)
                        return err_set(err, ELOOP, "%s: backing chain loops back to this image",
                                       bd->path);
        struct bdev_chain self = {st.st_dev, st.st_ino, up ? up->depth + 1 : 0, up};
        uint8_t first[QCOW2_V3_HEADER_LEN] = {0};
        if (q->file_size < QCOW2_V2_HEADER_LEN)
                return err_set(err, EINVAL, "%s: header: file too short for qcow2", bd->path);
        size_t hl = q->file_size < sizeof(first) ? (size_t)q->file_size : sizeof(first);
        if (qcow2_pread_full(q, first, hl, 0, bd->path, "header", err) < 0)
                return -1;
        struct qcow2_hdr hd = {0};
        if (parse_header(q, first, &hd, bd->path, err) < 0)
                return -1;
        bd->size = hd.size;
        q->buf = calloc(1, q->cs);
        q->buf2 = calloc(1, q->cs);
        q->rb = calloc(1, q->cs);
        if (!q->buf || !q->buf2 || !q->rb)
                return err_set(err, ENOMEM, "%s: out of memory", bd->path);
        size_t h0 = q->file_size < q->cs ? (size_t)q->file_size : (size_t)q->cs;
        if (qcow2_pread_full(q, q->buf, h0, 0, bd->path, "header", err) < 0 ||
            parse_extensions(q, q->buf, &hd, bd->path, err) < 0 ||
            read_backing_name(q, bd, q->buf, &hd, bd->path, err) < 0 ||
            load_tables(q, &hd, bd->path, err) < 0)
                return -1;
        if (!(flags & BDEV_RDONLY)) {
                if (q->incompat & (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT))
                        return err_set(err, EINVAL,
                                       "%s: header: image is marked dirty or corrupt; repair "
                                       "it (qemu-img check -r all) or open it read-only",
                                       bd->path);
                if (q->nb_snapshots)
                        return err_set(err, ENOTSUP,
                                       "%s: image has internal snapshots; open it read-only",
                                       bd->path);
                if (clear_autoclear(q, bd->path, err) < 0)
                        return -1;
        }
        q->next_alloc = (q->file_size + q->cs - 1) >> q->cluster_bits;
        return open_backing(bd, &hd, &self, err);
}

int bdev_qcow2_open(const char *path, int flags, const struct bdev_chain *up, struct bdev **out,
                    struct isola_err *err)
{
        bool ro = flags & BDEV_RDONLY;
        struct bdev *bd = calloc(1, sizeof(*bd));
        struct qcow2 *q = calloc(1, sizeof(*q));
        if (!bd || !q) {
                free(bd);
                free(q);
                return err_set(err, ENOMEM, "%s: out of memory", path);
        }
        q->fd = -1;
        *bd = (struct bdev){.ops = &qcow2_ops,
                            .fmt = BDEV_FMT_QCOW2,
                            .read_only = ro,
                            .path = strdup(path),
                            .priv = q};
        if (!bd->path) {
                bdev_close(bd);
                return err_set(err, ENOMEM, "%s: out of memory", path);
        }
        q->fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
        if (q->fd < 0) {
                err_sys(err, "%s: open", path);
                bdev_close(bd);
                return -1;
        }
        if (qcow2_setup(q, bd, flags, up, err) < 0) {
                bdev_close(bd);
                return -1;
        }
        *out = bd;
        return 0;
}
