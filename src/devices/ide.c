/* The IDE channel (see ide.h): the PIIX3 PCI function, the primary
 * channel's command block (0x1f0-0x1f7) and control block (0x3f6) registers,
 * PIO data transfers through the sector buffer and the interrupt. The ATA
 * command set lives in ide_ata.c.
 *
 * Every command completes synchronously on the vCPU thread that wrote it
 * (page-cache pread/pwrite of at most IDE_MAX_MULTIPLE sectors), so the
 * device is never BSY except while the guest holds SRST. The slave is
 * absent: with it selected every register reads 0, which Linux's probe
 * (ata_devchk and the post-reset status check) takes as "no device". */
#include "devices/ide.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/dev_state.h"
#include "devices/ide_internal.h"
#include "vmm/layout.h"
#include "vmm/vm.h"

enum ide_reg {
        REG_DATA,
        REG_ERROR_FEATURE,
        REG_NSECT,
        REG_LBAL,
        REG_LBAM,
        REG_LBAH,
        REG_DEVICE,
        REG_STATUS_CMD,
};

/* PIIX IDE timing registers: IDETIM bit 15 enables a channel's decode. */
#define PIIX_IDETIM_PRI 0x40
#define PIIX_IDETIM_SEC 0x42
#define PIIX_IDETIM_IDE 0x8000

static void pulse_irq(struct ide *ide)
{
        if (!ide->vm)
                return;
        /* ISA IRQ 14 is edge-triggered: a pulse gives the PIC/IOAPIC the
         * rising edge even if an earlier interrupt was never acknowledged. */
        vm_irq_line(ide->vm, LAYOUT_IRQ_IDE0, 1);
        vm_irq_line(ide->vm, LAYOUT_IRQ_IDE0, 0);
}

void ide_raise_irq(struct ide *ide)
{
        ide->irq_pending = true;
        if (!(ide->r.devctl & ATA_CTL_NIEN))
                pulse_irq(ide);
}

void ide_finish(struct ide *ide, uint8_t status)
{
        ide->xfer = IDE_XFER_NONE;
        ide->pos = ide->len = 0;
        ide->r.status = status;
        ide_raise_irq(ide);
}

void ide_abort(struct ide *ide, uint8_t error)
{
        ide->r.error = error;
        ide_finish(ide, ATA_DRDY | ATA_DSC | ATA_ERR);
}

static bool slave_selected(const struct ide *ide)
{
        return (ide->r.device & ATA_DEV_SLAVE) != 0;
}

static void data_access(struct ide *ide, uint8_t *data, uint32_t len, bool is_write)
{
        enum ide_xfer want = is_write ? IDE_XFER_OUT : IDE_XFER_IN;
        uint32_t n;

        ide->stats.data_port_accesses++;
        if (ide->xfer != want || !(ide->r.status & ATA_DRQ) || slave_selected(ide) ||
            ide->pos >= ide->len) {
                if (!is_write)
                        memset(data, 0, len);
                return; /* no transfer in this direction: ignored */
        }
        n = len < ide->len - ide->pos ? len : ide->len - ide->pos;
        if (is_write) {
                memcpy(ide->buf + ide->pos, data, n);
        } else {
                memcpy(data, ide->buf + ide->pos, n);
                memset(data + n, 0, len - n);
        }
        ide->pos += n;
        if (ide->pos >= ide->len)
                ide_ata_block_done(ide);
}

static uint8_t read_reg(struct ide *ide, unsigned reg)
{
        bool hob = (ide->r.devctl & ATA_CTL_HOB) != 0;

        if (slave_selected(ide))
                return 0;
        switch (reg) {
        case REG_ERROR_FEATURE:
                return hob ? ide->r.hob_feature : ide->r.error;
        case REG_NSECT:
                return hob ? ide->r.hob_nsect : ide->r.nsect;
        case REG_LBAL:
                return hob ? ide->r.hob_lbal : ide->r.lbal;
        case REG_LBAM:
                return hob ? ide->r.hob_lbam : ide->r.lbam;
        case REG_LBAH:
                return hob ? ide->r.hob_lbah : ide->r.lbah;
        case REG_DEVICE:
                return ide->r.device;
        default: /* status: reading it acknowledges the interrupt */
                ide->irq_pending = false;
                return ide->r.status;
        }
}

static void shift_in(uint8_t *reg, uint8_t *hob, uint8_t v)
{
        *hob = *reg;
        *reg = v;
}

static void write_reg(struct ide *ide, unsigned reg, uint8_t v)
{
        /* Command block writes clear HOB so the next reads show the
         * current values (ATA/ATAPI-7 "device control register"). */
        ide->r.devctl &= (uint8_t)~ATA_CTL_HOB;
        switch (reg) {
        case REG_ERROR_FEATURE:
                shift_in(&ide->r.feature, &ide->r.hob_feature, v);
                break;
        case REG_NSECT:
                shift_in(&ide->r.nsect, &ide->r.hob_nsect, v);
                break;
        case REG_LBAL:
                shift_in(&ide->r.lbal, &ide->r.hob_lbal, v);
                break;
        case REG_LBAM:
                shift_in(&ide->r.lbam, &ide->r.hob_lbam, v);
                break;
        case REG_LBAH:
                shift_in(&ide->r.lbah, &ide->r.hob_lbah, v);
                break;
        case REG_DEVICE:
                ide->r.device = v | 0xa0; /* obsolete bits 7 and 5 read as one */
                break;
        default:
                if (ide->r.status & ATA_BSY)
                        break; /* commands are ignored while busy (in reset) */
                /* An absent slave ignores commands, except EXECUTE DEVICE
                 * DIAGNOSTIC which the master runs for both. */
                if (slave_selected(ide) && v != 0x90)
                        break;
                ide->stats.commands++;
                ide_ata_execute(ide, v);
                break;
        }
}

static void cmd_block_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct ide *ide = opaque;

        pthread_mutex_lock(&ide->lock);
        if (offset == REG_DATA) {
                data_access(ide, data, len, is_write);
        } else if (is_write) {
                write_reg(ide, (unsigned)offset, data[0]);
        } else {
                data[0] = read_reg(ide, (unsigned)offset);
                if (len > 1)
                        memset(data + 1, 0xff, len - 1);
        }
        pthread_mutex_unlock(&ide->lock);
}

static void devctl_write(struct ide *ide, uint8_t v)
{
        uint8_t old = ide->r.devctl;

        ide->r.devctl = v;
        if ((v & ATA_CTL_SRST) && !(old & ATA_CTL_SRST)) {
                ide->xfer = IDE_XFER_NONE;
                ide->pos = ide->len = 0;
                ide->irq_pending = false;
                ide->r.status = ATA_BSY;
        } else if (!(v & ATA_CTL_SRST) && (old & ATA_CTL_SRST)) {
                ide_ata_signature(ide);
        }
        if ((old & ATA_CTL_NIEN) && !(v & ATA_CTL_NIEN) && ide->irq_pending)
                pulse_irq(ide);
}

static void ctl_block_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct ide *ide = opaque;

        if (!is_write)
                memset(data, 0xff, len);
        if (offset != 0)
                return;
        pthread_mutex_lock(&ide->lock);
        if (is_write)
                devctl_write(ide, data[0]);
        else /* alternate status: no interrupt acknowledge */
                data[0] = slave_selected(ide) ? 0 : ide->r.status;
        pthread_mutex_unlock(&ide->lock);
}

static void pci_function_init(struct ide *ide)
{
        struct pci_dev *d = &ide->pci;

        /* Prog-if 0x80: both channels in compatibility mode, bus master. */
        pci_dev_init(d, 0x8086, 0x7010, 0x010180, 0x00, 0, 0, 0);
        pci_cfg_set(d, 0x04, 0x0001, 2); /* I/O decode on, as firmware leaves it */
        pci_cfg_set(d, 0x06, 0x0280, 2); /* fast back-to-back, medium DEVSEL */
        pci_cfg_set(d, PIIX_IDETIM_PRI, PIIX_IDETIM_IDE, 2);
        pci_cfg_set(d, PIIX_IDETIM_SEC, 0, 2);
        /* IDETIM, SIDETIM and the PIIX4 UDMA registers hold timings the
         * driver programs and reads back; they do not change emulation. */
        for (unsigned off = 0x40; off < 0x4c; off++)
                d->wmask[off] = 0xff;
        d->opaque = ide;
}

static int bmdma_init(struct ide *ide, struct isola_err *err)
{
        ide->bm_status = BM_ST_DRV0_DMA;
        ide->mwdma_mode = ide->udma_mode = 0xff;
        return pci_dev_set_bar(&ide->pci, 4, PCI_BAR_IO, 16, ide_bmdma_io, ide, err);
}

static int open_image(struct ide *ide, const char *path, bool readonly, struct isola_err *err)
{
        struct stat st;

        /* The format is probed (qcow2 magic, else raw); bdev_open checks
         * the file type and the qcow2 image and its backing chain. */
        if (bdev_open(path, BDEV_FMT_AUTO, readonly ? BDEV_RDONLY : 0, &ide->bd, err) < 0)
                return err_prefix(err, "IDE disk image");
        if (stat(path, &st) < 0)
                return err_sys(err, "IDE disk image '%s': stat", path);
        ide->nsectors = ide->bd->size / IDE_SECTOR;
        if (ide->nsectors == 0)
                return err_set(err, EINVAL, "IDE disk image '%s': smaller than one sector", path);
        snprintf(ide->serial, sizeof(ide->serial), "ISOLA%015llx",
                 (unsigned long long)(st.st_ino ^ ((uint64_t)st.st_dev << 40)) &
                     0xfffffffffffffULL);
        return 0;
}

static void ide_free(struct ide *ide)
{
        bdev_close(ide->bd);
        pthread_mutex_destroy(&ide->lock);
        free(ide);
}

int ide_create(struct vm *vm, struct pci_bus *bus, const char *path, bool readonly,
               struct ide **out, struct isola_err *err)
{
        struct ide *ide = calloc(1, sizeof(*ide));

        if (!ide)
                return err_set(err, ENOMEM, "IDE: out of memory");
        ide->vm = vm;
        ide->readonly = readonly;
        pthread_mutex_init(&ide->lock, NULL);
        if (open_image(ide, path, readonly, err) < 0)
                goto fail;
        ide->heads = 16;
        ide->spt = 63;
        ide->mult_sectors = IDE_MAX_MULTIPLE;
        ide_ata_signature(ide);
        pci_function_init(ide);
        if (bmdma_init(ide, err) < 0)
                goto fail;
        if (bus) {
                if (pci_bus_add(bus, &ide->pci, -1, err) < 0) {
                        err_prefix(err, "IDE controller");
                        goto fail;
                }
                ide->pci_added = true;
        }
        if (io_bus_register(vm->pio_bus, LAYOUT_PORT_IDE0_CMD, 8, cmd_block_io, ide, err) < 0) {
                err_prefix(err, "IDE command block ports %#x", LAYOUT_PORT_IDE0_CMD);
                goto fail_pci;
        }
        if (io_bus_register(vm->pio_bus, LAYOUT_PORT_IDE0_CTL, 1, ctl_block_io, ide, err) < 0) {
                io_bus_unregister(vm->pio_bus, LAYOUT_PORT_IDE0_CMD);
                err_prefix(err, "IDE control port %#x", LAYOUT_PORT_IDE0_CTL);
                goto fail_pci;
        }
        *out = ide;
        return 0;
fail_pci:
        if (ide->pci_added)
                pci_bus_remove(bus, &ide->pci);
fail:
        ide_free(ide);
        return -1;
}

void ide_destroy(struct ide *ide)
{
        if (!ide)
                return;
        io_bus_unregister(ide->vm->pio_bus, LAYOUT_PORT_IDE0_CMD);
        io_bus_unregister(ide->vm->pio_bus, LAYOUT_PORT_IDE0_CTL);
        if (ide->pci_added && ide->pci.bus)
                pci_bus_remove(ide->pci.bus, &ide->pci);
        pthread_mutex_destroy(&ide->pci.lock);
        ide_free(ide);
}

void ide_get_stats(struct ide *ide, struct ide_stats *out)
{
        pthread_mutex_lock(&ide->lock);
        *out = ide->stats;
        pthread_mutex_unlock(&ide->lock);
}

/* ---- snapshot state (devices/dev_state.h) ---- */

/* Commands complete synchronously, so the in-flight part of a PIO transfer
 * is the DRQ buffer and its position; a DMA command waits for the bus
 * master's start bit with xfer and the PRD table address saved. */
void ide_save(struct ide *ide, struct dstate_w *w)
{
        pthread_mutex_lock(&ide->lock);
        const struct ide_regs *r = &ide->r;
        uint8_t regs[] = {r->feature,  r->nsect,       r->lbal,         r->lbam,
                          r->lbah,     r->hob_feature, r->hob_nsect,    r->hob_lbal,
                          r->hob_lbam, r->hob_lbah,    r->device,       r->status,
                          r->error,    r->devctl,      ide->cmd,        ide->mult_sectors,
                          ide->bm_cmd, ide->bm_status, ide->mwdma_mode, ide->udma_mode};
        dstate_w_bytes(w, regs, sizeof(regs));
        dstate_w_bool(w, ide->irq_pending);
        dstate_w_u16(w, ide->cyls);
        dstate_w_u16(w, ide->heads);
        dstate_w_u16(w, ide->spt);
        dstate_w_u32(w, (uint32_t)ide->xfer);
        dstate_w_u64(w, ide->lba);
        dstate_w_u32(w, ide->remaining);
        dstate_w_u32(w, ide->block);
        dstate_w_u32(w, ide->pos);
        dstate_w_u32(w, ide->len);
        dstate_w_bytes(w, ide->buf, sizeof(ide->buf));
        dstate_w_u32(w, ide->bm_prdt);
        dstate_w_u64(w, ide->nsectors);
        pthread_mutex_unlock(&ide->lock);
}

int ide_load(struct ide *ide, struct dstate_r *rd, struct isola_err *err)
{
        uint8_t regs[20];
        struct ide tmp;

        dstate_r_bytes(rd, regs, sizeof(regs));
        tmp.irq_pending = dstate_r_bool(rd);
        tmp.cyls = dstate_r_u16(rd);
        tmp.heads = dstate_r_u16(rd);
        tmp.spt = dstate_r_u16(rd);
        tmp.xfer = (enum ide_xfer)dstate_r_max(rd, IDE_XFER_DMA_OUT);
        tmp.lba = dstate_r_u64(rd);
        tmp.remaining = dstate_r_u32(rd);
        tmp.block = dstate_r_max(rd, IDE_MAX_MULTIPLE);
        tmp.len = 0;
        tmp.pos = dstate_r_max(rd, sizeof(ide->buf));
        tmp.len = dstate_r_max(rd, sizeof(ide->buf));
        dstate_r_bytes(rd, tmp.buf, sizeof(tmp.buf));
        tmp.bm_prdt = dstate_r_u32(rd);
        uint64_t nsectors = dstate_r_u64(rd);
        if (tmp.pos > tmp.len || regs[15] > IDE_MAX_MULTIPLE)
                rd->bad = true;
        if (dstate_r_end(rd, err) < 0)
                return -1;
        /* The disk must be the one the guest saw (its size is in IDENTIFY). */
        if (nsectors != ide->nsectors)
                return err_set(err, EINVAL,
                               "snapshot section '%s': the disk had %llu sectors, it has %llu now",
                               rd->name, (unsigned long long)nsectors,
                               (unsigned long long)ide->nsectors);
        /* A transfer must stay on the disk: setup_range checked it once. */
        if (tmp.xfer != IDE_XFER_NONE &&
            (tmp.lba > ide->nsectors || tmp.remaining > ide->nsectors - tmp.lba))
                return err_set(err, EINVAL, "snapshot section '%s': transfer beyond the disk",
                               rd->name);
        pthread_mutex_lock(&ide->lock);
        ide->r =
            (struct ide_regs){regs[0], regs[1], regs[2], regs[3],  regs[4],  regs[5],  regs[6],
                              regs[7], regs[8], regs[9], regs[10], regs[11], regs[12], regs[13]};
        ide->cmd = regs[14];
        ide->mult_sectors = regs[15];
        ide->bm_cmd = regs[16];
        ide->bm_status = regs[17];
        ide->mwdma_mode = regs[18];
        ide->udma_mode = regs[19];
        ide->irq_pending = tmp.irq_pending;
        ide->cyls = tmp.cyls;
        ide->heads = tmp.heads;
        ide->spt = tmp.spt;
        ide->xfer = tmp.xfer;
        ide->lba = tmp.lba;
        ide->remaining = tmp.remaining;
        ide->block = tmp.block;
        ide->pos = tmp.pos;
        ide->len = tmp.len;
        memcpy(ide->buf, tmp.buf, sizeof(ide->buf));
        ide->bm_prdt = tmp.bm_prdt;
        pthread_mutex_unlock(&ide->lock);
        return 0;
}

int ide_flush_disk(struct ide *ide, struct isola_err *err)
{
        pthread_mutex_lock(&ide->lock);
        int rc = ide->readonly ? 0 : bdev_flush(ide->bd, err);
        pthread_mutex_unlock(&ide->lock);
        return rc;
}

int ide_reopen_disk(struct ide *ide, const char *path, struct isola_err *err)
{
        struct bdev *bd, *old;

        if (bdev_open(path, BDEV_FMT_AUTO, ide->readonly ? BDEV_RDONLY : 0, &bd, err) < 0)
                return -1;
        pthread_mutex_lock(&ide->lock);
        bool same = bd->size / IDE_SECTOR == ide->nsectors;
        old = same ? ide->bd : bd;
        if (same)
                ide->bd = bd;
        pthread_mutex_unlock(&ide->lock);
        bdev_close(old);
        return same ? 0 : err_set(err, EINVAL, "'%s': not the size of the disk it replaces", path);
}
