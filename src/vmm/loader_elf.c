/* ELF kernels: program-header parsing for ELF32 and ELF64, the PVH entry
 * note (XEN_ELFNOTE_PHYS32_ENTRY), PT_LOAD placement, and the plain ELF64
 * loader. Plain ELF64 contract: the kernel is entered in 64-bit long mode at
 * e_entry with the first 4 GiB identity-mapped (2 MiB pages), interrupts
 * off, and RSI = RDI = address of a Linux-style boot_params page holding
 * cmd_line_ptr (0x228), ramdisk_image/size (0x218/0x21c) and the e820 table
 * (0x1e8 count, 0x2d0 entries). */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "vmm/layout.h"
#include "vmm/loader.h"

#define ELF_MAX_PHDRS            64
#define ELF_MAX_NOTE             8192
#define XEN_ELFNOTE_PHYS32_ENTRY 18

struct elf_seg {
        uint32_t type;
        uint64_t offset, paddr, filesz, memsz;
};

struct elf_info {
        bool is64;
        uint16_t machine;
        uint64_t entry;
        unsigned n;
        struct elf_seg segs[ELF_MAX_PHDRS];
};

static int parse_header(const struct loader_file *f, struct elf_info *info, struct isola_err *err)
{
        Elf64_Ehdr eh;
        Elf32_Ehdr *eh32 = (Elf32_Ehdr *)&eh;
        uint64_t phoff, phentsize, phnum;

        memset(&eh, 0, sizeof(eh));
        if (loader_read(f, 0, &eh, f->size < sizeof(eh) ? f->size : sizeof(eh), err) < 0)
                return -1;
        if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
                return err_set(err, EINVAL, "'%s' is not a little-endian ELF file", f->path);
        info->is64 = eh.e_ident[EI_CLASS] == ELFCLASS64;
        if (info->is64) {
                if (f->size < sizeof(Elf64_Ehdr))
                        return err_set(err, EINVAL, "'%s' is truncated (ELF header)", f->path);
                info->machine = eh.e_machine;
                info->entry = eh.e_entry;
                phoff = eh.e_phoff;
                phentsize = eh.e_phentsize;
                phnum = eh.e_phnum;
        } else if (eh.e_ident[EI_CLASS] == ELFCLASS32) {
                if (f->size < sizeof(Elf32_Ehdr))
                        return err_set(err, EINVAL, "'%s' is truncated (ELF header)", f->path);
                info->machine = eh32->e_machine;
                info->entry = eh32->e_entry;
                phoff = eh32->e_phoff;
                phentsize = eh32->e_phentsize;
                phnum = eh32->e_phnum;
        } else {
                return err_set(err, EINVAL, "'%s': unknown ELF class %u", f->path,
                               eh.e_ident[EI_CLASS]);
        }
        if (info->machine != EM_X86_64 && info->machine != EM_386)
                return err_set(err, EINVAL, "'%s' is an ELF file for machine %u, not x86", f->path,
                               info->machine);
        if (phnum == 0 || phnum > ELF_MAX_PHDRS)
                return err_set(err, EINVAL, "'%s': %llu program headers (want 1..%d)", f->path,
                               (unsigned long long)phnum, ELF_MAX_PHDRS);
        if (phentsize != (info->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
                return err_set(err, EINVAL, "'%s': bad program header size %llu", f->path,
                               (unsigned long long)phentsize);
        for (unsigned i = 0; i < phnum; i++) {
                struct elf_seg *s = &info->segs[i];
                uint64_t off = phoff + i * phentsize;
                if (info->is64) {
                        Elf64_Phdr ph;
                        if (loader_read(f, off, &ph, sizeof(ph), err) < 0)
                                return -1;
                        *s = (struct elf_seg){ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz,
                                              ph.p_memsz};
                } else {
                        Elf32_Phdr ph;
                        if (loader_read(f, off, &ph, sizeof(ph), err) < 0)
                                return -1;
                        *s = (struct elf_seg){ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz,
                                              ph.p_memsz};
                }
        }
        info->n = (unsigned)phnum;
        return 0;
}

static uint64_t note_align(uint64_t v)
{
        return (v + 3) & ~3ULL;
}

static bool scan_notes(const uint8_t *buf, uint64_t len, uint64_t *entry)
{
        uint64_t pos = 0;

        while (len - pos >= 12) {
                uint32_t namesz, descsz, type;
                memcpy(&namesz, buf + pos, 4);
                memcpy(&descsz, buf + pos + 4, 4);
                memcpy(&type, buf + pos + 8, 4);
                uint64_t name_off = pos + 12;
                uint64_t desc_off = name_off + note_align(namesz);
                if (desc_off > len || note_align(descsz) > len - desc_off)
                        return false;
                if (namesz == 4 && !memcmp(buf + name_off, "Xen", 4) &&
                    type == XEN_ELFNOTE_PHYS32_ENTRY && (descsz == 4 || descsz == 8)) {
                        uint64_t v = 0;
                        memcpy(&v, buf + desc_off, descsz);
                        *entry = v & 0xffffffffULL;
                        return true;
                }
                pos = desc_off + note_align(descsz);
        }
        return false;
}

int elf_pvh_entry(const struct loader_file *f, uint64_t *entry_out, struct isola_err *err)
{
        struct elf_info info;
        uint8_t note[ELF_MAX_NOTE];

        *entry_out = 0;
        if (parse_header(f, &info, err) < 0)
                return -1;
        for (unsigned i = 0; i < info.n; i++) {
                const struct elf_seg *s = &info.segs[i];
                if (s->type != PT_NOTE || s->filesz == 0)
                        continue;
                uint64_t len = s->filesz > ELF_MAX_NOTE ? ELF_MAX_NOTE : s->filesz;
                if (loader_read(f, s->offset, note, len, err) < 0)
                        return -1;
                if (scan_notes(note, len, entry_out))
                        return 0;
        }
        return 0;
}

int elf_load_segments(const struct loader_file *f, struct guest_mem *mem, uint64_t *end_out,
                      struct isola_err *err)
{
        struct elf_info info;
        uint64_t end = 0;
        unsigned loaded = 0;

        if (parse_header(f, &info, err) < 0)
                return -1;
        for (unsigned i = 0; i < info.n; i++) {
                const struct elf_seg *s = &info.segs[i];
                if (s->type != PT_LOAD)
                        continue;
                if (s->filesz > s->memsz || s->offset > f->size || s->filesz > f->size - s->offset)
                        return err_set(err, EINVAL, "segment %u of '%s' lies outside the file", i,
                                       f->path);
                uint8_t *dst = guest_mem_ptr(mem, s->paddr, s->memsz);
                if (!dst || s->paddr < LAYOUT_KERNEL_LOAD)
                        return err_set(err, ERANGE,
                                       "segment %u of '%s' lies outside guest memory "
                                       "(0x%llx+0x%llx)",
                                       i, f->path, (unsigned long long)s->paddr,
                                       (unsigned long long)s->memsz);
                if (loader_read(f, s->offset, dst, s->filesz, err) < 0)
                        return -1;
                memset(dst + s->filesz, 0, s->memsz - s->filesz);
                if (s->paddr + s->memsz > end)
                        end = s->paddr + s->memsz;
                loaded++;
        }
        if (!loaded)
                return err_set(err, EINVAL, "'%s' has no loadable segment", f->path);
        *end_out = end;
        return 0;
}

int elf_load_payload(const struct loader_file *f, struct guest_mem *mem,
                     const struct loader_args *args, uint64_t *end_out, uint64_t *initrd_addr_out,
                     uint64_t *initrd_size_out, struct isola_err *err)
{
        *initrd_addr_out = *initrd_size_out = 0;
        if (elf_load_segments(f, mem, end_out, err) < 0)
                return -1;
        if (args->initrd && loader_place_initrd(mem, args->initrd, *end_out, UINT64_MAX,
                                                initrd_addr_out, initrd_size_out, err) < 0)
                return -1;
        return loader_write_cmdline(mem, args->cmdline, LAYOUT_CMDLINE_MAX, err);
}

int loader_elf64(struct guest_mem *mem, const struct loader_args *args, struct loader_file *f,
                 struct boot_info *out, struct isola_err *err)
{
        struct elf_info info;
        uint8_t *zp = guest_mem_ptr(mem, LAYOUT_ZERO_PAGE, 4096);
        uint64_t end, initrd_addr, initrd_size;

        if (parse_header(f, &info, err) < 0)
                return -1;
        if (!info.is64)
                return err_set(err, EINVAL,
                               "'%s' is a 32-bit ELF without a PVH note: not a bootable kernel",
                               f->path);
        if (!zp)
                return err_set(err, ERANGE, "guest memory too small");
        if (elf_load_payload(f, mem, args, &end, &initrd_addr, &initrd_size, err) < 0)
                return -1;
        memset(zp, 0, 4096);
        uint32_t v32 = LAYOUT_CMDLINE;
        memcpy(zp + 0x228, &v32, 4);
        v32 = (uint32_t)initrd_addr;
        memcpy(zp + 0x218, &v32, 4);
        v32 = (uint32_t)initrd_size;
        memcpy(zp + 0x21c, &v32, 4);
        zp[0x210] = 0xff; /* type_of_loader: undefined boot loader */
        loader_fill_e820(mem, zp);
        *out = (struct boot_info){
            .kind = LOADER_ELF64,
            .mode = BOOT_LONG64,
            .entry = info.entry,
            .rsi = LAYOUT_ZERO_PAGE,
            .rdi = LAYOUT_ZERO_PAGE,
            .kernel_end = end,
        };
        return 0;
}
