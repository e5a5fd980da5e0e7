/* Fuzzes PCI configuration space as a guest drives it: each 8-byte record
 * is one access through ports 0xcf8-0xcff or pci_bus_cfg_access (address,
 * offset, length, value, direction), against a bus holding the host bridge
 * and a device with I/O, MMIO32 and MMIO64 BARs and two capabilities. After
 * the stream, every BAR that claims to be mapped must decode at its address,
 * and teardown must leave both buses empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../devices/fake_vm.h"
#include "devices/pci.h"

static void bar_handler(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
        (void)opaque, (void)off;
        if (!is_write)
                memset(data, 0x42, len);
}

static void run_op(struct fake_vm *f, struct pci_bus *bus, const uint8_t *op, unsigned slot)
{
        bool is_write = op[0] & 1;
        unsigned len = 1u << ((op[0] >> 1) & 3); /* 1, 2, 4, 8 */
        uint32_t value =
            (uint32_t)op[4] | (uint32_t)op[5] << 8 | (uint32_t)op[6] << 16 | (uint32_t)op[7] << 24;
        uint8_t data[8] = {op[4], op[5], op[6], op[7], 0, 0, 0, 0};
        uint32_t address;

        /* Mostly target the two interesting slots; sometimes anything. */
        if (op[0] & 0x80)
                address =
                    (uint32_t)op[1] << 24 | (uint32_t)op[2] << 16 | (uint32_t)op[3] << 8 | op[1];
        else
                address = 0x80000000u | (((op[1] & 1) ? slot : 0) << 11) | op[2];
        switch ((op[0] >> 3) & 3) {
        case 0: /* the guest path: address register, then data port */
                fake_pio_out(f, 0xcf8, 4, address);
                if (is_write)
                        io_bus_dispatch(f->vm.pio_bus, 0xcfc + (op[3] & 7), data, len, true);
                else
                        io_bus_dispatch(f->vm.pio_bus, 0xcfc + (op[3] & 7), data, len, false);
                break;
        case 1: /* raw accesses to 0xcf8-0xcff, including 0xcf9 (not reset) */
                if (0xcf8 + (op[3] & 7) == 0xcf9 && is_write)
                        data[0] &= ~0x04;
                io_bus_dispatch(f->vm.pio_bus, 0xcf8 + (op[3] & 7), data, len, is_write);
                break;
        case 2: /* the API the port handler uses, with odd offsets/lengths */
                pci_bus_cfg_access(bus, address, op[3] & 7, data, op[3] >> 4, is_write);
                break;
        default: /* poke whatever is mapped now */
                io_bus_dispatch((op[3] & 1) ? f->vm.mmio_bus : f->vm.pio_bus,
                                (op[3] & 1) ? 0xe0000000u + (value & 0xfffff) : (value & 0xffff),
                                data, len > 4 ? 4 : len, is_write);
                break;
        }
}

static void check_bars(struct fake_vm *f, struct pci_dev *dev)
{
        for (int i = 0; i < PCI_NUM_BARS; i++) {
                struct pci_bar *bar = &dev->bars[i];
                uint8_t d[4];
                struct io_bus *b = bar->kind == PCI_BAR_IO ? f->vm.pio_bus : f->vm.mmio_bus;

                if (bar->mapped && !io_bus_dispatch(b, bar->addr, d, 1, false))
                        abort(); /* claims to be mapped but does not decode */
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct fake_vm *f = fake_vm_new(1 << 16);
        struct isola_err err;
        struct pci_bus *bus = NULL;
        struct pci_dev dev;
        const uint8_t body[6] = {1, 2, 3, 4, 5, 6}, mask[6] = {0xff, 0, 0xf0, 0, 0, 0xff};

        if (!f)
                return 0;
        if (pci_bus_new(&f->vm, &bus, &err) < 0)
                goto out;
        pci_dev_init(&dev, 0x1af4, 0x1041, 0x020000, 1, 0x1af4, 1, 1);
        if (pci_dev_set_bar(&dev, 0, PCI_BAR_IO, 64, bar_handler, NULL, &err) < 0 ||
            pci_dev_set_bar(&dev, 1, PCI_BAR_MMIO32, 4096, bar_handler, NULL, &err) < 0 ||
            pci_dev_set_bar(&dev, 2, PCI_BAR_MMIO64, 1 << 14, bar_handler, NULL, &err) < 0 ||
            pci_dev_add_cap(&dev, 0x09, body, mask, sizeof(body), NULL, &err) < 0 ||
            pci_dev_add_cap(&dev, 0x11, body, NULL, 2, NULL, &err) < 0 ||
            pci_bus_add(bus, &dev, 3, &err) < 0)
                goto out;
        for (size_t i = 0; i + 8 <= size; i += 8)
                run_op(f, bus, data + i, 3);
        check_bars(f, &dev);
out:
        if (bus)
                pci_bus_free(bus);
        if (fake_pio_claimed(f, 0xcfc))
                abort();
        fake_vm_free(f);
        return 0;
}
