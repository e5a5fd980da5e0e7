/* The guest's physical memory map, shared by the boot_params e820 table, the
 * PVH memmap and the documentation of the layout. */
#ifndef ISOLA_VMM_E820_H
#define ISOLA_VMM_E820_H

#include <stdint.h>

#include "vmm/guest_mem.h"

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_MAX      8

struct e820_entry {
        uint64_t addr, size;
        uint32_t type;
};

/* Fills out (at most E820_MAX entries) and returns the count. */
unsigned e820_build(const struct guest_mem *mem, struct e820_entry *out);

#endif
