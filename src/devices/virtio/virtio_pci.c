/* virtio 1.x modern PCI transport (see virtio_pci.h): capabilities, BAR 0
 * register handling, feature negotiation, queue life cycle and
 * notifications; interrupts are in virtio_pci_irq.c. Everything the guest
 * writes here is hostile. */
#include "devices/virtio/virtio_pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/dev_state.h"
#include "vmm/vm.h"

#define PCI_VENDOR_REDHAT      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define VIRTIO_PCI_SUBSYS_ID   0x1100

#define PCI_CAP_ID_VENDOR 0x09

enum virtio_cap_type {
        VIRTIO_PCI_CAP_COMMON_CFG = 1,
        VIRTIO_PCI_CAP_NOTIFY_CFG = 2,
        VIRTIO_PCI_CAP_ISR_CFG = 3,
        VIRTIO_PCI_CAP_DEVICE_CFG = 4,
};

/* struct virtio_pci_common_cfg offsets (4.1.4.3). */
enum {
        CC_DFSELECT = 0x00,
        CC_DF = 0x04,
        CC_GFSELECT = 0x08,
        CC_GF = 0x0c,
        CC_MSIX = 0x10,
        CC_NUMQ = 0x12,
        CC_STATUS = 0x14,
        CC_CFGGEN = 0x15,
        CC_Q_SELECT = 0x16,
        CC_Q_SIZE = 0x18,
        CC_Q_MSIX = 0x1a,
        CC_Q_ENABLE = 0x1c,
        CC_Q_NOFF = 0x1e,
        CC_Q_DESC = 0x20,
        CC_Q_AVAIL = 0x28,
        CC_Q_USED = 0x30,
        CC_SIZE = 0x38,
};

void virtio_pci_count(uint64_t *counter, uint64_t n)
{
        __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

bool virtio_pci_driver_has(const struct virtio_pci *vp, unsigned bit)
{
        return vp->driver_features & (1ULL << bit);
}

/* ---- queues --------------------------------------------------------------- */

static void queue_unhook(struct virtio_pci *vp, struct virtio_queue *q)
{
        if (q->ioeventfd_at)
                vm_ioeventfd_del(vp->vm, q->ioeventfd_at, 2, false, q->kick_fd);
        q->ioeventfd_at = 0;
}

static uint64_t queue_notify_addr(struct virtio_pci *vp, unsigned q)
{
        return vp->bar_addr + VIRTIO_BAR_NOTIFY + (uint64_t)q * VIRTIO_NOTIFY_MULT;
}

/* Linux notifies with a 16-bit write of the queue index; other widths reach
 * the BAR handler's fall-back path. */
static void queue_hook(struct virtio_pci *vp, struct virtio_queue *q)
{
        uint64_t at = queue_notify_addr(vp, q->index);

        if (!q->enabled || !vp->bar_addr || q->ioeventfd_at == at)
                return;
        queue_unhook(vp, q);
        if (vm_ioeventfd_add(vp->vm, at, 2, false, q->kick_fd, NULL) == 0)
                q->ioeventfd_at = at;
}

static void self_kick(struct virtio_pci *vp, struct virtio_queue *q)
{
        uint64_t one = 1;

        if (write(q->kick_fd, &one, sizeof(one)) == sizeof(one))
                virtio_pci_count(&vp->self_kicks, 1);
}

static void queue_enable(struct virtio_pci *vp, struct virtio_queue *q)
{
        if (q->enabled)
                return;
        q->vq.event_idx = virtio_pci_driver_has(vp, VIRTIO_F_EVENT_IDX);
        q->vq.indirect = virtio_pci_driver_has(vp, VIRTIO_F_INDIRECT_DESC);
        if (q->vq.size > q->max_size || virtq_start(&q->vq, &vp->vm->mem) < 0) {
                virtio_pci_set_broken(vp);
                return;
        }
        q->enabled = true;
        queue_hook(vp, q);
}

static void device_reset(struct virtio_pci *vp)
{
        for (unsigned i = 0; i < vp->n_queues; i++) {
                struct virtio_queue *q = &vp->queues[i];
                queue_unhook(vp, q);
                virtq_reset(&q->vq, q->max_size);
                q->enabled = false;
                q->msix_vector = VIRTIO_NO_VECTOR;
        }
        vp->driver_features = 0;
        vp->device_feature_select = vp->driver_feature_select = 0;
        vp->config_msix_vector = VIRTIO_NO_VECTOR;
        vp->queue_select = 0;
        vp->status = 0;
        vp->isr = 0;
        vp->broken = false;
        virtio_pci_intx_set(vp, false);
        if (vp->ops->reset)
                vp->ops->reset(vp);
}

static bool features_acceptable(const struct virtio_pci *vp)
{
        return !(vp->driver_features & ~vp->device_features) &&
               virtio_pci_driver_has(vp, VIRTIO_F_VERSION_1);
}

static void status_write(struct virtio_pci *vp, uint8_t v)
{
        uint8_t old = vp->status;

        if (v == 0) {
                device_reset(vp);
                return;
        }
        /* FEATURES_OK sticks only for a subset we offered (3.1.1 step 5). */
        if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
            !features_acceptable(vp))
                v &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
        vp->status =
            (uint8_t)((v & ~VIRTIO_STATUS_NEEDS_RESET) | (old & VIRTIO_STATUS_NEEDS_RESET));
        /* Buffers made available before DRIVER_OK are processed now, on the
         * event loop thread (this is a vCPU thread). */
        if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
                for (unsigned i = 0; i < vp->n_queues; i++)
                        if (vp->queues[i].enabled)
                                self_kick(vp, &vp->queues[i]);
}

static struct virtio_queue *selected_queue(struct virtio_pci *vp)
{
        return vp->queue_select < vp->n_queues ? &vp->queues[vp->queue_select] : NULL;
}

static uint16_t vector_or_none(const struct virtio_pci *vp, uint16_t v)
{
        return v < vp->n_vectors ? v : VIRTIO_NO_VECTOR;
}

/* Reads the field at off; 64-bit queue addresses are readable as halves. */
static uint64_t common_read(struct virtio_pci *vp, unsigned off)
{
        struct virtio_queue *q = selected_queue(vp);

        switch (off) {
        case CC_DFSELECT:
                return vp->device_feature_select;
        case CC_DF:
                return vp->device_feature_select < 2
                           ? (uint32_t)(vp->device_features >> (32 * vp->device_feature_select))
                           : 0;
        case CC_GFSELECT:
                return vp->driver_feature_select;
        case CC_GF:
                return vp->driver_feature_select < 2
                           ? (uint32_t)(vp->driver_features >> (32 * vp->driver_feature_select))
                           : 0;
        case CC_MSIX:
                return vp->config_msix_vector;
        case CC_NUMQ:
                return vp->n_queues;
        case CC_STATUS:
                return vp->status;
        case CC_CFGGEN:
                return vp->config_generation;
        case CC_Q_SELECT:
                return vp->queue_select;
        }
        if (!q)
                return off == CC_Q_MSIX ? VIRTIO_NO_VECTOR : 0;
        switch (off) {
        case CC_Q_SIZE:
                return q->vq.size;
        case CC_Q_MSIX:
                return q->msix_vector;
        case CC_Q_ENABLE:
                return q->enabled;
        case CC_Q_NOFF:
                return q->index;
        case CC_Q_DESC:
        case CC_Q_DESC + 4:
                return (uint32_t)(q->vq.desc_gpa >> (off - CC_Q_DESC) * 8);
        case CC_Q_AVAIL:
        case CC_Q_AVAIL + 4:
                return (uint32_t)(q->vq.avail_gpa >> (off - CC_Q_AVAIL) * 8);
        case CC_Q_USED:
        case CC_Q_USED + 4:
                return (uint32_t)(q->vq.used_gpa >> (off - CC_Q_USED) * 8);
        }
        return 0;
}

static void set_half(uint64_t *field, unsigned half, uint32_t v)
{
        if (half)
                *field = (*field & 0xffffffffULL) | (uint64_t)v << 32;
        else
                *field = (*field & ~0xffffffffULL) | v;
}

static void queue_field_write(struct virtio_pci *vp, struct virtio_queue *q, unsigned off,
                              uint32_t v)
{
        switch (off) {
        case CC_Q_MSIX:
                q->msix_vector = vector_or_none(vp, (uint16_t)v);
                return;
        case CC_Q_ENABLE:
                if (v == 1)
                        queue_enable(vp, q);
                return;
        }
        /* The ring's size and placement are frozen once enabled (4.1.4.3.2). */
        if (q->enabled)
                return;
        switch (off) {
        case CC_Q_SIZE:
                q->vq.size = (uint16_t)v;
                return;
        case CC_Q_DESC:
        case CC_Q_DESC + 4:
                set_half(&q->vq.desc_gpa, (off - CC_Q_DESC) / 4, v);
                return;
        case CC_Q_AVAIL:
        case CC_Q_AVAIL + 4:
                set_half(&q->vq.avail_gpa, (off - CC_Q_AVAIL) / 4, v);
                return;
        case CC_Q_USED:
        case CC_Q_USED + 4:
                set_half(&q->vq.used_gpa, (off - CC_Q_USED) / 4, v);
                return;
        }
}

static void common_write(struct virtio_pci *vp, unsigned off, uint32_t v)
{
        struct virtio_queue *q = selected_queue(vp);

        switch (off) {
        case CC_DFSELECT:
                vp->device_feature_select = v;
                return;
        case CC_GFSELECT:
                vp->driver_feature_select = v;
                return;
        case CC_GF:
                /* Features are fixed once FEATURES_OK was accepted. */
                if (vp->driver_feature_select < 2 && !(vp->status & VIRTIO_STATUS_FEATURES_OK))
                        set_half(&vp->driver_features, vp->driver_feature_select, v);
                return;
        case CC_MSIX:
                vp->config_msix_vector = vector_or_none(vp, (uint16_t)v);
                return;
        case CC_STATUS:
                status_write(vp, (uint8_t)v);
                return;
        case CC_Q_SELECT:
                vp->queue_select = (uint16_t)v;
                return;
        }
        if (q)
                queue_field_write(vp, q, off, v);
}

/* Width of the field at off, 0 when no field starts there. */
static unsigned common_field_len(unsigned off)
{
        if (off >= CC_Q_DESC && off < CC_SIZE)
                return off % 4 ? 0 : 4;
        switch (off) {
        case CC_DFSELECT:
        case CC_DF:
        case CC_GFSELECT:
        case CC_GF:
                return 4;
        case CC_STATUS:
        case CC_CFGGEN:
                return 1;
        case CC_MSIX:
        case CC_NUMQ:
        case CC_Q_SELECT:
        case CC_Q_SIZE:
        case CC_Q_MSIX:
        case CC_Q_ENABLE:
        case CC_Q_NOFF:
                return 2;
        }
        return 0;
}

static void common_io(struct virtio_pci *vp, unsigned off, uint8_t *data, uint32_t len,
                      bool is_write)
{
        uint64_t v = 0;

        /* A qword on a 64-bit queue address is two dword accesses. */
        if (len == 8 && off >= CC_Q_DESC && off < CC_SIZE && !(off % 8)) {
                common_io(vp, off, data, 4, is_write);
                common_io(vp, off + 4, data + 4, 4, is_write);
                return;
        }
        if (common_field_len(off) != len) {
                if (!is_write)
                        memset(data, 0, len);
                return;
        }
        if (is_write) {
                memcpy(&v, data, len);
                common_write(vp, off, (uint32_t)v);
        } else {
                v = common_read(vp, off);
                memcpy(data, &v, len);
        }
}

/* ---- BAR 0 ---------------------------------------------------------------- */

static void isr_read(struct virtio_pci *vp, uint8_t *data, uint32_t len)
{
        memset(data, 0, len);
        data[0] = vp->isr;
        /* Reading the ISR acknowledges it and drops the INTx line (4.1.4.5). */
        vp->isr = 0;
        virtio_pci_intx_set(vp, false);
}

static void device_cfg_io(struct virtio_pci *vp, uint64_t off, uint8_t *data, uint32_t len,
                          bool is_write)
{
        if (is_write)
                return; /* no device here has writable configuration fields */
        for (uint32_t i = 0; i < len; i++)
                data[i] = off + i < vp->dev_cfg_len ? vp->dev_cfg[off + i] : 0;
}

static void notify_write(struct virtio_pci *vp, uint64_t off)
{
        uint64_t q = off / VIRTIO_NOTIFY_MULT;

        if (off % VIRTIO_NOTIFY_MULT || q >= vp->n_queues)
                return;
        virtio_pci_count(&vp->stats.notify_mmio, 1);
        self_kick(vp, &vp->queues[q]);
}

void virtio_pci_bar_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct virtio_pci *vp = opaque;
        uint64_t region = offset & ~0xfffULL, off = offset & 0xfff;

        if (len > 8)
                return;
        virtio_pci_count(&vp->stats.bar_accesses, 1);
        if (!is_write)
                memset(data, 0, len);
        pthread_mutex_lock(&vp->lock);
        switch (region) {
        case VIRTIO_BAR_COMMON:
                common_io(vp, (unsigned)off, data, len, is_write);
                break;
        case VIRTIO_BAR_ISR:
                if (!is_write && off == 0)
                        isr_read(vp, data, len);
                break;
        case VIRTIO_BAR_DEVICE:
                device_cfg_io(vp, off, data, len, is_write);
                break;
        case VIRTIO_BAR_NOTIFY:
                if (is_write)
                        notify_write(vp, off);
                break;
        case VIRTIO_BAR_MSIX:
                virtio_msix_table_io(vp, off, data, len, is_write);
                break;
        case VIRTIO_BAR_PBA:
                if (!is_write)
                        virtio_msix_pba_read(vp, off, data, len);
                break;
        }
        pthread_mutex_unlock(&vp->lock);
}

/* ---- PCI hooks (called under pci_dev.lock) -------------------------------- */

static void pci_cfg_written(struct pci_dev *dev, unsigned offset, unsigned len)
{
        struct virtio_pci *vp = dev->opaque;
        unsigned ctrl = vp->msix_cap + 2u;

        if (offset + len <= ctrl || offset >= ctrl + 2)
                return;
        virtio_msix_ctrl_written(vp, (uint16_t)pci_cfg_read(dev, ctrl, 2));
}

static void pci_bar_moved(struct pci_dev *dev, int bar, uint64_t old_addr, uint64_t new_addr)
{
        struct virtio_pci *vp = dev->opaque;

        (void)old_addr;
        if (bar != 0)
                return;
        pthread_mutex_lock(&vp->lock);
        vp->bar_addr = new_addr;
        for (unsigned i = 0; i < vp->n_queues; i++) {
                queue_unhook(vp, &vp->queues[i]);
                queue_hook(vp, &vp->queues[i]);
        }
        pthread_mutex_unlock(&vp->lock);
}

static const struct pci_dev_ops virtio_pci_dev_ops = {
    .cfg_written = pci_cfg_written,
    .bar_moved = pci_bar_moved,
};

/* ---- event loop side ------------------------------------------------------ */

bool virtio_pci_queue_live(const struct virtio_pci *vp, unsigned q)
{
        return !vp->broken && (vp->status & VIRTIO_STATUS_DRIVER_OK) && vp->queues[q].enabled;
}

void virtio_pci_kick(struct virtio_pci *vp, unsigned q)
{
        pthread_mutex_lock(&vp->lock);
        if (virtio_pci_queue_live(vp, q))
                vp->ops->queue_notify(vp, q);
        pthread_mutex_unlock(&vp->lock);
}

static void kick_ready(void *opaque, uint32_t events)
{
        struct virtio_queue *q = opaque;
        uint64_t n;

        (void)events;
        if (read(q->kick_fd, &n, sizeof(n)) != sizeof(n))
                return;
        virtio_pci_count(&q->vp->kicks, n);
        virtio_pci_kick(q->vp, q->index);
}

void virtio_pci_drain(struct virtio_pci *vp, unsigned q, virtio_chain_fn fn)
{
        struct virtq *vq = &vp->queues[q].vq;
        enum virtq_result r;
        bool done = false, pushed = false;

        while (!done) {
                while ((r = virtq_pop(vq, vp->chain)) == VIRTQ_OK) {
                        int64_t written = fn(vp, q, vp->chain);
                        if (written < 0) {
                                virtio_pci_set_broken(vp);
                                return;
                        }
                        virtq_push(vq, vp->chain->head, (uint32_t)written);
                        virtio_pci_count(&vp->stats.requests, 1);
                        pushed = true;
                }
                if (r == VIRTQ_BROKEN) {
                        virtio_pci_set_broken(vp);
                        return;
                }
                done = !virtq_arm_notify(vq);
        }
        /* One interrupt per batch, and none for a spurious kick. */
        if (pushed)
                virtio_pci_queue_interrupt(vp, q);
}

void virtio_pci_get_stats(struct virtio_pci *vp, struct virtio_stats *st)
{
        uint64_t kicks = __atomic_load_n(&vp->kicks, __ATOMIC_RELAXED);
        uint64_t self = __atomic_load_n(&vp->self_kicks, __ATOMIC_RELAXED);

        st->notify_ioeventfd = kicks > self ? kicks - self : 0;
        st->notify_mmio = __atomic_load_n(&vp->stats.notify_mmio, __ATOMIC_RELAXED);
        st->bar_accesses = __atomic_load_n(&vp->stats.bar_accesses, __ATOMIC_RELAXED);
        st->interrupts = __atomic_load_n(&vp->stats.interrupts, __ATOMIC_RELAXED);
        st->requests = __atomic_load_n(&vp->stats.requests, __ATOMIC_RELAXED);
        st->bytes = __atomic_load_n(&vp->stats.bytes, __ATOMIC_RELAXED);
}

/* ---- set-up --------------------------------------------------------------- */

static int add_virtio_cap(struct virtio_pci *vp, uint8_t type, uint32_t offset, uint32_t length,
                          bool notify, struct isola_err *err)
{
        uint8_t body[18] = {0};
        uint32_t mult = VIRTIO_NOTIFY_MULT;
        unsigned body_len = notify ? 18 : 14;

        body[0] = (uint8_t)(body_len + 2); /* cap_len counts the id/next pair */
        body[1] = type;
        body[2] = 0; /* BAR 0 */
        memcpy(&body[6], &offset, 4);
        memcpy(&body[10], &length, 4);
        if (notify)
                memcpy(&body[14], &mult, 4);
        return pci_dev_add_cap(&vp->pci, PCI_CAP_ID_VENDOR, body, NULL, body_len, NULL, err);
}

static int setup_caps(struct virtio_pci *vp, struct isola_err *err)
{
        if (add_virtio_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_BAR_COMMON, CC_SIZE, false, err) <
                0 ||
            add_virtio_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_BAR_NOTIFY,
                           vp->n_queues * VIRTIO_NOTIFY_MULT, true, err) < 0 ||
            add_virtio_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_BAR_ISR, 1, false, err) < 0 ||
            (vp->dev_cfg_len && add_virtio_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_BAR_DEVICE,
                                               vp->dev_cfg_len, false, err) < 0) ||
            virtio_msix_add_cap(vp, err) < 0)
                return -1;
        return 0;
}

static int setup_queues(struct virtio_pci *vp, uint16_t size, struct isola_err *err)
{
        for (unsigned i = 0; i < vp->n_queues; i++) {
                struct virtio_queue *q = &vp->queues[i];

                q->vp = vp;
                q->index = i;
                q->max_size = size;
                q->msix_vector = VIRTIO_NO_VECTOR;
                virtq_reset(&q->vq, size);
                q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (q->kick_fd < 0)
                        return err_sys(err, "eventfd");
                if (evloop_add(vp->vm->loop, q->kick_fd, EPOLLIN, kick_ready, q, err) < 0) {
                        close(q->kick_fd);
                        q->kick_fd = -1;
                        return -1;
                }
        }
        return 0;
}

int virtio_pci_init(struct virtio_pci *vp, struct vm *vm, struct pci_bus *bus,
                    const struct virtio_pci_params *p, struct isola_err *err)
{
        /* vp->dev_cfg / dev_cfg_len are filled by the device beforehand. */
        vp->vm = vm;
        vp->bus = bus;
        vp->name = p->name;
        vp->ops = p->ops;
        vp->opaque = p->opaque;
        vp->n_queues = p->n_queues;
        vp->n_vectors = p->n_queues + 1;
        vp->device_features = p->features | 1ULL << VIRTIO_F_VERSION_1 |
                              1ULL << VIRTIO_F_INDIRECT_DESC | 1ULL << VIRTIO_F_EVENT_IDX;
        vp->config_msix_vector = VIRTIO_NO_VECTOR;
        for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
                vp->queues[i].kick_fd = -1;
        for (unsigned i = 0; i < VIRTIO_MAX_VECTORS; i++)
                vp->vectors[i] = (struct virtio_msix_entry){
                    .gsi = -1, .efd = -1, .ctrl = VIRTIO_MSIX_ENTRY_MASKED};
        pthread_mutex_init(&vp->lock, NULL);
        vp->chain = malloc(sizeof(*vp->chain));
        if (!vp->chain)
                return err_set(err, ENOMEM, "%s: out of memory", p->name);
        pci_dev_init(&vp->pci, PCI_VENDOR_REDHAT, VIRTIO_PCI_DEVICE_BASE + p->device_id,
                     p->class_code, 1, PCI_VENDOR_REDHAT, VIRTIO_PCI_SUBSYS_ID, 1);
        vp->pci.ops = &virtio_pci_dev_ops;
        vp->pci.opaque = vp;
        if (pci_dev_set_bar(&vp->pci, 0, PCI_BAR_MMIO32, VIRTIO_BAR_SIZE, virtio_pci_bar_io, vp,
                            err) < 0 ||
            setup_caps(vp, err) < 0 || setup_queues(vp, p->queue_size, err) < 0 ||
            pci_bus_add(bus, &vp->pci, -1, err) < 0)
                return err_prefix(err, "%s", p->name);
        vp->added = true;
        return 0;
}

void virtio_pci_uninit(struct virtio_pci *vp)
{
        if (vp->added)
                pci_bus_remove(vp->bus, &vp->pci);
        vp->added = false;
        for (unsigned i = 0; i < vp->n_queues; i++) {
                struct virtio_queue *q = &vp->queues[i];
                if (q->kick_fd < 0)
                        continue;
                queue_unhook(vp, q);
                evloop_del(vp->vm->loop, q->kick_fd);
                close(q->kick_fd);
                q->kick_fd = -1;
        }
        virtio_msix_free(vp);
        virtio_pci_intx_set(vp, false);
        free(vp->chain);
        vp->chain = NULL;
}

/* ---- snapshot state (devices/dev_state.h) ---- */

void virtio_pci_save(struct virtio_pci *vp, struct dstate_w *w)
{
        pthread_mutex_lock(&vp->lock);
        dstate_w_u64(w, vp->device_features);
        dstate_w_u64(w, vp->driver_features);
        dstate_w_u32(w, vp->device_feature_select);
        dstate_w_u32(w, vp->driver_feature_select);
        dstate_w_u16(w, vp->config_msix_vector);
        dstate_w_u16(w, vp->queue_select);
        uint8_t b[] = {vp->status, vp->config_generation, vp->isr};
        dstate_w_bytes(w, b, sizeof(b));
        dstate_w_bool(w, vp->intx_asserted);
        dstate_w_bool(w, vp->broken);
        dstate_w_u32(w, vp->dev_cfg_len);
        dstate_w_bytes(w, vp->dev_cfg, vp->dev_cfg_len);
        dstate_w_u32(w, vp->n_queues);
        for (unsigned i = 0; i < vp->n_queues; i++) {
                const struct virtio_queue *q = &vp->queues[i];
                dstate_w_u16(w, q->vq.size);
                dstate_w_u64(w, q->vq.desc_gpa);
                dstate_w_u64(w, q->vq.avail_gpa);
                dstate_w_u64(w, q->vq.used_gpa);
                dstate_w_u16(w, q->msix_vector);
                dstate_w_bool(w, q->enabled);
                dstate_w_u16(w, q->vq.last_avail);
                dstate_w_u16(w, q->vq.used_idx);
                dstate_w_u16(w, q->vq.signalled);
                dstate_w_bool(w, q->vq.signalled_valid);
        }
        virtio_msix_save(vp, w);
        pthread_mutex_unlock(&vp->lock);
}

/* One queue as the driver left it; an enabled queue's rings are validated
 * again against guest memory (virtq_start), as the driver's enable was. */
static void queue_load(struct virtio_pci *vp, struct virtio_queue *q, struct dstate_r *r)
{
        uint16_t size = dstate_r_u16(r);
        uint64_t desc = dstate_r_u64(r), avail = dstate_r_u64(r), used = dstate_r_u64(r);
        uint16_t vector = dstate_r_u16(r);
        bool enabled = dstate_r_bool(r);
        uint16_t last_avail = dstate_r_u16(r), used_idx = dstate_r_u16(r),
                 signalled = dstate_r_u16(r);
        bool signalled_valid = dstate_r_bool(r);

        if (r->bad || size > q->max_size) {
                r->bad = true;
                return;
        }
        queue_unhook(vp, q);
        virtq_reset(&q->vq, q->max_size);
        q->enabled = false;
        q->vq.size = size;
        q->vq.desc_gpa = desc;
        q->vq.avail_gpa = avail;
        q->vq.used_gpa = used;
        q->msix_vector = vector;
        if (!enabled)
                return;
        q->vq.event_idx = virtio_pci_driver_has(vp, VIRTIO_F_EVENT_IDX);
        q->vq.indirect = virtio_pci_driver_has(vp, VIRTIO_F_INDIRECT_DESC);
        if (virtq_start(&q->vq, &vp->vm->mem) < 0) {
                r->bad = true;
                return;
        }
        q->vq.last_avail = last_avail;
        q->vq.used_idx = used_idx;
        q->vq.signalled = signalled;
        q->vq.signalled_valid = signalled_valid;
        q->enabled = true;
        queue_hook(vp, q);
}

int virtio_pci_load(struct virtio_pci *vp, struct dstate_r *r, struct isola_err *err)
{
        pthread_mutex_lock(&vp->lock);
        uint64_t dev_features = dstate_r_u64(r);
        vp->driver_features = dstate_r_u64(r);
        vp->device_feature_select = dstate_r_u32(r);
        vp->driver_feature_select = dstate_r_u32(r);
        vp->config_msix_vector = dstate_r_u16(r);
        vp->queue_select = dstate_r_u16(r);
        vp->status = dstate_r_u8(r);
        vp->config_generation = dstate_r_u8(r);
        vp->isr = dstate_r_u8(r);
        bool intx = dstate_r_bool(r);
        vp->broken = dstate_r_bool(r);
        uint32_t cfg_len = dstate_r_u32(r);
        if (cfg_len != vp->dev_cfg_len || dev_features != vp->device_features)
                r->bad = true;
        else
                dstate_r_bytes(r, vp->dev_cfg, cfg_len);
        if (dstate_r_u32(r) != vp->n_queues)
                r->bad = true;
        for (unsigned i = 0; i < vp->n_queues && !r->bad; i++)
                queue_load(vp, &vp->queues[i], r);
        if (vp->queue_select >= VIRTIO_MAX_QUEUES)
                vp->queue_select = 0;
        if (!r->bad)
                virtio_msix_load(vp, r);
        if (!r->bad) {
                virtio_pci_intx_set(vp, intx);
                /* Buffers the driver queued before the snapshot are looked
                 * at once the event loop runs. */
                for (unsigned i = 0; i < vp->n_queues; i++)
                        if (virtio_pci_queue_live(vp, i))
                                self_kick(vp, &vp->queues[i]);
        }
        pthread_mutex_unlock(&vp->lock);
        if (dstate_r_end(r, err) < 0)
                return err_prefix(err, "%s", vp->name);
        return 0;
}
