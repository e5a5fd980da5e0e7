/* virtio-net (VirtIO 1.2 section 5.1) over a TAP interface: receiveq 0,
 * transmitq 1, no offloads, no mergeable buffers. The TAP carries the 12-byte
 * virtio 1.x header itself (IFF_VNET_HDR + TUNSETVNETHDRSZ), so frames move
 * between the TAP and guest buffers with one readv/writev each.
 *
 * TUNSETIFF attaches to an existing TAP or creates one when the process may
 * (CAP_NET_ADMIN), as QEMU does; a created TAP disappears on close. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "devices/dev_state.h"
#include "devices/virtio/virtio_pci.h"
#include "vmm/vm.h"

#define VIRTIO_ID_NET        1
#define VIRTIO_NET_F_MAC     5
#define VIRTIO_NET_F_STATUS  16
#define VIRTIO_NET_S_LINK_UP 1

#define NET_RX              0
#define NET_TX              1
#define NET_HDR_LEN         12
#define NET_HDR_NUM_BUFFERS 10
#define NET_RX_BATCH        64

struct virtio_net {
        struct virtio_pci vp;
        int tap_fd;
        bool tap_polled;
        bool rx_waiting; /* polling paused: no receive buffers */
        char ifname[IFNAMSIZ];
        uint64_t tx_dropped;
};

static int64_t net_tx(struct virtio_pci *vp, unsigned q, struct virtq_chain *c)
{
        struct virtio_net *net = vp->opaque;
        ssize_t n;

        (void)q;
        if (c->out_len < NET_HDR_LEN)
                return -1;
        /* The TAP takes one frame per write; a full TAP queue drops it, as
         * a congested wire would. */
        n = writev(net->tap_fd, c->iov, (int)c->n_out);
        if (n < 0)
                net->tx_dropped++;
        else
                virtio_pci_count(&vp->stats.bytes, (uint64_t)n);
        return 0;
}

static void net_poll_tap(struct virtio_net *net, bool on)
{
        if (!net->tap_polled || net->rx_waiting == !on)
                return;
        net->rx_waiting = !on;
        evloop_mod(net->vp.vm->loop, net->tap_fd, on ? EPOLLIN : 0, NULL);
}

/* Receives one frame; false when there is nothing more to do now. */
static bool net_rx_one(struct virtio_net *net)
{
        struct virtio_pci *vp = &net->vp;
        struct virtq *vq = &vp->queues[NET_RX].vq;
        struct virtq_chain *c = vp->chain;
        enum virtq_result r = virtq_pop(vq, c);
        uint16_t one = 1;
        ssize_t n;

        if (r == VIRTQ_BROKEN || (r == VIRTQ_OK && c->in_len < NET_HDR_LEN)) {
                virtio_pci_set_broken(vp);
                return false;
        }
        if (r == VIRTQ_EMPTY) {
                if (!virtq_arm_notify(vq))
                        net_poll_tap(net, false);
                return false;
        }
        n = readv(net->tap_fd, &c->iov[c->n_out], (int)c->n_in);
        if (n < NET_HDR_LEN) {
                virtq_unpop(vq);
                return false;
        }
        /* tun cuts a frame to the buffer and returns the bytes it copied;
         * the clamp keeps the used length within the buffer whatever the
         * back end reports. */
        if ((uint64_t)n > c->in_len)
                n = (ssize_t)c->in_len;
        iov_copy_to(&c->iov[c->n_out], c->n_in, NET_HDR_NUM_BUFFERS, &one, sizeof(one));
        virtq_push(vq, c->head, (uint32_t)n);
        virtio_pci_count(&vp->stats.requests, 1);
        virtio_pci_count(&vp->stats.bytes, (uint64_t)n - NET_HDR_LEN);
        return true;
}

static void net_tap_ready(void *opaque, uint32_t events)
{
        struct virtio_net *net = opaque;
        bool pushed = false;

        (void)events;
        pthread_mutex_lock(&net->vp.lock);
        if (!virtio_pci_queue_live(&net->vp, NET_RX)) {
                net_poll_tap(net, false);
        } else {
                for (int i = 0; i < NET_RX_BATCH && net_rx_one(net); i++)
                        pushed = true;
                if (pushed)
                        virtio_pci_queue_interrupt(&net->vp, NET_RX);
        }
        pthread_mutex_unlock(&net->vp.lock);
}

static void net_queue_notify(struct virtio_pci *vp, unsigned q)
{
        struct virtio_net *net = vp->opaque;

        if (q == NET_TX)
                virtio_pci_drain(vp, q, net_tx);
        else
                net_poll_tap(net, true);
}

static const struct virtio_dev_ops net_ops = {
    .queue_notify = net_queue_notify,
};

static int tap_open(struct virtio_net *net, const char *name, struct isola_err *err)
{
        struct ifreq ifr = {0};
        int hdr_len = NET_HDR_LEN;
        int fd;

        if (strlen(name) == 0 || strlen(name) >= IFNAMSIZ)
                return err_set(err, EINVAL, "tap '%s': interface names have 1 to %d characters",
                               name, IFNAMSIZ - 1);
        fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return err_sys(err, "open '/dev/net/tun'");
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        memcpy(ifr.ifr_name, name, strlen(name));
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
                err_sys(err, "tap '%s': cannot attach or create (TUNSETIFF)", name);
                close(fd);
                return -1;
        }
        if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
                err_sys(err, "tap '%s': TUNSETVNETHDRSZ", name);
                close(fd);
                return -1;
        }
        memcpy(net->ifname, ifr.ifr_name, IFNAMSIZ);
        net->tap_fd = fd;
        return 0;
}

static void net_fill_config(struct virtio_net *net, const uint8_t mac[6])
{
        uint8_t *cfg = net->vp.dev_cfg;
        uint16_t status = VIRTIO_NET_S_LINK_UP;

        if (mac) {
                memcpy(cfg, mac, 6);
        } else {
                /* Locally administered unicast: 02:xx:xx:xx:xx:xx. */
                if (getrandom(&cfg[1], 5, 0) != 5)
                        memset(&cfg[1], 0x42, 5);
                cfg[0] = 0x02;
        }
        memcpy(&cfg[6], &status, 2);
        /* The whole 1.2 struct (mac .. supported_hash_types), zeros past status,
         * so a driver reading any field it knows stays inside the capability. */
        net->vp.dev_cfg_len = 24;
}

int virtio_net_create(struct vm *vm, struct pci_bus *bus, const char *tap_name,
                      const uint8_t mac[6], struct virtio_net **out, struct isola_err *err)
{
        struct virtio_net *net = calloc(1, sizeof(*net));
        struct virtio_pci_params p = {
            .name = "virtio-net",
            .device_id = VIRTIO_ID_NET,
            .class_code = 0x020000,
            .n_queues = 2,
            .queue_size = 256,
            .features = 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS,
            .ops = &net_ops,
        };

        if (!net)
                return err_set(err, ENOMEM, "virtio-net: out of memory");
        net->tap_fd = -1;
        p.opaque = net;
        if (tap_open(net, tap_name, err) < 0) {
                free(net);
                return err_prefix(err, "virtio-net");
        }
        net_fill_config(net, mac);
        if (virtio_pci_init(&net->vp, vm, bus, &p, err) < 0) {
                virtio_net_destroy(net);
                return -1;
        }
        if (evloop_add(vm->loop, net->tap_fd, 0, net_tap_ready, net, err) < 0) {
                virtio_net_destroy(net);
                return err_prefix(err, "virtio-net");
        }
        net->tap_polled = true;
        net->rx_waiting = true;
        *out = net;
        return 0;
}

void virtio_net_destroy(struct virtio_net *net)
{
        if (!net)
                return;
        if (net->tap_polled)
                evloop_del(net->vp.vm->loop, net->tap_fd);
        virtio_pci_uninit(&net->vp);
        if (net->tap_fd >= 0)
                close(net->tap_fd);
        free(net);
}

void virtio_net_stats(const struct virtio_net *net, struct virtio_stats *st)
{
        virtio_pci_get_stats((struct virtio_pci *)&net->vp, st);
}

/* ---- snapshot state (devices/dev_state.h): the transport holds it all ---- */

void virtio_net_save(struct virtio_net *net, struct dstate_w *w)
{
        virtio_pci_save(&net->vp, w);
}

int virtio_net_load(struct virtio_net *net, struct dstate_r *r, struct isola_err *err)
{
        return virtio_pci_load(&net->vp, r, err);
}
