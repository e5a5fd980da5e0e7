/* virtio-blk through the PCI transport, driven like a guest driver would:
 * identity and capabilities in config space, feature negotiation, requests
 * in guest memory, interrupts, hostile chains and recovery by reset. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "devices/virtio/virtio_pci.h"
#include "harness.h"
#include "tap.h"
#include "vmm/layout.h"

#define F(bit)        (1ULL << (bit))
#define BASE_FEATURES (F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_EVENT_IDX) | F(VIRTIO_F_INDIRECT_DESC))

struct req {
        uint64_t hdr, data, status;
        uint16_t head;
};

static char image[64];

static int make_image(unsigned sectors)
{
        int fd;

        snprintf(image, sizeof(image), "/tmp/isola-vblk-XXXXXX");
        fd = mkstemp(image);
        if (fd < 0)
                return -1;
        for (unsigned s = 0; s < sectors; s++) {
                uint8_t buf[512];
                memset(buf, (int)(s & 0xff), sizeof(buf));
                if (write(fd, buf, sizeof(buf)) != sizeof(buf))
                        return -1;
        }
        close(fd);
        return 0;
}

/* Three-descriptor request: header, data (len bytes), status. */
static uint8_t do_req(struct h_drv *d, uint32_t type, uint64_t sector, uint32_t len,
                      bool data_writable, uint64_t data_gpa, uint32_t *used_len)
{
        uint64_t hdr = h_alloc(d, 16), status = h_alloc(d, 1);
        uint32_t h32[2] = {type, 0};
        uint16_t base = (uint16_t)(d->q[0].avail_idx * 3 % d->q[0].size);
        uint16_t want = (uint16_t)(d->q[0].avail_idx + 1);
        struct virtq_used_elem e;

        memcpy(h_ptr(d, hdr), h32, 8);
        memcpy((uint8_t *)h_ptr(d, hdr) + 8, &sector, 8);
        *(uint8_t *)h_ptr(d, status) = 0xee;
        if (len) {
                h_desc(d, 0, base, hdr, 16, VIRTQ_DESC_F_NEXT, base + 1);
                h_desc(d, 0, base + 1, data_gpa, len,
                       VIRTQ_DESC_F_NEXT | (data_writable ? VIRTQ_DESC_F_WRITE : 0), base + 2);
                h_desc(d, 0, base + 2, status, 1, VIRTQ_DESC_F_WRITE, 0);
        } else {
                h_desc(d, 0, base, hdr, 16, VIRTQ_DESC_F_NEXT, base + 1);
                h_desc(d, 0, base + 1, status, 1, VIRTQ_DESC_F_WRITE, 0);
        }
        h_submit(d, 0, base);
        if (h_wait_used(d, 0, want) != want)
                return 0xff;
        e = h_used_elem(d, 0, want - 1);
        if (used_len)
                *used_len = e.len;
        return *(uint8_t *)h_ptr(d, status);
}

static int setup(struct h_vm *h, struct h_drv *d, struct virtio_blk **blk, bool ro,
                 uint64_t features)
{
        struct isola_err err = {0};

        if (h_vm_init(h) < 0)
                return -1;
        if (virtio_blk_create(&h->vm, h->bus, image, ro, blk, &err) < 0) {
                printf("# %s\n", err.msg);
                return -1;
        }
        if (h_drv_attach(d, h, 0x1042) < 0)
                return -1;
        h_enable_msix(d, 2);
        h_negotiate(d, features);
        h_bar_write(d, 0x10, 1, 2); /* config vector 1 */
        h_setup_queue(d, 0, 128, 0);
        h_driver_ok(d);
        return 0;
}

static void teardown(struct h_vm *h, struct virtio_blk *blk)
{
        evloop_stop(h->vm.loop);
        virtio_blk_destroy(blk);
        h_vm_fini(h);
}

static void test_identity_and_negotiation(void)
{
        struct h_vm h;
        struct h_drv d;
        struct virtio_blk *blk = NULL;
        struct isola_err err = {0};
        uint64_t f;

        tap_ok(h_vm_init(&h) == 0, "fake VM set up");
        tap_ok(virtio_blk_create(&h.vm, h.bus, image, false, &blk, &err) == 0, "blk created");
        tap_ok(h_drv_attach(&d, &h, 0x1042) == 0, "virtio-blk is 1af4:1042 on the bus");
        TAP_EQ_INT(h_cfg_read(&d, 8, 1), 1, "revision 1");
        TAP_EQ_INT(h_cfg_read(&d, 9, 3), 0x018000, "class: mass storage");
        TAP_EQ_INT(h_cfg_read(&d, 0x2c, 2), 0x1af4, "subsystem vendor");
        tap_ok(h_cfg_read(&d, 0x2e, 2) >= 0x40, "subsystem id >= 0x40");
        tap_ok(h_find_virtio_cap(&d, 1) && h_find_virtio_cap(&d, 2) && h_find_virtio_cap(&d, 3) &&
                   h_find_virtio_cap(&d, 4),
               "common, notify, ISR and device config capabilities present");
        TAP_EQ_INT(h_cfg_read(&d, h_find_virtio_cap(&d, 2) + 16, 4), VIRTIO_NOTIFY_MULT,
                   "notify_off_multiplier");
        tap_ok(d.msix_cap != 0, "MSI-X capability present");
        TAP_EQ_INT(h_cfg_read(&d, d.msix_cap + 2u, 2) & 0x7ff, 1, "MSI-X table size 2");

        f = h_device_features(&d);
        tap_ok((f & BASE_FEATURES) == BASE_FEATURES, "VERSION_1, EVENT_IDX, INDIRECT_DESC offered");
        tap_ok((f & F(9)) && (f & F(6)) && (f & F(2)) && !(f & F(5)),
               "FLUSH, BLK_SIZE, SEG_MAX offered; RO not offered on a writable disk");
        tap_ok(!(h_negotiate(&d, F(9)) & VIRTIO_STATUS_FEATURES_OK),
               "FEATURES_OK refused without VERSION_1");
        tap_ok(!(h_negotiate(&d, F(VIRTIO_F_VERSION_1) | F(40)) & VIRTIO_STATUS_FEATURES_OK),
               "FEATURES_OK refused for a feature not offered");
        tap_ok(h_negotiate(&d, F(VIRTIO_F_VERSION_1) | F(9)) & VIRTIO_STATUS_FEATURES_OK,
               "FEATURES_OK accepted for a subset with VERSION_1");
        h_bar_write(&d, 0x08, 1, 4);
        TAP_EQ_INT(h_bar_read(&d, 0x0c, 4), 1, "driver_feature high word reads back");
        TAP_EQ_INT(h_bar_read(&d, 0x12, 2), 1, "num_queues 1");
        h_bar_write(&d, 0x16, 0, 2);
        TAP_EQ_INT(h_bar_read(&d, 0x18, 2), 256, "queue 0 size 256");
        h_bar_write(&d, 0x16, 5, 2);
        TAP_EQ_INT(h_bar_read(&d, 0x18, 2), 0, "nonexistent queue reads size 0");
        {
                uint64_t cap = h_bar_read(&d, VIRTIO_BAR_DEVICE, 4) |
                               (uint64_t)h_bar_read(&d, VIRTIO_BAR_DEVICE + 4, 4) << 32;
                TAP_EQ_INT(cap, 64, "capacity in 512-byte sectors");
                TAP_EQ_INT(h_bar_read(&d, VIRTIO_BAR_DEVICE + 20, 4), 512, "blk_size 512");
        }
        h_bar_write(&d, 0x14, 0, 1);
        TAP_EQ_INT(h_status(&d), 0, "status 0 after reset");
        teardown(&h, blk);
}

static void test_requests(void)
{
        struct h_vm h;
        struct h_drv d;
        struct virtio_blk *blk = NULL;
        struct virtio_stats st;
        uint64_t buf;
        uint32_t used = 0;
        uint8_t filebuf[512];
        int fd;

        if (setup(&h, &d, &blk, false, BASE_FEATURES | F(9)) < 0) {
                tap_ok(0, "set up blk");
                return;
        }
        TAP_EQ_INT(h_status(&d) & 0x0f, 0x0f, "driver OK");
        buf = h_alloc(&d, 1024);
        TAP_EQ_INT(do_req(&d, 0, 3, 1024, true, buf, &used), 0, "read sectors 3-4: OK");
        tap_ok(((uint8_t *)h_ptr(&d, buf))[0] == 3 && ((uint8_t *)h_ptr(&d, buf))[1023] == 4,
               "read returns the image's bytes");
        TAP_EQ_INT(used, 1025, "used len = data + status");

        memset(h_ptr(&d, buf), 0xab, 512);
        TAP_EQ_INT(do_req(&d, 1, 10, 512, false, buf, &used), 0, "write sector 10: OK");
        TAP_EQ_INT(used, 1, "used len of a write is the status byte");
        fd = open(image, O_RDONLY);
        tap_ok(pread(fd, filebuf, 512, 10 * 512) == 512 && filebuf[0] == 0xab &&
                   filebuf[511] == 0xab,
               "write reached the image");
        close(fd);

        TAP_EQ_INT(do_req(&d, 4, 0, 0, false, 0, NULL), 0, "flush: OK");
        memset(h_ptr(&d, buf), 0, 20);
        TAP_EQ_INT(do_req(&d, 8, 0, 20, true, buf, &used), 0, "get_id: OK");
        tap_ok(!strncmp(h_ptr(&d, buf), strrchr(image, '/') + 1, 20), "serial is the image name");
        TAP_EQ_INT(do_req(&d, 0, 63, 1024, true, buf, NULL), 1, "read past the end: IOERR");
        TAP_EQ_INT(do_req(&d, 0, ~0ULL, 512, true, buf, NULL), 1, "huge sector: IOERR");
        TAP_EQ_INT(do_req(&d, 1, 0, 100, false, buf, NULL), 1, "partial sector: IOERR");
        TAP_EQ_INT(do_req(&d, 11, 0, 0, false, 0, NULL), 2, "discard: UNSUPP");
        TAP_EQ_INT(h_status(&d) & VIRTIO_STATUS_NEEDS_RESET, 0, "errors are not protocol breaks");

        tap_ok(h_wait_msi(&d, 0, 1) >= 1, "used-buffer interrupts through MSI-X vector 0");
        virtio_blk_stats(blk, &st);
        TAP_EQ_INT(st.requests, 8, "8 requests counted");
        tap_ok(st.notify_ioeventfd >= 1 && st.notify_ioeventfd <= 8 && st.notify_mmio == 0,
               "notifications arrived through the ioeventfd (%llu)",
               (unsigned long long)st.notify_ioeventfd);
        tap_ok(st.interrupts >= 1, "interrupts counted");
        teardown(&h, blk);
}

static void test_readonly_and_fallback(void)
{
        struct h_vm h;
        struct h_drv d;
        struct virtio_blk *blk = NULL;
        struct virtio_stats st;
        uint64_t buf;

        if (setup(&h, &d, &blk, true, BASE_FEATURES) < 0) {
                tap_ok(0, "set up read-only blk");
                return;
        }
        tap_ok(h_device_features(&d) & F(5), "RO offered on a read-only disk");
        buf = h_alloc(&d, 512);
        TAP_EQ_INT(do_req(&d, 1, 0, 512, false, buf, NULL), 1, "write to read-only disk: IOERR");
        TAP_EQ_INT(do_req(&d, 0, 0, 512, true, buf, NULL), 0, "read from read-only disk: OK");
        teardown(&h, blk);

        /* A VM that refuses ioeventfds: notifications exit to the BAR. */
        if (h_vm_init(&h) < 0)
                return;
        h.ioev_fail = true;
        {
                struct isola_err err = {0};
                if (virtio_blk_create(&h.vm, h.bus, image, false, &blk, &err) < 0 ||
                    h_drv_attach(&d, &h, 0x1042) < 0)
                        return;
        }
        /* MSI-X left disabled: INTx and the ISR. */
        h_negotiate(&d, BASE_FEATURES);
        h_setup_queue(&d, 0, 64, VIRTIO_NO_VECTOR);
        h_driver_ok(&d);
        buf = h_alloc(&d, 512);
        TAP_EQ_INT(do_req(&d, 0, 1, 512, true, buf, NULL), 0, "read with notify through BAR exit");
        {
                uint32_t gsi = pci_bus_intx_gsi(h.bus, d.dev);
                for (int i = 0; i < 2000 && !__atomic_load_n(&h.irq_level[gsi], __ATOMIC_ACQUIRE);
                     i++)
                        usleep(1000);
                TAP_EQ_INT(__atomic_load_n(&h.irq_level[gsi], __ATOMIC_ACQUIRE), 1,
                           "INTx asserted without MSI-X");
                TAP_EQ_INT(h_bar_read(&d, VIRTIO_BAR_ISR, 1), 1, "ISR says queue interrupt");
                TAP_EQ_INT(__atomic_load_n(&h.irq_level[gsi], __ATOMIC_ACQUIRE), 0,
                           "ISR read deasserts INTx");
                TAP_EQ_INT(h_bar_read(&d, VIRTIO_BAR_ISR, 1), 0, "ISR cleared by the read");
        }
        virtio_blk_stats(blk, &st);
        TAP_EQ_INT(st.notify_mmio, 1, "one notification exited to user space");
        teardown(&h, blk);
}

static void test_msix_masking(void)
{
        struct h_vm h;
        struct h_drv d;
        struct virtio_blk *blk = NULL;
        uint64_t buf, before;

        if (setup(&h, &d, &blk, false, BASE_FEATURES & ~F(VIRTIO_F_EVENT_IDX)) < 0) {
                tap_ok(0, "set up blk");
                return;
        }
        buf = h_alloc(&d, 512);
        before = h_wait_msi(&d, 0, 0);
        h_bar_write(&d, VIRTIO_BAR_MSIX + 12, 1, 4); /* mask vector 0 */
        TAP_EQ_INT(do_req(&d, 0, 0, 512, true, buf, NULL), 0, "request with vector 0 masked");
        TAP_EQ_INT(h_msi_count(&d, 0), before, "masked vector: no MSI");
        tap_ok(h_wait_pba(&d, 0, 1), "masked vector: pending bit set");
        h_bar_write(&d, VIRTIO_BAR_MSIX + 12, 0, 4);
        TAP_EQ_INT(h_msi_count(&d, 0), before + 1, "unmask delivers the pending MSI");
        TAP_EQ_INT(h_bar_read(&d, VIRTIO_BAR_PBA, 4) & 1, 0, "pending bit cleared");
        h_cfg_write(&d, d.msix_cap + 2u, 0xc000, 2); /* function mask */
        TAP_EQ_INT(do_req(&d, 0, 0, 512, true, buf, NULL), 0, "request with function masked");
        tap_ok(h_wait_pba(&d, 0, 1), "function mask: pending bit set");
        TAP_EQ_INT(h_msi_count(&d, 0), before + 1, "function mask: no MSI");
        h_cfg_write(&d, d.msix_cap + 2u, 0x8000, 2);
        TAP_EQ_INT(h_msi_count(&d, 0), before + 2, "function unmask delivers");
        teardown(&h, blk);
}

/* A looping chain breaks the device; reset brings it back. */
static void test_broken_and_reset(void)
{
        struct h_vm h;
        struct h_drv d;
        struct virtio_blk *blk = NULL;
        uint64_t buf, cfg_irqs;

        if (setup(&h, &d, &blk, false, BASE_FEATURES) < 0) {
                tap_ok(0, "set up blk");
                return;
        }
        cfg_irqs = h_msi_count(&d, 1);
        h_desc(&d, 0, 0, h_alloc(&d, 16), 16, VIRTQ_DESC_F_NEXT, 1);
        h_desc(&d, 0, 1, h_alloc(&d, 16), 16, VIRTQ_DESC_F_NEXT, 0);
        h_submit(&d, 0, 0);
        tap_ok(h_wait_status(&d, VIRTIO_STATUS_NEEDS_RESET), "looping chain: DEVICE_NEEDS_RESET");
        TAP_EQ_INT(h_wait_msi(&d, 1, cfg_irqs + 1), cfg_irqs + 1,
                   "config change interrupt on vector 1");
        buf = h_alloc(&d, 512);
        h_desc(&d, 0, 2, buf, 16, 0, 0);
        h_submit(&d, 0, 2);
        usleep(20000);
        TAP_EQ_INT(h_wait_used(&d, 0, 0), 0, "broken device processes nothing more");

        h_negotiate(&d, BASE_FEATURES);
        TAP_EQ_INT(h_status(&d) & VIRTIO_STATUS_NEEDS_RESET, 0, "reset clears NEEDS_RESET");
        h_setup_queue(&d, 0, 128, 0);
        h_driver_ok(&d);
        TAP_EQ_INT(do_req(&d, 0, 2, 512, true, buf, NULL), 0, "device works again after reset");
        tap_ok(((uint8_t *)h_ptr(&d, buf))[0] == 2, "and returns the right data");

        /* Ring outside RAM at enable time. */
        h_negotiate(&d, BASE_FEATURES);
        h_bar_write(&d, 0x16, 0, 2);
        h_bar_write(&d, 0x20, 0xfffff000u, 4);
        h_bar_write(&d, 0x1c, 1, 2);
        tap_ok(h_status(&d) & VIRTIO_STATUS_NEEDS_RESET, "ring outside RAM: NEEDS_RESET");
        h_negotiate(&d, BASE_FEATURES);
        h_bar_write(&d, 0x16, 0, 2);
        h_bar_write(&d, 0x18, 100, 2);
        h_bar_write(&d, 0x1c, 1, 2);
        tap_ok(h_status(&d) & VIRTIO_STATUS_NEEDS_RESET,
               "queue size not a power of 2: NEEDS_RESET");
        teardown(&h, blk);
}

static bool ioeventfd_at(struct h_vm *h, uint64_t addr)
{
        for (unsigned i = 0; i < 8; i++)
                if (h->ioev_fd[i] >= 0 && h->ioev_addr[i] == addr)
                        return true;
        return false;
}

/* The guest moves BAR 0: notifications follow it to the new address. */
static void test_bar_move(void)
{
        struct h_vm h;
        struct h_drv d;
        struct virtio_blk *blk = NULL;
        uint64_t old_bar, new_bar = LAYOUT_PCI_MMIO_START + 0x1000000, buf;
        uint8_t probe[4];

        if (setup(&h, &d, &blk, false, BASE_FEATURES) < 0) {
                tap_ok(0, "set up blk");
                return;
        }
        old_bar = d.bar;
        tap_ok(ioeventfd_at(&h, old_bar + VIRTIO_BAR_NOTIFY), "ioeventfd at the assigned BAR");
        h_cfg_write(&d, 0x04, 0, 2); /* memory decode off */
        tap_ok(!ioeventfd_at(&h, old_bar + VIRTIO_BAR_NOTIFY), "decode off: ioeventfd removed");
        h_cfg_write(&d, 0x10, (uint32_t)new_bar, 4);
        h_cfg_write(&d, 0x04, 0x6, 2); /* memory decode and bus master on */
        d.bar = new_bar;
        tap_ok(ioeventfd_at(&h, new_bar + VIRTIO_BAR_NOTIFY), "ioeventfd follows the BAR");
        tap_ok(!io_bus_dispatch(h.vm.mmio_bus, old_bar, probe, 4, false),
               "old BAR address no longer decoded");
        TAP_EQ_INT(h_bar_read(&d, 0x12, 2), 1, "common config answers at the new BAR");
        buf = h_alloc(&d, 512);
        TAP_EQ_INT(do_req(&d, 0, 6, 512, true, buf, NULL), 0, "request after the move: OK");
        tap_ok(((uint8_t *)h_ptr(&d, buf))[0] == 6, "and the right data");
        teardown(&h, blk);
}

static void test_errors(void)
{
        struct h_vm h;
        struct virtio_blk *blk = NULL;
        struct isola_err err = {0};

        if (h_vm_init(&h) < 0)
                return;
        tap_ok(virtio_blk_create(&h.vm, h.bus, "/nonexistent/x.img", false, &blk, &err) < 0,
               "missing image refused");
        /* The block layer (devices/block) opens the image: file, then what. */
        TAP_EQ_STR(err.msg, "virtio-blk: /nonexistent/x.img: open: No such file or directory",
                   "message names the image and the problem");
        err_clear(&err);
        tap_ok(virtio_blk_create(&h.vm, h.bus, "/tmp", false, &blk, &err) < 0, "directory refused");
        tap_ok(strstr(err.msg, "virtio-blk: /tmp: ") != NULL, "message names the directory");
        h_vm_fini(&h);
}

int main(void)
{
        if (make_image(64) < 0) {
                printf("1..0 # SKIP cannot create an image in /tmp\n");
                return 0;
        }
        test_identity_and_negotiation();
        test_requests();
        test_readonly_and_fallback();
        test_msix_masking();
        test_broken_and_reset();
        test_bar_move();
        test_errors();
        unlink(image);
        return tap_done();
}
