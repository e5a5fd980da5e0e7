/* io_bus: registration keeps ranges sorted and disjoint, dispatch finds the
 * owner of every address by bisection, unmatched reads return all ones, and
 * a handler may unregister ranges of its own bus without deadlocking. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "vmm/io_bus.h"

struct probe {
        int calls;
        uint64_t last_offset;
        uint32_t last_len;
        bool last_write;
};

static void probe_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct probe *p = opaque;

        p->calls++;
        p->last_offset = offset;
        p->last_len = len;
        p->last_write = is_write;
        if (!is_write)
                memset(data, 0x5a, len);
}

struct self_remove {
        struct io_bus *bus;
        uint64_t base;
        int calls;
};

static void self_remove_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                           bool is_write)
{
        struct self_remove *s = opaque;

        (void)offset, (void)data, (void)len, (void)is_write;
        s->calls++;
        io_bus_unregister(s->bus, s->base);
}

int main(void)
{
        struct io_bus *bus = io_bus_new("test");
        struct isola_err err = {0};
        struct probe a = {0}, b = {0}, c = {0};
        uint8_t data[8];

        tap_ok(io_bus_register(bus, 0x3f8, 8, probe_io, &a, &err) == 0, "register 0x3f8+8");
        tap_ok(io_bus_register(bus, 0x60, 1, probe_io, &b, &err) == 0, "register 0x60+1 (before)");
        tap_ok(io_bus_register(bus, 0xcf8, 8, probe_io, &c, &err) == 0, "register 0xcf8+8 (after)");
        tap_ok(io_bus_register(bus, 0x3f0, 9, probe_io, &a, &err) == -1 && err.errnum == EEXIST,
               "overlap at the start is refused");
        tap_ok(io_bus_register(bus, 0x3ff, 1, probe_io, &a, &err) == -1,
               "overlap at the end is refused");
        tap_ok(io_bus_register(bus, 0x3fa, 1, probe_io, &a, &err) == -1,
               "range inside another is refused");
        tap_ok(io_bus_register(bus, 0x300, 0x200, probe_io, &a, &err) == -1,
               "range covering another is refused");
        tap_ok(io_bus_register(bus, UINT64_MAX, 2, probe_io, &a, &err) == -1,
               "wrapping range is refused");
        tap_ok(io_bus_register(bus, 0x3f7, 1, probe_io, &b, &err) == 0, "adjacent below is fine");
        tap_ok(io_bus_register(bus, 0x400, 1, probe_io, &b, &err) == 0, "adjacent above is fine");

        tap_ok(io_bus_dispatch(bus, 0x3fd, data, 1, false) && a.calls == 1 && a.last_offset == 5 &&
                   data[0] == 0x5a,
               "read inside a range reaches its handler with the offset");
        tap_ok(io_bus_dispatch(bus, 0xcfc, data, 4, true) && c.calls == 1 && c.last_len == 4 &&
                   c.last_write,
               "write with length 4");
        memset(data, 0, sizeof(data));
        tap_ok(!io_bus_dispatch(bus, 0x80, data, 2, false) && data[0] == 0xff && data[1] == 0xff,
               "unclaimed read returns all ones");
        tap_ok(!io_bus_dispatch(bus, 0x401, data, 1, true), "unclaimed write is reported");

        tap_ok(io_bus_unregister(bus, 0x3f9) == -1, "unregister needs the exact base");
        tap_ok(io_bus_unregister(bus, 0x3f8) == 0, "unregister 0x3f8");
        tap_ok(!io_bus_dispatch(bus, 0x3f8, data, 1, false), "range gone after unregister");

        struct self_remove s = {.bus = bus, .base = 0x1000};
        tap_ok(io_bus_register(bus, 0x1000, 4, self_remove_io, &s, &err) == 0,
               "register self-removing range");
        tap_ok(io_bus_dispatch(bus, 0x1002, data, 1, true) && s.calls == 1,
               "handler unregistering its own range does not deadlock");
        tap_ok(!io_bus_dispatch(bus, 0x1002, data, 1, true), "and the range is gone");

        /* Many ranges: bisection finds each. */
        struct probe many = {0};
        int found = 0;
        for (uint64_t i = 0; i < 200; i++)
                io_bus_register(bus, 0x10000 + i * 0x10, 8, probe_io, &many, &err);
        for (uint64_t i = 0; i < 200; i++)
                found += io_bus_dispatch(bus, 0x10000 + i * 0x10 + 7, data, 1, false);
        for (uint64_t i = 0; i < 200; i++)
                found -= io_bus_dispatch(bus, 0x10000 + i * 0x10 + 8, data, 1, false);
        TAP_EQ_INT(found, 200, "200 ranges: every last byte hits, every gap misses");
        io_bus_free(bus);
        return tap_done();
}
