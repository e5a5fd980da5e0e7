/* Tests of the virtio devices over the polled transport in virtio.c:
 * block (write, flush, read back, GET_ID; and the io_vblk benchmark),
 * network (a broadcast frame out, optionally the host's reply in),
 * console (a line on port 0) and entropy (16 bytes). */
#include "guest.h"

#define BLK_T_IN       0
#define BLK_T_OUT      1
#define BLK_T_FLUSH    4
#define BLK_T_GET_ID   8
#define BLK_F_SIZE_MAX (1ULL << 1)
#define BLK_F_SEG_MAX  (1ULL << 2)
#define BLK_F_FLUSH    (1ULL << 9)
#define NET_F_MAC      (1ULL << 5)
#define NET_HDR_LEN    12     /* virtio_net_hdr with num_buffers (VERSION_1) */
#define ETH_TYPE_ISOLA 0x88b5 /* IEEE local experimental */

static struct virtq q0, q1;

struct blk_req {
        uint32_t type, reserved;
        uint64_t sector;
};
static struct blk_req blk_hdr;
static uint8_t blk_status;
static char blk_id[21];

/* irq_msix=1 on the command line: completions interrupt instead of polling. */
static bool want_msix(void)
{
        return opt_num("irq_msix", 0) != 0;
}

static int vblk_open(struct virtio_dev *d, struct line *l)
{
        if (virtio_open(d, VIRTIO_ID_BLK, l) < 0 || (want_msix() && virtio_use_msix(d, l) < 0) ||
            virtio_negotiate(d, BLK_F_FLUSH | BLK_F_SEG_MAX | BLK_F_SIZE_MAX, l) < 0 ||
            virtio_queue_setup(d, 0, &q0, l) < 0)
                return -1;
        virtio_driver_ok(d);
        return 0;
}

/* One request: header, data segments, status. Returns the status byte or
 * -1 when the device did not answer. */
static int vblk_request(uint32_t type, uint64_t sector, const struct vbuf *data, unsigned n)
{
        struct vbuf b[20];
        if (n > 18)
                return -1;
        blk_hdr.type = type;
        blk_hdr.reserved = 0;
        blk_hdr.sector = sector;
        blk_status = 0xff;
        b[0] = (struct vbuf){&blk_hdr, sizeof(blk_hdr), false};
        for (unsigned i = 0; i < n; i++)
                b[1 + i] = data[i];
        b[1 + n] = (struct vbuf){&blk_status, 1, true};
        virtq_submit(&q0, b, n + 2, true);
        uint32_t id, len;
        if (virtq_wait(&q0, 5000, &id, &len) < 0)
                return -1;
        return *(volatile uint8_t *)&blk_status;
}

static uint64_t cfg64(const struct virtio_dev *d, unsigned off)
{
        return mmio_read32(d->device_cfg + off) | (uint64_t)mmio_read32(d->device_cfg + off + 4)
                                                      << 32;
}

void test_vblk(void)
{
        struct line l = {.len = 0};
        struct virtio_dev d;
        if (vblk_open(&d, &l) < 0) {
                report("vblk", d.pci ? FAIL : SKIP, &l);
                return;
        }
        unsigned n = (unsigned)opt_num("sectors", 8);
        if (n == 0 || n > 128)
                n = 8;
        unsigned long irq0 = irq_seen();
        uint64_t capacity = d.device_cfg ? cfg64(&d, 0) : 0;
        uint8_t *w = (uint8_t *)SCRATCH_BASE, *r = w + 512 * n;
        for (unsigned i = 0; i < n; i++)
                fill_sector(w + 512 * i, "VBLK", i);
        memset(r, 0, 512 * n);
        struct vbuf wb = {w, 512 * n, false}, rb = {r, 512 * n, true};
        int st_w = vblk_request(BLK_T_OUT, 0, &wb, 1);
        int st_f = d.features & BLK_F_FLUSH ? vblk_request(BLK_T_FLUSH, 0, NULL, 0) : -2;
        int st_r = vblk_request(BLK_T_IN, 0, &rb, 1);
        memset(blk_id, 0, sizeof(blk_id));
        struct vbuf ib = {blk_id, 20, true};
        int st_id = vblk_request(BLK_T_GET_ID, 0, &ib, 1);
        for (unsigned i = 0; i < 20; i++)
                if (blk_id[i] && (blk_id[i] < 0x21 || blk_id[i] > 0x7e))
                        blk_id[i] = '_';
        unsigned ok = 0;
        for (unsigned i = 0; i < n; i++)
                ok += memcmp(w + 512 * i, r + 512 * i, 512) == 0;
        line_add(&l,
                 "capacity=%lu features=0x%lx write=%d flush=%d read=%d verified=%u/%u "
                 "get_id=%d id=%s",
                 (unsigned long)capacity, (unsigned long)d.features, st_w, st_f, st_r, ok, n, st_id,
                 blk_id[0] ? blk_id : "none");
        unsigned long irqs = irq_seen() - irq0;
        line_add(&l, " mode=%s interrupts=%lu", d.msix ? "msix" : "polled", irqs);
        virtio_reset(&d);
        /* With MSI-X every request completes with an interrupt. */
        bool pass = st_w == 0 && st_r == 0 && ok == n && (st_f == 0 || st_f == -2) &&
                    (!d.msix || irqs >= (d.features & BLK_F_FLUSH ? 4u : 3u));
        report("vblk", pass ? PASS : FAIL, &l);
}

/* Benchmark: io_mib MiB written then read from sector 2048 in requests of
 * up to 16 x 64 KiB segments (bounded by the device's seg_max/size_max). */
void test_io_vblk(void)
{
        struct line l = {.len = 0};
        struct virtio_dev d;
        unsigned long mib = opt_num("io_mib", 1);
        if (vblk_open(&d, &l) < 0) {
                report("io_vblk", d.pci ? FAIL : SKIP, &l);
                return;
        }
        uint32_t seg = 65536, segs = 16;
        if ((d.features & BLK_F_SIZE_MAX) && mmio_read32(d.device_cfg + 8) < seg)
                seg = mmio_read32(d.device_cfg + 8) & ~511u;
        if ((d.features & BLK_F_SEG_MAX) && mmio_read32(d.device_cfg + 12) < segs)
                segs = mmio_read32(d.device_cfg + 12);
        if (!seg || !segs)
                seg = 512, segs = 1;
        uint64_t capacity = cfg64(&d, 0);
        if (capacity < (mib + 1) * 2048) {
                line_add(&l, "reason=disk-too-small capacity=%lu", (unsigned long)capacity);
                report("io_vblk", FAIL, &l);
                return;
        }
        uint8_t *buf = (uint8_t *)SCRATCH_BASE;
        uint64_t *q = (uint64_t *)buf;
        uint32_t chunk = seg * segs > 1048576 ? 1048576 : seg * segs;
        unsigned bad = 0, reqs = 0;
        unsigned long irq0 = irq_seen();
        print("ISOLA-MARK io_vblk start\n");
        uint64_t t0 = rdtsc();
        for (int write = 1; write >= 0; write--) {
                for (uint64_t off = 0; off < mib * 1048576; off += chunk) {
                        uint64_t s = 2048 + off / 512;
                        for (unsigned i = 0; i < chunk / 512; i++)
                                q[64 * i] = write ? (s + i) * 0x9e3779b97f4a7c15ULL : 0;
                        struct vbuf b[16];
                        unsigned n = 0;
                        for (uint32_t o = 0; o < chunk; o += seg)
                                b[n++] = (struct vbuf){buf + o, seg, !write};
                        reqs++;
                        if (vblk_request(write ? BLK_T_OUT : BLK_T_IN, s, b, n) != 0) {
                                bad++;
                                break;
                        }
                        for (unsigned i = 0; !write && i < chunk / 512; i++)
                                bad += q[64 * i] != (s + i) * 0x9e3779b97f4a7c15ULL;
                }
        }
        uint64_t t1 = rdtsc();
        print("ISOLA-MARK io_vblk end\n");
        virtio_reset(&d);
        line_add(&l,
                 "mib=%lu tsc=%lu requests=%u segment=%u segments=%u bad=%u mode=%s "
                 "interrupts=%lu",
                 mib, (unsigned long)(t1 - t0), reqs, seg, segs, bad, d.msix ? "msix" : "polled",
                 irq_seen() - irq0);
        report("io_vblk", bad ? FAIL : PASS, &l);
}

static uint8_t net_rx[2][2048] __attribute__((aligned(64)));
static uint8_t net_tx[NET_HDR_LEN + 64] __attribute__((aligned(64)));

static void vnet_build_ping(const uint8_t mac[6])
{
        uint8_t *f = net_tx + NET_HDR_LEN;
        memset(net_tx, 0, sizeof(net_tx));
        memset(f, 0xff, 6);
        memcpy(f + 6, mac, 6);
        f[12] = ETH_TYPE_ISOLA >> 8;
        f[13] = ETH_TYPE_ISOLA & 0xff;
        memcpy(f + 14, "ISOLA-VNET-PING", 15);
}

/* Polls rx for the host's reply, reposting every other frame. */
static bool vnet_wait_pong(unsigned long ms, unsigned *frames)
{
        uint64_t t0 = rdtsc();
        uint32_t id, len;
        while (within(t0, ms)) {
                if (!virtq_poll(&q0, &id, &len))
                        continue;
                (*frames)++;
                uint8_t *b = net_rx[id & 1];
                const uint8_t *f = b + NET_HDR_LEN;
                if (len >= NET_HDR_LEN + 29 && f[12] == (ETH_TYPE_ISOLA >> 8) &&
                    f[13] == (ETH_TYPE_ISOLA & 0xff) && memcmp(f + 14, "ISOLA-VNET-PONG", 15) == 0)
                        return true;
                struct vbuf rb = {b, sizeof(net_rx[0]), true};
                virtq_submit(&q0, &rb, 1, true);
        }
        return false;
}

void test_vnet(void)
{
        struct line l = {.len = 0};
        struct virtio_dev d;
        if (virtio_open(&d, VIRTIO_ID_NET, &l) < 0 || virtio_negotiate(&d, NET_F_MAC, &l) < 0 ||
            virtio_queue_setup(&d, 0, &q0, &l) < 0 || virtio_queue_setup(&d, 1, &q1, &l) < 0) {
                report("vnet", d.pci ? FAIL : SKIP, &l);
                return;
        }
        virtio_driver_ok(&d);
        uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
        if ((d.features & NET_F_MAC) && d.device_cfg)
                for (unsigned i = 0; i < 6; i++)
                        mac[i] = mmio_read8(d.device_cfg + i);
        /* Descriptor ids of the two rx buffers are 0 and 1 in a fresh queue,
         * and stay even/odd since each repost takes exactly one descriptor. */
        for (unsigned i = 0; i < 2; i++) {
                struct vbuf rb = {net_rx[i], sizeof(net_rx[i]), true};
                virtq_submit(&q0, &rb, 1, i == 1);
        }
        vnet_build_ping(mac);
        struct vbuf tb = {net_tx, NET_HDR_LEN + 60, false};
        virtq_submit(&q1, &tb, 1, true);
        uint32_t id, len;
        bool tx = virtq_wait(&q1, 5000, &id, &len) == 0;
        line_add(&l, "mac=%02x:%02x:%02x:%02x:%02x:%02x tx=%s", mac[0], mac[1], mac[2], mac[3],
                 mac[4], mac[5], tx ? "ok" : "timeout");
        bool rx = true;
        if (opt_num("vnet_echo", 0)) {
                unsigned frames = 0;
                rx = vnet_wait_pong(opt_num("vnet_wait", 10000), &frames);
                line_add(&l, " rx=%s rx_frames=%u", rx ? "pong" : "timeout", frames);
        }
        virtio_reset(&d);
        report("vnet", tx && rx ? PASS : FAIL, &l);
}

static const char vcon_msg[] = "ISOLA-VCON hello from the test guest\n";

void test_vcon(void)
{
        struct line l = {.len = 0};
        struct virtio_dev d;
        if (virtio_open(&d, VIRTIO_ID_CONSOLE, &l) < 0 || virtio_negotiate(&d, 0, &l) < 0 ||
            virtio_queue_setup(&d, 0, &q0, &l) < 0 || virtio_queue_setup(&d, 1, &q1, &l) < 0) {
                report("vcon", d.pci ? FAIL : SKIP, &l);
                return;
        }
        virtio_driver_ok(&d);
        struct vbuf b = {(void *)vcon_msg, sizeof(vcon_msg) - 1, false};
        virtq_submit(&q1, &b, 1, true);
        uint32_t id, len;
        bool ok = virtq_wait(&q1, 5000, &id, &len) == 0;
        line_add(&l, "tx=%s bytes=%u", ok ? "ok" : "timeout", (unsigned)sizeof(vcon_msg) - 1);
        virtio_reset(&d);
        report("vcon", ok ? PASS : FAIL, &l);
}

static uint8_t rng_buf[16];

void test_vrng(void)
{
        struct line l = {.len = 0};
        struct virtio_dev d;
        if (virtio_open(&d, VIRTIO_ID_RNG, &l) < 0 || virtio_negotiate(&d, 0, &l) < 0 ||
            virtio_queue_setup(&d, 0, &q0, &l) < 0) {
                report("vrng", d.pci ? FAIL : SKIP, &l);
                return;
        }
        virtio_driver_ok(&d);
        memset(rng_buf, 0, sizeof(rng_buf));
        struct vbuf b = {rng_buf, sizeof(rng_buf), true};
        virtq_submit(&q0, &b, 1, true);
        uint32_t id, len = 0;
        bool done = virtq_wait(&q0, 5000, &id, &len) == 0;
        unsigned nonzero = 0;
        for (unsigned i = 0; i < sizeof(rng_buf); i++)
                nonzero += rng_buf[i] != 0;
        line_add(&l, "done=%d len=%u nonzero_bytes=%u first=%02x%02x%02x%02x", done, len, nonzero,
                 rng_buf[0], rng_buf[1], rng_buf[2], rng_buf[3]);
        virtio_reset(&d);
        report("vrng", done && len > 0 && nonzero > 0 ? PASS : FAIL, &l);
}
