/* Fallback io_bus for device tests when src/vmm/io_bus.c is not in the tree:
 * the same contract (non-overlapping ranges, handler called with the offset
 * from the range base, unclaimed reads return all ones) in a linear list. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/io_bus.h"

#define FAKE_IO_BUS_MAX 64

struct io_bus {
        struct {
                uint64_t base, len;
                io_handler_fn fn;
                void *opaque;
        } r[FAKE_IO_BUS_MAX];
        unsigned n;
};

struct io_bus *io_bus_new(const char *name)
{
        (void)name;
        return calloc(1, sizeof(struct io_bus));
}

void io_bus_free(struct io_bus *bus)
{
        free(bus);
}

int io_bus_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn, void *opaque,
                    struct isola_err *err)
{
        if (len == 0 || base + len - 1 < base)
                return err_set(err, EINVAL, "bus: invalid range");
        for (unsigned i = 0; i < bus->n; i++)
                if (base <= bus->r[i].base + bus->r[i].len - 1 && bus->r[i].base <= base + len - 1)
                        return err_set(err, EEXIST, "bus: range overlaps");
        if (bus->n == FAKE_IO_BUS_MAX)
                return err_set(err, ENOMEM, "bus: full");
        bus->r[bus->n].base = base;
        bus->r[bus->n].len = len;
        bus->r[bus->n].fn = fn;
        bus->r[bus->n].opaque = opaque;
        bus->n++;
        return 0;
}

int io_bus_unregister(struct io_bus *bus, uint64_t base)
{
        for (unsigned i = 0; i < bus->n; i++) {
                if (bus->r[i].base == base) {
                        bus->r[i] = bus->r[--bus->n];
                        return 0;
                }
        }
        return -1;
}

bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
        for (unsigned i = 0; i < bus->n; i++) {
                if (addr >= bus->r[i].base && addr - bus->r[i].base < bus->r[i].len) {
                        bus->r[i].fn(bus->r[i].opaque, addr - bus->r[i].base, data, len, is_write);
                        return true;
                }
        }
        if (!is_write)
                memset(data, 0xff, len);
        return false;
}
