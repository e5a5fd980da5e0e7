/* The modern virtio-pci transport (virtio 1.x, section 4.1): vendor
 * capabilities locate the common, notify, ISR and device config regions in
 * the BARs; split virtqueues are driven by polling the used ring, with
 * device interrupts suppressed (VIRTQ_AVAIL_F_NO_INTERRUPT). */
#include "guest.h"

#define CAP_VENDOR 0x09
#define CFG_COMMON 1
#define CFG_NOTIFY 2
#define CFG_ISR    3
#define CFG_DEVICE 4

/* struct virtio_pci_common_cfg offsets */
#define CC_DFSELECT 0x00
#define CC_DF       0x04
#define CC_GFSELECT 0x08
#define CC_GF       0x0c
#define CC_MSIX     0x10
#define CC_NUMQ     0x12
#define CC_STATUS   0x14
#define CC_QSELECT  0x16
#define CC_QSIZE    0x18
#define CC_QMSIX    0x1a
#define CC_QENABLE  0x1c
#define CC_QNOFF    0x1e
#define CC_QDESC    0x20
#define CC_QDRIVER  0x28
#define CC_QDEVICE  0x30

#define ST_ACK         1
#define ST_DRIVER      2
#define ST_DRIVER_OK   4
#define ST_FEATURES_OK 8
#define F_VERSION_1    (1ULL << 32)

static void read_caps(struct virtio_dev *d)
{
        const struct pci_fn *f = d->pci;
        uint64_t bars[6] = {0};
        uint8_t ptr = pci_read8(f, 0x34) & 0xfc;
        for (unsigned guard = 0; ptr && guard < 48; guard++) {
                uint32_t head = pci_read32(f, ptr);
                uint8_t next = (uint8_t)(head >> 8) & 0xfc;
                uint8_t type = (uint8_t)(head >> 24);
                if ((head & 0xff) == CAP_VENDOR && type >= CFG_COMMON && type <= CFG_DEVICE) {
                        uint8_t bar = pci_read8(f, ptr + 4);
                        uint32_t off = pci_read32(f, ptr + 8);
                        if (bar < 6 && !bars[bar])
                                bars[bar] = pci_bar_addr(f, bar);
                        uint64_t a = bar < 6 && bars[bar] ? bars[bar] + off : 0;
                        if (type == CFG_COMMON && !d->common)
                                d->common = a;
                        else if (type == CFG_NOTIFY && !d->notify) {
                                d->notify = a;
                                d->notify_mult = pci_read32(f, ptr + 16);
                        } else if (type == CFG_ISR && !d->isr)
                                d->isr = a;
                        else if (type == CFG_DEVICE && !d->device_cfg)
                                d->device_cfg = a;
                }
                ptr = next;
        }
}

int virtio_open(struct virtio_dev *d, uint16_t pci_device, struct line *why)
{
        memset(d, 0, sizeof(*d));
        d->pci = pci_find(0x1af4, pci_device);
        if (!d->pci) {
                line_add(why, "reason=no-device-1af4:%04x", pci_device);
                return -1;
        }
        line_add(why, "pci=%02x.%u ", d->pci->slot, d->pci->fn);
        if (!(pci_read16(d->pci, 0x06) & 0x10)) {
                line_add(why, "reason=no-capabilities");
                return -1;
        }
        read_caps(d);
        line_add(why, "common_cfg=0x%lx ", (unsigned long)d->common);
        if (!d->common || !d->notify) {
                line_add(why, "reason=missing-common-or-notify-cap");
                return -1;
        }
        return 0;
}

void virtio_reset(struct virtio_dev *d)
{
        mmio_write8(d->common + CC_STATUS, 0);
        for (unsigned i = 0; i < 1000 && mmio_read8(d->common + CC_STATUS); i++)
                ;
}

int virtio_negotiate(struct virtio_dev *d, uint64_t wanted, struct line *why)
{
        uint64_t c = d->common;
        virtio_reset(d);
        mmio_write8(c + CC_STATUS, ST_ACK);
        mmio_write8(c + CC_STATUS, ST_ACK | ST_DRIVER);
        mmio_write32(c + CC_DFSELECT, 0);
        uint64_t offered = mmio_read32(c + CC_DF);
        mmio_write32(c + CC_DFSELECT, 1);
        offered |= (uint64_t)mmio_read32(c + CC_DF) << 32;
        if (!(offered & F_VERSION_1)) {
                line_add(why, "reason=no-VERSION_1 features=0x%lx", (unsigned long)offered);
                return -1;
        }
        d->features = (wanted | F_VERSION_1) & offered;
        mmio_write32(c + CC_GFSELECT, 0);
        mmio_write32(c + CC_GF, (uint32_t)d->features);
        mmio_write32(c + CC_GFSELECT, 1);
        mmio_write32(c + CC_GF, (uint32_t)(d->features >> 32));
        mmio_write8(c + CC_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
        if (!(mmio_read8(c + CC_STATUS) & ST_FEATURES_OK)) {
                line_add(why, "reason=features-not-accepted");
                return -1;
        }
        return 0;
}

int virtio_queue_setup(struct virtio_dev *d, unsigned index, struct virtq *q, struct line *why)
{
        uint64_t c = d->common;
        if (index >= mmio_read16(c + CC_NUMQ)) {
                line_add(why, "reason=no-queue-%u", index);
                return -1;
        }
        mmio_write16(c + CC_QSELECT, (uint16_t)index);
        uint16_t max = mmio_read16(c + CC_QSIZE);
        if (max == 0) {
                line_add(why, "reason=queue-%u-size-0", index);
                return -1;
        }
        q->size = max < VQ_SIZE ? max : VQ_SIZE;
        q->free_head = 0;
        q->last_used = 0;
        q->irq = d->msix;
        q->avail.flags = q->irq ? 0 : 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT when polling */
        q->avail.idx = 0;
        q->used.idx = 0;
        mmio_write16(c + CC_QSIZE, q->size);
        mmio_write64(c + CC_QDESC, (uint64_t)(uintptr_t)q->desc);
        mmio_write64(c + CC_QDRIVER, (uint64_t)(uintptr_t)&q->avail);
        mmio_write64(c + CC_QDEVICE, (uint64_t)(uintptr_t)&q->used);
        mmio_write16(c + CC_QMSIX, q->irq ? 0 : 0xffff);
        if (q->irq && mmio_read16(c + CC_QMSIX) != 0) {
                line_add(why, "reason=queue-%u-msix-vector-refused", index);
                return -1;
        }
        q->notify_addr = d->notify + (uint64_t)mmio_read16(c + CC_QNOFF) * d->notify_mult;
        q->index = (uint16_t)index;
        mmio_write16(c + CC_QENABLE, 1);
        return 0;
}

void virtio_driver_ok(struct virtio_dev *d)
{
        mmio_write8(d->common + CC_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
}

void virtq_notify(struct virtq *q)
{
        __asm__ volatile("mfence" ::: "memory");
        mmio_write16(q->notify_addr, q->index);
}

int virtq_submit(struct virtq *q, const struct vbuf *bufs, unsigned n, bool notify)
{
        uint16_t head = q->free_head;
        for (unsigned i = 0; i < n; i++) {
                uint16_t id = (uint16_t)((head + i) % q->size);
                struct virtq_desc *dsc = &q->desc[id];
                dsc->addr = (uint64_t)(uintptr_t)bufs[i].addr;
                dsc->len = bufs[i].len;
                dsc->flags = (uint16_t)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
                                        (bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0));
                dsc->next = (uint16_t)((id + 1) % q->size);
        }
        q->free_head = (uint16_t)((head + n) % q->size);
        q->avail.ring[q->avail.idx % q->size] = head;
        barrier();
        *(volatile uint16_t *)&q->avail.idx = (uint16_t)(q->avail.idx + 1);
        q->irq_mark = irq_seen();
        if (notify)
                virtq_notify(q);
        return head;
}

int virtq_poll(struct virtq *q, uint32_t *id, uint32_t *len)
{
        if (*(volatile uint16_t *)&q->used.idx == q->last_used)
                return 0;
        barrier();
        unsigned slot = q->last_used % q->size;
        *id = q->used.ring[slot].id;
        *len = q->used.ring[slot].len;
        q->last_used++;
        return 1;
}

/* With interrupts we first wait for the one this request raises (a
 * completion that beat us leaves it pending while IF=0, so it is counted at
 * the sti), then collect the used element. */
int virtq_wait(struct virtq *q, unsigned long ms, uint32_t *id, uint32_t *len)
{
        uint64_t t0 = rdtsc();
        if (q->irq)
                irq_wait(q->irq_mark + 1, ms);
        do {
                if (virtq_poll(q, id, len))
                        return 0;
        } while (within(t0, ms));
        return -1;
}

int virtio_use_msix(struct virtio_dev *d, struct line *why)
{
        if (msix_enable_entry0(d->pci, why) < 0)
                return -1;
        d->msix = true;
        return 0;
}
