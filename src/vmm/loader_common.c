/* Helpers every loader shares: bounded file reads straight into guest RAM
 * (no host copy of the kernel), initrd placement, the command line and the
 * boot_params e820 table; plus format autodetection. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/e820.h"
#include "vmm/layout.h"
#include "vmm/loader.h"

#define MIB (1024ULL * 1024)

int loader_open(struct loader_file *f, const char *path, const char *what, struct isola_err *err)
{
        struct stat st;

        f->path = path;
        f->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (f->fd < 0)
                return err_sys(err, "%s '%s'", what, path);
        if (fstat(f->fd, &st) < 0) {
                err_sys(err, "%s '%s'", what, path);
                loader_close(f);
                return -1;
        }
        if (!S_ISREG(st.st_mode)) {
                err_set(err, EINVAL, "%s '%s' is not a regular file", what, path);
                loader_close(f);
                return -1;
        }
        f->size = (uint64_t)st.st_size;
        return 0;
}

void loader_close(struct loader_file *f)
{
        if (f->fd >= 0)
                close(f->fd);
        f->fd = -1;
}

static int pread_full(int fd, void *buf, uint64_t len, uint64_t off)
{
        uint8_t *p = buf;

        while (len > 0) {
                size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
                ssize_t n = pread(fd, p, chunk, (off_t)off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                p += n;
                off += (uint64_t)n;
                len -= (uint64_t)n;
        }
        return 0;
}

int loader_read(const struct loader_file *f, uint64_t off, void *buf, uint64_t len,
                struct isola_err *err)
{
        if (off > f->size || len > f->size - off)
                return err_set(err, EINVAL,
                               "'%s' is truncated (needs %llu bytes at offset %llu, file has "
                               "%llu)",
                               f->path, (unsigned long long)len, (unsigned long long)off,
                               (unsigned long long)f->size);
        if (pread_full(f->fd, buf, len, off) < 0)
                return err_sys(err, "reading '%s'", f->path);
        return 0;
}

int loader_read_guest(const struct loader_file *f, struct guest_mem *mem, uint64_t off,
                      uint64_t len, uint64_t gpa, struct isola_err *err)
{
        void *dst = guest_mem_ptr(mem, gpa, len);

        if (!dst)
                return err_set(err, ERANGE, "'%s' does not fit in guest memory at 0x%llx", f->path,
                               (unsigned long long)gpa);
        return len ? loader_read(f, off, dst, len, err) : 0;
}

uint64_t loader_low_ram_end(const struct guest_mem *mem)
{
        for (unsigned i = 0; i < mem->n_regions; i++)
                if (mem->regions[i].gpa == 0)
                        return mem->regions[i].size;
        return 0;
}

int loader_place_initrd(struct guest_mem *mem, const char *path, uint64_t floor, uint64_t limit,
                        uint64_t *addr_out, uint64_t *size_out, struct isola_err *err)
{
        struct loader_file f;
        uint64_t top = loader_low_ram_end(mem);

        if (loader_open(&f, path, "initrd", err) < 0)
                return -1;
        if (limit < top)
                top = limit;
        floor = (floor + 0xfff) & ~0xfffULL;
        if (f.size > top || ((top - f.size) & ~0xfffULL) < floor) {
                err_set(err, EFBIG,
                        "initrd '%s' (%llu MiB) does not fit in guest memory (%llu MiB)", path,
                        (unsigned long long)((f.size + MIB - 1) / MIB),
                        (unsigned long long)(mem->ram_size / MIB));
                loader_close(&f);
                return -1;
        }
        uint64_t addr = (top - f.size) & ~0xfffULL;
        int rc = loader_read_guest(&f, mem, 0, f.size, addr, err);
        loader_close(&f);
        if (rc < 0)
                return err_prefix(err, "initrd");
        *addr_out = addr;
        *size_out = f.size;
        return 0;
}

int loader_write_cmdline(struct guest_mem *mem, const char *cmdline, uint64_t max_len,
                         struct isola_err *err)
{
        size_t len = strlen(cmdline) + 1;

        if (max_len > LAYOUT_CMDLINE_MAX)
                max_len = LAYOUT_CMDLINE_MAX;
        if (len > max_len)
                return err_set(err, E2BIG, "--cmdline: %zu bytes, the kernel accepts at most %llu",
                               len - 1, (unsigned long long)(max_len - 1));
        if (guest_mem_write(mem, LAYOUT_CMDLINE, cmdline, len) < 0)
                return err_set(err, ERANGE, "--cmdline: guest memory too small");
        return 0;
}

/* boot_params offsets (Documentation/arch/x86/zero-page.rst). */
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE   0x2d0

void loader_fill_e820(const struct guest_mem *mem, uint8_t *zp)
{
        struct e820_entry map[E820_MAX];
        unsigned n = e820_build(mem, map);

        /* boot_params holds up to 128 entries; our map never has more than
         * E820_MAX, and the count written must match the entries written. */
        if (n > E820_MAX)
                n = E820_MAX;
        for (unsigned i = 0; i < n; i++) {
                uint8_t *e = zp + BP_E820_TABLE + 20 * i;
                memcpy(e, &map[i].addr, 8);
                memcpy(e + 8, &map[i].size, 8);
                memcpy(e + 16, &map[i].type, 4);
        }
        zp[BP_E820_ENTRIES] = (uint8_t)n;
}

static const uint8_t elf_magic[4] = {0x7f, 'E', 'L', 'F'};

int loader_load(struct guest_mem *mem, const struct loader_args *args, struct boot_info *out,
                struct isola_err *err)
{
        struct loader_file f;
        uint8_t magic[4] = {0};
        uint64_t pvh_entry = 0;
        int rc;

        memset(out, 0, sizeof(*out));
        if (loader_open(&f, args->kernel, "kernel", err) < 0)
                return -1;
        if (f.size < sizeof(magic) || loader_read(&f, 0, magic, sizeof(magic), err) < 0 ||
            memcmp(magic, elf_magic, 4) != 0) {
                loader_close(&f);
                return loader_bzimage(mem, args, out, err);
        }
        rc = elf_pvh_entry(&f, &pvh_entry, err);
        if (rc == 0 && pvh_entry)
                rc = loader_pvh(mem, args, &f, pvh_entry, out, err);
        else if (rc == 0)
                rc = loader_elf64(mem, args, &f, out, err);
        loader_close(&f);
        return rc;
}
