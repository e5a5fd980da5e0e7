/* The ATA command set of the emulated disk: IDENTIFY DEVICE, PIO
 * READ/WRITE (single sector, MULTIPLE, 28- and 48-bit), READ/WRITE DMA
 * (28/48-bit; ide_bmdma.c moves the data), READ VERIFY, cache
 * flush, the mode-setting commands and diagnostics. Everything the guest
 * puts in the task file is checked against the image size before any I/O,
 * and transfers move at most one DRQ block (IDE_MAX_MULTIPLE sectors) per
 * step, so even a 65536-sector command needs only a bounded buffer and
 * advances only as fast as the guest drains the data port. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "devices/ide_internal.h"

#define ATA_CMD_NOP               0x00
#define ATA_CMD_RECALIBRATE       0x10 /* 0x10-0x1f */
#define ATA_CMD_READ              0x20
#define ATA_CMD_READ_NORETRY      0x21
#define ATA_CMD_READ_EXT          0x24
#define ATA_CMD_READ_DMA_EXT      0x25
#define ATA_CMD_READ_MULTI_EXT    0x29
#define ATA_CMD_WRITE             0x30
#define ATA_CMD_WRITE_NORETRY     0x31
#define ATA_CMD_WRITE_EXT         0x34
#define ATA_CMD_WRITE_DMA_EXT     0x35
#define ATA_CMD_WRITE_MULTI_EXT   0x39
#define ATA_CMD_VERIFY            0x40
#define ATA_CMD_VERIFY_NORETRY    0x41
#define ATA_CMD_VERIFY_EXT        0x42
#define ATA_CMD_DIAGNOSE          0x90
#define ATA_CMD_INIT_PARAMS       0x91
#define ATA_CMD_IDENTIFY_PACKET   0xa1
#define ATA_CMD_READ_MULTI        0xc4
#define ATA_CMD_WRITE_MULTI       0xc5
#define ATA_CMD_SET_MULTI         0xc6
#define ATA_CMD_READ_DMA          0xc8
#define ATA_CMD_READ_DMA_NORETRY  0xc9
#define ATA_CMD_WRITE_DMA         0xca
#define ATA_CMD_WRITE_DMA_NORETRY 0xcb
#define ATA_CMD_STANDBY_NOW       0xe0
#define ATA_CMD_IDLE_NOW          0xe1
#define ATA_CMD_STANDBY           0xe2
#define ATA_CMD_IDLE              0xe3
#define ATA_CMD_CHECK_POWER       0xe5
#define ATA_CMD_FLUSH             0xe7
#define ATA_CMD_FLUSH_EXT         0xea
#define ATA_CMD_IDENTIFY          0xec
#define ATA_CMD_SET_FEATURES      0xef

#define SETFEAT_XFER_MODE 0x03
#define XFER_PIO_0        0x08
#define XFER_MW_DMA_0     0x20
#define XFER_UDMA_0       0x40

#define LBA28_MAX 0x0fffffffULL

/* ATA strings: two characters per word, the first in the high byte,
 * padded with spaces. */
static void id_string(uint16_t *id, unsigned word, unsigned nwords, const char *s)
{
        size_t n = strlen(s);

        for (unsigned i = 0; i < nwords * 2; i++) {
                uint8_t c = i < n ? (uint8_t)s[i] : ' ';
                if (i % 2 == 0)
                        id[word + i / 2] = (uint16_t)(c << 8);
                else
                        id[word + i / 2] |= c;
        }
}

static void build_identify(struct ide *ide, uint16_t *id)
{
        uint64_t lba28 = ide->nsectors < LBA28_MAX ? ide->nsectors : LBA28_MAX;
        uint64_t cyls = ide->nsectors / (16 * 63);
        uint32_t chs_capacity;

        if (cyls > 16383)
                cyls = 16383;
        if (cyls == 0)
                cyls = 1;
        chs_capacity = (uint32_t)(cyls * ide->heads * ide->spt);
        memset(id, 0, 512);
        id[0] = 0x0040; /* fixed device, not removable */
        id[1] = (uint16_t)cyls;
        id[3] = 16;
        id[6] = 63;
        id_string(id, 10, 10, ide->serial);
        id_string(id, 23, 4, ISOLA_VERSION);
        id_string(id, 27, 20, "ISOLA IDE DISK");
        id[47] = 0x8000 | IDE_MAX_MULTIPLE;
        id[49] = (1 << 11) | (1 << 9) | (1 << 8); /* IORDY, LBA, DMA */
        id[50] = 0x4000;
        id[51] = 0x0200; /* PIO cycle timing mode 2 (obsolete field) */
        id[53] = 0x0007; /* words 54-58, 64-70 and 88 valid */
        id[54] = (uint16_t)cyls;
        id[55] = ide->heads;
        id[56] = ide->spt;
        id[57] = (uint16_t)chs_capacity;
        id[58] = (uint16_t)(chs_capacity >> 16);
        id[59] = (uint16_t)(ide->mult_sectors ? 0x0100 | ide->mult_sectors : 0);
        id[60] = (uint16_t)lba28;
        id[61] = (uint16_t)(lba28 >> 16);
        /* Multiword DMA 0-2 and UDMA 0-5 supported; the high byte shows the
         * mode SET FEATURES selected. */
        id[63] = (uint16_t)(0x0007 | (ide->mwdma_mode <= 2 ? 0x0100 << ide->mwdma_mode : 0));
        id[64] = 0x0003; /* PIO modes 3 and 4 */
        id[65] = 120;
        id[66] = 120;
        id[67] = 120;
        id[68] = 120;
        id[80] = 0x00f0;                                     /* ATA/ATAPI-4 to -7 */
        id[82] = (1 << 5);                                   /* write cache */
        id[83] = 0x4000 | (1 << 13) | (1 << 12) | (1 << 10); /* FLUSH EXT, FLUSH, LBA48 */
        id[84] = 0x4000;
        id[85] = (1 << 5);
        id[86] = (1 << 13) | (1 << 12) | (1 << 10);
        id[87] = 0x4000;
        id[88] = (uint16_t)(0x003f | (ide->udma_mode <= 5 ? 0x0100 << ide->udma_mode : 0));
        for (unsigned i = 0; i < 4; i++)
                id[100 + i] = (uint16_t)(ide->nsectors >> (16 * i));
}

void ide_ata_signature(struct ide *ide)
{
        /* ATA device signature after reset or diagnostics; error 0x01 =
         * device 0 passed, device 1 absent. */
        ide->r.nsect = 1;
        ide->r.lbal = 1;
        ide->r.lbam = 0;
        ide->r.lbah = 0;
        ide->r.device = 0xa0;
        ide->r.error = 0x01;
        ide->r.status = ATA_DRDY | ATA_DSC;
        ide->xfer = IDE_XFER_NONE;
        ide->pos = ide->len = 0;
}

static int read_sectors(struct ide *ide, uint64_t lba, uint32_t count)
{
        struct isola_err err = {0};

        /* A raw image that shrank under us reads as zeros (bdev). */
        if (bdev_pread(ide->bd, ide->buf, (size_t)count * IDE_SECTOR, lba * IDE_SECTOR, &err) < 0)
                return -1;
        ide->stats.sectors_read += count;
        return 0;
}

static int write_sectors(struct ide *ide, uint64_t lba, uint32_t count)
{
        struct isola_err err = {0};

        if (bdev_pwrite(ide->bd, ide->buf, (size_t)count * IDE_SECTOR, lba * IDE_SECTOR, &err) < 0)
                return -1;
        ide->stats.sectors_written += count;
        return 0;
}

static uint32_t block_sectors(const struct ide *ide, bool multiple)
{
        uint32_t blk = multiple ? ide->mult_sectors : 1;

        return blk < ide->remaining ? blk : ide->remaining;
}

/* Loads the next block of a read into the buffer and raises DRQ + INTRQ. */
static void start_in_block(struct ide *ide)
{
        ide->block = block_sectors(ide, ide->cmd == ATA_CMD_READ_MULTI ||
                                            ide->cmd == ATA_CMD_READ_MULTI_EXT);
        if (read_sectors(ide, ide->lba, ide->block) < 0) {
                ide_abort(ide, ATA_UNC | ATA_ABRT);
                return;
        }
        ide->pos = 0;
        ide->len = ide->block * IDE_SECTOR;
        ide->r.status = ATA_DRDY | ATA_DSC | ATA_DRQ;
        ide_raise_irq(ide);
}

static void start_out_block(struct ide *ide)
{
        ide->block = block_sectors(ide, ide->cmd == ATA_CMD_WRITE_MULTI ||
                                            ide->cmd == ATA_CMD_WRITE_MULTI_EXT);
        ide->pos = 0;
        ide->len = ide->block * IDE_SECTOR;
        ide->r.status = ATA_DRDY | ATA_DSC | ATA_DRQ;
}

void ide_ata_block_done(struct ide *ide)
{
        if (ide->cmd == ATA_CMD_IDENTIFY) {
                ide->xfer = IDE_XFER_NONE;
                ide->r.status = ATA_DRDY | ATA_DSC;
                return;
        }
        if (ide->xfer == IDE_XFER_OUT && write_sectors(ide, ide->lba, ide->block) < 0) {
                ide_abort(ide, ATA_ABRT);
                return;
        }
        ide->lba += ide->block;
        ide->remaining -= ide->block;
        if (ide->xfer == IDE_XFER_IN) {
                /* PIO data-in: no interrupt after the last block. */
                if (ide->remaining == 0) {
                        ide->xfer = IDE_XFER_NONE;
                        ide->r.status = ATA_DRDY | ATA_DSC;
                } else {
                        start_in_block(ide);
                }
                return;
        }
        /* PIO data-out: an interrupt after every block, the last included. */
        if (ide->remaining == 0) {
                ide_finish(ide, ATA_DRDY | ATA_DSC);
        } else {
                start_out_block(ide);
                ide_raise_irq(ide);
        }
}

/* The command's starting sector, from the task file in LBA48, LBA28 or CHS
 * form. Returns false for a CHS address outside the geometry. */
static bool taskfile_lba(const struct ide *ide, bool lba48, uint64_t *lba)
{
        const struct ide_regs *r = &ide->r;
        unsigned cyl, head, sect;

        if (lba48) {
                *lba = (uint64_t)r->hob_lbah << 40 | (uint64_t)r->hob_lbam << 32 |
                       (uint64_t)r->hob_lbal << 24 | (uint64_t)r->lbah << 16 |
                       (uint64_t)r->lbam << 8 | r->lbal;
                return true;
        }
        if (r->device & ATA_DEV_LBA) {
                *lba = (uint64_t)(r->device & 0x0f) << 24 | (uint64_t)r->lbah << 16 |
                       (uint64_t)r->lbam << 8 | r->lbal;
                return true;
        }
        cyl = (unsigned)r->lbah << 8 | r->lbam;
        head = r->device & 0x0f;
        sect = r->lbal;
        if (sect == 0 || sect > ide->spt || head >= ide->heads)
                return false;
        *lba = ((uint64_t)cyl * ide->heads + head) * ide->spt + sect - 1;
        return true;
}

static uint32_t taskfile_count(const struct ide *ide, bool lba48)
{
        uint32_t n;

        if (lba48) {
                n = (uint32_t)ide->r.hob_nsect << 8 | ide->r.nsect;
                return n ? n : 65536;
        }
        return ide->r.nsect ? ide->r.nsect : 256;
}

/* Validates the range of a read/write/verify command; aborts it (IDNF) if it
 * leaves the disk. */
static bool setup_range(struct ide *ide, bool lba48)
{
        uint64_t lba;
        uint32_t count = taskfile_count(ide, lba48);

        if (!taskfile_lba(ide, lba48, &lba) || lba >= ide->nsectors ||
            count > ide->nsectors - lba) {
                ide_abort(ide, ATA_IDNF);
                return false;
        }
        ide->lba = lba;
        ide->remaining = count;
        return true;
}

static void cmd_rw(struct ide *ide, uint8_t cmd, bool lba48, bool write, bool multiple)
{
        if (multiple && !ide->mult_sectors) {
                ide_abort(ide, ATA_ABRT);
                return;
        }
        if (write && ide->readonly) {
                ide_abort(ide, ATA_ABRT);
                return;
        }
        if (!setup_range(ide, lba48))
                return;
        ide->cmd = cmd;
        ide->xfer = write ? IDE_XFER_OUT : IDE_XFER_IN;
        if (write)
                start_out_block(ide); /* PIO data-out: DRQ without an interrupt */
        else
                start_in_block(ide);
}

/* DMA commands only arm the transfer; the bus master moves the data when
 * the guest starts it (before or after the command, both orders work). */
static void cmd_dma(struct ide *ide, uint8_t cmd, bool lba48, bool write)
{
        if (write && ide->readonly) {
                ide_abort(ide, ATA_ABRT);
                return;
        }
        if (!setup_range(ide, lba48))
                return;
        ide->cmd = cmd;
        ide->xfer = write ? IDE_XFER_DMA_OUT : IDE_XFER_DMA_IN;
        ide->r.status = ATA_DRDY | ATA_DSC | ATA_DRQ;
        ide_bmdma_kick(ide);
}

static void cmd_identify(struct ide *ide)
{
        uint16_t id[256];

        build_identify(ide, id);
        for (unsigned i = 0; i < 256; i++) {
                ide->buf[2 * i] = (uint8_t)id[i];
                ide->buf[2 * i + 1] = (uint8_t)(id[i] >> 8);
        }
        ide->cmd = ATA_CMD_IDENTIFY;
        ide->xfer = IDE_XFER_IN;
        ide->block = 1;
        ide->remaining = 1;
        ide->pos = 0;
        ide->len = IDE_SECTOR;
        ide->r.status = ATA_DRDY | ATA_DSC | ATA_DRQ;
        ide_raise_irq(ide);
}

static void cmd_set_features(struct ide *ide)
{
        uint8_t mode = ide->r.nsect;

        switch (ide->r.feature) {
        case SETFEAT_XFER_MODE:
                /* PIO default (0x00/0x01), PIO 0-4, MWDMA 0-2, UDMA 0-5. */
                if (mode >= XFER_MW_DMA_0 && mode <= XFER_MW_DMA_0 + 2) {
                        ide->mwdma_mode = mode - XFER_MW_DMA_0;
                        ide->udma_mode = 0xff;
                } else if (mode >= XFER_UDMA_0 && mode <= XFER_UDMA_0 + 5) {
                        ide->udma_mode = mode - XFER_UDMA_0;
                        ide->mwdma_mode = 0xff;
                } else if (!(mode <= 0x01 || (mode >= XFER_PIO_0 && mode <= XFER_PIO_0 + 4))) {
                        ide_abort(ide, ATA_ABRT);
                        return;
                }
                ide_finish(ide, ATA_DRDY | ATA_DSC);
                return;
        case 0x02: /* write cache on/off: accepted, the page cache stays */
        case 0x82:
        case 0x55: /* read look-ahead off/on */
        case 0xaa:
        case 0x66: /* keep / revert to power-on defaults */
        case 0xcc:
                ide_finish(ide, ATA_DRDY | ATA_DSC);
                return;
        default:
                ide_abort(ide, ATA_ABRT);
                return;
        }
}

static void cmd_set_multiple(struct ide *ide)
{
        uint8_t n = ide->r.nsect;

        if (n > IDE_MAX_MULTIPLE || (n & (n - 1))) {
                ide_abort(ide, ATA_ABRT);
                return;
        }
        ide->mult_sectors = n;
        ide_finish(ide, ATA_DRDY | ATA_DSC);
}

static void cmd_flush(struct ide *ide)
{
        struct isola_err err = {0};

        if (!ide->readonly && bdev_flush(ide->bd, &err) < 0 && err.errnum != EINVAL) {
                ide_abort(ide, ATA_ABRT);
                return;
        }
        ide_finish(ide, ATA_DRDY | ATA_DSC);
}

static void cmd_verify(struct ide *ide, bool lba48)
{
        if (setup_range(ide, lba48))
                ide_finish(ide, ATA_DRDY | ATA_DSC);
}

static void cmd_init_params(struct ide *ide)
{
        uint16_t heads = (ide->r.device & 0x0f) + 1, spt = ide->r.nsect;

        if (spt == 0) {
                ide_abort(ide, ATA_ABRT);
                return;
        }
        ide->heads = heads;
        ide->spt = spt;
        ide_finish(ide, ATA_DRDY | ATA_DSC);
}

void ide_ata_execute(struct ide *ide, uint8_t cmd)
{
        /* A new command ends any transfer in progress. */
        ide->xfer = IDE_XFER_NONE;
        ide->pos = ide->len = 0;
        ide->r.error = 0;
        switch (cmd) {
        case ATA_CMD_IDENTIFY:
                cmd_identify(ide);
                break;
        case ATA_CMD_READ:
        case ATA_CMD_READ_NORETRY:
                cmd_rw(ide, ATA_CMD_READ, false, false, false);
                break;
        case ATA_CMD_READ_EXT:
                cmd_rw(ide, cmd, true, false, false);
                break;
        case ATA_CMD_READ_MULTI:
                cmd_rw(ide, cmd, false, false, true);
                break;
        case ATA_CMD_READ_MULTI_EXT:
                cmd_rw(ide, cmd, true, false, true);
                break;
        case ATA_CMD_WRITE:
        case ATA_CMD_WRITE_NORETRY:
                cmd_rw(ide, ATA_CMD_WRITE, false, true, false);
                break;
        case ATA_CMD_WRITE_EXT:
                cmd_rw(ide, cmd, true, true, false);
                break;
        case ATA_CMD_WRITE_MULTI:
                cmd_rw(ide, cmd, false, true, true);
                break;
        case ATA_CMD_WRITE_MULTI_EXT:
                cmd_rw(ide, cmd, true, true, true);
                break;
        case ATA_CMD_READ_DMA:
        case ATA_CMD_READ_DMA_NORETRY:
                cmd_dma(ide, ATA_CMD_READ_DMA, false, false);
                break;
        case ATA_CMD_READ_DMA_EXT:
                cmd_dma(ide, cmd, true, false);
                break;
        case ATA_CMD_WRITE_DMA:
        case ATA_CMD_WRITE_DMA_NORETRY:
                cmd_dma(ide, ATA_CMD_WRITE_DMA, false, true);
                break;
        case ATA_CMD_WRITE_DMA_EXT:
                cmd_dma(ide, cmd, true, true);
                break;
        case ATA_CMD_VERIFY:
        case ATA_CMD_VERIFY_NORETRY:
                cmd_verify(ide, false);
                break;
        case ATA_CMD_VERIFY_EXT:
                cmd_verify(ide, true);
                break;
        case ATA_CMD_SET_MULTI:
                cmd_set_multiple(ide);
                break;
        case ATA_CMD_SET_FEATURES:
                cmd_set_features(ide);
                break;
        case ATA_CMD_FLUSH:
        case ATA_CMD_FLUSH_EXT:
                cmd_flush(ide);
                break;
        case ATA_CMD_INIT_PARAMS:
                cmd_init_params(ide);
                break;
        case ATA_CMD_DIAGNOSE:
                ide_ata_signature(ide);
                ide_raise_irq(ide);
                break;
        case ATA_CMD_CHECK_POWER:
                ide->r.nsect = 0xff; /* active or idle */
                ide_finish(ide, ATA_DRDY | ATA_DSC);
                break;
        case ATA_CMD_STANDBY_NOW:
        case ATA_CMD_IDLE_NOW:
        case ATA_CMD_STANDBY:
        case ATA_CMD_IDLE:
                ide_finish(ide, ATA_DRDY | ATA_DSC);
                break;
        default:
                if ((cmd & 0xf0) == ATA_CMD_RECALIBRATE) {
                        ide_finish(ide, ATA_DRDY | ATA_DSC);
                        break;
                }
                /* IDENTIFY PACKET DEVICE, NOP, DMA and everything else. */
                ide_abort(ide, ATA_ABRT);
                break;
        }
}
