/* IDE tests driving the ports as a driver would: PCI identity and IDETIM,
 * the ATA signature and absent slave, IDENTIFY fields, PIO reads/writes
 * (16- and 32-bit, single and MULTIPLE, LBA28 and LBA48) checked against the
 * image file, errors for out-of-range and read-only writes, nIEN, SRST. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/ide.h"
#include "devices/pci.h"
#include "fake_vm.h"
#include "tap.h"

#define CMD          0x1f0
#define CTL          0x3f6
#define DISK_SECTORS 8192ULL

static struct fake_vm *f;
static char img[] = "/tmp/isola-test-ide-XXXXXX";

static uint8_t in8(unsigned reg)
{
        return (uint8_t)fake_pio_in(f, (uint16_t)(CMD + reg), 1);
}

static void out8(unsigned reg, uint8_t v)
{
        fake_pio_out(f, (uint16_t)(CMD + reg), 1, v);
}

static void sector_pattern(uint8_t *buf, uint64_t lba, uint8_t salt)
{
        for (unsigned i = 0; i < 512; i++)
                buf[i] = (uint8_t)(lba * 7 + i + salt);
}

static void lba28(uint32_t lba, uint8_t count, uint8_t cmd)
{
        out8(2, count);
        out8(3, (uint8_t)lba);
        out8(4, (uint8_t)(lba >> 8));
        out8(5, (uint8_t)(lba >> 16));
        out8(6, (uint8_t)(0xe0 | ((lba >> 24) & 0x0f)));
        out8(7, cmd);
}

static void lba48(uint64_t lba, uint16_t count, uint8_t cmd)
{
        out8(2, (uint8_t)(count >> 8));
        out8(3, (uint8_t)(lba >> 24));
        out8(4, (uint8_t)(lba >> 32));
        out8(5, (uint8_t)(lba >> 40));
        out8(2, (uint8_t)count);
        out8(3, (uint8_t)lba);
        out8(4, (uint8_t)(lba >> 8));
        out8(5, (uint8_t)(lba >> 16));
        out8(6, 0x40);
        out8(7, cmd);
}

/* Reads one DRQ block of `sectors` sectors with `width`-byte accesses. */
static void pio_in(uint8_t *buf, unsigned sectors, unsigned width)
{
        for (unsigned i = 0; i < sectors * 512; i += width) {
                uint32_t v = fake_pio_in(f, CMD, width);
                memcpy(buf + i, &v, width);
        }
}

static void pio_out(const uint8_t *buf, unsigned sectors, unsigned width)
{
        for (unsigned i = 0; i < sectors * 512; i += width) {
                uint32_t v = 0;
                memcpy(&v, buf + i, width);
                fake_pio_out(f, CMD, width, v);
        }
}

static uint16_t word(const uint8_t *id, unsigned w)
{
        return (uint16_t)(id[2 * w] | id[2 * w + 1] << 8);
}

static void test_pci_and_probe(struct pci_bus *bus, struct pci_dev *idedev)
{
        unsigned s = idedev->slot;
        uint8_t d[4];

        (void)bus;
        fake_pio_out(f, 0xcf8, 4, 0x80000000u | s << 11);
        TAP_EQ_INT(fake_pio_in(f, 0xcfc, 4), 0x70108086, "PCI 8086:7010 (PIIX3 IDE)");
        fake_pio_out(f, 0xcf8, 4, 0x80000008u | s << 11);
        TAP_EQ_INT(fake_pio_in(f, 0xcfc, 4) >> 8, 0x010180,
                   "class: IDE, compatibility mode, bus master");
        fake_pio_out(f, 0xcf8, 4, 0x80000040u | s << 11);
        TAP_EQ_INT(fake_pio_in(f, 0xcfd, 1) & 0x80, 0x80, "IDETIM primary decode enabled");
        TAP_EQ_INT(fake_pio_in(f, 0xcff, 1) & 0x80, 0, "secondary channel disabled");
        fake_pio_out(f, 0xcfc, 2, 0xa307);
        TAP_EQ_INT(fake_pio_in(f, 0xcfc, 2), 0xa307, "timing register is writable");
        fake_pio_out(f, 0xcfc, 2, 0x8000);
        (void)d;

        TAP_EQ_INT(in8(7), 0x50, "status: DRDY|DSC");
        tap_ok(in8(2) == 1 && in8(3) == 1 && in8(4) == 0 && in8(5) == 0, "ATA signature");
        out8(6, 0xb0);
        TAP_EQ_INT(in8(7), 0, "absent slave: status 0");
        out8(2, 0x55);
        out8(3, 0xaa);
        tap_ok(in8(2) == 0 && in8(3) == 0, "absent slave: registers read 0 (ata_devchk)");
        TAP_EQ_INT(fake_pio_in(f, CTL, 1), 0, "absent slave: alternate status 0");
        out8(7, 0xec);
        TAP_EQ_INT(in8(7), 0, "absent slave ignores IDENTIFY");
        out8(6, 0xa0);
        TAP_EQ_INT(in8(2), 0x55, "task file writes are shared with the master");
}

static void test_identify(void)
{
        uint8_t id[512];
        char model[41];
        unsigned raises = f->irq_raises[14];

        out8(7, 0xec);
        TAP_EQ_INT(in8(7), 0x58, "IDENTIFY: DRQ");
        TAP_EQ_INT(f->irq_raises[14], raises + 1, "IDENTIFY raised IRQ 14");
        TAP_EQ_INT(f->irq_level[14], 0, "edge: line lowered again");
        pio_in(id, 1, 2);
        TAP_EQ_INT(in8(7), 0x50, "DRQ clear after 256 words");
        TAP_EQ_INT(word(id, 0), 0x0040, "word 0: fixed ATA device");
        TAP_EQ_INT(word(id, 47), 0x8010, "word 47: MULTIPLE up to 16");
        TAP_EQ_INT(word(id, 49) & 0x0300, 0x0300, "word 49: LBA and DMA");
        TAP_EQ_INT(word(id, 60) | word(id, 61) << 16, DISK_SECTORS, "words 60-61: LBA28 size");
        TAP_EQ_INT(word(id, 83) & 0x4400, 0x4400, "word 83: 48-bit supported");
        TAP_EQ_INT(word(id, 86) & 0x0400, 0x0400, "word 86: 48-bit enabled");
        TAP_EQ_INT(word(id, 100) | (uint64_t)word(id, 101) << 16, DISK_SECTORS,
                   "words 100-103: LBA48 size");
        tap_ok(word(id, 63) == 0x0007 && word(id, 88) == 0x003f,
               "MWDMA 0-2 and UDMA 0-5 supported, none selected yet");
        for (unsigned i = 0; i < 20; i++) {
                model[2 * i] = (char)(word(id, 27 + i) >> 8);
                model[2 * i + 1] = (char)word(id, 27 + i);
        }
        model[40] = 0;
        tap_ok(!strncmp(model, "ISOLA IDE DISK      ", 20), "model string '%.20s'", model);
        tap_ok(word(id, 10) >> 8 == 'I', "serial number present");
}

static void test_read_write(int fd)
{
        uint8_t buf[512 * 16], want[512];
        unsigned raises = f->irq_raises[14];
        int same = 1;

        lba28(5, 2, 0x20);
        pio_in(buf, 2, 4);
        for (unsigned s = 0; s < 2; s++) {
                sector_pattern(want, 5 + s, 0);
                same &= !memcmp(buf + 512 * s, want, 512);
        }
        tap_ok(same, "READ SECTORS (32-bit PIO) returns the image data");
        TAP_EQ_INT(f->irq_raises[14], raises + 2, "one interrupt per sector");
        TAP_EQ_INT(in8(7), 0x50, "read complete, no DRQ");

        for (unsigned s = 0; s < 3; s++)
                sector_pattern(buf + 512 * s, 10 + s, 0x33);
        raises = f->irq_raises[14];
        lba28(10, 3, 0x30);
        TAP_EQ_INT(in8(7) & 0x08, 0x08, "WRITE SECTORS: DRQ before data, no interrupt");
        TAP_EQ_INT(f->irq_raises[14], raises, "no interrupt before the first block");
        pio_out(buf, 3, 2);
        TAP_EQ_INT(f->irq_raises[14], raises + 3, "one interrupt per written sector");
        TAP_EQ_INT(in8(7), 0x50, "write complete");
        uint8_t back[512 * 3];
        TAP_EQ_INT(pread(fd, back, sizeof(back), 10 * 512), (long long)sizeof(back), "pread image");
        tap_ok(!memcmp(back, buf, sizeof(back)), "written sectors are in the image");

        /* READ MULTIPLE with count 0 = 256 sectors in 16-sector blocks. */
        raises = f->irq_raises[14];
        lba28(0, 0, 0xc4);
        same = 1;
        for (unsigned b = 0; b < 16; b++) {
                pio_in(buf, 16, 4);
                sector_pattern(want, b * 16 + 15, 0);
                same &= !memcmp(buf + 512 * 15, want, 512);
        }
        tap_ok(same, "READ MULTIPLE, count 0 = 256 sectors");
        TAP_EQ_INT(f->irq_raises[14], raises + 16, "one interrupt per 16-sector block");

        lba28(DISK_SECTORS - 2, 4, 0x20);
        TAP_EQ_INT(in8(7), 0x51, "read past the end: ERR");
        TAP_EQ_INT(in8(1), 0x10, "error IDNF");
        TAP_EQ_INT(fake_pio_in(f, CMD, 2), 0, "data port without DRQ reads 0");
        lba48(DISK_SECTORS, 1, 0x24);
        TAP_EQ_INT(in8(1), 0x10, "READ EXT past the end: IDNF");
        lba48(0, 0, 0x34);
        tap_ok(in8(7) == 0x51 && in8(1) == 0x10,
               "WRITE EXT count 0 means 65536 sectors: past the end, IDNF");
}

static void test_commands(void)
{
        uint8_t id[512];

        out8(7, 0xa1);
        tap_ok(in8(7) == 0x51 && in8(1) == 0x04, "IDENTIFY PACKET aborts on an ATA disk");
        out8(2, 3);
        out8(7, 0xc6);
        TAP_EQ_INT(in8(1), 0x04, "SET MULTIPLE 3 aborts");
        out8(2, 8);
        out8(7, 0xc6);
        TAP_EQ_INT(in8(7), 0x50, "SET MULTIPLE 8 accepted");
        out8(7, 0xec);
        pio_in(id, 1, 2);
        TAP_EQ_INT(word(id, 59), 0x0108, "word 59 reports 8");
        out8(1, 0x03);
        out8(2, 0x0c);
        out8(7, 0xef);
        TAP_EQ_INT(in8(7), 0x50, "SET FEATURES PIO4 accepted");
        out8(1, 0x03);
        out8(2, 0x22);
        out8(7, 0xef);
        out8(7, 0xec);
        pio_in(id, 1, 2);
        TAP_EQ_INT(word(id, 63), 0x0407, "SET FEATURES MWDMA2 selects it in word 63");
        out8(1, 0x03);
        out8(2, 0x50);
        out8(7, 0xef);
        TAP_EQ_INT(in8(1), 0x04, "SET FEATURES with an unknown mode aborts");
        out8(7, 0xe7);
        TAP_EQ_INT(in8(7), 0x50, "FLUSH CACHE");
        out8(7, 0xea);
        TAP_EQ_INT(in8(7), 0x50, "FLUSH CACHE EXT");
        out8(2, 63);
        out8(6, 0xaf);
        out8(7, 0x91);
        TAP_EQ_INT(in8(7), 0x50, "INITIALIZE DEVICE PARAMETERS");
        out8(7, 0x90);
        tap_ok(in8(1) == 0x01 && in8(2) == 1 && in8(3) == 1, "EXECUTE DIAGNOSTIC: signature");

        unsigned raises = f->irq_raises[14];
        fake_pio_out(f, CTL, 1, 0x02);
        out8(7, 0xe7);
        TAP_EQ_INT(f->irq_raises[14], raises, "nIEN suppresses the interrupt");
        fake_pio_out(f, CTL, 1, 0x00);
        TAP_EQ_INT(f->irq_raises[14], raises + 1, "pending interrupt delivered when nIEN clears");

        out8(7, 0xec);
        fake_pio_out(f, CTL, 1, 0x04);
        TAP_EQ_INT(fake_pio_in(f, CTL, 1), 0x80, "SRST: BSY");
        out8(7, 0xec);
        TAP_EQ_INT(fake_pio_in(f, CTL, 1), 0x80, "commands ignored while in reset");
        fake_pio_out(f, CTL, 1, 0x00);
        TAP_EQ_INT(in8(7), 0x50, "after SRST: ready, transfer dropped");
        tap_ok(in8(2) == 1 && in8(3) == 1 && in8(4) == 0 && in8(5) == 0 && in8(1) == 1,
               "after SRST: ATA signature, diagnostic 0x01");
}

static void put_prd(uint64_t at, uint32_t addr, uint32_t bytes, bool eot)
{
        uint8_t *e = (uint8_t *)f->ram + at;

        memcpy(e, &addr, 4);
        e[4] = (uint8_t)bytes;
        e[5] = (uint8_t)(bytes >> 8);
        e[6] = 0;
        e[7] = eot ? 0x80 : 0;
}

static void bm_setup(uint16_t bm, uint32_t prdt, uint8_t cmd)
{
        fake_pio_out(f, bm, 1, 0); /* stop */
        fake_pio_out(f, (uint16_t)(bm + 2), 1, 0x06);
        fake_pio_out(f, (uint16_t)(bm + 4), 4, prdt);
        fake_pio_out(f, bm, 1, cmd);
}

static void test_dma(struct pci_dev *idedev, int fd)
{
        unsigned s = idedev->slot;
        uint8_t want[512], back[1024];
        uint8_t *ram = f->ram;
        uint16_t bm;
        int same = 1;

        fake_pio_out(f, 0xcf8, 4, 0x80000020u | s << 11);
        bm = (uint16_t)(fake_pio_in(f, 0xcfc, 4) & ~3u);
        tap_ok(bm >= 0x6000 && (fake_pio_in(f, 0xcfc, 4) & 1), "BAR4: bus-master I/O at %#x", bm);
        TAP_EQ_INT(fake_pio_in(f, (uint16_t)(bm + 2), 1) & 0x60, 0x20,
                   "bus-master status: drive 0 DMA capable");

        /* Bus mastering off in the PCI command register: nothing moves. */
        put_prd(0x1000, 0x10000, 1024, false);
        put_prd(0x1008, 0x20000, 512, true);
        bm_setup(bm, 0x1000, 0x08);
        unsigned raises = f->irq_raises[14];
        lba28(20, 3, 0xc8);
        fake_pio_out(f, bm, 1, 0x09);
        TAP_EQ_INT(f->irq_raises[14], raises, "no DMA without PCI bus mastering");
        fake_pio_out(f, 0xcf8, 4, 0x80000004u | s << 11);
        fake_pio_out(f, 0xcfc, 2, 0x0005);

        /* READ DMA, command first, then START (Linux's order). */
        bm_setup(bm, 0x1000, 0x08);
        lba28(20, 3, 0xc8);
        TAP_EQ_INT(in8(7) & 0x08, 0x08, "READ DMA armed");
        fake_pio_out(f, bm, 1, 0x09);
        for (unsigned i = 0; i < 3; i++) {
                sector_pattern(want, 20 + i, 0);
                same &= !memcmp(i < 2 ? ram + 0x10000 + 512 * i : ram + 0x20000, want, 512);
        }
        tap_ok(same, "READ DMA scattered 3 sectors over two PRD entries");
        TAP_EQ_INT(fake_pio_in(f, (uint16_t)(bm + 2), 1) & 0x07, 0x04,
                   "bus master: interrupt, not active, no error");
        TAP_EQ_INT(f->irq_raises[14], raises + 1, "one interrupt for the whole transfer");
        TAP_EQ_INT(in8(7), 0x50, "ATA status ready");
        fake_pio_out(f, (uint16_t)(bm + 2), 1, 0x04);
        TAP_EQ_INT(fake_pio_in(f, (uint16_t)(bm + 2), 1) & 0x04, 0, "interrupt bit is W1C");

        /* WRITE DMA EXT, START first. */
        for (unsigned i = 0; i < 2; i++)
                sector_pattern(ram + 0x30000 + 512 * i, 40 + i, 0x99);
        put_prd(0x2000, 0x30000, 1024, true);
        bm_setup(bm, 0x2000, 0x01);
        lba48(40, 2, 0x35);
        TAP_EQ_INT(in8(7), 0x50, "WRITE DMA EXT complete");
        TAP_EQ_INT(pread(fd, back, 1024, 40 * 512), 1024, "pread");
        tap_ok(!memcmp(back, ram + 0x30000, 1024), "WRITE DMA EXT data is in the image");

        /* Hostile tables. */
        bm_setup(bm, 0x2000, 0x08);
        lba28(0, 4, 0xc8);
        fake_pio_out(f, bm, 1, 0x09);
        tap_ok((fake_pio_in(f, (uint16_t)(bm + 2), 1) & 0x07) == 0x06 && in8(7) == 0x51,
               "PRD table shorter than the transfer: bus-master error, ATA error");
        put_prd(0x3000, 0xf0000000u, 512, true);
        bm_setup(bm, 0x3000, 0x08);
        lba28(0, 1, 0xc8);
        fake_pio_out(f, bm, 1, 0x09);
        tap_ok((fake_pio_in(f, (uint16_t)(bm + 2), 1) & 0x02) && in8(7) == 0x51,
               "PRD buffer outside RAM: error, nothing written");
        bm_setup(bm, 0xfffffff8u, 0x08);
        lba28(0, 1, 0xc8);
        fake_pio_out(f, bm, 1, 0x09);
        tap_ok((fake_pio_in(f, (uint16_t)(bm + 2), 1) & 0x02) && in8(7) == 0x51,
               "PRD table outside RAM: error");
        fake_pio_out(f, bm, 1, 0);
        fake_pio_out(f, (uint16_t)(bm + 2), 1, 0x06);
}

static void test_lba48(struct ide **ide, struct pci_bus *bus, int *fd)
{
        const uint64_t big = (1ULL << 28) + 4096; /* sectors: needs 48-bit */
        const uint64_t lba = (1ULL << 28) + 17;
        uint8_t buf[512], want[512];
        struct isola_err err = {0};

        ide_destroy(*ide);
        *ide = NULL;
        if (ftruncate(*fd, (off_t)(big * 512)) < 0) {
                tap_skip("sparse 128 GiB image not possible here");
                return;
        }
        sector_pattern(want, lba, 0x5a);
        if (pwrite(*fd, want, 512, (off_t)(lba * 512)) != 512 ||
            ide_create(&f->vm, bus, img, false, ide, &err) < 0) {
                tap_ok(0, "LBA48 set-up: %s", err.msg);
                return;
        }
        lba48(lba, 1, 0x24);
        pio_in(buf, 1, 2);
        tap_ok(!memcmp(buf, want, 512), "READ SECTORS EXT above 2^28");
        sector_pattern(buf, lba + 1, 0x77);
        lba48(lba + 1, 1, 0x34);
        pio_out(buf, 1, 4);
        TAP_EQ_INT(in8(7), 0x50, "WRITE SECTORS EXT completes");
        TAP_EQ_INT(pread(*fd, want, 512, (off_t)((lba + 1) * 512)), 512, "pread");
        tap_ok(!memcmp(buf, want, 512), "WRITE SECTORS EXT landed above 2^28");
        lba28(0x0ffffff0, 1, 0x20);
        TAP_EQ_INT(in8(7) & 0x09, 0x08, "LBA28 read at the 28-bit limit works");
}

static void test_readonly(struct ide **ide, struct pci_bus *bus)
{
        struct isola_err err = {0};
        uint8_t buf[512];
        struct ide_stats st;

        ide_destroy(*ide);
        *ide = NULL;
        TAP_EQ_INT(ide_create(&f->vm, bus, img, true, ide, &err), 0, "read-only IDE");
        if (!*ide)
                return;
        lba28(1, 1, 0x30);
        tap_ok(in8(7) == 0x51 && in8(1) == 0x04, "write to a read-only disk aborts");
        fake_pio_out(f, CMD, 2, 0x1234);
        lba28(1, 1, 0x20);
        pio_in(buf, 1, 2);
        TAP_EQ_INT(in8(7), 0x50, "reads still work");
        ide_get_stats(*ide, &st);
        TAP_EQ_INT(st.data_port_accesses, 257, "data-port accesses counted (stray one too)");
        TAP_EQ_INT(st.sectors_read, 1, "sectors read counted");
}

int main(void)
{
        struct isola_err err = {0};
        struct pci_bus *bus = NULL;
        struct ide *ide = NULL;
        uint8_t sec[512];
        int fd = mkstemp(img);

        f = fake_vm_new(1 << 20);
        if (!f || fd < 0)
                return 1;
        for (uint64_t s = 0; s < DISK_SECTORS; s++) {
                sector_pattern(sec, s, 0);
                if (pwrite(fd, sec, 512, (off_t)(s * 512)) != 512)
                        return 1;
        }
        TAP_EQ_INT(pci_bus_new(&f->vm, &bus, &err), 0, "pci bus");
        TAP_EQ_INT(ide_create(&f->vm, bus, "/nonexistent/disk.img", false, &ide, &err), -1,
                   "missing image fails");
        tap_ok(strstr(err.msg, "/nonexistent/disk.img") != NULL, "error names the image");
        TAP_EQ_INT(ide_create(&f->vm, bus, img, false, &ide, &err), 0, "ide_create");
        struct pci_dev *devs[PCI_MAX_SLOTS];
        unsigned n = pci_bus_slots(bus, devs, PCI_MAX_SLOTS);
        TAP_EQ_INT(n, 2, "IDE function on the bus");
        test_pci_and_probe(bus, devs[n - 1]);
        test_identify();
        test_read_write(fd);
        test_commands();
        test_dma(devs[n - 1], fd);
        test_readonly(&ide, bus);
        test_lba48(&ide, bus, &fd);
        ide_destroy(ide);
        TAP_EQ_INT(fake_pio_in(f, CMD + 7, 1), 0xff, "ports released");
        pci_bus_free(bus);
        close(fd);
        unlink(img);
        fake_vm_free(f);
        return tap_done();
}
