/* PIIX bus-master IDE (BAR4, 16 bytes: primary channel at 0-7): the DMA
 * engine behind READ/WRITE DMA. The guest builds a PRD table (8-byte
 * entries: buffer address, byte count with 0 meaning 64 KiB, end-of-table
 * bit 31) and sets START; the whole transfer then runs synchronously on the
 * vCPU thread, straight between the image and guest RAM. Every PRD entry
 * and buffer is checked against guest RAM (guest_mem_ptr) and the table
 * walk is bounded by its maximum size (64 KiB of entries), so a hostile
 * table ends in a bus-master error, never in an access outside RAM. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "devices/ide_internal.h"
#include "vmm/vm.h"

#define BM_REG_CMD     0
#define BM_REG_STATUS  2
#define BM_REG_PRDT    4
#define PRD_EOT        0x80000000u
#define PRD_MAX        8192 /* a table may not cross 64 KiB: 8192 entries */
#define PCI_CMD_MASTER 0x04

enum prd_result {
        PRD_DONE,       /* transfer and table ended together */
        PRD_TABLE_LEFT, /* transfer done, table describes more */
        PRD_SHORT,      /* table ended first */
        PRD_FAULT,      /* table or buffer outside RAM, or host I/O error */
};

static int disk_io(struct ide *ide, void *p, size_t len, uint64_t off, bool to_mem)
{
        struct isola_err err = {0};

        /* bdev reads past the end of a shrunk raw image as zeros. */
        return to_mem ? bdev_pread(ide->bd, p, len, off, &err)
                      : bdev_pwrite(ide->bd, p, len, off, &err);
}

static enum prd_result prd_transfer(struct ide *ide, bool to_mem)
{
        uint64_t left = (uint64_t)ide->remaining * IDE_SECTOR;
        uint64_t off = ide->lba * IDE_SECTOR;

        for (unsigned i = 0; i < PRD_MAX; i++) {
                uint8_t e[8];
                uint64_t entry = (uint64_t)ide->bm_prdt + 8ULL * i;
                uint32_t addr, count;
                uint64_t chunk;
                void *p;

                if (!ide->vm || guest_mem_read(&ide->vm->mem, entry, e, sizeof(e)) < 0)
                        return PRD_FAULT;
                addr = (uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 |
                       (uint32_t)e[3] << 24;
                count = ((uint32_t)e[4] | (uint32_t)e[5] << 8) & ~1u;
                if (count == 0)
                        count = 0x10000;
                chunk = count < left ? count : left;
                p = guest_mem_ptr(&ide->vm->mem, addr & ~1u, chunk);
                if (!p || disk_io(ide, p, chunk, off, to_mem) < 0)
                        return PRD_FAULT;
                off += chunk;
                left -= chunk;
                if (left == 0)
                        return (e[7] & 0x80) && chunk == count ? PRD_DONE : PRD_TABLE_LEFT;
                if (e[7] & 0x80)
                        return PRD_SHORT;
        }
        return PRD_SHORT;
}

static bool bus_master_enabled(struct ide *ide)
{
        bool on;

        pthread_mutex_lock(&ide->pci.lock);
        on = (ide->pci.cfg[0x04] & PCI_CMD_MASTER) != 0;
        pthread_mutex_unlock(&ide->pci.lock);
        return on;
}

void ide_bmdma_kick(struct ide *ide)
{
        bool to_mem = ide->xfer == IDE_XFER_DMA_IN;
        uint32_t sectors = ide->remaining;
        enum prd_result r;

        if ((ide->xfer != IDE_XFER_DMA_IN && ide->xfer != IDE_XFER_DMA_OUT) ||
            !(ide->bm_cmd & BM_CMD_START) || !bus_master_enabled(ide))
                return;
        r = prd_transfer(ide, to_mem);
        switch (r) {
        case PRD_DONE:
        case PRD_TABLE_LEFT:
                if (to_mem)
                        ide->stats.sectors_read += sectors;
                else
                        ide->stats.sectors_written += sectors;
                /* With table left over the engine stays active (PIIX spec). */
                ide->bm_status = (uint8_t)((ide->bm_status & ~BM_ST_ACTIVE) | BM_ST_INTR |
                                           (r == PRD_TABLE_LEFT ? BM_ST_ACTIVE : 0));
                ide_finish(ide, ATA_DRDY | ATA_DSC);
                break;
        case PRD_SHORT:
        case PRD_FAULT:
                ide->bm_status =
                    (uint8_t)((ide->bm_status & ~BM_ST_ACTIVE) | BM_ST_INTR | BM_ST_ERROR);
                ide_abort(ide, to_mem && r == PRD_FAULT ? ATA_UNC | ATA_ABRT : ATA_ABRT);
                break;
        }
}

static uint8_t bm_read(struct ide *ide, unsigned reg)
{
        switch (reg) {
        case BM_REG_CMD:
                return ide->bm_cmd;
        case BM_REG_STATUS:
                return ide->bm_status;
        case BM_REG_PRDT:
        case BM_REG_PRDT + 1:
        case BM_REG_PRDT + 2:
        case BM_REG_PRDT + 3:
                return (uint8_t)(ide->bm_prdt >> (8 * (reg - BM_REG_PRDT)));
        default:
                return 0;
        }
}

static void bm_write(struct ide *ide, unsigned reg, uint8_t v)
{
        unsigned shift;

        switch (reg) {
        case BM_REG_CMD:
                if ((v & BM_CMD_START) && !(ide->bm_cmd & BM_CMD_START)) {
                        ide->bm_cmd = v & (BM_CMD_START | BM_CMD_TO_MEM);
                        ide->bm_status |= BM_ST_ACTIVE;
                        ide_bmdma_kick(ide);
                } else {
                        ide->bm_cmd = v & (BM_CMD_START | BM_CMD_TO_MEM);
                        if (!(v & BM_CMD_START))
                                ide->bm_status &= (uint8_t)~BM_ST_ACTIVE;
                }
                break;
        case BM_REG_STATUS:
                ide->bm_status = (uint8_t)((ide->bm_status & ~(BM_ST_DRV0_DMA | BM_ST_DRV1_DMA)) |
                                           (v & (BM_ST_DRV0_DMA | BM_ST_DRV1_DMA)));
                ide->bm_status &= (uint8_t) ~(v & (BM_ST_ERROR | BM_ST_INTR));
                break;
        case BM_REG_PRDT:
        case BM_REG_PRDT + 1:
        case BM_REG_PRDT + 2:
        case BM_REG_PRDT + 3:
                shift = 8 * (reg - BM_REG_PRDT);
                ide->bm_prdt = (ide->bm_prdt & ~(0xffu << shift)) | (uint32_t)v << shift;
                ide->bm_prdt &= ~3u; /* dword aligned */
                break;
        default:
                break; /* secondary channel: disabled */
        }
}

void ide_bmdma_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct ide *ide = opaque;

        pthread_mutex_lock(&ide->lock);
        for (uint32_t i = 0; i < len && i < 8; i++) {
                unsigned reg = (unsigned)offset + i;
                if (is_write)
                        bm_write(ide, reg, data[i]);
                else
                        data[i] = bm_read(ide, reg);
        }
        pthread_mutex_unlock(&ide->lock);
}
