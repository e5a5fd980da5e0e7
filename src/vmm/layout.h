/* The x86-64 machine's guest-physical and port layout: one place so the
 * loaders, the device models, the tables (e820, MP, ACPI) and the test
 * guest agree. */
#ifndef ISOLA_VMM_LAYOUT_H
#define ISOLA_VMM_LAYOUT_H

/* Guest RAM: [0, min(mem, PCI_HOLE_START)) and, for larger guests,
 * [4 GiB, 4 GiB + rest). The hole holds PCI MMIO BARs, IOAPIC and LAPIC. */
#define LAYOUT_PCI_HOLE_START 0xC0000000ULL
#define LAYOUT_HIGH_RAM_START 0x100000000ULL
#define LAYOUT_PCI_MMIO_START 0xE0000000ULL /* BAR window for 32-bit MMIO BARs */
#define LAYOUT_PCI_MMIO_END   0xFE000000ULL
#define LAYOUT_IOAPIC_BASE    0xFEC00000ULL
#define LAYOUT_LAPIC_BASE     0xFEE00000ULL

/* Boot-time structures in low memory (below the EBDA). */
#define LAYOUT_ZERO_PAGE   0x7000ULL  /* boot_params / hvm_start_info */
#define LAYOUT_CMDLINE     0x20000ULL /* kernel command line, up to 64 KiB */
#define LAYOUT_CMDLINE_MAX 0x10000ULL
#define LAYOUT_PAGE_TABLES 0x9000ULL /* PML4, PDPT, PD for the 64-bit entry */
#define LAYOUT_GDT         0x500ULL
#define LAYOUT_BOOT_STACK  0x8ff0ULL
#define LAYOUT_MPTABLE     0x9fc00ULL /* MP floating pointer + table (EBDA) */
#define LAYOUT_EBDA_START  0x9fc00ULL
#define LAYOUT_BIOS_START  0xe0000ULL  /* ACPI RSDP lives in 0xe0000-0xfffff */
#define LAYOUT_KERNEL_LOAD 0x100000ULL /* protected-mode kernel, 1 MiB */

/* ISA ports and lines of the emulated legacy devices. */
#define LAYOUT_PORT_COM1          0x3f8
#define LAYOUT_IRQ_COM1           4
#define LAYOUT_PORT_I8042_DATA    0x60
#define LAYOUT_PORT_I8042_CMD     0x64
#define LAYOUT_PORT_RTC           0x70 /* index 0x70, data 0x71 */
#define LAYOUT_IRQ_RTC            8
#define LAYOUT_PORT_PCI_ADDR      0xcf8
#define LAYOUT_PORT_PCI_DATA      0xcfc
#define LAYOUT_PORT_RESET         0xcf9 /* reset control register */
#define LAYOUT_PORT_IDE0_CMD      0x1f0
#define LAYOUT_PORT_IDE0_CTL      0x3f6
#define LAYOUT_IRQ_IDE0           14
#define LAYOUT_PORT_ACPI_PM1A_EVT 0x600  /* PM1a event block, 4 bytes */
#define LAYOUT_PORT_ACPI_PM1A_CNT 0x604  /* PM1a control: SLP_EN|SLP_TYP=5 powers off */
#define LAYOUT_PCI_IO_START       0x6000 /* BAR window for I/O BARs */
#define LAYOUT_PCI_IO_END         0xf000

/* First GSI handed to MSI routes (0-23 are the IOAPIC pins). */
#define LAYOUT_MSI_GSI_BASE 24

#endif
