/* ACPI tables in the BIOS area: RSDP (at ACPI_RSDP_ADDR, where Linux scans),
 * XSDT and RSDT, a FADT whose PM1a blocks are the power device's ports (SCI
 * on IRQ 9, no SMI command port: the machine is always in ACPI mode), whose
 * reset register is port 0xcf9 and which lists the i8042 only for a guest
 * that is not paravirtual (boot_arch_flags), a FACS, a DSDT with the \_S5
 * sleep package (SLP_TYP 5) so Linux powers off through PM1a_CNT and the PCI
 * host bridge (\_SB.PCI0: its windows and the INTx routing, _PRT), and a
 * MADT with the LAPICs, the IOAPIC and the IRQ0 -> GSI2 override. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci.h"
#include "vmm/aml.h"
#include "vmm/layout.h"
#include "vmm/tables.h"
#include "vmm/vm.h"

#define ACPI_AREA_SIZE 0x10000
#define ACPI_HDR_LEN   36
#define FADT_LEN       276
#define FACS_LEN       64
#define SLP_TYP_S5     5

struct acpi_writer {
        uint8_t *base; /* host pointer of ACPI_RSDP_ADDR */
        uint64_t used;
};

static uint64_t alloc(struct acpi_writer *w, uint64_t len, uint64_t align)
{
        uint64_t off = (w->used + align - 1) & ~(align - 1);
        w->used = off + len;
        return off;
}

static void put16(uint8_t *p, uint16_t v)
{
        memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
        memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
        memcpy(p, &v, 8);
}

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
        memcpy(t, sig, 4);
        put32(t + 4, len);
        t[8] = rev;
        memcpy(t + 10, "ISOLA ", 6);
        memcpy(t + 16, "ISOLAVM ", 8);
        put32(t + 24, 1);
        memcpy(t + 28, "ISLA", 4);
        put32(t + 32, 1);
}

static void finish(uint8_t *t, uint32_t len)
{
        t[9] = 0;
        t[9] = (uint8_t)-table_checksum(t, len);
}

/* Generic Address Structure: system I/O space. */
static void gas_io(uint8_t *p, uint8_t bits, uint8_t access, uint64_t port)
{
        p[0] = 1;
        p[1] = bits;
        p[2] = 0;
        p[3] = access;
        put64(p + 4, port);
}

/* DefName(\_S5_, Package(4) {5, 5, 0, 0}) in AML. */
static const uint8_t dsdt_s5[] = {
    0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, SLP_TYP_S5, 0x0a, SLP_TYP_S5, 0x00, 0x00,
};

/* Address space descriptors (ACPI 6.5, 6.4.3.5): resource type 0 memory,
 * 1 I/O, 2 bus numbers; MinFixed | MaxFixed, produced by the bridge. */
static void crs_word(struct aml *r, uint8_t type, uint8_t type_flags, uint16_t min, uint16_t max)
{
        uint8_t d[16] = {0x88, 13, 0, type, 0x0c, type_flags};

        put16(d + 8, min);
        put16(d + 10, max);
        put16(d + 14, (uint16_t)(max - min + 1));
        aml_bytes(r, d, sizeof(d));
}

static void crs_dword_mem(struct aml *r, uint32_t min, uint32_t max)
{
        uint8_t d[26] = {0x87, 23, 0, 0, 0x0c, 0x01 /* read/write, not cacheable */};

        put32(d + 10, min);
        put32(d + 14, max);
        put32(d + 22, max - min + 1);
        aml_bytes(r, d, sizeof(d));
}

/* What the host bridge decodes: bus 0, the configuration ports, every
 * other port, the VGA hole and the PCI hole up to the IOAPIC. */
static void pci0_crs(struct aml *out)
{
        struct aml r = {0};
        static const uint8_t cfg_ports[8] = {0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08};
        static const uint8_t end_tag[2] = {0x79, 0x00};

        crs_word(&r, 2, 0, 0, 0xff);
        aml_bytes(&r, cfg_ports, sizeof(cfg_ports));
        crs_word(&r, 1, 0x03, 0x0000, 0x0cf7);
        crs_word(&r, 1, 0x03, 0x0d00, 0xffff);
        crs_dword_mem(&r, 0x000a0000, 0x000bffff);
        crs_dword_mem(&r, (uint32_t)LAYOUT_PCI_HOLE_START, (uint32_t)LAYOUT_IOAPIC_BASE - 1);
        aml_bytes(&r, end_tag, sizeof(end_tag));
        aml_buffer(out, &r);
}

/* Legacy INTx: every slot's pins A-D straight to IOAPIC GSIs (no link
 * devices), as pci_slot_intx_gsi wires them. */
static void pci0_prt(struct aml *out)
{
        struct aml entries = {0};

        for (unsigned slot = 0; slot < PCI_MAX_SLOTS; slot++) {
                for (unsigned pin = 1; pin <= 4; pin++) {
                        struct aml e = {0};
                        aml_int(&e, ((uint64_t)slot << 16) | 0xffff);
                        aml_int(&e, pin - 1);
                        aml_int(&e, 0);
                        aml_int(&e, pci_slot_intx_gsi(slot, pin));
                        aml_package(&entries, 4, &e);
                }
        }
        aml_package(out, PCI_MAX_SLOTS * 4, &entries);
}

/* \_S5 and \_SB.PCI0, the host bridge Linux looks for before it scans
 * PCI at all: without it an ACPI kernel sees no PCI device. */
static int dsdt_body(struct aml *body)
{
        struct aml pci0 = {0}, sb = {0}, crs = {0}, prt = {0};

        aml_bytes(body, dsdt_s5, sizeof(dsdt_s5));
        aml_name_int(&pci0, "_HID", aml_eisa_id("PNP0A03"));
        aml_name_int(&pci0, "_UID", 0);
        aml_name_int(&pci0, "_ADR", 0);
        aml_name_int(&pci0, "_BBN", 0);
        pci0_crs(&crs);
        aml_name_obj(&pci0, "_CRS", &crs);
        pci0_prt(&prt);
        aml_name_obj(&pci0, "_PRT", &prt);
        aml_device(&sb, "PCI0", &pci0);
        aml_scope(body, "\\_SB_", &sb);
        return body->overflow ? -1 : 0;
}

static uint64_t write_dsdt(struct acpi_writer *w, const struct aml *body)
{
        uint32_t len = ACPI_HDR_LEN + (uint32_t)body->n;
        uint64_t off = alloc(w, len, 16);
        uint8_t *t = w->base + off;

        header(t, "DSDT", len, 2);
        memcpy(t + ACPI_HDR_LEN, body->b, body->n);
        finish(t, len);
        return off;
}

static uint64_t write_facs(struct acpi_writer *w)
{
        uint64_t off = alloc(w, FACS_LEN, 64);
        uint8_t *t = w->base + off;

        memcpy(t, "FACS", 4);
        put32(t + 4, FACS_LEN);
        t[32] = 2; /* version */
        return off;
}

/* IAPC_BOOT_ARCH: LEGACY_DEVICES, and 8042 only on full virtualization.
 * With the flag Linux probes the controller and its keyboard and mouse
 * ports, hundreds of port exits at boot for a keyboard nobody types on:
 * a paravirtual guest is told there is none (as on QEMU's microvm). The
 * controller stays at 0x60/0x64 for its reset line (reboot=k). */
static uint16_t boot_arch_flags(bool pv)
{
        return pv ? 0x1 : 0x3;
}

static uint64_t write_fadt(struct acpi_writer *w, uint64_t dsdt, uint64_t facs, bool pv)
{
        uint64_t off = alloc(w, FADT_LEN, 16);
        uint8_t *t = w->base + off;

        header(t, "FACP", FADT_LEN, 6);
        /* FIRMWARE_CTRL stays 0: X_FIRMWARE_CTRL below is the one to use. */
        put32(t + 40, (uint32_t)(ACPI_RSDP_ADDR + dsdt));
        put16(t + 46, ACPI_SCI_IRQ);
        put32(t + 56, LAYOUT_PORT_ACPI_PM1A_EVT);
        put32(t + 64, LAYOUT_PORT_ACPI_PM1A_CNT);
        t[88] = 4;           /* PM1_EVT_LEN */
        t[89] = 2;           /* PM1_CNT_LEN */
        put16(t + 96, 101);  /* P_LVL2_LAT > 100: C2 not supported */
        put16(t + 98, 1001); /* P_LVL3_LAT > 1000: C3 not supported */
        put16(t + 109, boot_arch_flags(pv));
        /* WBINVD | fixed power button (PWR_BUTTON clear: PM1 PWRBTN_STS/EN),
         * no sleep button (SLP_BUTTON) | RESET_REG_SUP */
        put32(t + 112, (1u << 0) | (1u << 5) | (1u << 10));
        gas_io(t + 116, 8, 1, LAYOUT_PORT_RESET);
        t[128] = 0x06; /* RESET_VALUE: full CPU reset through 0xcf9 */
        t[131] = 0;    /* FADT minor version */
        put64(t + 132, ACPI_RSDP_ADDR + facs);
        put64(t + 140, ACPI_RSDP_ADDR + dsdt);
        gas_io(t + 148, 32, 0, LAYOUT_PORT_ACPI_PM1A_EVT);
        gas_io(t + 172, 16, 0, LAYOUT_PORT_ACPI_PM1A_CNT);
        memcpy(t + 268, "ISOLAVMM", 8);
        finish(t, FADT_LEN);
        return off;
}

static uint64_t write_madt(struct acpi_writer *w, unsigned n_cpus)
{
        uint32_t len = ACPI_HDR_LEN + 8 + 8 * n_cpus + 12 + 10 * 2 + 6;
        uint64_t off = alloc(w, len, 16);
        uint8_t *t = w->base + off, *p = t + ACPI_HDR_LEN + 8;

        header(t, "APIC", len, 4);
        put32(t + 36, (uint32_t)LAYOUT_LAPIC_BASE);
        put32(t + 40, 1); /* PCAT_COMPAT: there are 8259s to mask */
        for (unsigned i = 0; i < n_cpus; i++, p += 8) {
                p[0] = 0, p[1] = 8, p[2] = (uint8_t)i, p[3] = (uint8_t)i;
                put32(p + 4, 1);
        }
        p[0] = 1, p[1] = 12, p[2] = 0, p[3] = 0;
        put32(p + 4, (uint32_t)LAYOUT_IOAPIC_BASE);
        put32(p + 8, 0);
        p += 12;
        /* IRQ0 -> GSI2, as wired in the routing table; SCI level/high. */
        p[0] = 2, p[1] = 10, p[2] = 0, p[3] = 0;
        put32(p + 4, 2);
        put16(p + 8, 0);
        p += 10;
        p[0] = 2, p[1] = 10, p[2] = 0, p[3] = ACPI_SCI_IRQ;
        put32(p + 4, ACPI_SCI_IRQ);
        put16(p + 8, 0x0d);
        p += 10;
        /* LAPIC NMI on LINT1 for all processors. */
        p[0] = 4, p[1] = 6, p[2] = 0xff;
        put16(p + 3, 0);
        p[5] = 1;
        finish(t, len);
        return off;
}

static void write_rsdp(struct acpi_writer *w, uint64_t rsdt, uint64_t xsdt)
{
        uint8_t *r = w->base;

        memcpy(r, "RSD PTR ", 8);
        memcpy(r + 9, "ISOLA ", 6);
        r[15] = 2;
        put32(r + 16, (uint32_t)(ACPI_RSDP_ADDR + rsdt));
        put32(r + 20, 36);
        put64(r + 24, ACPI_RSDP_ADDR + xsdt);
        r[8] = (uint8_t)-table_checksum(r, 20);
        r[32] = (uint8_t)-table_checksum(r, 36);
}

int acpi_write(struct vm *vm, struct isola_err *err)
{
        struct acpi_writer w = {.base = guest_mem_ptr(&vm->mem, ACPI_RSDP_ADDR, ACPI_AREA_SIZE)};

        if (!w.base)
                return err_set(err, ERANGE, "ACPI tables: guest memory too small");
        struct aml *dsdt_aml = calloc(1, sizeof(*dsdt_aml));
        if (!dsdt_aml)
                return err_set(err, ENOMEM, "ACPI tables: out of memory");
        if (dsdt_body(dsdt_aml) < 0) {
                free(dsdt_aml);
                return err_set(err, E2BIG, "ACPI tables: the DSDT exceeds %d bytes", AML_MAX);
        }
        memset(w.base, 0, ACPI_AREA_SIZE);
        alloc(&w, 36, 16); /* RSDP */
        uint64_t dsdt = write_dsdt(&w, dsdt_aml);
        free(dsdt_aml);
        uint64_t facs = write_facs(&w);
        uint64_t tables[2] = {write_fadt(&w, dsdt, facs, vm->pv), write_madt(&w, vm->n_cpus)};
        unsigned n = 2;

        uint32_t xlen = ACPI_HDR_LEN + 8 * n, rlen = ACPI_HDR_LEN + 4 * n;
        uint64_t xsdt = alloc(&w, xlen, 16), rsdt = alloc(&w, rlen, 16);
        header(w.base + xsdt, "XSDT", xlen, 1);
        header(w.base + rsdt, "RSDT", rlen, 1);
        for (unsigned i = 0; i < n; i++) {
                put64(w.base + xsdt + ACPI_HDR_LEN + 8 * i, ACPI_RSDP_ADDR + tables[i]);
                put32(w.base + rsdt + ACPI_HDR_LEN + 4 * i, (uint32_t)(ACPI_RSDP_ADDR + tables[i]));
        }
        finish(w.base + xsdt, xlen);
        finish(w.base + rsdt, rlen);
        write_rsdp(&w, rsdt, xsdt);
        return 0;
}
