/* Test harness for the virtio devices: a fake VM (malloc'd guest RAM, real
 * io_bus/evloop/PCI bus, recorded interrupts and ioeventfds instead of KVM)
 * and a minimal virtio 1.x PCI driver that sets a device up and submits
 * descriptor chains through the same BAR and config-space accesses a guest
 * makes. */
#ifndef ISOLA_TESTS_VIRTIO_HARNESS_H
#define ISOLA_TESTS_VIRTIO_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/pci.h"
#include "devices/virtio/virtqueue.h"
#include "vmm/vm.h"

#define H_RAM_SIZE (4u << 20)
#define H_MAX_MSI  16

struct h_msi {
        bool used;
        uint32_t gsi;
        int efd;
        uint64_t addr;
        uint32_t data;
        uint64_t delivered; /* signals read from efd so far */
};

struct h_vm {
        struct vm vm;
        struct pci_bus *bus;
        uint8_t *ram;
        size_t ram_size;
        int irq_level[24];
        unsigned irq_asserts[24];
        struct h_msi msi[H_MAX_MSI];
        /* ioeventfds "registered with KVM": the driver's notify writes go to fd */
        uint64_t ioev_addr[8];
        int ioev_fd[8];
        bool ioev_fail; /* make vm_ioeventfd_add fail: notifications exit instead */
};

int h_vm_init(struct h_vm *h);
/* Without the event loop thread (fuzzers drive kicks by hand) and with
 * ram_size bytes of RAM (at least 0x20000 for the queue area). */
int h_vm_init_idle(struct h_vm *h, size_t ram_size);
void h_vm_fini(struct h_vm *h);

/* One driver-side queue in guest RAM: descriptor table, avail and used rings. */
struct h_queue {
        uint16_t size;
        uint64_t desc, avail, used;
        uint16_t avail_idx; /* next avail idx the driver publishes */
        uint16_t next_desc; /* simple bump allocator over the table */
};

struct h_drv {
        struct h_vm *h;
        struct pci_dev *dev;
        uint64_t bar;
        uint8_t msix_cap;
        uint64_t features;
        struct h_queue q[4];
        uint64_t next_buf; /* bump allocator for data buffers in RAM */
};

/* Finds the PCI function with this device id. */
int h_drv_attach(struct h_drv *d, struct h_vm *h, uint16_t device_id);
uint32_t h_cfg_read(struct h_drv *d, unsigned off, unsigned len);
void h_cfg_write(struct h_drv *d, unsigned off, uint32_t v, unsigned len);
/* Offset of the first vendor capability of cfg_type (0 when absent). */
unsigned h_find_virtio_cap(struct h_drv *d, uint8_t cfg_type);
uint32_t h_bar_read(struct h_drv *d, uint64_t off, unsigned len);
void h_bar_write(struct h_drv *d, uint64_t off, uint32_t v, unsigned len);
uint64_t h_device_features(struct h_drv *d);
/* Negotiates `features`; returns the device_status read back. */
uint8_t h_negotiate(struct h_drv *d, uint64_t features);
/* MSI-X on with vector i -> a distinct MSI address/data, all unmasked. */
void h_enable_msix(struct h_drv *d, unsigned n_vectors);
/* Sets queue q up with `size` entries and MSI-X vector (0xffff = none), enables it. */
void h_setup_queue(struct h_drv *d, unsigned q, uint16_t size, uint16_t vector);
void h_driver_ok(struct h_drv *d);

uint64_t h_alloc(struct h_drv *d, uint32_t len);
void *h_ptr(struct h_drv *d, uint64_t gpa);
/* Writes descriptor i of queue q. */
void h_desc(struct h_drv *d, unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
            uint16_t next);
/* Publishes head on the avail ring and notifies (ioeventfd when registered). */
void h_submit(struct h_drv *d, unsigned q, uint16_t head);
void h_notify(struct h_drv *d, unsigned q);
/* Waits up to 2 s for the used idx to reach want; returns the used idx. */
uint16_t h_wait_used(struct h_drv *d, unsigned q, uint16_t want);
struct virtq_used_elem h_used_elem(struct h_drv *d, unsigned q, uint16_t i);
uint8_t h_status(struct h_drv *d);
/* MSI deliveries so far to vector i (reads and sums the fake irqfd). */
uint64_t h_msi_count(struct h_drv *d, unsigned vector);
/* Waits up to 2 s for at least want MSIs on vector (the device raises the
 * interrupt just after publishing used entries); returns the count. */
uint64_t h_wait_msi(struct h_drv *d, unsigned vector, uint64_t want);
/* Waits up to 2 s for the PBA bit of vector to equal bit. */
bool h_wait_pba(struct h_drv *d, unsigned vector, bool bit);
/* Waits up to 2 s for cond-like polling of device_status bit. */
bool h_wait_status(struct h_drv *d, uint8_t bit);

#endif
