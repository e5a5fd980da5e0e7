/* bzImage through the 64-bit Linux boot protocol
 * (Documentation/arch/x86/boot.rst): validate the setup header, load the
 * protected-mode kernel at 1 MiB, build boot_params at LAYOUT_ZERO_PAGE with
 * the header copied in, and enter at the 64-bit entry (load address + 0x200)
 * with RSI = boot_params. */
#include <errno.h>
#include <string.h>

#include "vmm/layout.h"
#include "vmm/loader.h"

/* Setup header offsets within the image (= within boot_params). */
#define HDR_SETUP_SECTS      0x1f1
#define HDR_SYSSIZE          0x1f4
#define HDR_VID_MODE         0x1fa
#define HDR_JUMP_LEN         0x201
#define HDR_MAGIC            0x202
#define HDR_VERSION          0x206
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS        0x211
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_HEAP_END_PTR     0x224
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_ADDR_MAX  0x22c
#define HDR_XLOADFLAGS       0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_INIT_SIZE        0x260
#define HDR_END_MAX          0x290
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8

#define LOADFLAGS_LOADED_HIGH  0x01
#define LOADFLAGS_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64          0x01

static uint16_t get16(const uint8_t *p, unsigned off)
{
        uint16_t v;
        memcpy(&v, p + off, 2);
        return v;
}

static uint32_t get32(const uint8_t *p, unsigned off)
{
        uint32_t v;
        memcpy(&v, p + off, 4);
        return v;
}

static void put32(uint8_t *p, unsigned off, uint32_t v)
{
        memcpy(p + off, &v, 4);
}

static void put16(uint8_t *p, unsigned off, uint16_t v)
{
        memcpy(p + off, &v, 2);
}

struct bz_header {
        uint8_t raw[HDR_END_MAX];
        unsigned hdr_end;
        uint64_t setup_size, kernel_size;
        uint16_t version;
};

static int check_header(const struct loader_file *f, struct bz_header *h, struct isola_err *err)
{
        memset(h->raw, 0, sizeof(h->raw));
        if (f->size < HDR_VERSION + 2 ||
            loader_read(f, 0, h->raw, f->size < HDR_END_MAX ? f->size : HDR_END_MAX, err) < 0 ||
            memcmp(h->raw + HDR_MAGIC, "HdrS", 4) != 0)
                return err_set(err, EINVAL, "'%s' is not a bzImage (no HdrS setup header)",
                               f->path);
        h->version = get16(h->raw, HDR_VERSION);
        if (h->version < 0x206)
                return err_set(err, EINVAL,
                               "'%s': boot protocol %u.%02u is too old (need 2.06 or later)",
                               f->path, h->version >> 8, h->version & 0xff);
        if (h->version < 0x20c || !(get16(h->raw, HDR_XLOADFLAGS) & XLF_KERNEL_64))
                return err_set(err, EINVAL, "'%s' has no 64-bit entry point (XLF_KERNEL_64)",
                               f->path);
        unsigned sects = h->raw[HDR_SETUP_SECTS] ? h->raw[HDR_SETUP_SECTS] : 4;
        h->setup_size = (uint64_t)(sects + 1) * 512;
        h->kernel_size = (uint64_t)get32(h->raw, HDR_SYSSIZE) * 16;
        if (h->setup_size >= f->size || h->kernel_size == 0 ||
            h->kernel_size > f->size - h->setup_size)
                return err_set(err, EINVAL,
                               "'%s' is truncated (setup %llu + kernel %llu bytes, file has %llu)",
                               f->path, (unsigned long long)h->setup_size,
                               (unsigned long long)h->kernel_size, (unsigned long long)f->size);
        h->hdr_end = HDR_MAGIC + h->raw[HDR_JUMP_LEN];
        if (h->hdr_end > HDR_END_MAX)
                h->hdr_end = HDR_END_MAX;
        return 0;
}

static int load_kernel(struct guest_mem *mem, const struct loader_file *f,
                       const struct bz_header *h, uint64_t *end_out, struct isola_err *err)
{
        uint64_t init_size = get32(h->raw, HDR_INIT_SIZE);
        uint64_t need = init_size > h->kernel_size ? init_size : h->kernel_size;
        uint64_t low_end = loader_low_ram_end(mem);

        if (LAYOUT_KERNEL_LOAD + need > low_end)
                return err_set(err, ERANGE,
                               "kernel '%s' needs %llu MiB at 1 MiB, guest memory is %llu MiB",
                               f->path, (unsigned long long)((need >> 20) + 1),
                               (unsigned long long)(mem->ram_size >> 20));
        if (loader_read_guest(f, mem, h->setup_size, h->kernel_size, LAYOUT_KERNEL_LOAD, err) < 0)
                return -1;
        *end_out = LAYOUT_KERNEL_LOAD + need;
        return 0;
}

static void build_zero_page(struct guest_mem *mem, uint8_t *zp, const struct bz_header *h,
                            uint64_t initrd_addr, uint64_t initrd_size)
{
        memset(zp, 0, 4096);
        memcpy(zp + HDR_SETUP_SECTS, h->raw + HDR_SETUP_SECTS, h->hdr_end - HDR_SETUP_SECTS);
        put16(zp, HDR_VID_MODE, 0xffff); /* "normal" */
        zp[HDR_TYPE_OF_LOADER] = 0xff;
        zp[HDR_LOADFLAGS] |= LOADFLAGS_LOADED_HIGH | LOADFLAGS_CAN_USE_HEAP;
        put16(zp, HDR_HEAP_END_PTR, 0xfe00);
        put32(zp, HDR_CMD_LINE_PTR, (uint32_t)LAYOUT_CMDLINE);
        put32(zp, BP_EXT_CMD_LINE_PTR, 0);
        put32(zp, HDR_RAMDISK_IMAGE, (uint32_t)initrd_addr);
        put32(zp, HDR_RAMDISK_SIZE, (uint32_t)initrd_size);
        put32(zp, BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_addr >> 32));
        put32(zp, BP_EXT_RAMDISK_SIZE, (uint32_t)(initrd_size >> 32));
        loader_fill_e820(mem, zp);
}

int loader_bzimage(struct guest_mem *mem, const struct loader_args *args, struct boot_info *out,
                   struct isola_err *err)
{
        struct loader_file f;
        struct bz_header h;
        uint64_t end = 0, initrd_addr = 0, initrd_size = 0;
        uint8_t *zp = guest_mem_ptr(mem, LAYOUT_ZERO_PAGE, 4096);
        int rc = -1;

        if (!zp)
                return err_set(err, ERANGE, "guest memory too small");
        if (loader_open(&f, args->kernel, "kernel", err) < 0)
                return -1;
        if (check_header(&f, &h, err) < 0 || load_kernel(mem, &f, &h, &end, err) < 0)
                goto done;
        uint64_t initrd_limit = (uint64_t)get32(h.raw, HDR_INITRD_ADDR_MAX) + 1;
        if (args->initrd && loader_place_initrd(mem, args->initrd, end, initrd_limit, &initrd_addr,
                                                &initrd_size, err) < 0)
                goto done;
        uint32_t cmdline_max = get32(h.raw, HDR_CMDLINE_SIZE) + 1;
        if (loader_write_cmdline(mem, args->cmdline, cmdline_max, err) < 0)
                goto done;
        build_zero_page(mem, zp, &h, initrd_addr, initrd_size);
        *out = (struct boot_info){
            .kind = LOADER_BZIMAGE,
            .mode = BOOT_LONG64,
            .entry = LAYOUT_KERNEL_LOAD + 0x200,
            .rsi = LAYOUT_ZERO_PAGE,
            .kernel_end = end,
        };
        rc = 0;
done:
        loader_close(&f);
        return rc;
}
