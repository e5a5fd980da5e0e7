/* Kernel loaders (bzImage, PVH ELF, plain ELF64) over arbitrary files: the
 * input becomes a memfd the loader opens by path; guest RAM is a heap buffer
 * so any write outside it is caught by ASan. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/loader.h"

#define FUZZ_RAM (32u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static uint8_t *ram;
        struct guest_mem mem = {.n_regions = 1, .ram_size = FUZZ_RAM};
        struct boot_info bi;
        struct isola_err err;
        char path[64];

        if (!ram && !(ram = calloc(1, FUZZ_RAM)))
                return 0;
        mem.regions[0] = (struct guest_mem_region){0, FUZZ_RAM, ram};
        int fd = memfd_create("kernel", MFD_CLOEXEC);
        if (fd < 0)
                return 0;
        if (write(fd, data, size) == (ssize_t)size) {
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                struct loader_args args = {.kernel = path, .cmdline = "console=ttyS0"};
                (void)loader_load(&mem, &args, &bi, &err);
        }
        close(fd);
        return 0;
}
