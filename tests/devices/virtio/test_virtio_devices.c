/* virtio-rng, virtio-console and virtio-net set-up, driven through the PCI
 * transport with the fake VM (harness.c). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "devices/virtio/virtio_pci.h"
#include "harness.h"
#include "tap.h"

#define F(bit)        (1ULL << (bit))
#define BASE_FEATURES (F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_EVENT_IDX) | F(VIRTIO_F_INDIRECT_DESC))

static void test_rng(void)
{
        struct h_vm h;
        struct h_drv d;
        struct virtio_rng *rng = NULL;
        struct isola_err err = {0};
        uint8_t zero[64] = {0};
        uint64_t buf;

        if (h_vm_init(&h) < 0 || virtio_rng_create(&h.vm, h.bus, &rng, &err) < 0) {
                tap_ok(0, "virtio-rng created: %s", err.msg);
                return;
        }
        tap_ok(h_drv_attach(&d, &h, 0x1044) == 0, "virtio-rng is 1af4:1044");
        h_enable_msix(&d, 2);
        tap_ok(h_negotiate(&d, BASE_FEATURES) & VIRTIO_STATUS_FEATURES_OK, "rng features OK");
        h_setup_queue(&d, 0, 16, 0);
        h_driver_ok(&d);
        buf = h_alloc(&d, 64);
        h_desc(&d, 0, 0, buf, 64, VIRTQ_DESC_F_WRITE, 0);
        h_submit(&d, 0, 0);
        TAP_EQ_INT(h_wait_used(&d, 0, 1), 1, "entropy request completed");
        TAP_EQ_INT(h_used_elem(&d, 0, 0).len, 64, "64 bytes of entropy");
        tap_ok(memcmp(h_ptr(&d, buf), zero, 64) != 0, "buffer filled");
        TAP_EQ_INT(h_wait_msi(&d, 0, 1), 1, "one MSI for the completion");
        evloop_stop(h.vm.loop);
        virtio_rng_destroy(rng);
        h_vm_fini(&h);
}

static void test_console(void)
{
        struct h_vm h;
        struct h_drv d;
        struct virtio_console *con = NULL;
        struct isola_err err = {0};
        int in[2], out[2];
        char got[16] = {0};
        uint64_t tx, rx;

        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0 ||
            h_vm_init(&h) < 0 ||
            virtio_console_create(&h.vm, h.bus, in[0], out[1], &con, &err) < 0) {
                tap_ok(0, "virtio-console created: %s", err.msg);
                return;
        }
        tap_ok(h_drv_attach(&d, &h, 0x1043) == 0, "virtio-console is 1af4:1043");
        TAP_EQ_INT(h_cfg_read(&d, 9, 3), 0x078000, "class: simple communication");
        h_enable_msix(&d, 3);
        h_negotiate(&d, BASE_FEATURES);
        TAP_EQ_INT(h_bar_read(&d, 0x12, 2), 2, "two queues");
        h_setup_queue(&d, 0, 16, 0);
        h_setup_queue(&d, 1, 16, 1);
        h_driver_ok(&d);

        tx = h_alloc(&d, 5);
        memcpy(h_ptr(&d, tx), "hello", 5);
        h_desc(&d, 1, 0, tx, 5, 0, 0);
        h_submit(&d, 1, 0);
        TAP_EQ_INT(h_wait_used(&d, 1, 1), 1, "transmit completed");
        TAP_EQ_INT(read(out[0], got, sizeof(got)), 5, "5 bytes reached out_fd");
        TAP_EQ_STR(got, "hello", "guest output on out_fd");

        rx = h_alloc(&d, 16);
        h_desc(&d, 0, 0, rx, 16, VIRTQ_DESC_F_WRITE, 0);
        h_submit(&d, 0, 0);
        TAP_EQ_INT(write(in[1], "abc", 3), 3, "host types 3 bytes");
        TAP_EQ_INT(h_wait_used(&d, 0, 1), 1, "receive completed");
        TAP_EQ_INT(h_used_elem(&d, 0, 0).len, 3, "3 bytes received");
        tap_ok(!memcmp(h_ptr(&d, rx), "abc", 3), "guest buffer holds the input");
        tap_ok(h_wait_msi(&d, 0, 1) >= 1, "receive interrupt on vector 0");

        evloop_stop(h.vm.loop);
        virtio_console_destroy(con);
        h_vm_fini(&h);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
}

static void test_net_errors(void)
{
        struct h_vm h;
        struct virtio_net *net = NULL;
        struct isola_err err = {0};

        if (h_vm_init(&h) < 0)
                return;
        tap_ok(virtio_net_create(&h.vm, h.bus, "a-name-that-is-too-long", NULL, &net, &err) < 0,
               "over-long TAP name refused");
        tap_ok(strstr(err.msg, "virtio-net: tap 'a-name-that-is-too-long'") == err.msg,
               "message names the TAP: %s", err.msg);
        if (access("/dev/net/tun", R_OK | W_OK) == 0) {
                err_clear(&err);
                if (virtio_net_create(&h.vm, h.bus, "isolavt0",
                                      (const uint8_t *)"\x02\x11\x22\x33\x44\x55", &net,
                                      &err) == 0) {
                        struct h_drv d;
                        tap_ok(h_drv_attach(&d, &h, 0x1041) == 0, "virtio-net is 1af4:1041");
                        tap_ok(h_device_features(&d) & F(5), "MAC feature offered");
                        TAP_EQ_INT(h_bar_read(&d, VIRTIO_BAR_DEVICE + 5, 1), 0x55, "config MAC");
                        TAP_EQ_INT(h_bar_read(&d, VIRTIO_BAR_DEVICE + 6, 2), 1, "link up");
                        evloop_stop(h.vm.loop);
                        virtio_net_destroy(net);
                } else {
                        tap_skip("cannot create a TAP here");
                }
        }
        h_vm_fini(&h);
}

int main(void)
{
        test_rng();
        test_console();
        test_net_errors();
        return tap_done();
}
