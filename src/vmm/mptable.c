/* The Intel MultiProcessor Specification 1.4 tables: the floating pointer
 * at the start of the EBDA and the configuration table right after it
 * (continuing into the reserved area below 1 MiB): one processor entry per
 * vCPU, buses ISA and PCI, the IOAPIC, ISA IRQs 0-15 (IRQ 0 on pin 2, like
 * the GSI routing) and the INTx pin of every PCI slot. */
#include <errno.h>
#include <string.h>

#include "devices/pci.h"
#include "vmm/layout.h"
#include "vmm/tables.h"
#include "vmm/vm.h"

#define MP_BUS_PCI          0
#define MP_BUS_ISA          1
#define MP_IRQ_INT          0
#define MP_IRQ_NMI          1
#define MP_IRQ_EXTINT       3
#define MP_FLAGS_CONFORM    0x0
#define MP_FLAGS_LEVEL_HIGH 0x0d   /* polarity 01 active high, trigger 11 level */
#define MP_MAX_SIZE         0x4000 /* up to 0xa3c00, far below the ACPI tables */

struct mp_writer {
        uint8_t *base;
        unsigned len;
        unsigned entries;
};

static void put(struct mp_writer *w, const void *p, unsigned len)
{
        memcpy(w->base + w->len, p, len);
        w->len += len;
        w->entries++;
}

static void put_processors(struct mp_writer *w, unsigned n_cpus)
{
        for (unsigned i = 0; i < n_cpus; i++) {
                uint8_t e[20] = {0, (uint8_t)i, 0x14, (uint8_t)(1 | (i == 0 ? 2 : 0))};
                uint32_t signature = 0x600, features = 0x201; /* FPU, APIC */
                memcpy(e + 4, &signature, 4);
                memcpy(e + 8, &features, 4);
                put(w, e, sizeof(e));
        }
}

static void put_bus(struct mp_writer *w, uint8_t id, const char *type)
{
        uint8_t e[8] = {1, id};
        memcpy(e + 2, type, 6);
        put(w, e, sizeof(e));
}

static void put_irq(struct mp_writer *w, uint8_t type, uint16_t flags, uint8_t bus, uint8_t src_irq,
                    uint8_t ioapic, uint8_t pin)
{
        uint8_t e[8] = {3, type, (uint8_t)flags, (uint8_t)(flags >> 8), bus, src_irq, ioapic, pin};
        put(w, e, sizeof(e));
}

static void put_pci_irqs(struct mp_writer *w, struct pci_bus *bus, uint8_t ioapic_id)
{
        struct pci_dev *devs[PCI_MAX_SLOTS];
        unsigned n = bus ? pci_bus_slots(bus, devs, PCI_MAX_SLOTS) : 0;

        for (unsigned i = 0; i < n; i++) {
                unsigned pin = devs[i]->cfg[0x3d];
                uint32_t gsi = pci_bus_intx_gsi(bus, devs[i]);
                if (pin < 1 || pin > 4 || gsi == 0)
                        continue;
                put_irq(w, MP_IRQ_INT, MP_FLAGS_LEVEL_HIGH, MP_BUS_PCI,
                        (uint8_t)((devs[i]->slot << 2) | (pin - 1)), ioapic_id, (uint8_t)gsi);
        }
}

int mptable_write(struct vm *vm, struct isola_err *err)
{
        uint8_t *fp = guest_mem_ptr(&vm->mem, LAYOUT_MPTABLE, 16 + MP_MAX_SIZE);
        uint8_t ioapic_id = (uint8_t)vm->n_cpus;
        struct mp_writer w;

        if (!fp)
                return err_set(err, ERANGE, "MP table: guest memory too small");
        memset(fp, 0, 16 + MP_MAX_SIZE);
        w = (struct mp_writer){.base = fp + 16, .len = 44};

        put_processors(&w, vm->n_cpus);
        put_bus(&w, MP_BUS_PCI, "PCI   ");
        put_bus(&w, MP_BUS_ISA, "ISA   ");
        uint8_t ioapic[8] = {2, ioapic_id, 0x11, 1};
        uint32_t ioapic_addr = (uint32_t)LAYOUT_IOAPIC_BASE;
        memcpy(ioapic + 4, &ioapic_addr, 4);
        put(&w, ioapic, sizeof(ioapic));
        for (uint8_t irq = 0; irq < 16; irq++) {
                if (irq == 2)
                        continue;
                put_irq(&w, MP_IRQ_INT, MP_FLAGS_CONFORM, MP_BUS_ISA, irq, ioapic_id,
                        irq == 0 ? 2 : irq);
        }
        put_pci_irqs(&w, vm->pci, ioapic_id);
        /* Local interrupts: PIC -> LINT0 (ExtINT), NMI -> LINT1, all CPUs. */
        uint8_t lint0[8] = {4, MP_IRQ_EXTINT, 0, 0, MP_BUS_ISA, 0, 0xff, 0};
        uint8_t lint1[8] = {4, MP_IRQ_NMI, 0, 0, MP_BUS_ISA, 0, 0xff, 1};
        put(&w, lint0, sizeof(lint0));
        put(&w, lint1, sizeof(lint1));

        uint8_t *hdr = w.base;
        uint16_t len16 = (uint16_t)w.len, count = (uint16_t)(w.entries);
        uint32_t lapic = (uint32_t)LAYOUT_LAPIC_BASE;
        memcpy(hdr, "PCMP", 4);
        memcpy(hdr + 4, &len16, 2);
        hdr[6] = 4; /* spec revision 1.4 */
        memcpy(hdr + 8, "ISOLA   ", 8);
        memcpy(hdr + 16, "MICROVM     ", 12);
        memcpy(hdr + 34, &count, 2);
        memcpy(hdr + 36, &lapic, 4);
        hdr[7] = (uint8_t)-table_checksum(hdr, w.len);

        uint32_t table_addr = (uint32_t)LAYOUT_MPTABLE + 16;
        memcpy(fp, "_MP_", 4);
        memcpy(fp + 4, &table_addr, 4);
        fp[8] = 1; /* length in 16-byte units */
        fp[9] = 4;
        fp[10] = (uint8_t)-table_checksum(fp, 16);
        return 0;
}

uint8_t table_checksum(const uint8_t *p, uint64_t len)
{
        uint8_t sum = 0;

        for (uint64_t i = 0; i < len; i++)
                sum += p[i];
        return sum;
}
