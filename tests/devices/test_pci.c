/* PCI bus tests through the guest's view: config mechanism #1 on ports
 * 0xcf8/0xcfc, enumeration, BAR sizing and moves, bad writes, capabilities,
 * and the reset control register. */
#include <string.h>

#include "devices/pci.h"
#include "fake_vm.h"
#include "tap.h"
#include "vmm/layout.h"

struct bar_hits {
        unsigned io, mmio, moved;
        uint64_t last_off;
        uint64_t moved_old, moved_new;
};

static struct bar_hits hits;

static void io_bar(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
        (void)opaque;
        hits.io++;
        hits.last_off = off;
        if (!is_write)
                memset(data, 0x5a, len);
}

static void mmio_bar(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
        (void)opaque;
        hits.mmio++;
        hits.last_off = off;
        if (!is_write)
                memset(data, 0xa5, len);
}

static void bar_moved(struct pci_dev *dev, int bar, uint64_t old_addr, uint64_t new_addr)
{
        (void)dev, (void)bar;
        hits.moved++;
        hits.moved_old = old_addr;
        hits.moved_new = new_addr;
}

static const struct pci_dev_ops test_ops = {.bar_moved = bar_moved};

static uint32_t cfg_addr(unsigned bus, unsigned slot, unsigned fn, unsigned reg)
{
        return 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (reg & 0xfc);
}

static uint32_t cfg_read(struct fake_vm *f, unsigned slot, unsigned reg, unsigned len)
{
        fake_pio_out(f, LAYOUT_PORT_PCI_ADDR, 4, cfg_addr(0, slot, 0, reg));
        return fake_pio_in(f, (uint16_t)(LAYOUT_PORT_PCI_DATA + (reg & 3)), len);
}

static void cfg_write(struct fake_vm *f, unsigned slot, unsigned reg, unsigned len, uint32_t v)
{
        fake_pio_out(f, LAYOUT_PORT_PCI_ADDR, 4, cfg_addr(0, slot, 0, reg));
        fake_pio_out(f, (uint16_t)(LAYOUT_PORT_PCI_DATA + (reg & 3)), len, v);
}

static void test_enumeration(struct fake_vm *f)
{
        fake_pio_out(f, LAYOUT_PORT_PCI_ADDR, 4, 0x80000000u);
        TAP_EQ_INT(fake_pio_in(f, LAYOUT_PORT_PCI_ADDR, 4), 0x80000000u,
                   "0xcf8 reads back the address (type 1 probe)");
        TAP_EQ_INT(cfg_read(f, 0, 0x00, 4), 0x12378086, "host bridge is 8086:1237");
        TAP_EQ_INT(cfg_read(f, 0, 0x08, 4) >> 8, 0x060000, "host bridge class 0x060000");
        TAP_EQ_INT(cfg_read(f, 0, 0x02, 2), 0x1237, "word read at byte offset 2");
        TAP_EQ_INT(cfg_read(f, 0, 0x01, 1), 0x80, "byte read at byte offset 1");
        TAP_EQ_INT(cfg_read(f, 7, 0x00, 4), 0xffffffffu, "empty slot reads all ones");
        fake_pio_out(f, LAYOUT_PORT_PCI_ADDR, 4, cfg_addr(1, 0, 0, 0));
        TAP_EQ_INT(fake_pio_in(f, LAYOUT_PORT_PCI_DATA, 4), 0xffffffffu, "bus 1 reads all ones");
        fake_pio_out(f, LAYOUT_PORT_PCI_ADDR, 4, cfg_addr(0, 0, 3, 0));
        TAP_EQ_INT(fake_pio_in(f, LAYOUT_PORT_PCI_DATA, 4), 0xffffffffu,
                   "function 3 reads all ones");
        fake_pio_out(f, LAYOUT_PORT_PCI_ADDR, 4, 0x00000000u);
        TAP_EQ_INT(fake_pio_in(f, LAYOUT_PORT_PCI_DATA, 4), 0xffffffffu,
                   "config data without the enable bit reads all ones");
        cfg_write(f, 0, 0x00, 4, 0xdeadbeef);
        TAP_EQ_INT(cfg_read(f, 0, 0x00, 4), 0x12378086, "vendor/device ids are read-only");
        TAP_EQ_INT(fake_pio_in(f, LAYOUT_PORT_PCI_ADDR, 1), 0xff,
                   "byte read of 0xcf8 is not decoded");
}

static void test_bars(struct fake_vm *f, struct pci_bus *bus, struct pci_dev *dev)
{
        unsigned s = dev->slot;
        uint32_t io_addr = cfg_read(f, s, 0x10, 4) & ~3u;
        uint32_t mm_addr = cfg_read(f, s, 0x14, 4) & ~0xfu;
        uint8_t d[4];

        (void)bus;
        TAP_EQ_INT(cfg_read(f, s, 0x00, 4), 0x10011af4, "device ids visible");
        tap_ok(io_addr >= LAYOUT_PCI_IO_START && io_addr < LAYOUT_PCI_IO_END,
               "I/O BAR assigned in the I/O window (%#x)", io_addr);
        tap_ok(mm_addr >= LAYOUT_PCI_MMIO_START && mm_addr < LAYOUT_PCI_MMIO_END,
               "MMIO BAR assigned in the MMIO window (%#x)", mm_addr);
        TAP_EQ_INT(cfg_read(f, s, 0x04, 2) & 3, 3, "I/O and memory decode enabled");
        TAP_EQ_INT(fake_pio_in(f, (uint16_t)(io_addr + 4), 1), 0x5a, "I/O BAR reaches handler");
        TAP_EQ_INT(hits.last_off, 4, "handler gets the offset from the BAR base");
        tap_ok(fake_mmio(f, mm_addr + 8, d, 4, false) && d[0] == 0xa5, "MMIO BAR reaches handler");

        /* Sizing as Linux does it: decode off, write ones, read, restore. */
        cfg_write(f, s, 0x04, 2, 0);
        tap_ok(!fake_mmio(f, mm_addr, d, 4, false), "memory decode off unmaps the BAR");
        cfg_write(f, s, 0x10, 4, 0xffffffff);
        TAP_EQ_INT(cfg_read(f, s, 0x10, 4), 0xffffffe1u, "I/O BAR sizing: 32 bytes, I/O bit");
        cfg_write(f, s, 0x14, 4, 0xffffffff);
        TAP_EQ_INT(cfg_read(f, s, 0x14, 4), 0xfffff000u, "MMIO BAR sizing: 4 KiB");
        cfg_write(f, s, 0x18, 4, 0xffffffff);
        cfg_write(f, s, 0x1c, 4, 0xffffffff);
        TAP_EQ_INT(cfg_read(f, s, 0x18, 4), 0xffffc004u, "64-bit BAR low sizing: 16 KiB, type");
        TAP_EQ_INT(cfg_read(f, s, 0x1c, 4), 0xffffffffu, "64-bit BAR high dword all ones");
        cfg_write(f, s, 0x20, 4, 0xffffffff);
        TAP_EQ_INT(cfg_read(f, s, 0x20, 4), 0, "unimplemented BAR reads 0 after sizing");
        cfg_write(f, s, 0x10, 4, io_addr);
        cfg_write(f, s, 0x14, 4, mm_addr);
        cfg_write(f, s, 0x18, 4, 0xe0100000u);
        cfg_write(f, s, 0x1c, 4, 0);
        hits.moved = 0;
        cfg_write(f, s, 0x04, 2, 3);
        tap_ok(hits.moved >= 1, "bar_moved called when decode comes back");
        tap_ok(fake_mmio(f, mm_addr, d, 4, false), "restored BAR decodes again");

        /* Move the MMIO BAR. */
        hits.moved = 0;
        cfg_write(f, s, 0x14, 4, 0xe0200000u);
        tap_ok(!fake_mmio(f, mm_addr, d, 4, false), "old address no longer decodes");
        tap_ok(fake_mmio(f, 0xe0200010u, d, 4, false) && hits.last_off == 0x10,
               "new address decodes");
        tap_ok(hits.moved == 1 && hits.moved_old == mm_addr && hits.moved_new == 0xe0200000u,
               "bar_moved reports old and new address");

        /* Hostile addresses: RAM, outside the window, overlapping. */
        cfg_write(f, s, 0x14, 4, 0x00100000u);
        TAP_EQ_INT(cfg_read(f, s, 0x14, 4), 0x00100000u, "BAR register keeps what was written");
        tap_ok(!fake_mmio(f, 0x00100000u, d, 4, false), "BAR over RAM is not mapped");
        cfg_write(f, s, 0x14, 4, 0xe0100000u);
        tap_ok(!dev->bars[1].mapped && dev->bars[2].mapped,
               "BAR moved onto another BAR stays unmapped, the other keeps decoding");
        cfg_write(f, s, 0x10, 4, 0x3f8);
        tap_ok(!dev->bars[0].mapped && !fake_pio_claimed(f, 0x3f8),
               "I/O BAR outside the I/O window is not mapped");
        cfg_write(f, s, 0x10, 4, io_addr + 2);
        tap_ok(dev->bars[0].mapped, "low type bits of an I/O BAR are ignored");
        cfg_write(f, s, 0x10, 4, io_addr);
        cfg_write(f, s, 0x14, 4, mm_addr);

        /* Status is write-1-to-clear; the cap list bit is read-only. */
        dev->cfg[0x07] |= 0x20; /* pretend: signalled target abort (bit 13) */
        cfg_write(f, s, 0x06, 2, 0x2000 | 0x0010);
        TAP_EQ_INT(cfg_read(f, s, 0x06, 2), 0x0010, "status: W1C clears error, cap bit kept");
        cfg_write(f, s, 0x3c, 1, 0x0b);
        TAP_EQ_INT(cfg_read(f, s, 0x3c, 1), 0x0b, "interrupt line is writable");
        cfg_write(f, s, 0x3d, 1, 0x04);
        TAP_EQ_INT(cfg_read(f, s, 0x3d, 1), 1, "interrupt pin is read-only");
}

static void test_caps(struct fake_vm *f, struct pci_dev *dev, uint8_t cap_off)
{
        unsigned s = dev->slot;
        unsigned p = cfg_read(f, s, 0x34, 1);

        TAP_EQ_INT(p, cap_off, "capability pointer at 0x34");
        TAP_EQ_INT(cfg_read(f, s, p, 1), 0x09, "first capability id");
        p = cfg_read(f, s, p + 1, 1);
        TAP_EQ_INT(cfg_read(f, s, p, 1), 0x05, "second capability id");
        TAP_EQ_INT(cfg_read(f, s, p + 1, 1), 0, "list ends");
        cfg_write(f, s, p + 2, 2, 0xffff);
        TAP_EQ_INT(cfg_read(f, s, p + 2, 2), 0x00f1, "capability body honours its write mask");
}

int main(void)
{
        struct fake_vm *f = fake_vm_new(1 << 20);
        struct pci_bus *bus = NULL;
        struct pci_dev dev, dev2;
        struct isola_err err = {0};
        uint8_t cap_off = 0, c2;
        const uint8_t vendor_body[2] = {0x11, 0x22};
        const uint8_t msi_body[2] = {0x01, 0x00}, msi_mask[2] = {0xf0, 0x00};

        if (!f)
                return 1;
        TAP_EQ_INT(pci_bus_new(&f->vm, &bus, &err), 0, "pci_bus_new");
        test_enumeration(f);

        pci_dev_init(&dev, 0x1af4, 0x1001, 0x010000, 1, 0x1af4, 2, 1);
        dev.ops = &test_ops;
        TAP_EQ_INT(pci_dev_set_bar(&dev, 0, PCI_BAR_IO, 32, io_bar, NULL, &err), 0, "I/O BAR");
        TAP_EQ_INT(pci_dev_set_bar(&dev, 1, PCI_BAR_MMIO32, 4096, mmio_bar, NULL, &err), 0,
                   "MMIO32 BAR");
        TAP_EQ_INT(pci_dev_set_bar(&dev, 2, PCI_BAR_MMIO64, 16384, mmio_bar, NULL, &err), 0,
                   "MMIO64 BAR");
        TAP_EQ_INT(pci_dev_set_bar(&dev, 3, PCI_BAR_IO, 32, io_bar, NULL, &err), -1,
                   "BAR 3 is the upper half of the 64-bit BAR");
        TAP_EQ_INT(pci_dev_set_bar(&dev, 4, PCI_BAR_MMIO32, 3000, mmio_bar, NULL, &err), -1,
                   "non power of two size refused");
        TAP_EQ_INT(pci_dev_add_cap(&dev, 0x09, vendor_body, NULL, 2, &cap_off, &err), 0,
                   "vendor capability");
        TAP_EQ_INT(pci_dev_add_cap(&dev, 0x05, msi_body, msi_mask, 2, &c2, &err), 0,
                   "second capability");
        TAP_EQ_INT(pci_bus_add(bus, &dev, -1, &err), 0, "pci_bus_add");
        TAP_EQ_INT(dev.slot, 1, "first free slot is 1");
        TAP_EQ_INT(pci_bus_intx_gsi(bus, &dev), 17, "slot 1 INTA -> GSI 17");
        TAP_EQ_INT(cfg_read(f, 1, 0x3c, 1), 17, "interrupt line register holds the GSI");
        TAP_EQ_INT(cfg_read(f, 1, 0x06, 2) & 0x10, 0x10, "status has the capability bit");

        pci_dev_init(&dev2, 0x1af4, 0x1002, 0x020000, 1, 0, 0, 0);
        TAP_EQ_INT(pci_bus_add(bus, &dev2, 1, &err), -1, "taken slot refused");
        TAP_EQ_INT(pci_bus_add(bus, &dev2, 5, &err), 0, "explicit slot 5");
        struct pci_dev *devs[PCI_MAX_SLOTS];
        TAP_EQ_INT(pci_bus_slots(bus, devs, PCI_MAX_SLOTS), 3, "three functions on the bus");

        test_bars(f, bus, &dev);
        test_caps(f, &dev, cap_off);

        fake_pio_out(f, LAYOUT_PORT_RESET, 1, 0x02);
        TAP_EQ_INT(f->stops, 0, "0xcf9 = 0x02 does not reset");
        fake_pio_out(f, LAYOUT_PORT_RESET, 1, 0x06);
        TAP_EQ_INT(f->stop_reason, VM_EXIT_RESET, "0xcf9 = 0x06 requests a reset");

        pci_bus_remove(bus, &dev);
        TAP_EQ_INT(cfg_read(f, 1, 0, 4), 0xffffffffu, "removed device is gone");
        uint8_t d[4];
        tap_ok(!fake_mmio(f, 0xe0100000u, d, 4, false), "removed device's BARs unmapped");
        pci_bus_free(bus);
        tap_ok(!fake_pio_claimed(f, LAYOUT_PORT_PCI_DATA), "config ports released");
        fake_vm_free(f);
        return tap_done();
}
