/* The memory map: conventional RAM up to the EBDA, the EBDA and BIOS area
 * reserved (MP table, ACPI tables live there), RAM from 1 MiB up to the PCI
 * hole and RAM above 4 GiB. */
#include "vmm/e820.h"

#include "vmm/layout.h"

unsigned e820_build(const struct guest_mem *mem, struct e820_entry *out)
{
        unsigned n = 0;

        out[n++] = (struct e820_entry){0, LAYOUT_EBDA_START, E820_RAM};
        out[n++] = (struct e820_entry){LAYOUT_EBDA_START, LAYOUT_KERNEL_LOAD - LAYOUT_EBDA_START,
                                       E820_RESERVED};
        for (unsigned i = 0; i < mem->n_regions; i++) {
                const struct guest_mem_region *r = &mem->regions[i];
                uint64_t start = r->gpa < LAYOUT_KERNEL_LOAD ? LAYOUT_KERNEL_LOAD : r->gpa;
                uint64_t end = r->gpa + r->size;
                if (end > start && n < E820_MAX)
                        out[n++] = (struct e820_entry){start, end - start, E820_RAM};
        }
        return n;
}
