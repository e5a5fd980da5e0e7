/* Dispatch of port-I/O and MMIO exits to the device that registered the
 * address range. The vCPU loop knows nothing of devices: it hands the exit to
 * io_bus_dispatch(). Lookups happen on vCPU threads concurrently; ranges may
 * change at run time (a guest moving a PCI BAR), so the bus takes a rwlock. */
#ifndef ISOLA_VMM_IO_BUS_H
#define ISOLA_VMM_IO_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* offset is relative to the registered base; data holds len (1, 2, 4 or 8)
 * bytes, little endian. A handler fills data on reads. Handlers run on vCPU
 * threads and must do their own locking. */
typedef void (*io_handler_fn)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                              bool is_write);

struct io_bus;

struct io_bus *io_bus_new(const char *name);
void io_bus_free(struct io_bus *bus);
/* Fails with EEXIST when [base, base+len) overlaps a registered range. */
int io_bus_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn, void *opaque,
                    struct isola_err *err);
/* Removes the range starting exactly at base; returns -1 if none. */
int io_bus_unregister(struct io_bus *bus, uint64_t base);
/* Returns false when nothing is registered there (reads then return all ones). */
bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
