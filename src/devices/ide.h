/* PIIX3 IDE function (PCI 8086:7010, class 0x010180: compatibility mode,
 * bus master) with one ATA disk as primary master, backed by a raw image
 * file: PIO commands and, through the bus-master BAR (BAR4, 16 I/O ports),
 * READ/WRITE DMA. The primary channel decodes the legacy ports 0x1f0-0x1f7
 * and 0x3f6 and interrupts on IRQ 14 (edge); the secondary channel is
 * reported disabled in IDETIM. */
#ifndef ISOLA_DEVICES_IDE_H
#define ISOLA_DEVICES_IDE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

struct vm;
struct pci_bus;
struct ide;

/* Opens path (O_RDONLY when readonly: guest writes then fail with ABRT),
 * adds the IDE function to bus and registers the legacy ports. */
int ide_create(struct vm *vm, struct pci_bus *bus, const char *path, bool readonly,
               struct ide **out, struct isola_err *err);
void ide_destroy(struct ide *ide);

struct ide_stats {
        uint64_t data_port_accesses; /* PIO accesses to the data port (one exit each) */
        uint64_t sectors_read, sectors_written;
        uint64_t commands;
};
void ide_get_stats(struct ide *ide, struct ide_stats *out);

#endif
