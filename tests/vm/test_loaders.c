/* Loaders without KVM: guest RAM is a plain heap buffer. Bad inputs get one
 * exact message naming the file; good ones produce the boot structures the
 * boot protocols define; no file descriptor is left open. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mini_guest.h"
#include "le.h"
#include "tap.h"
#include "vmm/layout.h"
#include "vmm/loader.h"

#define RAM_MIB 64

static char dir[] = "/tmp/isola-test-loaders-XXXXXX";

static char *tmp(const char *name)
{
        static char paths[16][256];
        static unsigned n;
        char *p = paths[n++ % 16];
        snprintf(p, 256, "%s/%s", dir, name);
        return p;
}

static int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        int n = 0;
        for (struct dirent *e; d && (e = readdir(d));)
                n += e->d_name[0] != '.';
        if (d)
                closedir(d);
        return n;
}

static int load(struct guest_mem *mem, const char *kernel, const char *initrd, struct boot_info *bi,
                struct isola_err *err)
{
        struct loader_args a = {.kernel = kernel,
                                .initrd = initrd,
                                .cmdline = "console=ttyS0 x=1",
                                .rsdp_addr = 0xe0000};
        err_clear(err);
        return loader_load(mem, &a, bi, err);
}

static void expect_error(struct guest_mem *mem, const char *kernel, const char *initrd,
                         const char *want, const char *name)
{
        struct boot_info bi;
        struct isola_err err;
        int rc = load(mem, kernel, initrd, &bi, &err);
        tap_ok(rc == -1, "%s: fails", name);
        TAP_EQ_STR(err.msg, want, name);
}

static void test_errors(struct guest_mem *mem)
{
        char want[512];
        const char *text = tmp("notakernel");
        mini_write_file(text, "hello, I am not a kernel\n", 25);
        snprintf(want, sizeof(want), "'%s' is not a bzImage (no HdrS setup header)", text);
        expect_error(mem, text, NULL, want, "text file is not a kernel");

        const char *empty = tmp("empty");
        mini_write_file(empty, "", 0);
        snprintf(want, sizeof(want), "'%s' is not a bzImage (no HdrS setup header)", empty);
        expect_error(mem, empty, NULL, want, "empty file is not a kernel");

        const char *trunc = tmp("truncated.bzImage");
        mini_write_bzimage(trunc, 0x20f, MINI_POWEROFF, 3000);
        snprintf(want, sizeof(want),
                 "'%s' is truncated (setup 1024 + kernel 4096 bytes, file has 3000)", trunc);
        expect_error(mem, trunc, NULL, want, "truncated bzImage");

        const char *old = tmp("old.bzImage");
        mini_write_bzimage(old, 0x205, MINI_POWEROFF, 0);
        snprintf(want, sizeof(want), "'%s': boot protocol 2.05 is too old (need 2.06 or later)",
                 old);
        expect_error(mem, old, NULL, want, "boot protocol 2.05");

        const char *good = tmp("good.bzImage");
        mini_write_bzimage(good, 0x20f, MINI_POWEROFF, 0);
        const char *big = tmp("big.initrd");
        int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        tap_ok(fd >= 0 && ftruncate(fd, 100ULL << 20) == 0, "sparse 100 MiB initrd");
        close(fd);
        snprintf(want, sizeof(want), "initrd '%s' (100 MiB) does not fit in guest memory (%d MiB)",
                 big, RAM_MIB);
        expect_error(mem, good, big, want, "initrd larger than memory (bzImage)");
        const char *pvh = tmp("pvh.elf");
        mini_write_elf(pvh, false, true, MINI_POWEROFF, 0);
        expect_error(mem, pvh, big, want, "initrd larger than memory (PVH)");

        const char *far = tmp("far.elf");
        mini_write_elf(far, true, true, MINI_POWEROFF, 0x7ff00000);
        snprintf(want, sizeof(want),
                 "segment 0 of '%s' lies outside guest memory (0x7ff00000+0x%x)", far,
                 (unsigned)(mini_code((uint8_t[256]){0}, 0x7ff00000, MINI_POWEROFF) + 64));
        expect_error(mem, far, NULL, want, "PT_LOAD beyond guest RAM");

        const char *missing = tmp("does-not-exist");
        snprintf(want, sizeof(want), "kernel '%s': No such file or directory", missing);
        expect_error(mem, missing, NULL, want, "missing kernel file");
        snprintf(want, sizeof(want), "initrd '%s': No such file or directory", missing);
        expect_error(mem, good, missing, want, "missing initrd file");

        const char *elf32 = tmp("plain32.elf");
        mini_write_elf(elf32, false, false, MINI_POWEROFF, 0);
        snprintf(want, sizeof(want),
                 "'%s' is a 32-bit ELF without a PVH note: not a bootable kernel", elf32);
        expect_error(mem, elf32, NULL, want, "ELF32 without PVH note");
}

static void test_bzimage(struct guest_mem *mem, uint8_t *ram)
{
        struct boot_info bi;
        struct isola_err err;
        const char *k = tmp("ok.bzImage"), *initrd = tmp("small.initrd");
        mini_write_bzimage(k, 0x20f, MINI_POWEROFF, 0);
        mini_write_file(initrd, "INITRD-CONTENT", 14);
        int rc = load(mem, k, initrd, &bi, &err);
        tap_ok(rc == 0, "bzImage loads (%s)", rc ? err.msg : "ok");
        TAP_EQ_INT(bi.kind, LOADER_BZIMAGE, "detected as bzImage");
        TAP_EQ_INT(bi.mode, BOOT_LONG64, "entered in long mode");
        TAP_EQ_INT(bi.entry, 0x100200, "64-bit entry = 1 MiB + 0x200");
        TAP_EQ_INT(bi.rsi, LAYOUT_ZERO_PAGE, "RSI points at boot_params");
        const uint8_t *zp = ram + LAYOUT_ZERO_PAGE;
        TAP_EQ_INT(zp[0x210], 0xff, "type_of_loader 0xff");
        TAP_EQ_INT(rd32(zp + 0x228), LAYOUT_CMDLINE, "cmd_line_ptr");
        TAP_EQ_STR((const char *)ram + LAYOUT_CMDLINE, "console=ttyS0 x=1", "command line copied");
        tap_ok(!memcmp(zp + 0x202, "HdrS", 4), "setup header copied into boot_params");
        TAP_EQ_INT(zp[0x1e8], 3, "three e820 entries for 64 MiB");
        TAP_EQ_INT(rd64(zp + 0x2d0 + 8), 0x9fc00, "e820[0] is RAM up to the EBDA");
        TAP_EQ_INT(rd32(zp + 0x2d0 + 20 + 16), 2, "e820[1] is reserved");
        TAP_EQ_INT(rd64(zp + 0x2d0 + 40) + rd64(zp + 0x2d0 + 48), RAM_MIB << 20,
                   "e820[2] ends at the top of RAM");
        uint32_t ird = rd32(zp + 0x218);
        TAP_EQ_INT(rd32(zp + 0x21c), 14, "ramdisk_size");
        tap_ok(ird % 4096 == 0 && ird + 14 <= (RAM_MIB << 20) && ird >= (RAM_MIB << 20) - 8192 &&
                   !memcmp(ram + ird, "INITRD-CONTENT", 14),
               "initrd at the top of RAM, page aligned");
        tap_ok(ram[0x100200] == 0xbe, "protected-mode code at 1 MiB");
}

static void test_pvh(struct guest_mem *mem, uint8_t *ram)
{
        struct boot_info bi;
        struct isola_err err;
        const char *k = tmp("ok.pvh"), *initrd = tmp("small.initrd");
        mini_write_elf(k, false, true, MINI_POWEROFF, 0);
        int rc = load(mem, k, initrd, &bi, &err);
        tap_ok(rc == 0, "PVH ELF32 loads (%s)", rc ? err.msg : "ok");
        TAP_EQ_INT(bi.kind, LOADER_PVH, "detected as PVH");
        TAP_EQ_INT(bi.mode, BOOT_PROT32, "entered in 32-bit protected mode");
        TAP_EQ_INT(bi.entry, MINI_LOAD, "entry from XEN_ELFNOTE_PHYS32_ENTRY");
        TAP_EQ_INT(bi.rbx, LAYOUT_ZERO_PAGE, "EBX points at hvm_start_info");
        const uint8_t *si = ram + LAYOUT_ZERO_PAGE;
        TAP_EQ_INT(rd32(si), 0x336ec578, "start info magic");
        TAP_EQ_INT(rd32(si + 4), 1, "start info version 1");
        TAP_EQ_INT(rd32(si + 12), 1, "one module (the initrd)");
        TAP_EQ_INT(rd64(si + 24), LAYOUT_CMDLINE, "cmdline_paddr");
        TAP_EQ_INT(rd64(si + 32), 0xe0000, "rsdp_paddr");
        TAP_EQ_INT(rd32(si + 48), 3, "memmap_entries");
        const uint8_t *mod = ram + rd64(si + 16);
        TAP_EQ_INT(rd64(mod + 8), 14, "module size");
        tap_ok(!memcmp(ram + rd64(mod), "INITRD-CONTENT", 14), "module holds the initrd");
        const uint8_t *mm = ram + rd64(si + 40);
        TAP_EQ_INT(rd64(mm + 8), 0x9fc00, "memmap[0] size");

        const char *k64 = tmp("ok.pvh64");
        mini_write_elf(k64, true, true, MINI_POWEROFF, 0);
        rc = load(mem, k64, NULL, &bi, &err);
        tap_ok(rc == 0 && bi.kind == LOADER_PVH, "PVH note in an ELF64 selects PVH");
}

static void test_elf64(struct guest_mem *mem, uint8_t *ram)
{
        struct boot_info bi;
        struct isola_err err;
        const char *k = tmp("ok.elf64");
        mini_write_elf(k, true, false, MINI_POWEROFF, 0);
        int rc = load(mem, k, NULL, &bi, &err);
        tap_ok(rc == 0, "plain ELF64 loads (%s)", rc ? err.msg : "ok");
        TAP_EQ_INT(bi.kind, LOADER_ELF64, "detected as plain ELF64");
        TAP_EQ_INT(bi.mode, BOOT_LONG64, "entered in long mode");
        TAP_EQ_INT(bi.entry, MINI_LOAD, "entry = e_entry");
        tap_ok(bi.rsi == LAYOUT_ZERO_PAGE && bi.rdi == LAYOUT_ZERO_PAGE, "RSI = RDI = boot_params");
        TAP_EQ_INT(rd32(ram + LAYOUT_ZERO_PAGE + 0x228), LAYOUT_CMDLINE, "cmd_line_ptr");
        TAP_EQ_INT(ram[LAYOUT_ZERO_PAGE + 0x1e8], 3, "e820 entries");
}

int main(void)
{
        if (!mkdtemp(dir)) {
                printf("1..0 # SKIP cannot create a temp dir\n");
                return 0;
        }
        uint8_t *ram = calloc(1, (size_t)RAM_MIB << 20);
        struct guest_mem mem = {
            .regions = {{0, (uint64_t)RAM_MIB << 20, ram}},
            .n_regions = 1,
            .ram_size = (uint64_t)RAM_MIB << 20,
        };
        int fds = count_fds();
        test_errors(&mem);
        test_bzimage(&mem, ram);
        test_pvh(&mem, ram);
        test_elf64(&mem, ram);
        TAP_EQ_INT(count_fds(), fds, "no file descriptor leaked");
        free(ram);
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                printf("# could not remove %s\n", dir);
        return tap_done();
}
