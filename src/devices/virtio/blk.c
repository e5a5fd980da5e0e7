/* virtio-blk (VirtIO 1.2 section 5.2) over a raw or qcow2 image (the
 * devices/block back ends): one request queue, requests served on the event
 * loop thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/block/bdev.h"
#include "devices/virtio/virtio.h"
#include "devices/dev_state.h"
#include "devices/virtio/virtio_pci.h"
#include "util/cleanup.h"

#define VIRTIO_ID_BLOCK 2

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO       5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9

#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define SECTOR_SIZE    512
#define BLK_QUEUE_SIZE 256
#define BLK_SEG_MAX    (BLK_QUEUE_SIZE - 2)
#define BLK_ID_BYTES   20

struct virtio_blk_req_hdr {
        uint32_t type;
        uint32_t reserved;
        uint64_t sector;
};

struct virtio_blk {
        struct virtio_pci vp;
        struct bdev *bd;
        bool readonly;
        uint64_t capacity; /* sectors */
        char serial[BLK_ID_BYTES];
        struct iovec data[VIRTQ_MAX_SEGS];
};

/* Whether [sector, sector + bytes/512) lies on the disk, without overflow. */
static bool in_range(const struct virtio_blk *blk, uint64_t sector, uint64_t bytes)
{
        return sector <= blk->capacity && bytes / SECTOR_SIZE <= blk->capacity - sector;
}

static uint8_t blk_rw(struct virtio_blk *blk, const struct virtio_blk_req_hdr *h,
                      const struct virtq_chain *c, uint32_t *written)
{
        bool is_read = h->type == VIRTIO_BLK_T_IN;
        /* Data follows the header for writes, precedes the status for reads. */
        uint64_t len = is_read ? c->in_len - 1 : c->out_len - sizeof(*h);
        size_t skip = is_read ? 0 : sizeof(*h);
        const struct iovec *src = is_read ? &c->iov[c->n_out] : c->iov;
        unsigned n_src = is_read ? c->n_in : c->n_out, n;
        struct isola_err err = {0};
        int rc;

        if (!is_read && blk->readonly)
                return VIRTIO_BLK_S_IOERR;
        if (len % SECTOR_SIZE || !in_range(blk, h->sector, len))
                return VIRTIO_BLK_S_IOERR;
        if (len == 0)
                return VIRTIO_BLK_S_OK;
        n = iov_slice(src, n_src, skip, len, blk->data, VIRTQ_MAX_SEGS);
        if (is_read)
                rc = bdev_preadv(blk->bd, blk->data, (int)n, h->sector * SECTOR_SIZE, &err);
        else
                rc = bdev_pwritev(blk->bd, blk->data, (int)n, h->sector * SECTOR_SIZE, &err);
        if (rc < 0)
                return VIRTIO_BLK_S_IOERR;
        virtio_pci_count(&blk->vp.stats.bytes, len);
        if (is_read)
                *written = (uint32_t)len;
        return VIRTIO_BLK_S_OK;
}

static uint8_t blk_get_id(struct virtio_blk *blk, const struct virtq_chain *c, uint32_t *written)
{
        size_t room = c->in_len - 1;
        size_t n = room < BLK_ID_BYTES ? room : BLK_ID_BYTES;

        *written = (uint32_t)iov_copy_to(&c->iov[c->n_out], c->n_in, 0, blk->serial, n);
        return VIRTIO_BLK_S_OK;
}

static uint8_t blk_execute(struct virtio_blk *blk, const struct virtio_blk_req_hdr *h,
                           const struct virtq_chain *c, uint32_t *written)
{
        switch (h->type) {
        case VIRTIO_BLK_T_IN:
        case VIRTIO_BLK_T_OUT:
                return blk_rw(blk, h, c, written);
        case VIRTIO_BLK_T_FLUSH: {
                struct isola_err err = {0};
                if (!blk->readonly && bdev_flush(blk->bd, &err) < 0)
                        return VIRTIO_BLK_S_IOERR;
                return VIRTIO_BLK_S_OK;
        }
        case VIRTIO_BLK_T_GET_ID:
                return blk_get_id(blk, c, written);
        }
        return VIRTIO_BLK_S_UNSUPP;
}

/* A request is a 16-byte header the device reads, then data, then one
 * status byte the device writes: the last writable byte of the chain. */
static int64_t blk_request(struct virtio_pci *vp, unsigned q, struct virtq_chain *c)
{
        struct virtio_blk *blk = vp->opaque;
        struct virtio_blk_req_hdr h;
        uint32_t written = 0;
        uint8_t status;

        (void)q;
        if (c->out_len < sizeof(h) || c->in_len < 1)
                return -1; /* no header or no status byte: malformed by the driver */
        iov_copy_from(c->iov, c->n_out, 0, &h, sizeof(h));
        status = blk_execute(blk, &h, c, &written);
        iov_copy_to(&c->iov[c->n_out], c->n_in, c->in_len - 1, &status, 1);
        return (int64_t)written + 1;
}

static void blk_queue_notify(struct virtio_pci *vp, unsigned q)
{
        virtio_pci_drain(vp, q, blk_request);
}

static const struct virtio_dev_ops blk_ops = {
    .queue_notify = blk_queue_notify,
};

static void blk_fill_config(struct virtio_blk *blk)
{
        uint8_t *cfg = blk->vp.dev_cfg;
        uint32_t seg_max = BLK_SEG_MAX, blk_size = SECTOR_SIZE, size_max = 1u << 20;

        /* struct virtio_blk_config: capacity, size_max, seg_max, geometry,
         * blk_size. */
        memcpy(&cfg[0], &blk->capacity, 8);
        memcpy(&cfg[8], &size_max, 4);
        memcpy(&cfg[12], &seg_max, 4);
        memcpy(&cfg[20], &blk_size, 4);
        /* The whole 1.1 struct is exposed (zeros past blk_size) so a driver
         * reading any field it knows stays inside the capability. */
        blk->vp.dev_cfg_len = 60;
}

static int blk_open(struct virtio_blk *blk, const char *path, bool readonly, struct isola_err *err)
{
        /* The format is probed: qcow2 by its magic, anything else raw. */
        if (bdev_open(path, BDEV_FMT_AUTO, readonly ? BDEV_RDONLY : 0, &blk->bd, err) < 0)
                return -1;
        blk->capacity = blk->bd->size / SECTOR_SIZE;
        return 0;
}

static void blk_make_serial(struct virtio_blk *blk, const char *path)
{
        const char *base = strrchr(path, '/');
        size_t len;

        /* The serial is the image's base name, truncated, NUL padded. */
        base = base ? base + 1 : path;
        len = strlen(base);
        memset(blk->serial, 0, sizeof(blk->serial));
        memcpy(blk->serial, base, len < sizeof(blk->serial) ? len : sizeof(blk->serial));
}

int virtio_blk_create(struct vm *vm, struct pci_bus *bus, const char *path, bool readonly,
                      struct virtio_blk **out, struct isola_err *err)
{
        struct virtio_blk *blk = calloc(1, sizeof(*blk));
        struct virtio_pci_params p = {
            .name = "virtio-blk",
            .device_id = VIRTIO_ID_BLOCK,
            .class_code = 0x018000,
            .n_queues = 1,
            .queue_size = BLK_QUEUE_SIZE,
            .features = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
                        1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH |
                        (readonly ? 1ULL << VIRTIO_BLK_F_RO : 0),
            .ops = &blk_ops,
        };

        if (!blk)
                return err_set(err, ENOMEM, "virtio-blk: out of memory");
        blk->readonly = readonly;
        p.opaque = blk;
        if (blk_open(blk, path, readonly, err) < 0) {
                free(blk);
                return err_prefix(err, "virtio-blk");
        }
        blk_make_serial(blk, path);
        blk_fill_config(blk);
        if (virtio_pci_init(&blk->vp, vm, bus, &p, err) < 0) {
                virtio_blk_destroy(blk);
                return -1;
        }
        *out = blk;
        return 0;
}

void virtio_blk_destroy(struct virtio_blk *blk)
{
        if (!blk)
                return;
        virtio_pci_uninit(&blk->vp);
        bdev_close(blk->bd);
        free(blk);
}

void virtio_blk_stats(const struct virtio_blk *blk, struct virtio_stats *st)
{
        virtio_pci_get_stats((struct virtio_pci *)&blk->vp, st);
}

/* ---- snapshot state (devices/dev_state.h): the transport holds it all ---- */

void virtio_blk_save(struct virtio_blk *blk, struct dstate_w *w)
{
        virtio_pci_save(&blk->vp, w);
}

int virtio_blk_load(struct virtio_blk *blk, struct dstate_r *r, struct isola_err *err)
{
        return virtio_pci_load(&blk->vp, r, err);
}

int virtio_blk_flush_disk(struct virtio_blk *blk, struct isola_err *err)
{
        pthread_mutex_lock(&blk->vp.lock);
        int rc = blk->readonly ? 0 : bdev_flush(blk->bd, err);
        pthread_mutex_unlock(&blk->vp.lock);
        return rc;
}

int virtio_blk_reopen_disk(struct virtio_blk *blk, const char *path, struct isola_err *err)
{
        struct bdev *bd, *old;

        if (bdev_open(path, BDEV_FMT_AUTO, blk->readonly ? BDEV_RDONLY : 0, &bd, err) < 0)
                return -1;
        pthread_mutex_lock(&blk->vp.lock);
        bool same = bd->size / SECTOR_SIZE == blk->capacity;
        old = same ? blk->bd : bd;
        if (same)
                blk->bd = bd;
        pthread_mutex_unlock(&blk->vp.lock);
        bdev_close(old);
        return same ? 0 : err_set(err, EINVAL, "'%s': not the size of the disk it replaces", path);
}
