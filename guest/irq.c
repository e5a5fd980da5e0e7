/* Interrupts for the tests that want them instead of polling: an IDT with
 * one MSI vector, one IOAPIC vector and the spurious vector, the local
 * APIC, MSI-X entry 0 of a PCI function and IOAPIC pins aimed at this CPU.
 * Waiting is polling with interrupts enabled, so a lost interrupt is a
 * bounded timeout, not a hung guest. */
#include "guest.h"

#define LAPIC              0xfee00000UL
#define LAPIC_TPR          0x80
#define LAPIC_EOI          0xb0
#define LAPIC_SVR          0xf0
#define SPURIOUS_VECTOR    0xff
#define PCI_CAP_MSIX       0x11
#define IOAPIC             0xfec00000UL
#define IOAPIC_REDTBL(gsi) (0x10 + 2 * (gsi))

struct idt_gate {
        uint16_t off_lo, sel;
        uint8_t ist, type;
        uint16_t off_mid;
        uint32_t off_hi, zero;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));
static volatile unsigned long irq_count, legacy_count, stray_count;
static bool ready;

struct interrupt_frame;

__attribute__((interrupt)) static void msi_isr(struct interrupt_frame *f)
{
        (void)f;
        irq_count++;
        mmio_write32(LAPIC + LAPIC_EOI, 0);
}

__attribute__((interrupt)) static void spurious_isr(struct interrupt_frame *f)
{
        (void)f; /* no EOI for the spurious vector */
}

__attribute__((interrupt)) static void legacy_isr(struct interrupt_frame *f)
{
        (void)f;
        legacy_count++;
        mmio_write32(LAPIC + LAPIC_EOI, 0);
}

/* Any other vector: count it and EOI (harmless when none is in service). */
__attribute__((interrupt)) static void stray_isr(struct interrupt_frame *f)
{
        (void)f;
        stray_count++;
        mmio_write32(LAPIC + LAPIC_EOI, 0);
}

/* A CPU exception in the guest is a bug: say so and stop. Never returns,
 * so the error code some vectors push does not matter. */
__attribute__((interrupt)) static void exception_isr(struct interrupt_frame *f)
{
        (void)f;
        print("ISOLA-GUEST fatal CPU exception\n");
        guest_power_off();
}

static void set_gate(unsigned vec, void (*fn)(struct interrupt_frame *))
{
        uint64_t a = (uint64_t)(uintptr_t)fn;
        idt[vec] = (struct idt_gate){
            .off_lo = (uint16_t)a,
            .sel = 0x08,  /* entry.S's 64-bit code segment */
            .type = 0x8e, /* present, DPL 0, interrupt gate */
            .off_mid = (uint16_t)(a >> 16),
            .off_hi = (uint32_t)(a >> 32),
        };
}

static void irq_init(void)
{
        struct {
                uint16_t limit;
                uint64_t base;
        } __attribute__((packed)) idtr = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
        if (ready)
                return;
        /* Firmware (SeaBIOS on QEMU) leaves the 8259s routing the PIT to
         * vectors 8+: mask them, we only want our MSI. */
        outb(0x21, 0xff);
        outb(0xa1, 0xff);
        for (unsigned v = 0; v < 256; v++)
                set_gate(v, v < 32 ? exception_isr : stray_isr);
        set_gate(IRQ_VECTOR_MSI, msi_isr);
        set_gate(IRQ_VECTOR_LEGACY, legacy_isr);
        set_gate(SPURIOUS_VECTOR, spurious_isr);
        __asm__ volatile("lidt %0" : : "m"(idtr));
        mmio_write32(LAPIC + LAPIC_TPR, 0);
        mmio_write32(LAPIC + LAPIC_SVR, 0x100 | SPURIOUS_VECTOR); /* software enable */
        ready = true;
}

int msix_enable_entry0(const struct pci_fn *f, struct line *why)
{
        uint8_t ptr = pci_read8(f, 0x34) & 0xfc;
        unsigned guard = 0;
        while (ptr && guard++ < 48 && pci_read8(f, ptr) != PCI_CAP_MSIX)
                ptr = pci_read8(f, ptr + 1) & 0xfc;
        if (!ptr || guard >= 48) {
                line_add(why, "reason=no-msix-capability ");
                return -1;
        }
        uint32_t table = pci_read32(f, ptr + 4);
        uint64_t bar = pci_bar_addr(f, table & 7);
        if (!bar) {
                line_add(why, "reason=msix-table-bar-unmapped ");
                return -1;
        }
        irq_init();
        uint64_t e = bar + (table & ~7u);
        mmio_write32(e + 0, (uint32_t)LAPIC); /* destination APIC id 0, physical */
        mmio_write32(e + 4, 0);
        mmio_write32(e + 8, IRQ_VECTOR_MSI); /* fixed delivery, edge */
        mmio_write32(e + 12, 0);             /* unmasked */
        uint16_t ctrl = pci_read16(f, ptr + 2);
        pci_write16(f, ptr + 2, (uint16_t)((ctrl & ~0x4000) | 0x8000));
        return 0;
}

static void ioapic_write(unsigned reg, uint32_t v)
{
        mmio_write32(IOAPIC, reg);
        mmio_write32(IOAPIC + 0x10, v);
}

void ioapic_route(unsigned gsi, bool enable)
{
        irq_init();
        /* Destination APIC 0; fixed, physical, active high, edge (ISA). */
        ioapic_write(IOAPIC_REDTBL(gsi) + 1, 0);
        ioapic_write(IOAPIC_REDTBL(gsi), enable ? IRQ_VECTOR_LEGACY : 0x10000 /* masked */);
}

unsigned long irq_seen(void)
{
        return irq_count;
}

unsigned long irq_legacy_seen(void)
{
        return legacy_count;
}

static bool wait_count(volatile unsigned long *counter, unsigned long count, unsigned long ms)
{
        uint64_t t0 = rdtsc();
        __asm__ volatile("sti");
        while (*counter < count && within(t0, ms))
                __asm__ volatile("pause");
        __asm__ volatile("cli");
        return *counter >= count;
}

bool irq_wait(unsigned long count, unsigned long ms)
{
        return wait_count(&irq_count, count, ms);
}

bool irq_legacy_wait(unsigned long count, unsigned long ms)
{
        return wait_count(&legacy_count, count, ms);
}
