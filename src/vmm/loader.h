/* Kernel loaders: bzImage (Linux 64-bit boot protocol), PVH ELF
 * (XEN_ELFNOTE_PHYS32_ENTRY) and plain ELF64. A loader copies the kernel and
 * initrd into guest RAM, writes the boot structure at LAYOUT_ZERO_PAGE and
 * returns the CPU state to enter with (boot_regs.c applies it). */
#ifndef ISOLA_VMM_LOADER_H
#define ISOLA_VMM_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"
#include "vmm/guest_mem.h"

enum boot_mode {
        BOOT_LONG64, /* 64-bit long mode, identity paging of the first 4 GiB */
        BOOT_PROT32, /* 32-bit flat protected mode, paging off (PVH) */
};

enum loader_kind {
        LOADER_AUTO = 0,
        LOADER_BZIMAGE,
        LOADER_PVH,
        LOADER_ELF64,
};

struct boot_info {
        enum loader_kind kind;
        enum boot_mode mode;
        uint64_t entry;
        uint64_t rsi, rdi, rbx;
        uint64_t kernel_end; /* first byte above the loaded kernel */
};

struct loader_args {
        const char *kernel; /* path */
        const char *initrd; /* path or NULL */
        const char *cmdline;
        uint64_t rsdp_addr; /* for PVH start info; 0 when none */
};

/* Autodetects the format and loads. */
int loader_load(struct guest_mem *mem, const struct loader_args *args, struct boot_info *out,
                struct isola_err *err);

/* --- shared helpers (loader_common.c) --- */
struct loader_file {
        int fd;
        const char *path;
        uint64_t size;
};

int loader_open(struct loader_file *f, const char *path, const char *what, struct isola_err *err);
void loader_close(struct loader_file *f);
/* Reads exactly len bytes at off; fails naming the file when it is shorter. */
int loader_read(const struct loader_file *f, uint64_t off, void *buf, uint64_t len,
                struct isola_err *err);
/* Copies [off, off+len) of the file to guest [gpa, gpa+len); the caller has
 * checked the guest range. */
int loader_read_guest(const struct loader_file *f, struct guest_mem *mem, uint64_t off,
                      uint64_t len, uint64_t gpa, struct isola_err *err);
/* End of RAM below the PCI hole. */
uint64_t loader_low_ram_end(const struct guest_mem *mem);
/* Loads the initrd at the highest page-aligned address below `limit` and at
 * or above `floor`. */
int loader_place_initrd(struct guest_mem *mem, const char *path, uint64_t floor, uint64_t limit,
                        uint64_t *addr_out, uint64_t *size_out, struct isola_err *err);
/* Writes the command line at LAYOUT_CMDLINE (max_len includes the NUL). */
int loader_write_cmdline(struct guest_mem *mem, const char *cmdline, uint64_t max_len,
                         struct isola_err *err);
/* Fills boot_params e820_entries / e820_table in a zero page buffer. */
void loader_fill_e820(const struct guest_mem *mem, uint8_t *zero_page);

int loader_bzimage(struct guest_mem *mem, const struct loader_args *args, struct boot_info *out,
                   struct isola_err *err);
int loader_pvh(struct guest_mem *mem, const struct loader_args *args, struct loader_file *f,
               uint64_t entry, struct boot_info *out, struct isola_err *err);
int loader_elf64(struct guest_mem *mem, const struct loader_args *args, struct loader_file *f,
                 struct boot_info *out, struct isola_err *err);

/* ELF helpers (loader_elf.c): finds the PVH entry note; 0 when absent. */
int elf_pvh_entry(const struct loader_file *f, uint64_t *entry_out, struct isola_err *err);
/* Loads every PT_LOAD segment at its physical address. */
int elf_load_segments(const struct loader_file *f, struct guest_mem *mem, uint64_t *end_out,
                      struct isola_err *err);
/* What the ELF-based boots (PVH, ELF64) share: the segments (*end_out is
 * the end of the highest), then the initrd above them (*initrd_addr_out/size
 * 0 without one), then the command line. */
int elf_load_payload(const struct loader_file *f, struct guest_mem *mem,
                     const struct loader_args *args, uint64_t *end_out, uint64_t *initrd_addr_out,
                     uint64_t *initrd_size_out, struct isola_err *err);

#endif
