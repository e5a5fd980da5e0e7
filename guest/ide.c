/* ATA PIO on the primary channel of the PIIX IDE function: IDENTIFY, then
 * write, flush and read back a few sectors with the LBA28 and the LBA48
 * commands; and the I/O benchmark (io_ide) that moves io_mib MiB each way. */
#include "guest.h"

#define ATA_DATA   0
#define ATA_COUNT  2
#define ATA_LBA0   3
#define ATA_LBA1   4
#define ATA_LBA2   5
#define ATA_DRIVE  6
#define ATA_STATUS 7
#define ATA_CMD    7
#define ST_ERR     0x01
#define ST_DRQ     0x08
#define ST_DF      0x20
#define ST_BSY     0x80

struct ata {
        uint16_t base, ctl;
        bool lba48;
        uint64_t sectors;
        char model[41];
        uint16_t ident[256];
};

/* Waits for BSY to clear; then for DRQ when want_drq. Returns the status,
 * or -1 on timeout / error. */
static int ata_wait(const struct ata *a, bool want_drq)
{
        uint64_t t0 = rdtsc();
        for (;;) {
                uint8_t st = inb(a->base + ATA_STATUS);
                if (!(st & ST_BSY)) {
                        if (st & (ST_ERR | ST_DF))
                                return -1;
                        if (!want_drq || (st & ST_DRQ))
                                return st;
                }
                if (!within(t0, 5000))
                        return -1;
        }
}

static void ata_ports(struct ata *a, struct line *d)
{
        a->base = 0x1f0;
        a->ctl = 0x3f6;
        const struct pci_fn *f = pci_find_class(0x010100, 0xffff00);
        if (!f) {
                line_add(d, "pci=none ");
                return;
        }
        line_add(d, "pci=%02x.%u:%04x:%04x ", f->slot, f->fn, f->vendor, f->device);
        /* prog-if bit 0: primary channel in native mode, ports in BAR0/BAR1. */
        if (f->class_code & 1) {
                a->base = (uint16_t)pci_bar_addr(f, 0);
                a->ctl = (uint16_t)(pci_bar_addr(f, 1) + 2);
        } else {
                uint16_t cmd = pci_read16(f, 0x04);
                pci_write16(f, 0x04, cmd | 0x1);
        }
}

static int ata_identify(struct ata *a)
{
        outb(a->ctl, 0x02); /* nIEN: we poll */
        outb(a->base + ATA_DRIVE, 0xa0);
        uint8_t st = inb(a->base + ATA_STATUS);
        if (st == 0xff || st == 0x00)
                return -1;
        outb(a->base + ATA_CMD, 0xec);
        if (inb(a->base + ATA_STATUS) == 0 || ata_wait(a, true) < 0)
                return -1;
        insw(a->base + ATA_DATA, a->ident, 256);
        for (unsigned i = 0; i < 20; i++) {
                a->model[2 * i] = (char)(a->ident[27 + i] >> 8);
                a->model[2 * i + 1] = (char)a->ident[27 + i];
        }
        unsigned n = 40;
        while (n && a->model[n - 1] == ' ')
                n--;
        a->model[n] = 0;
        for (unsigned i = 0; i < n; i++)
                if (a->model[i] == ' ' || a->model[i] < 0x21 || a->model[i] > 0x7e)
                        a->model[i] = '_';
        a->lba48 = a->ident[83] & (1 << 10);
        a->sectors = a->lba48 ? (uint64_t)a->ident[100] | (uint64_t)a->ident[101] << 16 |
                                    (uint64_t)a->ident[102] << 32
                              : (uint64_t)a->ident[60] | (uint64_t)a->ident[61] << 16;
        return 0;
}

/* Issues a READ/WRITE SECTORS (EXT) for count (1-256) sectors at lba. */
static void ata_command(const struct ata *a, bool lba48, bool write, uint64_t lba, unsigned count)
{
        uint16_t b = a->base;
        if (lba48) {
                outb(b + ATA_DRIVE, 0x40);
                outb(b + ATA_COUNT, (uint8_t)(count >> 8)); /* high bytes first */
                outb(b + ATA_LBA0, (uint8_t)(lba >> 24));
                outb(b + ATA_LBA1, (uint8_t)(lba >> 32));
                outb(b + ATA_LBA2, (uint8_t)(lba >> 40));
        } else {
                outb(b + ATA_DRIVE, (uint8_t)(0xe0 | ((lba >> 24) & 0xf)));
        }
        outb(b + ATA_COUNT, (uint8_t)count);
        outb(b + ATA_LBA0, (uint8_t)lba);
        outb(b + ATA_LBA1, (uint8_t)(lba >> 8));
        outb(b + ATA_LBA2, (uint8_t)(lba >> 16));
        outb(b + ATA_CMD, lba48 ? (write ? 0x34 : 0x24) : (write ? 0x30 : 0x20));
}

/* PIO transfer of count sectors (count <= 256) between buf and the disk. */
static int ata_rw(const struct ata *a, bool lba48, bool write, uint64_t lba, unsigned count,
                  uint8_t *buf)
{
        ata_command(a, lba48, write, lba, count);
        for (unsigned i = 0; i < count; i++) {
                if (ata_wait(a, true) < 0)
                        return -1;
                if (write)
                        outsw(a->base + ATA_DATA, buf + 512 * i, 256);
                else
                        insw(a->base + ATA_DATA, buf + 512 * i, 256);
        }
        return ata_wait(a, false) < 0 ? -1 : 0;
}

static int ata_flush(const struct ata *a)
{
        outb(a->base + ATA_CMD, a->lba48 ? 0xea : 0xe7);
        return ata_wait(a, false) < 0 ? -1 : 0;
}

/* Writes n patterned sectors at lba, reads them back; returns sectors verified. */
static unsigned ata_roundtrip(const struct ata *a, bool lba48, uint64_t lba, unsigned n)
{
        uint8_t *w = (uint8_t *)SCRATCH_BASE, *r = w + 512 * n;
        const char *tag = lba48 ? "IDE48" : "IDE28";
        for (unsigned i = 0; i < n; i++)
                fill_sector(w + 512 * i, tag, lba + i);
        memset(r, 0, 512 * n);
        if (ata_rw(a, lba48, true, lba, n, w) < 0 || ata_flush(a) < 0 ||
            ata_rw(a, lba48, false, lba, n, r) < 0)
                return 0;
        unsigned ok = 0;
        for (unsigned i = 0; i < n; i++)
                ok += memcmp(w + 512 * i, r + 512 * i, 512) == 0;
        return ok;
}

static int ata_open(struct ata *a, struct line *d)
{
        ata_ports(a, d);
        if (ata_identify(a) < 0) {
                line_add(d, "reason=no-drive port=0x%x", a->base);
                return -1;
        }
        return 0;
}

void test_ide(void)
{
        struct line d = {.len = 0};
        struct ata a;
        if (ata_open(&a, &d) < 0) {
                report("ide", SKIP, &d);
                return;
        }
        unsigned n = (unsigned)opt_num("sectors", 8);
        if (n == 0 || n > 128)
                n = 8;
        line_add(&d, "model=%s sectors=%lu lba48=%d", a.model, (unsigned long)a.sectors, a.lba48);
        if (a.sectors < 1 + 2 * (uint64_t)n) {
                line_add(&d, " reason=disk-too-small");
                report("ide", FAIL, &d);
                return;
        }
        unsigned ok28 = ata_roundtrip(&a, false, 1, n);
        unsigned ok48 = a.lba48 ? ata_roundtrip(&a, true, 1 + n, n) : 0;
        line_add(&d, " lba28_verified=%u/%u lba48_verified=%u/%u", ok28, n, ok48, a.lba48 ? n : 0);
        report("ide", ok28 == n && (!a.lba48 || ok48 == n) ? PASS : FAIL, &d);
}

/* One sector read with the device's interrupt enabled (nIEN clear), routed
 * from IRQ 14 through the IOAPIC; reading the status register acks it. */
void test_ide_irq(void)
{
        struct line d = {.len = 0};
        struct ata a;
        if (ata_open(&a, &d) < 0) {
                report("ide_irq", SKIP, &d);
                return;
        }
        uint16_t buf[256];
        ioapic_route(14, true);
        outb(a.ctl, 0x00);
        unsigned long before = irq_legacy_seen();
        ata_command(&a, false, false, 1, 1);
        bool got = irq_legacy_wait(before + 1, 2000);
        int st = ata_wait(&a, true);
        if (st >= 0)
                insw(a.base + ATA_DATA, buf, 256);
        outb(a.ctl, 0x02);
        ioapic_route(14, false);
        line_add(&d, "irq=14 interrupts=%lu status=0x%02x", irq_legacy_seen() - before,
                 st < 0 ? 0xffu : (unsigned)st);
        report("ide_irq", got && st >= 0 ? PASS : FAIL, &d);
}

/* Benchmark: io_mib MiB written then read in 128 KiB commands starting at
 * 1 MiB, one 1 MiB buffer reused; each sector carries a stamp we check. */
void test_io_ide(void)
{
        struct line d = {.len = 0};
        struct ata a;
        unsigned long mib = opt_num("io_mib", 1);
        if (ata_open(&a, &d) < 0) {
                report("io_ide", SKIP, &d);
                return;
        }
        if (a.sectors < (mib + 1) * 2048) {
                line_add(&d, "reason=disk-too-small sectors=%lu", (unsigned long)a.sectors);
                report("io_ide", FAIL, &d);
                return;
        }
        uint64_t *buf = (uint64_t *)SCRATCH_BASE;
        unsigned bad = 0;
        print("ISOLA-MARK io_ide start\n");
        uint64_t t0 = rdtsc();
        for (int write = 1; write >= 0; write--) {
                for (uint64_t s = 2048; s < (mib + 1) * 2048; s += 256) {
                        for (unsigned i = 0; i < 256; i++)
                                buf[64 * i] = write ? (s + i) * 0x9e3779b97f4a7c15ULL : 0;
                        if (ata_rw(&a, a.lba48, write, s, 256, (uint8_t *)buf) < 0) {
                                bad++;
                                break;
                        }
                        for (unsigned i = 0; !write && i < 256; i++)
                                bad += buf[64 * i] != (s + i) * 0x9e3779b97f4a7c15ULL;
                }
        }
        uint64_t t1 = rdtsc();
        print("ISOLA-MARK io_ide end\n");
        line_add(&d, "mib=%lu tsc=%lu bad=%u", mib, (unsigned long)(t1 - t0), bad);
        report("io_ide", bad ? FAIL : PASS, &d);
}
