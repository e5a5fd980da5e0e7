/* Save/load of each device model's guest-visible state for snapshots and
 * migration (docs/snapshots.md). Each function lives beside its device; the
 * snapshot code (src/vmm/snapshot*.c) puts every device in its own section.
 * Loaders run on a freshly created device of the same configuration while
 * no vCPU runs; they validate every field (the file is untrusted) and fail
 * with an error naming the section. Host-side resources (fds, routes,
 * ioeventfds) are recreated to match the loaded state. */
#ifndef ISOLA_DEVICES_DEV_STATE_H
#define ISOLA_DEVICES_DEV_STATE_H

#include "devices/state.h"
#include "util/err.h"

struct serial8250;
struct i8042;
struct rtc;
struct ide;
struct pci_bus;
struct virtio_pci;
struct virtio_blk;
struct virtio_net;
struct virtio_console;
struct virtio_rng;

#define SERIAL8250_STATE_VERSION 1
void serial8250_save(struct serial8250 *s, struct dstate_w *w);
int serial8250_load(struct serial8250 *s, struct dstate_r *r, struct isola_err *err);

#define I8042_STATE_VERSION 1
void i8042_save(struct i8042 *k, struct dstate_w *w);
int i8042_load(struct i8042 *k, struct dstate_r *r, struct isola_err *err);

#define RTC_STATE_VERSION 1
void rtc_save(struct rtc *r, struct dstate_w *w);
int rtc_load(struct rtc *r, struct dstate_r *rd, struct isola_err *err);

/* Every function's config space and BARs; the devices must sit in the same
 * slots with the same identity. BARs are remapped where the guest put them. */
#define PCI_STATE_VERSION 1
void pci_bus_save(struct pci_bus *bus, struct dstate_w *w);
int pci_bus_load(struct pci_bus *bus, struct dstate_r *r, struct isola_err *err);

/* The IDE channel: task file, PIO buffer and position, bus master. */
#define IDE_STATE_VERSION 1
void ide_save(struct ide *ide, struct dstate_w *w);
int ide_load(struct ide *ide, struct dstate_r *r, struct isola_err *err);

/* The virtio transport: features, status, queues (addresses, indices,
 * vectors), the MSI-X table; loaded after the PCI config space. */
/* Writes what the disk back end caches (qcow2 metadata) to the image, so a
 * copy of the file taken now is the disk as the guest sees it. */
int ide_flush_disk(struct ide *ide, struct isola_err *err);
int virtio_blk_flush_disk(struct virtio_blk *blk, struct isola_err *err);
/* Switches the disk to the image at path (a new qcow2 overlay over the one
 * in use, made by a snapshot); its size must be the same. */
int ide_reopen_disk(struct ide *ide, const char *path, struct isola_err *err);
int virtio_blk_reopen_disk(struct virtio_blk *blk, const char *path, struct isola_err *err);

#define VIRTIO_STATE_VERSION 1
void virtio_pci_save(struct virtio_pci *vp, struct dstate_w *w);
int virtio_pci_load(struct virtio_pci *vp, struct dstate_r *r, struct isola_err *err);

void virtio_blk_save(struct virtio_blk *blk, struct dstate_w *w);
int virtio_blk_load(struct virtio_blk *blk, struct dstate_r *r, struct isola_err *err);
void virtio_net_save(struct virtio_net *net, struct dstate_w *w);
int virtio_net_load(struct virtio_net *net, struct dstate_r *r, struct isola_err *err);
void virtio_console_save(struct virtio_console *con, struct dstate_w *w);
int virtio_console_load(struct virtio_console *con, struct dstate_r *r, struct isola_err *err);
void virtio_rng_save(struct virtio_rng *rng, struct dstate_w *w);
int virtio_rng_load(struct virtio_rng *rng, struct dstate_r *r, struct isola_err *err);

#endif
