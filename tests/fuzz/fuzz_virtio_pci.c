/* Fuzz target for the virtio PCI transport and the devices behind it: a
 * hostile guest's sequence of BAR accesses, config-space writes, guest-RAM
 * writes (rings, descriptors) and queue kicks against a virtio-blk on a memfd
 * image (read-write or read-only), a virtio-console (output to /dev/null, no
 * input: its receive path runs on the event loop) or a virtio-rng, in the
 * fake VM of the unit tests. Kicks run synchronously (no loop thread) so
 * runs are deterministic. virtio-net needs a TAP and is not covered here.
 *
 * Input: byte 0 bit 0 = set the device up like a driver first, bit 1 = with
 * MSI-X, bits 2-3 = device (0 blk, 1 console, 2 rng, 3 read-only blk); then
 * 8-byte ops [op, len, off lo, off hi, value (4 bytes)]. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../devices/virtio/harness.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/virtio_pci.h"

#define QUEUE_AREA 0x10000u
#define QUEUE_SPAN 0x8000u /* per queue the harness sets up */

enum fuzz_dev { DEV_BLK, DEV_CONSOLE, DEV_RNG, DEV_BLK_RO };

static const uint16_t device_ids[] = {0x1042, 0x1043, 0x1044, 0x1042};

static char image_path[64];
static int null_fd = -1;

static int image(void)
{
        static int fd = -1;

        if (fd < 0) {
                fd = memfd_create("fuzz-virtio-blk", MFD_CLOEXEC);
                if (fd < 0 || ftruncate(fd, 64 * 1024) < 0)
                        return -1;
                snprintf(image_path, sizeof(image_path), "/proc/self/fd/%d", fd);
        }
        if (null_fd < 0)
                null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        return null_fd < 0 ? -1 : 0;
}

/* The device handles: exactly one is set. */
struct devs {
        struct virtio_blk *blk;
        struct virtio_console *con;
        struct virtio_rng *rng;
};

static int create(struct h_vm *h, enum fuzz_dev which, struct devs *dv, struct isola_err *err)
{
        switch (which) {
        case DEV_CONSOLE:
                return virtio_console_create(&h->vm, h->bus, -1, null_fd, &dv->con, err);
        case DEV_RNG:
                return virtio_rng_create(&h->vm, h->bus, &dv->rng, err);
        default:
                return virtio_blk_create(&h->vm, h->bus, image_path, which == DEV_BLK_RO, &dv->blk,
                                         err);
        }
}

static void run_op(struct h_drv *d, struct virtio_pci *vp, const uint8_t *op)
{
        unsigned span = QUEUE_SPAN * (vp->n_queues > 1 ? 2 : 1);
        static const unsigned lens[4] = {1, 2, 4, 8};
        unsigned len = lens[op[1] & 3];
        uint16_t off = (uint16_t)(op[2] | op[3] << 8);
        uint32_t val;

        memcpy(&val, op + 4, 4);
        switch (op[0] % 5) {
        case 0:
                h_bar_write(d, off % VIRTIO_BAR_SIZE, val, len > 4 ? 4 : len);
                break;
        case 1:
                (void)h_bar_read(d, off % VIRTIO_BAR_SIZE, len > 4 ? 4 : len);
                break;
        case 2:
                h_cfg_write(d, off & 0xfc, val, 4);
                break;
        case 3:
                virtio_pci_kick(vp, op[1] % vp->n_queues);
                break;
        case 4:
                memcpy((uint8_t *)h_ptr(d, QUEUE_AREA + (off * 4u) % span), &val, 4);
                break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct isola_err err = {0};
        struct devs dv = {0};
        enum fuzz_dev which;
        struct virtio_pci *vp;
        struct h_vm h;
        struct h_drv d;

        if (size < 1 || image() < 0 || h_vm_init_idle(&h, 0x20000) < 0)
                return 0;
        which = (enum fuzz_dev)((data[0] >> 2) & 3);
        if (create(&h, which, &dv, &err) < 0 || h_drv_attach(&d, &h, device_ids[which]) < 0)
                goto out;
        vp = d.dev->opaque;
        if (data[0] & 1) {
                if (data[0] & 2)
                        h_enable_msix(&d, 2);
                h_negotiate(&d, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_INDIRECT_DESC |
                                    1ULL << VIRTIO_F_EVENT_IDX | 1ULL << 9);
                for (unsigned q = 0; q < vp->n_queues && q < 2; q++)
                        h_setup_queue(&d, q, 8, 0);
                h_driver_ok(&d);
        }
        for (size_t i = 1; i + 8 <= size; i += 8)
                run_op(&d, vp, data + i);
out:
        virtio_blk_destroy(dv.blk);
        virtio_console_destroy(dv.con);
        virtio_rng_destroy(dv.rng);
        h_vm_fini(&h);
        return 0;
}
