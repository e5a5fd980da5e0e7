/* Public interface of the virtio 1.x PCI devices (modern transport only):
 * block, network, console and entropy. The machine set-up creates them on the
 * PCI bus; each device processes its queues on the VM's event loop thread,
 * never on a vCPU. */
#ifndef ISOLA_DEVICES_VIRTIO_H
#define ISOLA_DEVICES_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

struct vm;
struct pci_bus;
struct virtio_blk;
struct virtio_net;
struct virtio_console;
struct virtio_rng;

/* Per-device counters for benchmarks. Guest notifications that KVM turned into
 * an ioeventfd signal are still VM exits (handled in the kernel); notifications
 * written while no ioeventfd was registered exit to user space. */
struct virtio_stats {
        uint64_t notify_ioeventfd; /* queue notifications received through ioeventfd */
        uint64_t notify_mmio;      /* queue notifications that exited to user space */
        uint64_t bar_accesses;     /* all BAR accesses that exited to user space */
        uint64_t interrupts;       /* MSI-X or INTx interrupts injected */
        uint64_t requests;         /* descriptor chains completed */
        uint64_t bytes;            /* payload bytes moved */
};

/* Raw image at path; readonly offers VIRTIO_BLK_F_RO and fails writes. */
int virtio_blk_create(struct vm *vm, struct pci_bus *bus, const char *path, bool readonly,
                      struct virtio_blk **out, struct isola_err *err);
void virtio_blk_destroy(struct virtio_blk *blk);
void virtio_blk_stats(const struct virtio_blk *blk, struct virtio_stats *st);

/* Attaches to TAP interface tap_name, creating it when it does not exist and
 * the caller may (TUNSETIFF semantics, as QEMU does). mac NULL generates a
 * locally administered address. */
int virtio_net_create(struct vm *vm, struct pci_bus *bus, const char *tap_name,
                      const uint8_t mac[6], struct virtio_net **out, struct isola_err *err);
void virtio_net_destroy(struct virtio_net *net);
void virtio_net_stats(const struct virtio_net *net, struct virtio_stats *st);

/* Single-port console: guest output goes to out_fd, in_fd feeds guest input
 * (in_fd < 0: no input). The fds stay owned by the caller. */
int virtio_console_create(struct vm *vm, struct pci_bus *bus, int in_fd, int out_fd,
                          struct virtio_console **out, struct isola_err *err);
void virtio_console_destroy(struct virtio_console *con);
void virtio_console_stats(const struct virtio_console *con, struct virtio_stats *st);

int virtio_rng_create(struct vm *vm, struct pci_bus *bus, struct virtio_rng **out,
                      struct isola_err *err);
void virtio_rng_destroy(struct virtio_rng *rng);
void virtio_rng_stats(const struct virtio_rng *rng, struct virtio_stats *st);

#endif
