/* State shared by the IDE channel model (ide.c: ports, task file, PIO data
 * transfers, PCI function) and the ATA command set (ide_ata.c). */
#ifndef ISOLA_DEVICES_IDE_INTERNAL_H
#define ISOLA_DEVICES_IDE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/block/bdev.h"
#include "devices/ide.h"
#include "devices/pci.h"

#define IDE_SECTOR       512
#define IDE_MAX_MULTIPLE 16 /* sectors per DRQ block in READ/WRITE MULTIPLE */

/* Status register bits. */
#define ATA_ERR  0x01
#define ATA_DRQ  0x08
#define ATA_DSC  0x10
#define ATA_DF   0x20
#define ATA_DRDY 0x40
#define ATA_BSY  0x80

/* Error register bits. */
#define ATA_ABRT 0x04
#define ATA_IDNF 0x10
#define ATA_UNC  0x40

/* Device register bits. */
#define ATA_DEV_SLAVE 0x10
#define ATA_DEV_LBA   0x40

/* Device control bits. */
#define ATA_CTL_NIEN 0x02
#define ATA_CTL_SRST 0x04
#define ATA_CTL_HOB  0x80

enum ide_xfer {
        IDE_XFER_NONE,
        IDE_XFER_IN,      /* PIO device to host: IDENTIFY, READ */
        IDE_XFER_OUT,     /* PIO host to device: WRITE */
        IDE_XFER_DMA_IN,  /* READ DMA waiting for / running on the bus master */
        IDE_XFER_DMA_OUT, /* WRITE DMA */
};

/* Bus-master IDE registers (BAR4), primary channel. */
#define BM_CMD_START   0x01
#define BM_CMD_TO_MEM  0x08 /* direction: device to memory (reads) */
#define BM_ST_ACTIVE   0x01
#define BM_ST_ERROR    0x02
#define BM_ST_INTR     0x04
#define BM_ST_DRV0_DMA 0x20
#define BM_ST_DRV1_DMA 0x40

struct ide_regs {
        uint8_t feature, nsect, lbal, lbam, lbah;
        /* "High order byte" copies: the previous value written to each
         * register, which LBA48 commands use as bits 8-15 / 24-47. */
        uint8_t hob_feature, hob_nsect, hob_lbal, hob_lbam, hob_lbah;
        uint8_t device, status, error, devctl;
};

struct ide {
        struct vm *vm;
        struct pci_dev pci;
        bool pci_added;
        struct bdev *bd; /* raw or qcow2 (devices/block) */
        bool readonly;
        uint64_t nsectors;
        char serial[21];
        uint16_t cyls, heads, spt; /* CHS geometry (INITIALIZE DEVICE PARAMETERS) */
        pthread_mutex_t lock;
        struct ide_regs r;
        bool irq_pending;     /* INTRQ: set by the device, cleared by a status read */
        uint8_t mult_sectors; /* 0 = multiple mode off */

        /* The PIO transfer in progress. */
        enum ide_xfer xfer;
        uint8_t cmd;
        uint64_t lba;       /* next sector to read or write */
        uint32_t remaining; /* sectors still to move, including the buffer's */
        uint32_t block;     /* sectors in the current DRQ block */
        uint32_t pos, len;  /* byte position / size of the buffer's data */
        uint8_t buf[IDE_SECTOR * IDE_MAX_MULTIPLE];

        /* Bus master: command, status, PRD table address. */
        uint8_t bm_cmd, bm_status;
        uint32_t bm_prdt;
        uint8_t mwdma_mode, udma_mode; /* selected by SET FEATURES, 0xff none */

        struct ide_stats stats;
};

/* ide_ata.c */
void ide_ata_execute(struct ide *ide, uint8_t cmd);
void ide_ata_signature(struct ide *ide);
/* A DRQ block was fully transferred: read the next one / write this one. */
void ide_ata_block_done(struct ide *ide);

/* ide_bmdma.c */
void ide_bmdma_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* A DMA command was accepted: run it now if the bus master is started. */
void ide_bmdma_kick(struct ide *ide);

/* ide.c */
void ide_raise_irq(struct ide *ide);
void ide_finish(struct ide *ide, uint8_t status);
void ide_abort(struct ide *ide, uint8_t error);

#endif
