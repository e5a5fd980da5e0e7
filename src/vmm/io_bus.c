/* Address-range dispatch for port I/O and MMIO (see io_bus.h): a sorted array
 * of non-overlapping ranges searched by bisection under a read lock. The
 * handler is called after the lock is dropped, so a handler may itself
 * (un)register ranges on the same bus (a PCI config write moving an I/O BAR). */
#include "vmm/io_bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct io_range {
        uint64_t base, len;
        io_handler_fn fn;
        void *opaque;
};

struct io_bus {
        const char *name;
        pthread_rwlock_t lock;
        struct io_range *ranges;
        size_t n, cap;
};

struct io_bus *io_bus_new(const char *name)
{
        struct io_bus *bus = calloc(1, sizeof(*bus));

        if (!bus)
                return NULL;
        bus->name = name;
        pthread_rwlock_init(&bus->lock, NULL);
        return bus;
}

void io_bus_free(struct io_bus *bus)
{
        if (!bus)
                return;
        pthread_rwlock_destroy(&bus->lock);
        free(bus->ranges);
        free(bus);
}

/* Index of the first range whose base is > addr. */
static size_t upper_bound(const struct io_bus *bus, uint64_t addr)
{
        size_t lo = 0, hi = bus->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (bus->ranges[mid].base <= addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static bool range_contains(const struct io_range *r, uint64_t addr)
{
        return addr >= r->base && addr - r->base < r->len;
}

static int grow(struct io_bus *bus)
{
        size_t cap = bus->cap ? bus->cap * 2 : 16;
        struct io_range *n = realloc(bus->ranges, cap * sizeof(*n));

        if (!n)
                return -1;
        bus->ranges = n;
        bus->cap = cap;
        return 0;
}

int io_bus_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn, void *opaque,
                    struct isola_err *err)
{
        if (len == 0 || base + len - 1 < base)
                return err_set(err, EINVAL, "%s bus: invalid range 0x%llx+0x%llx", bus->name,
                               (unsigned long long)base, (unsigned long long)len);
        pthread_rwlock_wrlock(&bus->lock);
        size_t i = upper_bound(bus, base);
        uint64_t last = base + len - 1;
        bool overlap = (i > 0 && range_contains(&bus->ranges[i - 1], base)) ||
                       (i < bus->n && bus->ranges[i].base <= last);
        if (overlap) {
                pthread_rwlock_unlock(&bus->lock);
                return err_set(err, EEXIST, "%s bus: range 0x%llx+0x%llx overlaps a device",
                               bus->name, (unsigned long long)base, (unsigned long long)len);
        }
        if (bus->n == bus->cap && grow(bus) < 0) {
                pthread_rwlock_unlock(&bus->lock);
                return err_set(err, ENOMEM, "%s bus: out of memory", bus->name);
        }
        memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->n - i) * sizeof(bus->ranges[0]));
        bus->ranges[i] = (struct io_range){base, len, fn, opaque};
        bus->n++;
        pthread_rwlock_unlock(&bus->lock);
        return 0;
}

int io_bus_unregister(struct io_bus *bus, uint64_t base)
{
        int ret = -1;

        pthread_rwlock_wrlock(&bus->lock);
        size_t i = upper_bound(bus, base);
        if (i > 0 && bus->ranges[i - 1].base == base) {
                memmove(&bus->ranges[i - 1], &bus->ranges[i],
                        (bus->n - i) * sizeof(bus->ranges[0]));
                bus->n--;
                ret = 0;
        }
        pthread_rwlock_unlock(&bus->lock);
        return ret;
}

bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
        struct io_range hit = {0};
        bool found = false;

        pthread_rwlock_rdlock(&bus->lock);
        size_t i = upper_bound(bus, addr);
        if (i > 0 && range_contains(&bus->ranges[i - 1], addr)) {
                hit = bus->ranges[i - 1];
                found = true;
        }
        pthread_rwlock_unlock(&bus->lock);
        if (!found) {
                if (!is_write)
                        memset(data, 0xff, len);
                return false;
        }
        hit.fn(hit.opaque, addr - hit.base, data, len, is_write);
        return true;
}
