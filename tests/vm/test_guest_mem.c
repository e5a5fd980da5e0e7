/* guest_mem: translation stays inside one region and refuses ranges that
 * leave RAM, span the PCI hole or wrap around 2^64. */
#include <stdint.h>
#include <stdlib.h>

#include "tap.h"
#include "vmm/guest_mem.h"

int main(void)
{
        static uint8_t low[0x10000], high[0x1000];
        struct guest_mem mem = {
            .regions = {{0, sizeof(low), low}, {0x100000000ULL, sizeof(high), high}},
            .n_regions = 2,
            .ram_size = sizeof(low) + sizeof(high),
        };
        uint8_t buf[16] = {1, 2, 3, 4};

        tap_ok(guest_mem_ptr(&mem, 0, 1) == low, "first byte maps to the low region");
        tap_ok(guest_mem_ptr(&mem, 0xffff, 1) == low + 0xffff, "last byte of low RAM");
        tap_ok(guest_mem_ptr(&mem, 0xffff, 2) == NULL, "range crossing the end of low RAM");
        tap_ok(guest_mem_ptr(&mem, 0x10000, 1) == NULL, "first byte past low RAM");
        tap_ok(guest_mem_ptr(&mem, 0x100000000ULL + 0xff0, 16) == high + 0xff0,
               "range ending exactly at the end of high RAM");
        tap_ok(guest_mem_ptr(&mem, 0x100000000ULL + 0xff0, 17) == NULL, "one byte too many");
        tap_ok(guest_mem_ptr(&mem, 0x8000, UINT64_MAX) == NULL, "huge length does not wrap");
        tap_ok(guest_mem_ptr(&mem, UINT64_MAX, 2) == NULL, "address near 2^64 does not wrap");
        tap_ok(guest_mem_ptr(&mem, 0xfff0, 0x100000000ULL) == NULL,
               "range spanning the hole between regions");
        tap_ok(guest_mem_write(&mem, 0x100, buf, 4) == 0 && low[0x102] == 3,
               "write lands in host memory");
        uint8_t out[4] = {0};
        tap_ok(guest_mem_read(&mem, 0x100, out, 4) == 0 && out[3] == 4, "read back");
        tap_ok(guest_mem_write(&mem, 0xfffe, buf, 4) == -1, "write over the edge fails");
        tap_ok(guest_mem_read(&mem, 0x20000, out, 1) == -1, "read from the hole fails");
        return tap_done();
}
