/* PCI bus 0: configuration mechanism #1 (0xcf8 address, 0xcfc-0xcff data),
 * the 440FX-like host bridge, the reset control register at 0xcf9, the
 * generic type-0 config-space model (write masks, BAR sizing and moves,
 * capability list) and BAR address assignment from the layout windows.
 *
 * Locking: bus->lock serialises the address register, slot table and every
 * config access (a guest's config cycles are serialised by the chipset too);
 * under it a device's own lock guards cfg and bars, so device code that reads
 * its config space from other threads takes only dev->lock. */
#include "devices/pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/dev_state.h"
#include "vmm/layout.h"
#include "vmm/vm.h"

#define PCI_VENDOR_ID     0x00
#define PCI_COMMAND       0x04
#define PCI_STATUS        0x06
#define PCI_REVISION      0x08
#define PCI_CLASS_PROG    0x09
#define PCI_CACHE_LINE    0x0c
#define PCI_LATENCY       0x0d
#define PCI_HEADER_TYPE   0x0e
#define PCI_BAR0          0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_CAP_PTR       0x34
#define PCI_INT_LINE      0x3c
#define PCI_INT_PIN       0x3d
#define PCI_CAP_START     0x40

#define PCI_CMD_IO          0x0001
#define PCI_CMD_MEM         0x0002
#define PCI_CMD_WMASK       0x0547 /* IO, MEM, master, parity, SERR, INTx disable */
#define PCI_STATUS_CAP_LIST 0x0010
#define PCI_STATUS_W1C      0xf900 /* error bits */

#define PCI_CFG_ENABLE 0x80000000u
#define RCR_RESET_CPU  0x04
#define RCR_WMASK      0x0e

struct pci_bus {
        struct vm *vm;
        pthread_mutex_t lock;
        uint32_t address; /* 0xcf8 */
        uint8_t rcr;      /* 0xcf9 reset control */
        struct pci_dev host;
        struct pci_dev *slots[PCI_MAX_SLOTS];
        uint64_t next_io, next_mmio;
};

uint32_t pci_cfg_read(const struct pci_dev *dev, unsigned offset, unsigned len)
{
        uint32_t v = 0;

        for (unsigned i = 0; i < len && i < 4 && offset + i < PCI_CFG_SIZE; i++)
                v |= (uint32_t)dev->cfg[offset + i] << (8 * i);
        return v;
}

void pci_cfg_set(struct pci_dev *dev, unsigned offset, uint32_t value, unsigned len)
{
        for (unsigned i = 0; i < len && i < 4 && offset + i < PCI_CFG_SIZE; i++)
                dev->cfg[offset + i] = (uint8_t)(value >> (8 * i));
}

static void wmask_set(struct pci_dev *dev, unsigned offset, uint32_t mask, unsigned len)
{
        for (unsigned i = 0; i < len && offset + i < PCI_CFG_SIZE; i++)
                dev->wmask[offset + i] = (uint8_t)(mask >> (8 * i));
}

void pci_dev_init(struct pci_dev *dev, uint16_t vendor, uint16_t device, uint32_t class_code,
                  uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id, uint8_t int_pin)
{
        memset(dev->cfg, 0, sizeof(dev->cfg));
        memset(dev->wmask, 0, sizeof(dev->wmask));
        memset(dev->w1cmask, 0, sizeof(dev->w1cmask));
        memset(dev->bars, 0, sizeof(dev->bars));
        dev->ops = NULL;
        dev->opaque = NULL;
        pci_cfg_set(dev, PCI_VENDOR_ID, vendor, 2);
        pci_cfg_set(dev, PCI_VENDOR_ID + 2, device, 2);
        dev->cfg[PCI_REVISION] = revision;
        pci_cfg_set(dev, PCI_CLASS_PROG, class_code, 3);
        pci_cfg_set(dev, PCI_SUBSYS_VENDOR, subsys_vendor, 2);
        pci_cfg_set(dev, PCI_SUBSYS_VENDOR + 2, subsys_id, 2);
        dev->cfg[PCI_INT_PIN] = int_pin;
        wmask_set(dev, PCI_COMMAND, PCI_CMD_WMASK, 2);
        pci_cfg_set(dev, PCI_STATUS, 0, 2);
        for (unsigned i = 0; i < 2; i++)
                dev->w1cmask[PCI_STATUS + i] = (uint8_t)(PCI_STATUS_W1C >> (8 * i));
        dev->wmask[PCI_CACHE_LINE] = 0xff;
        dev->wmask[PCI_LATENCY] = 0xff;
        dev->wmask[PCI_INT_LINE] = 0xff;
        dev->next_cap = PCI_CAP_START;
        dev->slot = 0;
        dev->bus = NULL;
        pthread_mutex_init(&dev->lock, NULL);
}

static bool is_pow2(uint64_t v)
{
        return v && !(v & (v - 1));
}

int pci_dev_set_bar(struct pci_dev *dev, int index, enum pci_bar_kind kind, uint64_t size,
                    io_handler_fn fn, void *opaque, struct isola_err *err)
{
        unsigned off = PCI_BAR0 + 4 * (unsigned)index;
        uint64_t mask = ~(size - 1);

        if (index < 0 || index >= PCI_NUM_BARS || (kind == PCI_BAR_MMIO64 && index == 5))
                return err_set(err, EINVAL, "PCI BAR %d: no such BAR slot", index);
        if (!is_pow2(size) || (kind == PCI_BAR_IO && (size < 4 || size > 256)) ||
            (kind != PCI_BAR_IO && (size < 16 || size > (1ULL << 31))))
                return err_set(err, EINVAL, "PCI BAR %d: invalid size %#llx", index,
                               (unsigned long long)size);
        if (dev->bars[index].kind != PCI_BAR_NONE ||
            (kind == PCI_BAR_MMIO64 && dev->bars[index + 1].kind != PCI_BAR_NONE) ||
            (index > 0 && dev->bars[index - 1].kind == PCI_BAR_MMIO64))
                return err_set(err, EBUSY, "PCI BAR %d: already in use", index);
        dev->bars[index] = (struct pci_bar){.kind = kind, .size = size, .fn = fn, .opaque = opaque};
        switch (kind) {
        case PCI_BAR_IO:
                pci_cfg_set(dev, off, 0x1, 4);
                wmask_set(dev, off, (uint32_t)mask & ~0x3u, 4);
                break;
        case PCI_BAR_MMIO32:
                pci_cfg_set(dev, off, 0x0, 4);
                wmask_set(dev, off, (uint32_t)mask & ~0xfu, 4);
                break;
        case PCI_BAR_MMIO64:
                pci_cfg_set(dev, off, 0x4, 4);
                wmask_set(dev, off, (uint32_t)mask & ~0xfu, 4);
                wmask_set(dev, off + 4, (uint32_t)(mask >> 32), 4);
                break;
        case PCI_BAR_NONE:
                break;
        }
        return 0;
}

int pci_dev_add_cap(struct pci_dev *dev, uint8_t cap_id, const uint8_t *body,
                    const uint8_t *body_wmask, unsigned body_len, uint8_t *offset_out,
                    struct isola_err *err)
{
        unsigned off = (dev->next_cap + 3u) & ~3u;
        unsigned prev = PCI_CAP_PTR;

        if (off < PCI_CAP_START || off + 2 + body_len > PCI_CFG_SIZE)
                return err_set(err, ENOSPC, "PCI capability %#x: config space is full", cap_id);
        /* Walk to the last link; a list is at most 48 entries long. */
        for (unsigned n = 0; dev->cfg[prev] && dev->cfg[prev] <= 0xfc && n < 48; n++)
                prev = dev->cfg[prev] + 1u;
        if (dev->cfg[prev])
                return err_set(err, EINVAL, "PCI capability %#x: capability list is corrupt",
                               cap_id);
        dev->cfg[off] = cap_id;
        dev->cfg[off + 1] = 0;
        if (body_len)
                memcpy(&dev->cfg[off + 2], body, body_len);
        if (body_wmask && body_len)
                memcpy(&dev->wmask[off + 2], body_wmask, body_len);
        dev->cfg[prev] = (uint8_t)off;
        dev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
        dev->next_cap = (uint8_t)((off + 2 + body_len + 3u) & ~3u);
        if (off + 2 + body_len + 3 >= PCI_CFG_SIZE)
                dev->next_cap = 0xff; /* full: the next add fails the bounds check */
        if (offset_out)
                *offset_out = (uint8_t)off;
        return 0;
}

/* The address the BAR's config registers hold now (type bits stripped). */
static uint64_t bar_cfg_addr(const struct pci_dev *dev, int i)
{
        unsigned off = PCI_BAR0 + 4 * (unsigned)i;
        uint64_t lo = pci_cfg_read(dev, off, 4);

        switch (dev->bars[i].kind) {
        case PCI_BAR_IO:
                return lo & ~0x3ULL;
        case PCI_BAR_MMIO32:
                return lo & ~0xfULL;
        case PCI_BAR_MMIO64:
                return (lo & ~0xfULL) | ((uint64_t)pci_cfg_read(dev, off + 4, 4) << 32);
        case PCI_BAR_NONE:
                break;
        }
        return 0;
}

static void ram_end(const struct vm *vm, uint64_t *end)
{
        *end = 0;
        for (unsigned i = 0; i < vm->mem.n_regions && i < GUEST_MEM_MAX_REGIONS; i++) {
                uint64_t e = vm->mem.regions[i].gpa + vm->mem.regions[i].size;
                if (e > *end)
                        *end = e;
        }
}

static bool range_within(uint64_t addr, uint64_t size, uint64_t lo, uint64_t hi)
{
        return addr >= lo && addr < hi && size <= hi - addr;
}

/* A guest may program any address; only ones inside the PCI windows (and,
 * for 64-bit BARs, above RAM below 2^40) are decoded. */
static bool bar_addr_allowed(const struct pci_bus *bus, const struct pci_bar *bar, uint64_t addr)
{
        uint64_t end;

        if (addr == 0 || (addr & (bar->size - 1)))
                return false;
        if (bar->kind == PCI_BAR_IO)
                return range_within(addr, bar->size, LAYOUT_PCI_IO_START, LAYOUT_PCI_IO_END);
        if (range_within(addr, bar->size, LAYOUT_PCI_MMIO_START, LAYOUT_PCI_MMIO_END))
                return true;
        if (bar->kind != PCI_BAR_MMIO64)
                return false;
        ram_end(bus->vm, &end);
        if (end < LAYOUT_HIGH_RAM_START)
                end = LAYOUT_HIGH_RAM_START;
        return range_within(addr, bar->size, end, 1ULL << 40);
}

static struct io_bus *bar_io_bus(const struct pci_bus *bus, const struct pci_bar *bar)
{
        return bar->kind == PCI_BAR_IO ? bus->vm->pio_bus : bus->vm->mmio_bus;
}

static void bar_unmap(struct pci_bus *bus, struct pci_bar *bar)
{
        if (!bar->mapped)
                return;
        io_bus_unregister(bar_io_bus(bus, bar), bar->addr);
        bar->mapped = false;
}

/* Brings BAR i's bus registration in line with its config registers and the
 * command register's decode bits; notifies the device when it changed. */
static void bar_update(struct pci_bus *bus, struct pci_dev *dev, int i)
{
        struct pci_bar *bar = &dev->bars[i];
        uint16_t cmd = (uint16_t)pci_cfg_read(dev, PCI_COMMAND, 2);
        bool decode = bar->kind == PCI_BAR_IO ? (cmd & PCI_CMD_IO) : (cmd & PCI_CMD_MEM);
        uint64_t addr = bar_cfg_addr(dev, i);
        uint64_t old = bar->mapped ? bar->addr : 0, now = 0;
        struct isola_err err;

        if (bar->kind == PCI_BAR_NONE || !bus->vm)
                return;
        if (bar->mapped && (!decode || addr != bar->addr))
                bar_unmap(bus, bar);
        bar->addr = addr;
        if (!bar->mapped && decode && bar_addr_allowed(bus, bar, addr) && bar->fn &&
            io_bus_register(bar_io_bus(bus, bar), addr, bar->size, bar->fn, bar->opaque, &err) == 0)
                bar->mapped = true;
        if (bar->mapped)
                now = addr;
        if (now != old && dev->ops && dev->ops->bar_moved)
                dev->ops->bar_moved(dev, i, old, now);
}

static void bars_update(struct pci_bus *bus, struct pci_dev *dev)
{
        for (int i = 0; i < PCI_NUM_BARS; i++)
                bar_update(bus, dev, i);
}

static void cfg_write(struct pci_bus *bus, struct pci_dev *dev, unsigned off, uint32_t val,
                      unsigned len)
{
        bool touched_bars = false, touched_cmd = false;

        for (unsigned i = 0; i < len && off + i < PCI_CFG_SIZE; i++) {
                unsigned o = off + i;
                uint8_t b = (uint8_t)(val >> (8 * i));
                uint8_t old = dev->cfg[o];
                uint8_t v = (uint8_t)((old & ~dev->wmask[o]) | (b & dev->wmask[o]));
                dev->cfg[o] = (uint8_t)(v & ~(b & dev->w1cmask[o]));
                if (o >= PCI_BAR0 && o < PCI_BAR0 + 4 * PCI_NUM_BARS)
                        touched_bars = true;
                if (o == PCI_COMMAND || o == PCI_COMMAND + 1)
                        touched_cmd = true;
        }
        if (touched_bars || touched_cmd)
                bars_update(bus, dev);
        if (dev->ops && dev->ops->cfg_written)
                dev->ops->cfg_written(dev, off, len);
}

static struct pci_dev *bus_dev_at(struct pci_bus *bus, uint32_t address)
{
        unsigned busno = (address >> 16) & 0xff, slot = (address >> 11) & 0x1f,
                 fn = (address >> 8) & 0x7;

        if (busno != 0 || fn != 0)
                return NULL;
        return bus->slots[slot];
}

static void bus_cfg_access_locked(struct pci_bus *bus, uint32_t address, unsigned byte_off,
                                  uint8_t *data, unsigned len, bool is_write)
{
        struct pci_dev *dev;
        unsigned off;

        if (!is_write)
                memset(data, 0xff, len);
        if (!(address & PCI_CFG_ENABLE) || byte_off + len > 4)
                return;
        dev = bus_dev_at(bus, address);
        if (!dev)
                return;
        off = (address & 0xfc) + byte_off;
        pthread_mutex_lock(&dev->lock);
        if (is_write) {
                uint32_t v = 0;
                for (unsigned i = 0; i < len; i++)
                        v |= (uint32_t)data[i] << (8 * i);
                cfg_write(bus, dev, off, v, len);
        } else {
                memcpy(data, &dev->cfg[off], len);
        }
        pthread_mutex_unlock(&dev->lock);
}

void pci_bus_cfg_access(struct pci_bus *bus, uint32_t address, unsigned byte_off, uint8_t *data,
                        unsigned len, bool is_write)
{
        if (len == 0 || len > 4)
                return;
        pthread_mutex_lock(&bus->lock);
        bus_cfg_access_locked(bus, address, byte_off, data, len, is_write);
        pthread_mutex_unlock(&bus->lock);
}

static void rcr_write(struct pci_bus *bus, uint8_t v)
{
        bool reset;

        pthread_mutex_lock(&bus->lock);
        reset = (v & RCR_RESET_CPU) != 0;
        bus->rcr = v & RCR_WMASK;
        pthread_mutex_unlock(&bus->lock);
        if (reset && bus->vm)
                vm_request_stop(bus->vm, VM_EXIT_RESET);
}

/* Ports 0xcf8-0xcff. Only dword accesses hit the address register; a byte
 * at 0xcf9 is the reset control register; other sub-dword accesses to
 * 0xcf8-0xcfb are not decoded (Linux's type-1/type-2 probe relies on it). */
static void pci_port_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct pci_bus *bus = opaque;
        uint32_t addr;

        if (offset >= 4) {
                if (offset + len > 8)
                        goto unclaimed;
                pthread_mutex_lock(&bus->lock);
                addr = bus->address;
                bus_cfg_access_locked(bus, addr, (unsigned)offset - 4, data, len, is_write);
                pthread_mutex_unlock(&bus->lock);
                return;
        }
        if (offset == 0 && len == 4) {
                pthread_mutex_lock(&bus->lock);
                if (is_write)
                        bus->address = ((uint32_t)data[0] | (uint32_t)data[1] << 8 |
                                        (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24) &
                                       0x80fffffcu;
                else
                        for (unsigned i = 0; i < 4; i++)
                                data[i] = (uint8_t)(bus->address >> (8 * i));
                pthread_mutex_unlock(&bus->lock);
                return;
        }
        if (offset == 1 && len == 1) {
                if (is_write) {
                        rcr_write(bus, data[0]);
                } else {
                        pthread_mutex_lock(&bus->lock);
                        data[0] = bus->rcr;
                        pthread_mutex_unlock(&bus->lock);
                }
                return;
        }
unclaimed:
        if (!is_write)
                memset(data, 0xff, len);
}

int pci_bus_new(struct vm *vm, struct pci_bus **bus_out, struct isola_err *err)
{
        struct pci_bus *bus = calloc(1, sizeof(*bus));

        if (!bus)
                return err_set(err, ENOMEM, "PCI bus: out of memory");
        bus->vm = vm;
        pthread_mutex_init(&bus->lock, NULL);
        bus->next_io = LAYOUT_PCI_IO_START;
        bus->next_mmio = LAYOUT_PCI_MMIO_START;
        pci_dev_init(&bus->host, 0x8086, 0x1237, 0x060000, 0x02, 0, 0, 0);
        pci_cfg_set(&bus->host, PCI_COMMAND, PCI_CMD_IO | PCI_CMD_MEM, 2);
        pci_cfg_set(&bus->host, PCI_STATUS, 0x0280, 2); /* fast back-to-back, medium DEVSEL */
        bus->host.bus = bus;
        bus->slots[0] = &bus->host;
        if (vm && vm->pio_bus &&
            io_bus_register(vm->pio_bus, LAYOUT_PORT_PCI_ADDR, 8, pci_port_io, bus, err) < 0) {
                pthread_mutex_destroy(&bus->host.lock);
                pthread_mutex_destroy(&bus->lock);
                free(bus);
                return err_prefix(err, "PCI config ports %#x-%#x", LAYOUT_PORT_PCI_ADDR,
                                  LAYOUT_PORT_PCI_ADDR + 7);
        }
        *bus_out = bus;
        return 0;
}

void pci_bus_free(struct pci_bus *bus)
{
        if (!bus)
                return;
        for (unsigned s = 1; s < PCI_MAX_SLOTS; s++)
                if (bus->slots[s])
                        pci_bus_remove(bus, bus->slots[s]);
        if (bus->vm && bus->vm->pio_bus)
                io_bus_unregister(bus->vm->pio_bus, LAYOUT_PORT_PCI_ADDR);
        pthread_mutex_destroy(&bus->host.lock);
        pthread_mutex_destroy(&bus->lock);
        free(bus);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
        return (v + a - 1) & ~(a - 1);
}

/* Firmware's job: give each BAR a naturally aligned address in its window. */
static int assign_bars(struct pci_bus *bus, struct pci_dev *dev, struct isola_err *err)
{
        for (int i = 0; i < PCI_NUM_BARS; i++) {
                struct pci_bar *bar = &dev->bars[i];
                bool io = bar->kind == PCI_BAR_IO;
                uint64_t *next = io ? &bus->next_io : &bus->next_mmio;
                uint64_t end = io ? LAYOUT_PCI_IO_END : LAYOUT_PCI_MMIO_END;
                uint64_t addr;
                unsigned off = PCI_BAR0 + 4 * (unsigned)i;

                if (bar->kind == PCI_BAR_NONE)
                        continue;
                addr = align_up(*next, bar->size);
                if (addr >= end || bar->size > end - addr)
                        return err_set(err, ENOSPC, "PCI %02x: BAR %d (%#llx bytes) does not fit",
                                       dev->slot, i, (unsigned long long)bar->size);
                *next = addr + bar->size;
                pci_cfg_set(dev, off, (uint32_t)addr | (dev->cfg[off] & (io ? 0x3 : 0xf)), 4);
                if (bar->kind == PCI_BAR_MMIO64)
                        pci_cfg_set(dev, off + 4, (uint32_t)(addr >> 32), 4);
        }
        return 0;
}

int pci_bus_add(struct pci_bus *bus, struct pci_dev *dev, int slot, struct isola_err *err)
{
        uint16_t cmd = 0;
        int rc = 0;

        pthread_mutex_lock(&bus->lock);
        if (slot < 0) {
                for (slot = 1; slot < PCI_MAX_SLOTS && bus->slots[slot]; slot++)
                        ;
        }
        if (slot >= PCI_MAX_SLOTS) {
                rc = err_set(err, ENOSPC, "PCI bus 0: no free slot");
                goto out;
        }
        if (bus->slots[slot]) {
                rc = err_set(err, EBUSY, "PCI bus 0: slot %d is taken", slot);
                goto out;
        }
        pthread_mutex_lock(&dev->lock);
        dev->slot = (uint8_t)slot;
        dev->bus = bus;
        rc = assign_bars(bus, dev, err);
        if (rc == 0) {
                for (int i = 0; i < PCI_NUM_BARS; i++)
                        cmd |= dev->bars[i].kind == PCI_BAR_IO     ? PCI_CMD_IO
                               : dev->bars[i].kind != PCI_BAR_NONE ? PCI_CMD_MEM
                                                                   : 0;
                if (dev->cfg[PCI_INT_PIN])
                        dev->cfg[PCI_INT_LINE] = (uint8_t)pci_bus_intx_gsi(bus, dev);
                pci_cfg_set(dev, PCI_COMMAND, pci_cfg_read(dev, PCI_COMMAND, 2) | cmd, 2);
                bars_update(bus, dev);
                bus->slots[slot] = dev;
        } else {
                dev->bus = NULL;
        }
        pthread_mutex_unlock(&dev->lock);
out:
        pthread_mutex_unlock(&bus->lock);
        return rc;
}

void pci_bus_remove(struct pci_bus *bus, struct pci_dev *dev)
{
        pthread_mutex_lock(&bus->lock);
        if (dev->slot < PCI_MAX_SLOTS && bus->slots[dev->slot] == dev && dev != &bus->host) {
                pthread_mutex_lock(&dev->lock);
                for (int i = 0; i < PCI_NUM_BARS; i++)
                        bar_unmap(bus, &dev->bars[i]);
                dev->bus = NULL;
                pthread_mutex_unlock(&dev->lock);
                bus->slots[dev->slot] = NULL;
        }
        pthread_mutex_unlock(&bus->lock);
}

uint32_t pci_slot_intx_gsi(unsigned slot, unsigned pin)
{
        if (pin < 1 || pin > 4)
                return 0;
        return 16 + (slot + pin - 1) % 8;
}

uint32_t pci_bus_intx_gsi(const struct pci_bus *bus, const struct pci_dev *dev)
{
        (void)bus;
        return pci_slot_intx_gsi(dev->slot, dev->cfg[PCI_INT_PIN]);
}

unsigned pci_bus_slots(const struct pci_bus *bus, struct pci_dev **devs, unsigned max)
{
        unsigned n = 0;

        for (unsigned s = 0; s < PCI_MAX_SLOTS; s++)
                if (bus->slots[s] && n < max)
                        devs[n++] = bus->slots[s];
        return n;
}

/* ---- snapshot state (devices/dev_state.h) ---- */

/* Per occupied slot: its number, then the 256 bytes of config space. The
 * BAR registrations, decode and the devices' reactions (MSI-X enable,
 * ioeventfds at the BAR) follow from the restored bytes. */
void pci_bus_save(struct pci_bus *bus, struct dstate_w *w)
{
        pthread_mutex_lock(&bus->lock);
        dstate_w_u32(w, bus->address);
        dstate_w_u8(w, bus->rcr);
        uint32_t n = 0;
        for (unsigned s = 0; s < PCI_MAX_SLOTS; s++)
                n += bus->slots[s] != NULL;
        dstate_w_u32(w, n);
        for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
                struct pci_dev *dev = bus->slots[s];
                if (!dev)
                        continue;
                dstate_w_u32(w, s);
                pthread_mutex_lock(&dev->lock);
                dstate_w_bytes(w, dev->cfg, PCI_CFG_SIZE);
                pthread_mutex_unlock(&dev->lock);
        }
        pthread_mutex_unlock(&bus->lock);
}

static int slot_load(struct pci_bus *bus, struct dstate_r *r, struct isola_err *err)
{
        uint32_t s = dstate_r_max(r, PCI_MAX_SLOTS - 1);
        uint8_t cfg[PCI_CFG_SIZE];
        dstate_r_bytes(r, cfg, sizeof(cfg));
        if (r->bad)
                return dstate_r_end(r, err);
        struct pci_dev *dev = bus->slots[s];
        /* Same machine, same functions: vendor, device and class must match. */
        if (!dev || memcmp(dev->cfg, cfg, 4) != 0 || memcmp(&dev->cfg[0x09], &cfg[0x09], 3) != 0)
                return err_set(err, EINVAL,
                               "snapshot section '%s': slot %u holds a different PCI function "
                               "than this machine's",
                               r->name, s);
        pthread_mutex_lock(&dev->lock);
        /* Read-only bytes (ids, capability layout) must be the device's own. */
        for (unsigned o = 0; o < PCI_CFG_SIZE; o++)
                dev->cfg[o] = (uint8_t)((dev->cfg[o] & ~(dev->wmask[o] | dev->w1cmask[o])) |
                                        (cfg[o] & (dev->wmask[o] | dev->w1cmask[o])));
        bars_update(bus, dev);
        if (dev->ops && dev->ops->cfg_written)
                dev->ops->cfg_written(dev, 0, PCI_CFG_SIZE);
        pthread_mutex_unlock(&dev->lock);
        return 0;
}

int pci_bus_load(struct pci_bus *bus, struct dstate_r *r, struct isola_err *err)
{
        uint32_t address = dstate_r_u32(r);
        uint8_t rcr = dstate_r_u8(r);
        uint32_t n = dstate_r_max(r, PCI_MAX_SLOTS);
        unsigned live = 0;

        for (unsigned s = 0; s < PCI_MAX_SLOTS; s++)
                live += bus->slots[s] != NULL;
        if (!r->bad && n != live)
                return err_set(err, EINVAL,
                               "snapshot section '%s': %u PCI functions saved, this machine has %u",
                               r->name, n, live);
        pthread_mutex_lock(&bus->lock);
        bus->address = address;
        bus->rcr = rcr & RCR_WMASK;
        pthread_mutex_unlock(&bus->lock);
        for (uint32_t i = 0; i < n && !r->bad; i++)
                if (slot_load(bus, r, err) < 0)
                        return -1;
        return dstate_r_end(r, err);
}
