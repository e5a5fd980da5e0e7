/* PVH boot (xen/include/public/arch-x86/hvm/start_info.h): the ELF's
 * PT_LOAD segments at their physical addresses, an hvm_start_info at
 * LAYOUT_ZERO_PAGE followed by the memory map and module list, entry in
 * 32-bit flat protected mode with paging off and EBX = start info. */
#include <errno.h>
#include <string.h>

#include "vmm/e820.h"
#include "vmm/layout.h"
#include "vmm/loader.h"

#define HVM_START_MAGIC   0x336ec578u
#define HVM_START_VERSION 1

struct hvm_start_info {
        uint32_t magic;
        uint32_t version;
        uint32_t flags;
        uint32_t nr_modules;
        uint64_t modlist_paddr;
        uint64_t cmdline_paddr;
        uint64_t rsdp_paddr;
        uint64_t memmap_paddr;
        uint32_t memmap_entries;
        uint32_t reserved;
};

struct hvm_modlist_entry {
        uint64_t paddr;
        uint64_t size;
        uint64_t cmdline_paddr;
        uint64_t reserved;
};

struct hvm_memmap_entry {
        uint64_t addr;
        uint64_t size;
        uint32_t type;
        uint32_t reserved;
};

/* Within the zero page: header, then memmap, then the module list. */
#define PVH_MEMMAP_OFF  0x100
#define PVH_MODLIST_OFF 0x400

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(PVH_MEMMAP_OFF + E820_MAX * sizeof(struct hvm_memmap_entry) <= PVH_MODLIST_OFF,
               "memmap fits before the module list");

int loader_pvh(struct guest_mem *mem, const struct loader_args *args, struct loader_file *f,
               uint64_t entry, struct boot_info *out, struct isola_err *err)
{
        uint8_t *zp = guest_mem_ptr(mem, LAYOUT_ZERO_PAGE, 4096);
        uint64_t end, initrd_addr, initrd_size;
        struct e820_entry map[E820_MAX];

        if (!zp)
                return err_set(err, ERANGE, "guest memory too small");
        if (elf_load_payload(f, mem, args, &end, &initrd_addr, &initrd_size, err) < 0)
                return -1;

        memset(zp, 0, 4096);
        unsigned n = e820_build(mem, map);
        for (unsigned i = 0; i < n; i++) {
                struct hvm_memmap_entry e = {map[i].addr, map[i].size, map[i].type, 0};
                memcpy(zp + PVH_MEMMAP_OFF + i * sizeof(e), &e, sizeof(e));
        }
        struct hvm_start_info si = {
            .magic = HVM_START_MAGIC,
            .version = HVM_START_VERSION,
            .cmdline_paddr = LAYOUT_CMDLINE,
            .rsdp_paddr = args->rsdp_addr,
            .memmap_paddr = LAYOUT_ZERO_PAGE + PVH_MEMMAP_OFF,
            .memmap_entries = n,
        };
        if (args->initrd) {
                struct hvm_modlist_entry m = {.paddr = initrd_addr, .size = initrd_size};
                memcpy(zp + PVH_MODLIST_OFF, &m, sizeof(m));
                si.nr_modules = 1;
                si.modlist_paddr = LAYOUT_ZERO_PAGE + PVH_MODLIST_OFF;
        }
        memcpy(zp, &si, sizeof(si));
        *out = (struct boot_info){
            .kind = LOADER_PVH,
            .mode = BOOT_PROT32,
            .entry = entry,
            .rbx = LAYOUT_ZERO_PAGE,
            .kernel_end = end,
        };
        return 0;
}
