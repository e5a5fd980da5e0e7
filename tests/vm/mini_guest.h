/* Tiny hand-assembled guests and kernel containers for the loader tests:
 * the same few instructions (valid in 32- and 64-bit mode) packed as a PVH
 * ELF32/ELF64, a plain ELF64 or a minimal bzImage. The code prints a line on
 * COM1 with rep outsb, then acts according to the flavour. */
#ifndef ISOLA_TESTS_VM_MINI_GUEST_H
#define ISOLA_TESTS_VM_MINI_GUEST_H

#include <elf.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MINI_LOAD 0x100000u
#define MINI_MSG  "isola mini guest\n"

/* MINI_LOOP: a million-iteration loop (2M instructions) before power-off,
 * to measure how fast this host runs guest code. */
enum mini_flavor { MINI_POWEROFF, MINI_RESET, MINI_TRIPLE, MINI_SPIN, MINI_LOOP };

static inline size_t mini_emit(uint8_t *p, size_t n, const void *bytes, size_t len)
{
        memcpy(p + n, bytes, len);
        return n + len;
}

/* Code placed at `base`; returns its length. */
static inline size_t mini_code(uint8_t *p, uint32_t base, enum mini_flavor flavor)
{
        size_t n = 0;
        uint32_t msg_len = sizeof(MINI_MSG) - 1;
        /* mov esi, msg; mov ecx, len; mov dx, 0x3f8; rep outsb */
        uint8_t head[] = {0xbe, 0, 0, 0, 0, 0xb9, 0, 0, 0, 0, 0x66, 0xba, 0xf8, 0x03, 0xf3, 0x6e};
        static const uint8_t poweroff[] = {0x66, 0xba, 0x04, 0x06, 0x66, 0xb8, 0x00,
                                           0x34, 0x66, 0xef, 0xf4, 0xeb, 0xfd};
        static const uint8_t reset[] = {0x66, 0xba, 0xf9, 0x0c, 0xb0, 0x06, 0xee, 0xf4, 0xeb, 0xfd};
        static const uint8_t triple[] = {0x0f, 0x0b}; /* ud2 without an IDT */
        static const uint8_t spin[] = {0xeb, 0xfe};
        /* mov ecx, 1000000; 1: dec ecx; jnz 1b; then the power-off sequence */
        static const uint8_t loop[] = {0xb9, 0x40, 0x42, 0x0f, 0x00, 0xff, 0xc9, 0x75,
                                       0xfc, 0x66, 0xba, 0x04, 0x06, 0x66, 0xb8, 0x00,
                                       0x34, 0x66, 0xef, 0xf4, 0xeb, 0xfd};
        const uint8_t *tail = flavor == MINI_POWEROFF ? poweroff
                              : flavor == MINI_RESET  ? reset
                              : flavor == MINI_TRIPLE ? triple
                              : flavor == MINI_LOOP   ? loop
                                                      : spin;
        size_t tail_len = flavor == MINI_POWEROFF ? sizeof(poweroff)
                          : flavor == MINI_RESET  ? sizeof(reset)
                          : flavor == MINI_TRIPLE ? sizeof(triple)
                          : flavor == MINI_LOOP   ? sizeof(loop)
                                                  : sizeof(spin);
        uint32_t msg_addr = base + (uint32_t)(sizeof(head) + tail_len);
        memcpy(head + 1, &msg_addr, 4);
        memcpy(head + 6, &msg_len, 4);
        n = mini_emit(p, n, head, sizeof(head));
        n = mini_emit(p, n, tail, tail_len);
        return mini_emit(p, n, MINI_MSG, msg_len);
}

static inline int mini_write_file(const char *path, const void *buf, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -1;
        ssize_t w = write(fd, buf, len);
        close(fd);
        return w == (ssize_t)len ? 0 : -1;
}

/* ELF with one PT_LOAD at MINI_LOAD and, when pvh, a PT_NOTE with
 * XEN_ELFNOTE_PHYS32_ENTRY. paddr overrides the load address (0 = default). */
static inline int mini_write_elf(const char *path, bool is64, bool pvh, enum mini_flavor fl,
                                 uint64_t paddr)
{
        uint8_t file[4096] = {0};
        uint8_t code[256];
        uint32_t load = paddr ? (uint32_t)paddr : MINI_LOAD;
        const uint32_t code_off = 0x200, note_off = 0x100;
        size_t code_len = mini_code(code, load, fl);
        uint8_t note[20] = {4, 0, 0, 0, 4, 0, 0, 0, 18, 0, 0, 0, 'X', 'e', 'n', 0};
        memcpy(note + 16, &load, 4);
        memcpy(file + note_off, note, sizeof(note));
        memcpy(file + code_off, code, code_len);
        unsigned phnum = pvh ? 2 : 1;
        if (is64) {
                Elf64_Ehdr *eh = (Elf64_Ehdr *)file;
                Elf64_Phdr *ph = (Elf64_Phdr *)(file + sizeof(*eh));
                memcpy(eh->e_ident, ELFMAG, SELFMAG);
                eh->e_ident[EI_CLASS] = ELFCLASS64;
                eh->e_ident[EI_DATA] = ELFDATA2LSB;
                eh->e_ident[EI_VERSION] = EV_CURRENT;
                eh->e_type = ET_EXEC;
                eh->e_machine = EM_X86_64;
                eh->e_version = EV_CURRENT;
                eh->e_entry = load;
                eh->e_phoff = sizeof(*eh);
                eh->e_ehsize = sizeof(*eh);
                eh->e_phentsize = sizeof(*ph);
                eh->e_phnum = (uint16_t)phnum;
                ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
                                     .p_offset = code_off,
                                     .p_vaddr = load,
                                     .p_paddr = load,
                                     .p_filesz = code_len,
                                     .p_memsz = code_len + 64,
                                     .p_flags = PF_R | PF_X};
                if (pvh)
                        ph[1] = (Elf64_Phdr){
                            .p_type = PT_NOTE, .p_offset = note_off, .p_filesz = sizeof(note)};
        } else {
                Elf32_Ehdr *eh = (Elf32_Ehdr *)file;
                Elf32_Phdr *ph = (Elf32_Phdr *)(file + sizeof(*eh));
                memcpy(eh->e_ident, ELFMAG, SELFMAG);
                eh->e_ident[EI_CLASS] = ELFCLASS32;
                eh->e_ident[EI_DATA] = ELFDATA2LSB;
                eh->e_ident[EI_VERSION] = EV_CURRENT;
                eh->e_type = ET_EXEC;
                eh->e_machine = EM_386;
                eh->e_version = EV_CURRENT;
                eh->e_entry = load;
                eh->e_phoff = sizeof(*eh);
                eh->e_ehsize = sizeof(*eh);
                eh->e_phentsize = sizeof(*ph);
                eh->e_phnum = (uint16_t)phnum;
                ph[0] = (Elf32_Phdr){.p_type = PT_LOAD,
                                     .p_offset = code_off,
                                     .p_vaddr = load,
                                     .p_paddr = load,
                                     .p_filesz = (uint32_t)code_len,
                                     .p_memsz = (uint32_t)code_len + 64,
                                     .p_flags = PF_R | PF_X};
                if (pvh)
                        ph[1] = (Elf32_Phdr){
                            .p_type = PT_NOTE, .p_offset = note_off, .p_filesz = sizeof(note)};
        }
        return mini_write_file(path, file, code_off + code_len);
}

/* A minimal bzImage: one setup sector after the boot sector, protocol
 * `version`, the 64-bit entry (kernel start + 0x200) running the mini code.
 * truncate_to > 0 cuts the file. */
static inline int mini_write_bzimage(const char *path, uint16_t version, enum mini_flavor fl,
                                     size_t truncate_to)
{
        static uint8_t file[1024 + 4096];
        const uint32_t setup_size = 1024, kernel_size = 4096, init_size = 0x10000;
        uint32_t syssize = kernel_size / 16, initrd_max = 0x37ffffff, cmdline_size = 2047;
        uint16_t xload = 1;
        memset(file, 0, sizeof(file));
        file[0x1f1] = 1;
        memcpy(file + 0x1f4, &syssize, 4);
        file[0x201] = 0x66; /* header ends at 0x202 + 0x66 = 0x268 */
        memcpy(file + 0x202, "HdrS", 4);
        memcpy(file + 0x206, &version, 2);
        memcpy(file + 0x22c, &initrd_max, 4);
        memcpy(file + 0x236, &xload, 2);
        memcpy(file + 0x238, &cmdline_size, 4);
        memcpy(file + 0x260, &init_size, 4);
        file[0x1fe] = 0x55;
        file[0x1ff] = 0xaa;
        mini_code(file + setup_size + 0x200, MINI_LOAD + 0x200, fl);
        size_t len = setup_size + kernel_size;
        return mini_write_file(path, file, truncate_to && truncate_to < len ? truncate_to : len);
}

#endif
