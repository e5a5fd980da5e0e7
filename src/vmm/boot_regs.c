/* Boot CPU state: a flat GDT (code at 0x10, data at 0x18, TSS at 0x20, the
 * selectors the Linux boot protocol names __BOOT_CS/__BOOT_DS), identity
 * page tables for the first 4 GiB with 2 MiB pages for long-mode entry, and
 * the control registers for either 64-bit long mode or 32-bit flat
 * protected mode without paging (PVH). */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/boot_regs.h"
#include "vmm/layout.h"

#define SEL_CODE 0x10
#define SEL_DATA 0x18
#define SEL_TSS  0x20

#define CR0_PE   (1ULL << 0)
#define CR0_ET   (1ULL << 4)
#define CR0_PG   (1ULL << 31)
#define CR4_PAE  (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define PTE_P  0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL

/* PML4, PDPT and four page directories. */
#define PT_PAGES 6

static int write_page_tables(struct guest_mem *mem, struct isola_err *err)
{
        uint64_t *pt = guest_mem_ptr(mem, LAYOUT_PAGE_TABLES, PT_PAGES * 4096);

        if (!pt)
                return err_set(err, ERANGE, "guest memory too small for page tables");
        memset(pt, 0, PT_PAGES * 4096);
        uint64_t *pml4 = pt, *pdpt = pt + 512, *pd = pt + 1024;
        pml4[0] = (LAYOUT_PAGE_TABLES + 0x1000) | PTE_P | PTE_RW;
        for (unsigned i = 0; i < 4; i++)
                pdpt[i] = (LAYOUT_PAGE_TABLES + 0x2000 + i * 0x1000ULL) | PTE_P | PTE_RW;
        for (uint64_t i = 0; i < 4 * 512; i++)
                pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
        return 0;
}

/* A GDT descriptor from its parts (Intel SDM vol. 3, 3.4.5). */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
        return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
               ((uint64_t)(flags & 0xf0ffu) << 40) | ((uint64_t)(limit & 0x000f0000u) << 32) |
               (limit & 0xffffu);
}

/* KVM wants the limit in bytes, as the descriptor cache holds it: with
 * G=1 the 20-bit field counts 4 KiB pages. */
static struct kvm_segment segment_from(uint64_t desc, uint16_t sel)
{
        uint32_t limit = (uint32_t)(((desc >> 32) & 0xf0000) | (desc & 0xffff));

        if ((desc >> 55) & 1)
                limit = (limit << 12) | 0xfff;
        return (struct kvm_segment){
            .base = (uint32_t)(((desc >> 16) & 0xffffff) | ((desc >> 32) & 0xff000000)),
            .limit = limit,
            .selector = sel,
            .type = (desc >> 40) & 0xf,
            .present = (desc >> 47) & 1,
            .dpl = (desc >> 45) & 3,
            .db = (desc >> 54) & 1,
            .s = (desc >> 44) & 1,
            .l = (desc >> 53) & 1,
            .g = (desc >> 55) & 1,
        };
}

static int setup_sregs(int fd, struct guest_mem *mem, const struct boot_info *info,
                       struct isola_err *err)
{
        bool long64 = info->mode == BOOT_LONG64;
        uint64_t gdt[5] = {
            0,
            0,
            gdt_entry(long64 ? 0xa09b : 0xc09b, 0, 0xfffff), /* code */
            gdt_entry(0xc093, 0, 0xfffff),                   /* data */
            gdt_entry(0x808b, 0, 0xfffff),                   /* TSS */
        };
        struct kvm_sregs sregs;

        if (guest_mem_write(mem, LAYOUT_GDT, gdt, sizeof(gdt)) < 0)
                return err_set(err, ERANGE, "guest memory too small for the GDT");
        if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
                return err_sys(err, "KVM_GET_SREGS");
        sregs.gdt.base = LAYOUT_GDT;
        sregs.gdt.limit = sizeof(gdt) - 1;
        sregs.idt.base = 0;
        sregs.idt.limit = 0;
        sregs.cs = segment_from(gdt[2], SEL_CODE);
        sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = segment_from(gdt[3], SEL_DATA);
        sregs.tr = segment_from(gdt[4], SEL_TSS);
        sregs.cr0 = CR0_PE | CR0_ET;
        sregs.cr4 = 0;
        sregs.efer = 0;
        if (long64) {
                if (write_page_tables(mem, err) < 0)
                        return -1;
                sregs.cr3 = LAYOUT_PAGE_TABLES;
                sregs.cr4 |= CR4_PAE;
                sregs.cr0 |= CR0_PG;
                sregs.efer |= EFER_LME | EFER_LMA;
        }
        if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0)
                return err_sys(err, "KVM_SET_SREGS");
        return 0;
}

int boot_regs_setup(int vcpu_fd, struct guest_mem *mem, const struct boot_info *info,
                    struct isola_err *err)
{
        struct kvm_regs regs = {
            .rflags = 0x2,
            .rip = info->entry,
            .rsp = LAYOUT_BOOT_STACK,
            .rbp = LAYOUT_BOOT_STACK,
            .rsi = info->rsi,
            .rdi = info->rdi,
            .rbx = info->rbx,
        };

        if (setup_sregs(vcpu_fd, mem, info, err) < 0)
                return -1;
        if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
                return err_sys(err, "KVM_SET_REGS");
        return 0;
}
