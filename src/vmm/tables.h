/* Firmware tables the guest finds in low memory: the MP table (for guests
 * without ACPI, e.g. acpi=off) and the ACPI tables (RSDP at ACPI_RSDP_ADDR). */
#ifndef ISOLA_VMM_TABLES_H
#define ISOLA_VMM_TABLES_H

#include <stdint.h>

#include "util/err.h"

struct vm;

#define ACPI_RSDP_ADDR 0xe0000ULL
#define ACPI_SCI_IRQ   9

/* Both read vm->n_cpus and vm->pci (may be NULL). */
int mptable_write(struct vm *vm, struct isola_err *err);
int acpi_write(struct vm *vm, struct isola_err *err);

/* Sum of len bytes, for table checksums. */
uint8_t table_checksum(const uint8_t *p, uint64_t len);

#endif
