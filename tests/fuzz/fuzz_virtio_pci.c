/* Fuzz target for the virtio PCI transport and virtio-blk: a hostile guest's
 * sequence of BAR accesses, config-space writes, guest-RAM writes (rings,
 * descriptors) and queue kicks against a virtio-blk on a memfd image, in the
 * fake VM of the unit tests. Kicks run synchronously (no loop thread) so
 * runs are deterministic.
 *
 * Input: byte 0 bit 0 = set the device up like a driver first, bit 1 = with
 * MSI-X; then 8-byte ops [op, len, off lo, off hi, value (4 bytes)]. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../devices/virtio/harness.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/virtio_pci.h"

#define QUEUE_AREA 0x10000u
#define QUEUE_SPAN 0x8000u

static char image_path[64];

static int image(void)
{
        static int fd = -1;

        if (fd < 0) {
                fd = memfd_create("fuzz-virtio-blk", MFD_CLOEXEC);
                if (fd < 0 || ftruncate(fd, 64 * 1024) < 0)
                        return -1;
                snprintf(image_path, sizeof(image_path), "/proc/self/fd/%d", fd);
        }
        return 0;
}

static void run_op(struct h_drv *d, struct virtio_pci *vp, const uint8_t *op)
{
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
                memcpy((uint8_t *)h_ptr(d, QUEUE_AREA + (off * 4u) % QUEUE_SPAN), &val, 4);
                break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct isola_err err = {0};
        struct virtio_blk *blk = NULL;
        struct virtio_pci *vp;
        struct h_vm h;
        struct h_drv d;

        if (size < 1 || image() < 0 || h_vm_init_idle(&h, 0x20000) < 0)
                return 0;
        if (virtio_blk_create(&h.vm, h.bus, image_path, false, &blk, &err) < 0 ||
            h_drv_attach(&d, &h, 0x1042) < 0)
                goto out;
        vp = d.dev->opaque;
        if (data[0] & 1) {
                if (data[0] & 2)
                        h_enable_msix(&d, 2);
                h_negotiate(&d, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_INDIRECT_DESC |
                                    1ULL << VIRTIO_F_EVENT_IDX | 1ULL << 9);
                h_setup_queue(&d, 0, 8, 0);
                h_driver_ok(&d);
        }
        for (size_t i = 1; i + 8 <= size; i += 8)
                run_op(&d, vp, data + i);
out:
        virtio_blk_destroy(blk);
        h_vm_fini(&h);
        return 0;
}
