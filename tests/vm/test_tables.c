/* Firmware tables in guest memory, checked the way a guest parses them:
 * MP floating pointer and configuration table (checksums, one processor
 * entry per vCPU, IRQ 0 on IOAPIC pin 2), ACPI RSDP -> XSDT -> FADT/MADT ->
 * DSDT with the \_S5 package, PM1a ports of the power device and the PCI
 * host bridge (_HID, _CRS, _PRT) whose AML lengths add up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "devices/pci.h"
#include "tap.h"
#include "vmm/aml.h"
#include "vmm/layout.h"
#include "vmm/tables.h"
#include "vmm/vm.h"

#define RAM (16u << 20)

static void test_mptable(struct vm *vm, uint8_t *ram)
{
        struct isola_err err;
        tap_ok(mptable_write(vm, &err) == 0, "MP table written");
        const uint8_t *fp = ram + LAYOUT_MPTABLE;
        tap_ok(!memcmp(fp, "_MP_", 4), "floating pointer signature at the EBDA");
        TAP_EQ_INT(table_checksum(fp, 16), 0, "floating pointer checksum");
        const uint8_t *ct = ram + rd32(fp + 4);
        tap_ok(!memcmp(ct, "PCMP", 4), "configuration table signature");
        uint16_t len = rd16(ct + 4), count = rd16(ct + 34);
        TAP_EQ_INT(table_checksum(ct, len), 0, "configuration table checksum");
        TAP_EQ_INT(rd32(ct + 36), LAYOUT_LAPIC_BASE, "local APIC address");
        unsigned cpus = 0, bsp = 0, buses = 0, ioapics = 0, isa_irqs = 0, irq0_pin = 99;
        const uint8_t *e = ct + 44;
        for (unsigned i = 0; i < count && e < ct + len; i++) {
                switch (e[0]) {
                case 0:
                        cpus += (e[3] & 1) && e[1] == cpus;
                        bsp += (e[3] & 2) != 0;
                        e += 20;
                        break;
                case 1:
                        buses++;
                        e += 8;
                        break;
                case 2:
                        ioapics += rd32(e + 4) == LAYOUT_IOAPIC_BASE;
                        e += 8;
                        break;
                case 3:
                        if (e[4] == 1) {
                                isa_irqs++;
                                if (e[5] == 0)
                                        irq0_pin = e[7];
                        }
                        e += 8;
                        break;
                default:
                        e += 8;
                }
        }
        TAP_EQ_INT(cpus, vm->n_cpus, "one enabled processor entry per vCPU, APIC ids 0..n-1");
        TAP_EQ_INT(bsp, 1, "exactly one bootstrap processor");
        TAP_EQ_INT(buses, 2, "buses PCI and ISA");
        TAP_EQ_INT(ioapics, 1, "one IOAPIC at its address");
        TAP_EQ_INT(isa_irqs, 15, "ISA IRQs 0-15 except the cascade");
        TAP_EQ_INT(irq0_pin, 2, "IRQ 0 (PIT) on IOAPIC pin 2");
        TAP_EQ_INT(e - ct, len, "entries fill the table exactly");
}

static const uint8_t *find_table(uint8_t *ram, const uint8_t *xsdt, const char *sig)
{
        unsigned n = (rd32(xsdt + 4) - 36) / 8;
        for (unsigned i = 0; i < n; i++) {
                const uint8_t *t = ram + rd64(xsdt + 36 + 8 * i);
                if (!memcmp(t, sig, 4))
                        return t;
        }
        return NULL;
}

/* AML PkgLength at p: the value (it counts its own bytes); *size its bytes. */
static unsigned pkglen(const uint8_t *p, unsigned *size)
{
        unsigned follow = p[0] >> 6, v = follow ? p[0] & 0xf : p[0] & 0x3f;

        for (unsigned i = 0; i < follow; i++)
                v |= (unsigned)p[1 + i] << (4 + 8 * i);
        *size = follow + 1;
        return v;
}

/* After \_S5: Scope(\_SB_) { Device(PCI0) { _HID, ..., _PRT } } ending
 * exactly at the end of the table. */
static void test_dsdt_pci0(const uint8_t *dsdt)
{
        uint32_t len = rd32(dsdt + 4);
        const uint8_t *end = dsdt + len;
        const uint8_t *scope = memmem(dsdt + 36, len - 36, "\x10", 1);
        unsigned n;

        tap_ok(scope && scope > dsdt + 36 + 13, "DSDT: a Scope after \\_S5");
        if (!scope)
                return;
        unsigned slen = pkglen(scope + 1, &n);
        TAP_EQ_INT(scope + 1 + slen - dsdt, len, "DSDT: \\_SB scope length ends the table");
        tap_ok(!memcmp(scope + 1 + n, "\\_SB_", 5), "DSDT: the scope is \\_SB");
        const uint8_t *dev = scope + 1 + n + 5;
        tap_ok(dev[0] == 0x5b && dev[1] == 0x82, "DSDT: a Device in it");
        unsigned dlen = pkglen(dev + 2, &n);
        TAP_EQ_INT(dev + 2 + dlen - dsdt, len, "DSDT: PCI0 length ends the scope");
        tap_ok(!memcmp(dev + 2 + n, "PCI0", 4), "DSDT: the device is PCI0");
        const uint8_t *hid = memmem(dev, (size_t)(end - dev), "_HID\x0c", 5);
        tap_ok(hid && rd32(hid + 5) == 0x030ad041, "DSDT: PCI0 _HID is PNP0A03");
        tap_ok(memmem(dev, (size_t)(end - dev), "_CRS\x11", 5) != NULL,
               "DSDT: PCI0 has a _CRS buffer");
        const uint8_t *prt = memmem(dev, (size_t)(end - dev), "_PRT\x12", 5);
        tap_ok(prt != NULL, "DSDT: PCI0 has a _PRT package");
        if (!prt)
                return;
        unsigned plen = pkglen(prt + 5, &n);
        TAP_EQ_INT(prt + 5 + plen - dsdt, len, "DSDT: _PRT is the last object");
        TAP_EQ_INT(prt[5 + n], PCI_MAX_SLOTS * 4, "DSDT: _PRT has slots x pins entries");
        /* Entry for slot 3 pin B: Package(4) {0x3ffff, 1, 0, GSI}. */
        const uint8_t want[] = {0x12, 0x0b, 0x04, 0x0c, 0xff, 0xff, 0x03, 0x00, 0x01, 0x00, 0x0a};
        const uint8_t *e = memmem(prt, (size_t)(end - prt), want, sizeof(want));
        tap_ok(e && e[sizeof(want)] == pci_slot_intx_gsi(3, 2),
               "DSDT: _PRT routes slot 3 INTB to the GSI the device raises");
        TAP_EQ_INT(aml_eisa_id("PNP0A03"), 0x030ad041, "EisaId(PNP0A03)");
}

static void test_acpi(struct vm *vm, uint8_t *ram)
{
        struct isola_err err;
        tap_ok(acpi_write(vm, &err) == 0, "ACPI tables written");
        const uint8_t *rsdp = ram + ACPI_RSDP_ADDR;
        tap_ok(!memcmp(rsdp, "RSD PTR ", 8), "RSDP signature in the BIOS area");
        TAP_EQ_INT(table_checksum(rsdp, 20), 0, "RSDP checksum (ACPI 1.0 part)");
        TAP_EQ_INT(table_checksum(rsdp, 36), 0, "RSDP extended checksum");
        const uint8_t *xsdt = ram + rd64(rsdp + 24);
        const uint8_t *rsdt = ram + rd32(rsdp + 16);
        tap_ok(!memcmp(xsdt, "XSDT", 4) && table_checksum(xsdt, rd32(xsdt + 4)) == 0, "XSDT valid");
        tap_ok(!memcmp(rsdt, "RSDT", 4) && table_checksum(rsdt, rd32(rsdt + 4)) == 0, "RSDT valid");
        const uint8_t *fadt = find_table(ram, xsdt, "FACP");
        const uint8_t *madt = find_table(ram, xsdt, "APIC");
        tap_ok(fadt && table_checksum(fadt, rd32(fadt + 4)) == 0, "FADT listed and valid");
        tap_ok(madt && table_checksum(madt, rd32(madt + 4)) == 0, "MADT listed and valid");
        if (!fadt || !madt)
                return;
        TAP_EQ_INT(rd32(fadt + 64), LAYOUT_PORT_ACPI_PM1A_CNT, "FADT PM1a_CNT_BLK");
        TAP_EQ_INT(rd32(fadt + 56), LAYOUT_PORT_ACPI_PM1A_EVT, "FADT PM1a_EVT_BLK");
        TAP_EQ_INT(rd16(fadt + 46), ACPI_SCI_IRQ, "FADT SCI interrupt");
        TAP_EQ_INT(rd64(fadt + 172 + 4), LAYOUT_PORT_ACPI_PM1A_CNT, "FADT X_PM1a_CNT_BLK");
        TAP_EQ_INT(rd64(fadt + 116 + 4), LAYOUT_PORT_RESET, "FADT reset register is port 0xcf9");
        const uint8_t *dsdt = ram + rd64(fadt + 140);
        tap_ok(!memcmp(dsdt, "DSDT", 4) && table_checksum(dsdt, rd32(dsdt + 4)) == 0, "DSDT valid");
        tap_ok(memmem(dsdt + 36, rd32(dsdt + 4) - 36, "_S5_\x12", 5) != NULL,
               "DSDT defines the \\_S5 package");
        const uint8_t *ff = memmem(dsdt + 36, rd32(dsdt + 4) - 36, "_S5_\x12", 5);
        tap_ok(ff && ff[7] == 0x0a && ff[8] == 5, "\\_S5 SLP_TYP is 5");
        test_dsdt_pci0(dsdt);
        unsigned lapics = 0, overrides = 0, irq0_gsi = 99;
        for (const uint8_t *e = madt + 44; e < madt + rd32(madt + 4) && e[1]; e += e[1]) {
                if (e[0] == 0 && (rd32(e + 4) & 1) && e[3] == lapics)
                        lapics++;
                if (e[0] == 2) {
                        overrides++;
                        if (e[3] == 0)
                                irq0_gsi = rd32(e + 4);
                }
        }
        TAP_EQ_INT(lapics, vm->n_cpus, "MADT: one enabled LAPIC per vCPU");
        TAP_EQ_INT(irq0_gsi, 2, "MADT: IRQ 0 -> GSI 2 override");
}

int main(void)
{
        uint8_t *ram = calloc(1, RAM);
        struct vm vm = {.n_cpus = 4,
                        .mem = {.regions = {{0, RAM, ram}}, .n_regions = 1, .ram_size = RAM}};

        test_mptable(&vm, ram);
        test_acpi(&vm, ram);
        vm.n_cpus = 64;
        test_mptable(&vm, ram);
        free(ram);
        return tap_done();
}
