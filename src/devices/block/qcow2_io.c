/* qcow2 I/O: cluster lookup through L1/L2, reads that fall through to the
 * backing chain, allocating writes with copy-on-write of partial clusters,
 * and exact refcounts. Metadata is written through (no dirty caches), in
 * the order refcount -> data -> L2 entry -> L1 entry, so a crash leaks
 * clusters at worst and never points a table at unwritten data. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/block/qcow2.h"

/* Allocation scans past clusters whose refcount is already set; this bounds
 * the scan on a hostile image. Refcount blocks need refcounts themselves,
 * which may need another block: the recursion depth is bounded too. */
#define ALLOC_SCAN_MAX  (1u << 20)
#define ALLOC_DEPTH_MAX 4

void qcow2_free(struct qcow2 *q)
{
        if (!q)
                return;
        if (q->fd >= 0)
                close(q->fd);
        for (int i = 0; i < QCOW2_L2_CACHE; i++)
                free(q->l2c[i].tab);
        free(q->l1);
        free(q->rt);
        free(q->meta);
        free(q->rb);
        free(q->buf);
        free(q->buf2);
        free(q);
}

/* ---- refcounts ---- */

static int rb_load(struct qcow2 *q, uint64_t off, const char *path, struct isola_err *err)
{
        if (q->rb_off == off)
                return 0;
        q->rb_off = 0;
        if (qcow2_pread_full(q, q->rb, q->cs, off, path, "refcount block", err) < 0)
                return -1;
        q->rb_off = off;
        return 0;
}

static uint64_t rb_get(const struct qcow2 *q, uint64_t idx)
{
        uint64_t v = 0;
        const uint8_t *p = q->rb + idx * q->rc_bytes;
        for (uint32_t i = 0; i < q->rc_bytes; i++)
                v = v << 8 | p[i];
        return v;
}

static void rb_put(struct qcow2 *q, uint64_t idx, uint64_t v)
{
        uint8_t *p = q->rb + idx * q->rc_bytes;
        for (uint32_t i = q->rc_bytes; i > 0; i--) {
                p[i - 1] = (uint8_t)v;
                v >>= 8;
        }
}

static int refcount_get(struct qcow2 *q, uint64_t cl, uint64_t *out, const char *path,
                        struct isola_err *err)
{
        uint64_t ri = cl / q->rb_entries;
        *out = 0;
        if (ri >= q->rt_entries || q->rt[ri] == 0)
                return 0;
        if (rb_load(q, q->rt[ri], path, err) < 0)
                return -1;
        *out = rb_get(q, cl % q->rb_entries);
        return 0;
}

static int alloc_cluster(struct qcow2 *q, uint64_t *off_out, const char *path,
                         struct isola_err *err);

static int refcount_set(struct qcow2 *q, uint64_t cl, uint64_t val, const char *path,
                        struct isola_err *err);

/* First cluster index >= from that starts n free, non-metadata clusters. */
static int find_free_run(struct qcow2 *q, uint64_t from, uint64_t n, uint64_t *out,
                         const char *path, struct isola_err *err)
{
        uint64_t s = from, rc;
        for (uint64_t k = 0, scanned = 0; k < n; k++) {
                if (++scanned > ALLOC_SCAN_MAX)
                        return err_set(err, ENOSPC, "%s: no free clusters found", path);
                if (refcount_get(q, s + k, &rc, path, err) < 0)
                        return -1;
                if (rc || qcow2_is_meta(q, (s + k) << q->cluster_bits)) {
                        s += k + 1;
                        k = (uint64_t)-1; /* restart the run after the busy cluster */
                }
        }
        *out = s;
        return 0;
}

/* Moves the refcount table to a bigger place at the end: the new table and
 * the refcount blocks covering it are laid out together, counted, written,
 * and only then does the header switch to them (one 12-byte write); the old
 * table's clusters are freed last. A crash in between leaks clusters. */
static int rt_grow(struct qcow2 *q, uint64_t need_ri, const char *path, struct isola_err *err)
{
        uint64_t ncl = q->rt_clusters;
        while (ncl * q->cs / 8 <= need_ri && ncl * q->cs <= QCOW2_MAX_RT_BYTES)
                ncl *= 2;
        if (ncl * q->cs > QCOW2_MAX_RT_BYTES)
                return err_set(err, ENOSPC, "%s: refcount table would exceed %u bytes", path,
                               QCOW2_MAX_RT_BYTES);
        uint64_t start, nent = ncl * q->cs / 8;
        if (find_free_run(q, q->next_alloc, ncl, &start, path, err) < 0)
                return -1;
        uint64_t *nrt = calloc(nent, 8);
        if (!nrt)
                return err_set(err, ENOMEM, "%s: out of memory", path);
        memcpy(nrt, q->rt, q->rt_entries * 8);
        /* new blocks go right after the table, and may need covering too */
        uint64_t end = start + ncl;
        for (uint64_t x = start; x < end; x++) {
                uint64_t ri = x / q->rb_entries;
                if (ri < nent && nrt[ri] == 0)
                        nrt[ri] = (end++) << q->cluster_bits;
        }
        uint8_t *zero = calloc(1, q->cs);
        int rc = zero ? 0 : err_set(err, ENOMEM, "%s: out of memory", path);
        for (uint64_t b = start + ncl; rc == 0 && b < end; b++)
                rc = qcow2_pwrite_full(q, zero, q->cs, b << q->cluster_bits, path, "refcount block",
                                       err);
        free(zero);
        uint64_t *ort = q->rt, ooff = q->rt_off, oent = q->rt_entries;
        uint32_t ocl = q->rt_clusters;
        q->rt = nrt;
        q->rt_entries = nent;
        for (uint64_t x = start; rc == 0 && x < end; x++)
                rc = refcount_set(q, x, 1, path, err);
        for (uint64_t i = 0; i < nent; i++)
                nrt[i] = htobe64(nrt[i]);
        if (rc == 0)
                rc = qcow2_pwrite_full(q, nrt, nent * 8, start << q->cluster_bits, path,
                                       "refcount table", err);
        for (uint64_t i = 0; i < nent; i++)
                nrt[i] = be64toh(nrt[i]);
        if (rc == 0 && fdatasync(q->fd) < 0)
                rc = err_sys(err, "%s: flush", path);
        uint8_t hdr[12];
        uint64_t be_off = htobe64(start << q->cluster_bits);
        uint32_t be_cl = htobe32((uint32_t)ncl);
        memcpy(hdr, &be_off, 8);
        memcpy(hdr + 8, &be_cl, 4);
        if (rc == 0)
                rc = qcow2_pwrite_full(q, hdr, sizeof(hdr), 48, path, "header", err);
        if (rc < 0) {
                q->rt = ort;
                q->rt_entries = oent;
                free(nrt);
                return -1;
        }
        free(ort);
        q->rt_off = start << q->cluster_bits;
        q->rt_clusters = (uint32_t)ncl;
        q->next_alloc = end;
        for (uint64_t x = start; x < end; x++)
                if (qcow2_meta_add(q, x << q->cluster_bits, path, "refcount table", err) < 0)
                        return -1;
        for (uint32_t c = 0; c < ocl; c++) {
                uint64_t off = ooff + (uint64_t)c * q->cs;
                qcow2_meta_del(q, off);
                if (refcount_set(q, off >> q->cluster_bits, 0, path, err) < 0)
                        return -1;
        }
        return 0;
}

static int refcount_set(struct qcow2 *q, uint64_t cl, uint64_t val, const char *path,
                        struct isola_err *err)
{
        uint64_t ri = cl / q->rb_entries;
        if (ri >= q->rt_entries) {
                if (q->alloc_depth >= ALLOC_DEPTH_MAX)
                        return err_set(err, EINVAL, "%s: refcount table growth loops", path);
                q->alloc_depth++;
                int rc = rt_grow(q, ri, path, err);
                q->alloc_depth--;
                if (rc < 0)
                        return -1;
        }
        if (q->rt[ri] == 0) {
                if (++q->alloc_depth > ALLOC_DEPTH_MAX) {
                        q->alloc_depth--;
                        return err_set(err, EINVAL, "%s: refcount block allocation loops", path);
                }
                /* Take the next free cluster without counting it yet. */
                uint64_t b = q->next_alloc, scanned = 0, rc = 1;
                while (rc != 0 || qcow2_is_meta(q, b << q->cluster_bits) || b == cl) {
                        if (++scanned > ALLOC_SCAN_MAX) {
                                q->alloc_depth--;
                                return err_set(err, ENOSPC, "%s: no free cluster found", path);
                        }
                        if (refcount_get(q, b, &rc, path, err) < 0) {
                                q->alloc_depth--;
                                return -1;
                        }
                        if (rc != 0 || qcow2_is_meta(q, b << q->cluster_bits) || b == cl)
                                b++;
                }
                uint64_t boff = b << q->cluster_bits;
                q->next_alloc = b + 1;
                /* not q->buf2: it may hold a cluster being written */
                uint8_t *zero = calloc(1, q->cs);
                uint64_t be = htobe64(boff);
                int rc2 = zero
                              ? qcow2_pwrite_full(q, zero, q->cs, boff, path, "refcount block", err)
                              : err_set(err, ENOMEM, "%s: out of memory", path);
                free(zero);
                if (rc2 == 0)
                        rc2 = qcow2_pwrite_full(q, &be, 8, q->rt_off + ri * 8, path,
                                                "refcount table", err);
                if (rc2 == 0)
                        rc2 = qcow2_meta_add(q, boff, path, "refcount block", err);
                if (rc2 == 0) {
                        q->rt[ri] = boff;
                        rc2 = refcount_set(q, b, 1, path, err);
                }
                q->alloc_depth--;
                if (rc2 < 0)
                        return -1;
        }
        if (rb_load(q, q->rt[ri], path, err) < 0)
                return -1;
        uint64_t idx = cl % q->rb_entries;
        rb_put(q, idx, val);
        uint8_t *p = q->rb + idx * q->rc_bytes;
        return qcow2_pwrite_full(q, p, q->rc_bytes, q->rt[ri] + idx * q->rc_bytes, path,
                                 "refcount block", err);
}

/* A new cluster with refcount 1: the first one at or after next_alloc that
 * is free and not known metadata. Freed clusters are not reused. */
static int alloc_cluster(struct qcow2 *q, uint64_t *off_out, const char *path,
                         struct isola_err *err)
{
        uint64_t c = q->next_alloc, rc;
        for (uint32_t scanned = 0;; scanned++, c++) {
                if (scanned > ALLOC_SCAN_MAX)
                        return err_set(err, ENOSPC, "%s: no free cluster found", path);
                if (c > (QCOW2_OFFSET_MASK >> q->cluster_bits))
                        return err_set(err, ENOSPC, "%s: image file full", path);
                if (qcow2_is_meta(q, c << q->cluster_bits))
                        continue;
                if (refcount_get(q, c, &rc, path, err) < 0)
                        return -1;
                if (rc == 0)
                        break;
        }
        q->next_alloc = c + 1;
        if (refcount_set(q, c, 1, path, err) < 0)
                return -1;
        *off_out = c << q->cluster_bits;
        return 0;
}

/* ---- L2 tables ---- */

/* Returns the cached table at host offset `off`, loading it on a miss. */
static int l2_get(struct qcow2 *q, uint64_t off, uint64_t **tab_out, const char *path,
                  struct isola_err *err)
{
        struct qcow2_l2_slot *victim = &q->l2c[0];
        q->stamp++;
        for (int i = 0; i < QCOW2_L2_CACHE; i++) {
                struct qcow2_l2_slot *s = &q->l2c[i];
                if (s->off == off && s->tab) {
                        s->used = q->stamp;
                        *tab_out = s->tab;
                        return 0;
                }
                if (s->used < victim->used)
                        victim = s;
        }
        if (!victim->tab && !(victim->tab = malloc(q->cs)))
                return err_set(err, ENOMEM, "%s: out of memory", path);
        victim->off = 0;
        if (qcow2_pread_full(q, victim->tab, q->cs, off, path, "L2 table", err) < 0)
                return -1;
        for (uint64_t i = 0; i < q->l2_entries; i++)
                victim->tab[i] = be64toh(victim->tab[i]);
        victim->off = off;
        victim->used = q->stamp;
        *tab_out = victim->tab;
        return 0;
}

/* The L2 entry of guest cluster `vc` (0 when its L1 entry is empty). */
static int l2_entry(struct qcow2 *q, uint64_t vc, uint64_t *entry, const char *path,
                    struct isola_err *err)
{
        uint64_t l1i = vc / q->l2_entries;
        *entry = 0;
        if (l1i >= q->l1_size)
                return err_set(err, EINVAL, "%s: L1 table too small for cluster %llu", path,
                               (unsigned long long)vc);
        uint64_t l2off = q->l1[l1i] & QCOW2_OFFSET_MASK;
        if (!l2off)
                return 0;
        uint64_t *tab;
        if (l2_get(q, l2off, &tab, path, err) < 0)
                return -1;
        *entry = tab[vc % q->l2_entries];
        return 0;
}

enum cl_kind { CL_BACKING, CL_ZERO, CL_DATA };

/* Classifies an L2 entry; CL_DATA sets *host. Hostile entries are refused
 * here, at use, naming the guest cluster. */
static int classify(struct qcow2 *q, uint64_t vc, uint64_t e, enum cl_kind *kind, uint64_t *host,
                    const char *path, struct isola_err *err)
{
        if (e & QCOW2_OFLAG_COMPRESSED)
                return err_set(err, ENOTSUP,
                               "%s: L2 entry for cluster %llu: compressed clusters are not "
                               "supported",
                               path, (unsigned long long)vc);
        bool zero = q->version >= 3 && (e & QCOW2_OFLAG_ZERO);
        uint64_t reserved = QCOW2_L2_RESERVED | (q->version < 3 ? QCOW2_OFLAG_ZERO : 0);
        if (e & reserved)
                return err_set(err, EINVAL, "%s: L2 entry for cluster %llu has reserved bits", path,
                               (unsigned long long)vc);
        *host = e & QCOW2_OFFSET_MASK;
        if (*host & (q->cs - 1))
                return err_set(err, EINVAL, "%s: L2 entry for cluster %llu is not cluster aligned",
                               path, (unsigned long long)vc);
        if (*host && qcow2_is_meta(q, *host))
                return err_set(err, EINVAL,
                               "%s: L2 entry for cluster %llu points at metadata (%llu)", path,
                               (unsigned long long)vc, (unsigned long long)*host);
        *kind = zero ? CL_ZERO : *host ? CL_DATA : CL_BACKING;
        return 0;
}

/* Reads `len` bytes of guest data at `off` (inside one cluster) into buf. */
static int read_piece(struct bdev *bd, uint64_t off, uint8_t *buf, size_t len,
                      struct isola_err *err)
{
        struct qcow2 *q = bd->priv;
        uint64_t vc = off >> q->cluster_bits, e, host;
        enum cl_kind kind;
        if (l2_entry(q, vc, &e, bd->path, err) < 0 ||
            classify(q, vc, e, &kind, &host, bd->path, err) < 0)
                return -1;
        memset(buf, 0, len);
        if (kind == CL_DATA) {
                /* data past the end of the file reads as zeros, like qemu */
                uint64_t at = host + (off & (q->cs - 1));
                size_t done = 0;
                while (done < len) {
                        ssize_t n = pread(q->fd, buf + done, len - done, (off_t)(at + done));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return err_sys(err, "%s: reading cluster at %llu", bd->path,
                                               (unsigned long long)at);
                        if (n == 0)
                                break;
                        done += (size_t)n;
                }
                return 0;
        }
        if (kind == CL_BACKING && bd->backing && off < bd->backing->size) {
                uint64_t avail = bd->backing->size - off;
                size_t n = avail < len ? (size_t)avail : len;
                return bdev_pread(bd->backing, buf, n, off, err);
        }
        return 0;
}

static int qcow2_preadv(struct bdev *bd, const struct iovec *iov, int iovcnt, uint64_t off,
                        struct isola_err *err)
{
        struct qcow2 *q = bd->priv;
        size_t total = bdev_iov_len(iov, iovcnt), done = 0;
        while (done < total) {
                uint64_t pos = off + done;
                size_t n = (size_t)(q->cs - (pos & (q->cs - 1)));
                if (n > total - done)
                        n = total - done;
                if (read_piece(bd, pos, q->buf, n, err) < 0)
                        return -1;
                bdev_iov_from_buf(iov, iovcnt, done, q->buf, n);
                done += n;
        }
        return 0;
}

/* The L2 table covering guest cluster vc, allocated (zeroed) if missing. */
static int l2_for_write(struct qcow2 *q, uint64_t vc, uint64_t *l2off_out, const char *path,
                        struct isola_err *err)
{
        uint64_t l1i = vc / q->l2_entries;
        if (l1i >= q->l1_size)
                return err_set(err, EINVAL, "%s: L1 table too small for cluster %llu", path,
                               (unsigned long long)vc);
        uint64_t l1e = q->l1[l1i];
        if (l1e & QCOW2_OFFSET_MASK) {
                if (!(l1e & QCOW2_OFLAG_COPIED))
                        return err_set(err, ENOTSUP,
                                       "%s: L1 entry %llu: shared L2 table (snapshots?) is not "
                                       "writable",
                                       path, (unsigned long long)l1i);
                *l2off_out = l1e & QCOW2_OFFSET_MASK;
                return 0;
        }
        uint64_t off;
        if (alloc_cluster(q, &off, path, err) < 0)
                return -1;
        memset(q->buf2, 0, q->cs);
        if (qcow2_pwrite_full(q, q->buf2, q->cs, off, path, "L2 table", err) < 0 ||
            qcow2_meta_add(q, off, path, "L2 table", err) < 0)
                return -1;
        uint64_t ne = off | QCOW2_OFLAG_COPIED, be = htobe64(ne);
        if (qcow2_pwrite_full(q, &be, 8, q->l1_off + l1i * 8, path, "L1 table", err) < 0)
                return -1;
        q->l1[l1i] = ne;
        *l2off_out = off;
        return 0;
}

/* Writes `len` bytes (inside one cluster) from buf at guest offset off. */
static int write_piece(struct bdev *bd, uint64_t off, const uint8_t *buf, size_t len,
                       struct isola_err *err)
{
        struct qcow2 *q = bd->priv;
        uint64_t vc = off >> q->cluster_bits, in = off & (q->cs - 1), l2off, host;
        uint64_t *tab;
        enum cl_kind kind;
        if (l2_for_write(q, vc, &l2off, bd->path, err) < 0 ||
            l2_get(q, l2off, &tab, bd->path, err) < 0)
                return -1;
        uint64_t idx = vc % q->l2_entries, e = tab[idx];
        if (classify(q, vc, e, &kind, &host, bd->path, err) < 0)
                return -1;
        if (kind == CL_DATA && (e & QCOW2_OFLAG_COPIED))
                return qcow2_pwrite_full(q, buf, len, host + in, bd->path, "data", err);
        /* Copy-on-write: build the whole new cluster, then point L2 at it. */
        if (len < q->cs) {
                if (read_piece(bd, off - in, q->buf2, (size_t)q->cs, err) < 0)
                        return -1;
        }
        memcpy(q->buf2 + in, buf, len);
        uint64_t nhost;
        bool reuse = host && (e & QCOW2_OFLAG_COPIED); /* a preallocated zero cluster */
        if (reuse)
                nhost = host;
        else if (alloc_cluster(q, &nhost, bd->path, err) < 0)
                return -1;
        if (qcow2_pwrite_full(q, q->buf2, q->cs, nhost, bd->path, "data", err) < 0)
                return -1;
        /* l2_get may have been evicted by the allocation: fetch again */
        if (l2_get(q, l2off, &tab, bd->path, err) < 0)
                return -1;
        uint64_t ne = nhost | QCOW2_OFLAG_COPIED, be = htobe64(ne);
        if (qcow2_pwrite_full(q, &be, 8, l2off + idx * 8, bd->path, "L2 table", err) < 0)
                return -1;
        tab[idx] = ne;
        if (host && !reuse) {
                /* the old cluster was shared: drop this image's reference */
                uint64_t rc;
                if (refcount_get(q, host >> q->cluster_bits, &rc, bd->path, err) < 0)
                        return -1;
                if (rc > 0 && refcount_set(q, host >> q->cluster_bits, rc - 1, bd->path, err) < 0)
                        return -1;
        }
        return 0;
}

static int qcow2_pwritev(struct bdev *bd, const struct iovec *iov, int iovcnt, uint64_t off,
                         struct isola_err *err)
{
        struct qcow2 *q = bd->priv;
        size_t total = bdev_iov_len(iov, iovcnt), done = 0;
        while (done < total) {
                uint64_t pos = off + done;
                size_t n = (size_t)(q->cs - (pos & (q->cs - 1)));
                if (n > total - done)
                        n = total - done;
                bdev_iov_to_buf(iov, iovcnt, done, q->buf, n);
                if (write_piece(bd, pos, q->buf, n, err) < 0)
                        return -1;
                done += n;
        }
        return 0;
}

static int qcow2_flush(struct bdev *bd, struct isola_err *err)
{
        struct qcow2 *q = bd->priv;
        if (fdatasync(q->fd) < 0)
                return err_sys(err, "%s: flush", bd->path);
        return 0;
}

static void qcow2_close(struct bdev *bd)
{
        qcow2_free(bd->priv);
}

const struct bdev_ops qcow2_ops = {
    .preadv = qcow2_preadv,
    .pwritev = qcow2_pwritev,
    .flush = qcow2_flush,
    .close = qcow2_close,
};
