/* Guest RAM: host mappings of the KVM memslots and bounds-checked
 * translation. Every access on behalf of the guest goes through
 * guest_mem_ptr(), which refuses ranges that leave RAM or wrap around. */
#ifndef ISOLA_VMM_GUEST_MEM_H
#define ISOLA_VMM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 4

struct guest_mem_region {
        uint64_t gpa;
        uint64_t size;
        uint8_t *hva;
};

struct guest_mem {
        struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
        unsigned n_regions;
        uint64_t ram_size; /* total bytes */
};

/* Host pointer for [gpa, gpa+len) when it lies within one region, else NULL. */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* Copies to/from guest memory; -1 when the range is not fully RAM. */
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *buf, uint64_t len);
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *buf, uint64_t len);

#endif
