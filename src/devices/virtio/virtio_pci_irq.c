/* Interrupts of the virtio PCI transport: MSI-X (table and PBA in BAR 0,
 * one KVM irqfd route per unmasked vector, pending bits while masked) and
 * the INTx fall-back with the ISR status byte. Everything runs with vp->lock
 * held except virtio_msix_ctrl_written, which takes it. */
#include <string.h>
#include <unistd.h>

#include "devices/virtio/virtio_pci.h"
#include "devices/dev_state.h"
#include "vmm/vm.h"

#define PCI_CAP_ID_MSIX  0x11
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASK   0x4000

static void msix_fire(struct virtio_pci *vp, struct virtio_msix_entry *e)
{
        uint64_t one = 1;

        if (!vp->msix_masked && !(e->ctrl & VIRTIO_MSIX_ENTRY_MASKED) && e->efd >= 0) {
                if (write(e->efd, &one, sizeof(one)) == sizeof(one)) {
                        e->pending = false;
                        virtio_pci_count(&vp->stats.interrupts, 1);
                        return;
                }
        }
        e->pending = true;
}

void virtio_pci_intx_set(struct virtio_pci *vp, bool level)
{
        if (level == vp->intx_asserted)
                return;
        vp->intx_asserted = level;
        vm_irq_line(vp->vm, pci_bus_intx_gsi(vp->bus, &vp->pci), level);
}

/* isr_bit: 1 for a used-buffer notification, 2 for a configuration change. */
static void raise_irq(struct virtio_pci *vp, uint8_t isr_bit, uint16_t vector)
{
        if (vp->msix_enabled) {
                if (vector < vp->n_vectors)
                        msix_fire(vp, &vp->vectors[vector]);
                return;
        }
        vp->isr |= isr_bit;
        if (!vp->intx_asserted)
                virtio_pci_count(&vp->stats.interrupts, 1);
        virtio_pci_intx_set(vp, true);
}

void virtio_pci_queue_interrupt(struct virtio_pci *vp, unsigned q)
{
        struct virtio_queue *vq = &vp->queues[q];

        if (virtq_need_interrupt(&vq->vq))
                raise_irq(vp, 1, vq->msix_vector);
}

void virtio_pci_set_broken(struct virtio_pci *vp)
{
        if (vp->broken)
                return;
        vp->broken = true;
        vp->status |= VIRTIO_STATUS_NEEDS_RESET;
        if (vp->status & VIRTIO_STATUS_DRIVER_OK)
                raise_irq(vp, 2, vp->config_msix_vector);
}

/* The route follows the table entry while it is unmasked; a masked entry
 * keeps its old route, unused, and collects a pending bit instead. */
static void msix_entry_sync(struct virtio_pci *vp, unsigned i)
{
        struct virtio_msix_entry *e = &vp->vectors[i];
        uint64_t addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;

        if (e->ctrl & VIRTIO_MSIX_ENTRY_MASKED)
                return;
        if ((addr & 0xfff00000ULL) != 0xfee00000ULL)
                return; /* not an MSI address: interrupts stay pending */
        if (e->gsi < 0) {
                uint32_t gsi;
                int efd;
                if (vm_msi_alloc(vp->vm, addr, e->data, &gsi, &efd, NULL) < 0)
                        return;
                e->gsi = gsi;
                e->efd = efd;
        } else if (addr != e->route_addr || e->data != e->route_data) {
                if (vm_msi_update(vp->vm, (uint32_t)e->gsi, addr, e->data, false, NULL) < 0)
                        return;
        }
        e->route_addr = addr;
        e->route_data = e->data;
        if (e->pending && vp->msix_enabled)
                msix_fire(vp, e);
}

static void msix_flush_pending(struct virtio_pci *vp)
{
        for (unsigned i = 0; i < vp->n_vectors; i++)
                if (vp->vectors[i].pending)
                        msix_fire(vp, &vp->vectors[i]);
}

void virtio_msix_table_io(struct virtio_pci *vp, uint64_t off, uint8_t *data, uint32_t len,
                          bool is_write)
{
        unsigned i = (unsigned)(off / 16), field = (unsigned)(off % 16) / 4;
        struct virtio_msix_entry *e;
        uint32_t *regs[4], v;

        if (len == 8 && !(off & 7)) { /* a qword is two dword accesses */
                virtio_msix_table_io(vp, off, data, 4, is_write);
                virtio_msix_table_io(vp, off + 4, data + 4, 4, is_write);
                return;
        }
        if (len != 4 || (off & 3) || i >= vp->n_vectors)
                return;
        e = &vp->vectors[i];
        regs[0] = &e->addr_lo;
        regs[1] = &e->addr_hi;
        regs[2] = &e->data;
        regs[3] = &e->ctrl;
        if (!is_write) {
                memcpy(data, regs[field], 4);
                return;
        }
        memcpy(&v, data, 4);
        *regs[field] = field == 3 ? (v & VIRTIO_MSIX_ENTRY_MASKED) : v;
        msix_entry_sync(vp, i);
}

void virtio_msix_pba_read(struct virtio_pci *vp, uint64_t off, uint8_t *data, uint32_t len)
{
        uint64_t bits = 0;

        for (unsigned i = 0; i < vp->n_vectors; i++)
                if (vp->vectors[i].pending)
                        bits |= 1ULL << i;
        for (uint32_t b = 0; b < len; b++)
                data[b] = off + b < 8 ? (uint8_t)(bits >> (8 * (off + b))) : 0;
}

int virtio_msix_add_cap(struct virtio_pci *vp, struct isola_err *err)
{
        uint8_t body[10] = {0}, wmask[10] = {0};
        uint16_t ctrl = (uint16_t)(vp->n_vectors - 1), ctrl_w = MSIX_CTRL_ENABLE | MSIX_CTRL_MASK;
        uint32_t table = VIRTIO_BAR_MSIX, pba = VIRTIO_BAR_PBA; /* BIR 0 */

        memcpy(&body[0], &ctrl, 2);
        memcpy(&wmask[0], &ctrl_w, 2);
        memcpy(&body[2], &table, 4);
        memcpy(&body[6], &pba, 4);
        return pci_dev_add_cap(&vp->pci, PCI_CAP_ID_MSIX, body, wmask, sizeof(body), &vp->msix_cap,
                               err);
}

void virtio_msix_ctrl_written(struct virtio_pci *vp, uint16_t ctrl)
{
        pthread_mutex_lock(&vp->lock);
        vp->msix_enabled = ctrl & MSIX_CTRL_ENABLE;
        vp->msix_masked = ctrl & MSIX_CTRL_MASK;
        if (vp->msix_enabled) {
                virtio_pci_intx_set(vp, false);
                msix_flush_pending(vp);
        }
        pthread_mutex_unlock(&vp->lock);
}

void virtio_msix_free(struct virtio_pci *vp)
{
        for (unsigned i = 0; i < vp->n_vectors; i++) {
                struct virtio_msix_entry *e = &vp->vectors[i];
                if (e->gsi >= 0)
                        vm_msi_free(vp->vm, (uint32_t)e->gsi, e->efd);
                e->gsi = -1;
                e->efd = -1;
        }
}

/* ---- snapshot state (devices/dev_state.h) ---- */

void virtio_msix_save(struct virtio_pci *vp, struct dstate_w *w)
{
        dstate_w_u32(w, vp->n_vectors);
        for (unsigned i = 0; i < vp->n_vectors; i++) {
                const struct virtio_msix_entry *e = &vp->vectors[i];
                dstate_w_u32(w, e->addr_lo);
                dstate_w_u32(w, e->addr_hi);
                dstate_w_u32(w, e->data);
                dstate_w_u32(w, e->ctrl);
                dstate_w_bool(w, e->pending);
        }
}

/* Routes are made as the guest's table writes would make them. */
void virtio_msix_load(struct virtio_pci *vp, struct dstate_r *r)
{
        if (dstate_r_u32(r) != vp->n_vectors) {
                r->bad = true;
                return;
        }
        for (unsigned i = 0; i < vp->n_vectors && !r->bad; i++) {
                struct virtio_msix_entry *e = &vp->vectors[i];
                e->addr_lo = dstate_r_u32(r);
                e->addr_hi = dstate_r_u32(r);
                e->data = dstate_r_u32(r);
                e->ctrl = dstate_r_u32(r) & VIRTIO_MSIX_ENTRY_MASKED;
                e->pending = dstate_r_bool(r);
                if (!r->bad)
                        msix_entry_sync(vp, i);
        }
}
