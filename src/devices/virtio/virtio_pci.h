/* The virtio 1.x PCI transport (VirtIO 1.2 section 4.1, modern only) shared by
 * the virtio devices: PCI identity and vendor capabilities, one MMIO BAR
 * holding common/ISR/device/notify config and the MSI-X table and PBA,
 * feature negotiation, queue set-up, notifications (ioeventfd, with a
 * fall-back through BAR exits) and interrupts (MSI-X irqfd, INTx fall-back).
 *
 * Threads: BAR accesses arrive on vCPU threads, queue work runs on the VM's
 * event loop thread. vp->lock guards all transport and queue state; device
 * callbacks run with it held. Lock order: pci_dev.lock, then vp->lock. */
#ifndef ISOLA_DEVICES_VIRTIO_PCI_H
#define ISOLA_DEVICES_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/pci.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/virtqueue.h"

#define VIRTIO_MAX_QUEUES        4
#define VIRTIO_MAX_VECTORS       (VIRTIO_MAX_QUEUES + 1)
#define VIRTIO_CFG_MAX           64
#define VIRTIO_NO_VECTOR         0xffff
#define VIRTIO_MSIX_ENTRY_MASKED 1 /* vector control bit 0 */

/* Feature bits (VirtIO 1.2 section 6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

/* device_status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED      0x80

/* BAR 0 layout. */
#define VIRTIO_BAR_COMMON  0x0000
#define VIRTIO_BAR_ISR     0x1000
#define VIRTIO_BAR_DEVICE  0x2000
#define VIRTIO_BAR_NOTIFY  0x3000
#define VIRTIO_BAR_MSIX    0x4000
#define VIRTIO_BAR_PBA     0x5000
#define VIRTIO_BAR_SIZE    0x8000
#define VIRTIO_NOTIFY_MULT 4

struct virtio_pci;

struct virtio_dev_ops {
        /* Queue q may have new buffers (event loop thread, lock held). */
        void (*queue_notify)(struct virtio_pci *vp, unsigned q);
        /* The driver reset the device: drop device-side per-queue state. Optional. */
        void (*reset)(struct virtio_pci *vp);
};

struct virtio_queue {
        struct virtq vq;
        uint16_t max_size;
        uint16_t msix_vector;
        bool enabled;
        int kick_fd;           /* eventfd: KVM ioeventfd target and fall-back kick */
        uint64_t ioeventfd_at; /* guest address registered with KVM, 0 when none */
        struct virtio_pci *vp;
        unsigned index;
};

struct virtio_msix_entry {
        uint32_t addr_lo, addr_hi, data, ctrl;
        int64_t gsi; /* -1 until a route exists */
        int efd;
        uint64_t route_addr;
        uint32_t route_data;
        bool pending;
};

struct virtio_pci {
        struct pci_dev pci;
        struct vm *vm;
        struct pci_bus *bus;
        const char *name;
        const struct virtio_dev_ops *ops;
        void *opaque;
        pthread_mutex_t lock;

        uint64_t device_features, driver_features;
        uint32_t device_feature_select, driver_feature_select;
        uint16_t config_msix_vector;
        uint16_t queue_select;
        uint8_t status;
        uint8_t config_generation;
        uint8_t isr;
        bool intx_asserted;
        bool broken;

        unsigned n_queues;
        struct virtio_queue queues[VIRTIO_MAX_QUEUES];
        uint8_t dev_cfg[VIRTIO_CFG_MAX];
        unsigned dev_cfg_len;

        uint8_t msix_cap;
        bool msix_enabled, msix_masked;
        unsigned n_vectors;
        struct virtio_msix_entry vectors[VIRTIO_MAX_VECTORS];
        uint64_t bar_addr; /* 0 while unmapped */

        struct virtq_chain *chain; /* scratch for the queue walkers (under lock) */
        struct virtio_stats stats;
        uint64_t kicks, self_kicks;
        bool added;
};

struct virtio_pci_params {
        const char *name; /* "virtio-blk", used in messages */
        uint16_t device_id;
        uint32_t class_code;
        unsigned n_queues;
        uint16_t queue_size;
        uint64_t features; /* device-specific bits; transport bits are added */
        const struct virtio_dev_ops *ops;
        void *opaque;
};

/* Sets up the transport and puts the function on the bus. */
int virtio_pci_init(struct virtio_pci *vp, struct vm *vm, struct pci_bus *bus,
                    const struct virtio_pci_params *params, struct isola_err *err);
/* Takes the function off the bus and releases ioeventfds, MSI routes and fds.
 * The event loop must not be running callbacks for this device any more. */
void virtio_pci_uninit(struct virtio_pci *vp);

/* BAR 0 access, as io_bus dispatches it (exposed for tests). */
void virtio_pci_bar_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Event loop handler of queue q's kick eventfd (exposed for tests). */
void virtio_pci_kick(struct virtio_pci *vp, unsigned q);

/* Helpers for devices, called with vp->lock held. */
bool virtio_pci_driver_has(const struct virtio_pci *vp, unsigned bit);
/* The driver is up (DRIVER_OK), the device not broken and queue q enabled. */
bool virtio_pci_queue_live(const struct virtio_pci *vp, unsigned q);
/* Consumes every chain of queue q with fn (returns bytes written into the
 * chain, or -1 when the device failed), interrupting the driver if it asks. */
typedef int64_t (*virtio_chain_fn)(struct virtio_pci *vp, unsigned q, struct virtq_chain *chain);
void virtio_pci_drain(struct virtio_pci *vp, unsigned q, virtio_chain_fn fn);
/* Interrupts the driver for queue q when the ring's suppression allows. */
void virtio_pci_queue_interrupt(struct virtio_pci *vp, unsigned q);
/* The driver broke the protocol: DEVICE_NEEDS_RESET, config interrupt, stop. */
void virtio_pci_set_broken(struct virtio_pci *vp);
void virtio_pci_get_stats(struct virtio_pci *vp, struct virtio_stats *st);

/* Transport internals shared by virtio_pci.c and virtio_pci_irq.c. */
void virtio_pci_intx_set(struct virtio_pci *vp, bool level);
void virtio_msix_table_io(struct virtio_pci *vp, uint64_t off, uint8_t *data, uint32_t len,
                          bool is_write);
void virtio_msix_pba_read(struct virtio_pci *vp, uint64_t off, uint8_t *data, uint32_t len);
/* The guest wrote the MSI-X message control (pci_dev.lock held, takes vp->lock). */
void virtio_msix_ctrl_written(struct virtio_pci *vp, uint16_t ctrl);
int virtio_msix_add_cap(struct virtio_pci *vp, struct isola_err *err);
void virtio_msix_free(struct virtio_pci *vp);
/* Snapshot state of the MSI-X table (virtio_pci_irq.c, vp->lock held). */
struct dstate_w;
struct dstate_r;
void virtio_msix_save(struct virtio_pci *vp, struct dstate_w *w);
void virtio_msix_load(struct virtio_pci *vp, struct dstate_r *r);
void virtio_pci_count(uint64_t *counter, uint64_t n);

#endif
