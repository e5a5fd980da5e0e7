/* virtio-rng, virtio-console and virtio-net set-up, driven through the PCI
 * transport with the fake VM (harness.c). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/if_ether.h>
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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

#define TEST_TAP  "isolavt0"
#define ETHERTYPE 0x88b5 /* IEEE local experimental */

/* The host end of the TAP: interface up (IPv6 off so the kernel sends
 * nothing of its own) and a packet socket bound to it. */
static int host_side(void)
{
        struct ifreq ifr = {0};
        struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
        int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ps;
        FILE *f = fopen("/proc/sys/net/ipv6/conf/" TEST_TAP "/disable_ipv6", "w");

        if (f) {
                fputs("1", f);
                fclose(f);
        }
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", TEST_TAP);
        if (ctl < 0 || ioctl(ctl, SIOCGIFFLAGS, &ifr) < 0)
                return -1;
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(ctl, SIOCSIFFLAGS, &ifr) < 0)
                return -1;
        close(ctl);
        ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
        sll.sll_ifindex = (int)if_nametoindex(TEST_TAP);
        if (ps < 0 || bind(ps, (struct sockaddr *)&sll, sizeof(sll)) < 0)
                return -1;
        return ps;
}

static size_t make_frame(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], const char *msg)
{
        memset(f, 0, 60);
        memcpy(f, dst, 6);
        memcpy(f + 6, src, 6);
        f[12] = ETHERTYPE >> 8;
        f[13] = ETHERTYPE & 0xff;
        memcpy(f + 14, msg, strlen(msg));
        return 60;
}

/* Waits for a frame of our ethertype carrying msg on the packet socket. */
static bool host_receives(int ps, const char *msg)
{
        uint8_t f[2048];

        for (int i = 0; i < 50; i++) {
                struct pollfd p = {.fd = ps, .events = POLLIN};
                ssize_t n;
                if (poll(&p, 1, 100) <= 0)
                        continue;
                n = recv(ps, f, sizeof(f), 0);
                if (n >= 14 + (ssize_t)strlen(msg) && f[12] == (ETHERTYPE >> 8) &&
                    f[13] == (ETHERTYPE & 0xff) && !memcmp(f + 14, msg, strlen(msg)))
                        return true;
        }
        return false;
}

static void net_traffic(struct h_vm *h, const uint8_t mac[6])
{
        static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        static const uint8_t host_mac[6] = {0x02, 0, 0, 0, 0, 0x99};
        struct h_drv d;
        uint64_t tx, rx;
        uint16_t num_buffers;
        int ps = host_side();

        if (ps < 0) {
                tap_skip("cannot bring the TAP up for traffic");
                return;
        }
        h_drv_attach(&d, h, 0x1041);
        h_enable_msix(&d, 3);
        h_negotiate(&d, BASE_FEATURES | F(5) | F(16));
        h_setup_queue(&d, 0, 16, 0);
        h_setup_queue(&d, 1, 16, 1);
        h_driver_ok(&d);

        tx = h_alloc(&d, 12 + 60);
        memset(h_ptr(&d, tx), 0, 12);
        make_frame((uint8_t *)h_ptr(&d, tx) + 12, bcast, mac, "isola-tx");
        h_desc(&d, 1, 0, tx, 12, VIRTQ_DESC_F_NEXT, 1);
        h_desc(&d, 1, 1, tx + 12, 60, 0, 0);
        h_submit(&d, 1, 0);
        TAP_EQ_INT(h_wait_used(&d, 1, 1), 1, "net: transmit completed");
        tap_ok(host_receives(ps, "isola-tx"), "net: guest frame came out of the TAP");

        rx = h_alloc(&d, 12 + 1514);
        memset(h_ptr(&d, rx), 0xee, 12 + 1514);
        h_desc(&d, 0, 0, rx, 12 + 1514, VIRTQ_DESC_F_WRITE, 0);
        h_submit(&d, 0, 0);
        {
                uint8_t f[60];
                struct sockaddr_ll to = {.sll_family = AF_PACKET,
                                         .sll_ifindex = (int)if_nametoindex(TEST_TAP),
                                         .sll_halen = 6};
                memcpy(to.sll_addr, mac, 6);
                make_frame(f, mac, host_mac, "isola-rx");
                TAP_EQ_INT(sendto(ps, f, sizeof(f), 0, (struct sockaddr *)&to, sizeof(to)), 60,
                           "net: host sends a frame into the TAP");
        }
        TAP_EQ_INT(h_wait_used(&d, 0, 1), 1, "net: receive completed");
        TAP_EQ_INT(h_used_elem(&d, 0, 0).len, 12 + 60, "net: used len = header + frame");
        memcpy(&num_buffers, (uint8_t *)h_ptr(&d, rx) + 10, 2);
        TAP_EQ_INT(num_buffers, 1, "net: num_buffers is 1");
        tap_ok(!memcmp((uint8_t *)h_ptr(&d, rx) + 12 + 14, "isola-rx", 8),
               "net: guest buffer holds the host's frame");
        tap_ok(h_wait_msi(&d, 0, 1) >= 1, "net: receive interrupt");

        /* A frame larger than the posted buffer is cut to the buffer. */
        h_desc(&d, 0, 1, rx, 12 + 20, VIRTQ_DESC_F_WRITE, 0);
        h_submit(&d, 0, 1);
        {
                uint8_t f[60];
                struct sockaddr_ll to = {.sll_family = AF_PACKET,
                                         .sll_ifindex = (int)if_nametoindex(TEST_TAP),
                                         .sll_halen = 6};
                memcpy(to.sll_addr, mac, 6);
                make_frame(f, mac, host_mac, "isola-rx2");
                sendto(ps, f, sizeof(f), 0, (struct sockaddr *)&to, sizeof(to));
        }
        TAP_EQ_INT(h_wait_used(&d, 0, 2), 2, "net: second receive completed");
        TAP_EQ_INT(h_used_elem(&d, 0, 1).len, 12 + 20, "net: used len capped at the buffer size");
        close(ps);
}

static void test_net(void)
{
        static const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
        struct h_vm h;
        struct virtio_net *net = NULL;
        struct isola_err err = {0};

        if (h_vm_init(&h) < 0)
                return;
        tap_ok(virtio_net_create(&h.vm, h.bus, "a-name-that-is-too-long", NULL, &net, &err) < 0,
               "over-long TAP name refused");
        tap_ok(strstr(err.msg, "virtio-net: tap 'a-name-that-is-too-long'") == err.msg,
               "message names the TAP: %s", err.msg);
        err_clear(&err);
        if (access("/dev/net/tun", R_OK | W_OK) == 0 &&
            virtio_net_create(&h.vm, h.bus, TEST_TAP, mac, &net, &err) == 0) {
                struct h_drv d;
                tap_ok(h_drv_attach(&d, &h, 0x1041) == 0, "virtio-net is 1af4:1041");
                tap_ok(h_device_features(&d) & F(5), "MAC feature offered");
                TAP_EQ_INT(h_bar_read(&d, VIRTIO_BAR_DEVICE + 5, 1), 0x55, "config MAC");
                TAP_EQ_INT(h_bar_read(&d, VIRTIO_BAR_DEVICE + 6, 2), 1, "link up");
                net_traffic(&h, mac);
                evloop_stop(h.vm.loop);
                virtio_net_destroy(net);
                tap_ok(if_nametoindex(TEST_TAP) == 0, "the TAP we created is gone after destroy");
        } else {
                tap_skip("cannot create a TAP here");
        }
        h_vm_fini(&h);
}

int main(void)
{
        test_rng();
        test_console();
        test_net();
        return tap_done();
}
