/* Guest RAM translation (see guest_mem.h). Every check is written so that a
 * guest-chosen gpa/len pair cannot overflow into a false "in range". */
#include "vmm/guest_mem.h"

#include <string.h>

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
        for (unsigned i = 0; i < mem->n_regions && i < GUEST_MEM_MAX_REGIONS; i++) {
                const struct guest_mem_region *r = &mem->regions[i];

                if (gpa < r->gpa)
                        continue;
                uint64_t off = gpa - r->gpa;
                if (off >= r->size)
                        continue;
                /* off < size, so size - off cannot underflow. */
                if (len > r->size - off)
                        return NULL;
                return r->hva + off;
        }
        return NULL;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *buf, uint64_t len)
{
        void *p = guest_mem_ptr(mem, gpa, len);

        if (!p)
                return -1;
        memcpy(buf, p, len);
        return 0;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *buf, uint64_t len)
{
        void *p = guest_mem_ptr(mem, gpa, len);

        if (!p)
                return -1;
        memcpy(p, buf, len);
        return 0;
}
