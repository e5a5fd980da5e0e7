/* Fake VM and minimal virtio PCI driver for the virtio unit tests (see
 * harness.h). The vm_* functions here stand in for vm.c: interrupts and
 * ioeventfds are recorded so tests can check what the guest would see. */
#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/virtio_pci.h"
#include "vmm/layout.h"

static struct h_vm *the_vm(struct vm *vm)
{
        return (struct h_vm *)vm;
}

int vm_irq_line(struct vm *vm, uint32_t gsi, int level)
{
        struct h_vm *h = the_vm(vm);

        if (gsi >= 24)
                return -1;
        if (level && !__atomic_load_n(&h->irq_level[gsi], __ATOMIC_RELAXED))
                __atomic_fetch_add(&h->irq_asserts[gsi], 1, __ATOMIC_RELAXED);
        __atomic_store_n(&h->irq_level[gsi], level, __ATOMIC_RELEASE);
        return 0;
}

int vm_msi_alloc(struct vm *vm, uint64_t addr, uint32_t data, uint32_t *gsi_out, int *efd_out,
                 struct isola_err *err)
{
        struct h_vm *h = the_vm(vm);

        for (unsigned i = 0; i < H_MAX_MSI; i++) {
                if (h->msi[i].used)
                        continue;
                int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
                if (efd < 0)
                        return err_sys(err, "eventfd");
                h->msi[i] = (struct h_msi){.used = true,
                                           .gsi = LAYOUT_MSI_GSI_BASE + i,
                                           .efd = efd,
                                           .addr = addr,
                                           .data = data};
                *gsi_out = h->msi[i].gsi;
                *efd_out = efd;
                return 0;
        }
        return err_set(err, ENOSPC, "fake MSI: no route left");
}

int vm_msi_update(struct vm *vm, uint32_t gsi, uint64_t addr, uint32_t data, bool masked,
                  struct isola_err *err)
{
        struct h_vm *h = the_vm(vm);
        unsigned i = gsi - LAYOUT_MSI_GSI_BASE;

        (void)masked;
        if (i >= H_MAX_MSI || !h->msi[i].used)
                return err_set(err, EINVAL, "fake MSI: GSI %u not allocated", gsi);
        h->msi[i].addr = addr;
        h->msi[i].data = data;
        return 0;
}

void vm_msi_free(struct vm *vm, uint32_t gsi, int efd)
{
        struct h_vm *h = the_vm(vm);
        unsigned i = gsi - LAYOUT_MSI_GSI_BASE;

        if (i < H_MAX_MSI && h->msi[i].used) {
                h->msi[i].used = false;
                h->msi[i].efd = -1;
        }
        if (efd >= 0)
                close(efd);
}

int vm_msi_signal(struct vm *vm, uint64_t addr, uint32_t data)
{
        (void)vm;
        (void)addr;
        (void)data;
        return 0;
}

int vm_ioeventfd_add(struct vm *vm, uint64_t addr, uint32_t len, bool is_pio, int fd,
                     struct isola_err *err)
{
        struct h_vm *h = the_vm(vm);

        (void)len;
        if (h->ioev_fail || is_pio)
                return err_set(err, ENOSYS, "fake ioeventfd: refused");
        for (unsigned i = 0; i < 8; i++) {
                if (h->ioev_fd[i] < 0) {
                        h->ioev_addr[i] = addr;
                        h->ioev_fd[i] = fd;
                        return 0;
                }
        }
        return err_set(err, ENOSPC, "fake ioeventfd: full");
}

int vm_ioeventfd_del(struct vm *vm, uint64_t addr, uint32_t len, bool is_pio, int fd)
{
        struct h_vm *h = the_vm(vm);

        (void)len;
        (void)is_pio;
        for (unsigned i = 0; i < 8; i++) {
                if (h->ioev_fd[i] == fd && h->ioev_addr[i] == addr) {
                        h->ioev_fd[i] = -1;
                        return 0;
                }
        }
        return -1;
}

void vm_request_stop(struct vm *vm, enum vm_exit_reason reason)
{
        (void)vm;
        (void)reason;
}

static int vm_init(struct h_vm *h, bool start_loop, size_t ram_size)
{
        struct isola_err err = {0};

        memset(h, 0, sizeof(*h));
        for (unsigned i = 0; i < 8; i++)
                h->ioev_fd[i] = -1;
        h->ram_size = ram_size;
        h->ram = aligned_alloc(4096, ram_size);
        if (!h->ram)
                return -1;
        memset(h->ram, 0, ram_size);
        h->vm.kvm_fd = h->vm.vm_fd = -1;
        h->vm.mem.regions[0] = (struct guest_mem_region){.gpa = 0, .size = ram_size, .hva = h->ram};
        h->vm.mem.n_regions = 1;
        h->vm.mem.ram_size = ram_size;
        h->vm.pio_bus = io_bus_new("pio");
        h->vm.mmio_bus = io_bus_new("mmio");
        h->vm.loop = evloop_new(&err);
        if (!h->vm.pio_bus || !h->vm.mmio_bus || !h->vm.loop)
                return -1;
        if (pci_bus_new(&h->vm, &h->bus, &err) < 0)
                return -1;
        h->vm.pci = h->bus;
        return start_loop ? evloop_start(h->vm.loop, &err) : 0;
}

int h_vm_init(struct h_vm *h)
{
        return vm_init(h, true, H_RAM_SIZE);
}

int h_vm_init_idle(struct h_vm *h, size_t ram_size)
{
        return vm_init(h, false, ram_size);
}

void h_vm_fini(struct h_vm *h)
{
        evloop_stop(h->vm.loop);
        pci_bus_free(h->bus);
        evloop_free(h->vm.loop);
        io_bus_free(h->vm.pio_bus);
        io_bus_free(h->vm.mmio_bus);
        for (unsigned i = 0; i < H_MAX_MSI; i++)
                if (h->msi[i].used)
                        close(h->msi[i].efd);
        free(h->ram);
}

/* ---- driver --------------------------------------------------------------- */

static uint32_t cfg_address(struct h_drv *d, unsigned off)
{
        return 0x80000000u | (uint32_t)d->dev->slot << 11 | (off & 0xfc);
}

uint32_t h_cfg_read(struct h_drv *d, unsigned off, unsigned len)
{
        uint8_t b[4] = {0};
        uint32_t v = 0;

        pci_bus_cfg_access(d->h->bus, cfg_address(d, off), off & 3, b, len, false);
        memcpy(&v, b, len);
        return v;
}

void h_cfg_write(struct h_drv *d, unsigned off, uint32_t v, unsigned len)
{
        uint8_t b[4];

        memcpy(b, &v, 4);
        pci_bus_cfg_access(d->h->bus, cfg_address(d, off), off & 3, b, len, true);
}

unsigned h_find_virtio_cap(struct h_drv *d, uint8_t cfg_type)
{
        unsigned off = h_cfg_read(d, 0x34, 1);

        for (int guard = 0; off && guard < 48; guard++) {
                if (h_cfg_read(d, off, 1) == 0x09 && h_cfg_read(d, off + 3, 1) == cfg_type)
                        return off;
                off = h_cfg_read(d, off + 1, 1);
        }
        return 0;
}

static unsigned find_cap(struct h_drv *d, uint8_t id)
{
        unsigned off = h_cfg_read(d, 0x34, 1);

        for (int guard = 0; off && guard < 48; guard++) {
                if (h_cfg_read(d, off, 1) == id)
                        return off;
                off = h_cfg_read(d, off + 1, 1);
        }
        return 0;
}

int h_drv_attach(struct h_drv *d, struct h_vm *h, uint16_t device_id)
{
        struct pci_dev *devs[PCI_MAX_SLOTS];
        unsigned n = pci_bus_slots(h->bus, devs, PCI_MAX_SLOTS);

        memset(d, 0, sizeof(*d));
        d->h = h;
        d->next_buf = 0x100000;
        for (unsigned i = 0; i < n; i++) {
                if (pci_cfg_read(devs[i], 0, 2) == 0x1af4 &&
                    pci_cfg_read(devs[i], 2, 2) == device_id) {
                        d->dev = devs[i];
                        d->bar = h_cfg_read(d, 0x10, 4) & ~0xfu;
                        d->msix_cap = (uint8_t)find_cap(d, 0x11);
                        return 0;
                }
        }
        return -1;
}

uint32_t h_bar_read(struct h_drv *d, uint64_t off, unsigned len)
{
        uint8_t b[8] = {0};
        uint32_t v = 0;

        io_bus_dispatch(d->h->vm.mmio_bus, d->bar + off, b, len, false);
        memcpy(&v, b, len > 4 ? 4 : len);
        return v;
}

void h_bar_write(struct h_drv *d, uint64_t off, uint32_t v, unsigned len)
{
        uint8_t b[8] = {0};

        memcpy(b, &v, 4);
        io_bus_dispatch(d->h->vm.mmio_bus, d->bar + off, b, len, true);
}

uint64_t h_device_features(struct h_drv *d)
{
        uint64_t f;

        h_bar_write(d, 0x00, 0, 4);
        f = h_bar_read(d, 0x04, 4);
        h_bar_write(d, 0x00, 1, 4);
        return f | (uint64_t)h_bar_read(d, 0x04, 4) << 32;
}

uint8_t h_status(struct h_drv *d)
{
        return (uint8_t)h_bar_read(d, 0x14, 1);
}

uint8_t h_negotiate(struct h_drv *d, uint64_t features)
{
        h_bar_write(d, 0x14, 0, 1);
        h_bar_write(d, 0x14, VIRTIO_STATUS_ACKNOWLEDGE, 1);
        h_bar_write(d, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
        h_bar_write(d, 0x08, 0, 4);
        h_bar_write(d, 0x0c, (uint32_t)features, 4);
        h_bar_write(d, 0x08, 1, 4);
        h_bar_write(d, 0x0c, (uint32_t)(features >> 32), 4);
        h_bar_write(d, 0x14,
                    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK,
                    1);
        d->features = features;
        return h_status(d);
}

void h_enable_msix(struct h_drv *d, unsigned n_vectors)
{
        for (unsigned i = 0; i < n_vectors; i++) {
                uint64_t e = VIRTIO_BAR_MSIX + 16ULL * i;
                h_bar_write(d, e + 0, 0xfee00000u, 4);
                h_bar_write(d, e + 4, 0, 4);
                h_bar_write(d, e + 8, 0x40 + i, 4);
                h_bar_write(d, e + 12, 0, 4);
        }
        h_cfg_write(d, d->msix_cap + 2u, 0x8000, 2);
}

void h_setup_queue(struct h_drv *d, unsigned q, uint16_t size, uint16_t vector)
{
        struct h_queue *hq = &d->q[q];

        hq->size = size;
        hq->desc = 0x10000 + 0x8000ULL * q;
        hq->avail = hq->desc + 0x1000 * 4;
        hq->used = hq->avail + 0x1000;
        hq->avail_idx = 0;
        memset(h_ptr(d, hq->desc), 0, 0x8000);
        h_bar_write(d, 0x16, q, 2);
        h_bar_write(d, 0x18, size, 2);
        h_bar_write(d, 0x1a, vector, 2);
        h_bar_write(d, 0x20, (uint32_t)hq->desc, 4);
        h_bar_write(d, 0x24, (uint32_t)(hq->desc >> 32), 4);
        h_bar_write(d, 0x28, (uint32_t)hq->avail, 4);
        h_bar_write(d, 0x2c, 0, 4);
        h_bar_write(d, 0x30, (uint32_t)hq->used, 4);
        h_bar_write(d, 0x34, 0, 4);
        h_bar_write(d, 0x1c, 1, 2);
}

void h_driver_ok(struct h_drv *d)
{
        h_bar_write(d, 0x14, h_status(d) | VIRTIO_STATUS_DRIVER_OK, 1);
}

uint64_t h_alloc(struct h_drv *d, uint32_t len)
{
        uint64_t at = d->next_buf;

        d->next_buf = (d->next_buf + len + 15) & ~15ULL;
        return at;
}

void *h_ptr(struct h_drv *d, uint64_t gpa)
{
        return d->h->ram + gpa;
}

void h_desc(struct h_drv *d, unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
            uint16_t next)
{
        struct virtq_desc *t = h_ptr(d, d->q[q].desc);

        t[i] = (struct virtq_desc){.addr = addr, .len = len, .flags = flags, .next = next};
}

void h_notify(struct h_drv *d, unsigned q)
{
        uint64_t at = d->bar + VIRTIO_BAR_NOTIFY + (uint64_t)q * VIRTIO_NOTIFY_MULT;
        uint64_t one = 1;

        /* What KVM does: a registered ioeventfd swallows the write. */
        for (unsigned i = 0; i < 8; i++) {
                if (d->h->ioev_fd[i] >= 0 && d->h->ioev_addr[i] == at) {
                        if (write(d->h->ioev_fd[i], &one, sizeof(one)) != sizeof(one))
                                abort();
                        return;
                }
        }
        h_bar_write(d, VIRTIO_BAR_NOTIFY + (uint64_t)q * VIRTIO_NOTIFY_MULT, q, 2);
}

void h_submit(struct h_drv *d, unsigned q, uint16_t head)
{
        struct h_queue *hq = &d->q[q];
        struct virtq_avail *a = h_ptr(d, hq->avail);

        a->ring[hq->avail_idx % hq->size] = head;
        hq->avail_idx++;
        __atomic_store_n(&a->idx, hq->avail_idx, __ATOMIC_RELEASE);
        h_notify(d, q);
}

static void sleep_ms(long ms)
{
        struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
        nanosleep(&ts, NULL);
}

uint16_t h_wait_used(struct h_drv *d, unsigned q, uint16_t want)
{
        struct virtq_used *u = h_ptr(d, d->q[q].used);
        uint16_t idx = 0;

        for (int i = 0; i < 2000; i++) {
                idx = __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
                if (idx == want)
                        break;
                sleep_ms(1);
        }
        return idx;
}

struct virtq_used_elem h_used_elem(struct h_drv *d, unsigned q, uint16_t i)
{
        struct virtq_used *u = h_ptr(d, d->q[q].used);

        return u->ring[i % d->q[q].size];
}

uint64_t h_msi_count(struct h_drv *d, unsigned vector)
{
        for (unsigned i = 0; i < H_MAX_MSI; i++) {
                struct h_msi *m = &d->h->msi[i];
                uint64_t v;
                if (!m->used || m->data != 0x40 + vector)
                        continue;
                if (read(m->efd, &v, sizeof(v)) == sizeof(v))
                        m->delivered += v;
                return m->delivered;
        }
        return 0;
}

bool h_wait_status(struct h_drv *d, uint8_t bit)
{
        for (int i = 0; i < 2000; i++) {
                if (h_status(d) & bit)
                        return true;
                sleep_ms(1);
        }
        return false;
}

uint64_t h_wait_msi(struct h_drv *d, unsigned vector, uint64_t want)
{
        uint64_t n = 0;

        for (int i = 0; i < 2000; i++) {
                n = h_msi_count(d, vector);
                if (n >= want)
                        break;
                sleep_ms(1);
        }
        return n;
}

bool h_wait_pba(struct h_drv *d, unsigned vector, bool bit)
{
        for (int i = 0; i < 2000; i++) {
                if (((h_bar_read(d, VIRTIO_BAR_PBA, 4) >> vector) & 1) == bit)
                        return true;
                sleep_ms(1);
        }
        return false;
}
