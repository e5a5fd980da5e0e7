/* PCI configuration mechanism #1 on bus 0: enumeration, BAR discovery and,
 * when no firmware ran (QEMU's PVH boot), BAR assignment from the layout's
 * MMIO window (src/vmm/layout.h: 0xE0000000-0xFE000000). */
#include "guest.h"

#define PCI_MMIO_START 0xe0000000ULL
#define PCI_MMIO_END   0xfe000000ULL
#define MAX_FNS        64

static struct pci_fn fns[MAX_FNS];
static unsigned n_fns;
static bool scanned;
static uint64_t next_mmio;
static uint8_t moved[MAX_FNS]; /* BARs this guest placed, one bit each */

static uint32_t cfg_addr(uint8_t slot, uint8_t fn, unsigned off)
{
        return 0x80000000u | (uint32_t)slot << 11 | (uint32_t)fn << 8 | (off & 0xfc);
}

static uint32_t cfg_read(uint8_t slot, uint8_t fn, unsigned off)
{
        outl(0xcf8, cfg_addr(slot, fn, off));
        return inl(0xcfc);
}

uint32_t pci_read32(const struct pci_fn *f, unsigned off)
{
        return cfg_read(f->slot, f->fn, off);
}

uint16_t pci_read16(const struct pci_fn *f, unsigned off)
{
        outl(0xcf8, cfg_addr(f->slot, f->fn, off));
        return inw((uint16_t)(0xcfc + (off & 2)));
}

uint8_t pci_read8(const struct pci_fn *f, unsigned off)
{
        outl(0xcf8, cfg_addr(f->slot, f->fn, off));
        return inb((uint16_t)(0xcfc + (off & 3)));
}

void pci_write32(const struct pci_fn *f, unsigned off, uint32_t v)
{
        outl(0xcf8, cfg_addr(f->slot, f->fn, off));
        outl(0xcfc, v);
}

void pci_write16(const struct pci_fn *f, unsigned off, uint16_t v)
{
        outl(0xcf8, cfg_addr(f->slot, f->fn, off));
        outw((uint16_t)(0xcfc + (off & 2)), v);
}

static void add_fn(uint8_t slot, uint8_t fn, uint32_t id)
{
        if (n_fns == MAX_FNS)
                return;
        struct pci_fn *f = &fns[n_fns++];
        f->slot = slot;
        f->fn = fn;
        f->vendor = (uint16_t)id;
        f->device = (uint16_t)(id >> 16);
        f->class_code = cfg_read(slot, fn, 0x08) >> 8;
}

unsigned pci_scan(const struct pci_fn **out)
{
        if (!scanned) {
                scanned = true;
                for (uint8_t slot = 0; slot < 32; slot++) {
                        uint32_t id = cfg_read(slot, 0, 0);
                        if ((id & 0xffff) == 0xffff || id == 0)
                                continue;
                        add_fn(slot, 0, id);
                        if (!(cfg_read(slot, 0, 0x0c) & 0x800000)) /* single function */
                                continue;
                        for (uint8_t fn = 1; fn < 8; fn++) {
                                id = cfg_read(slot, fn, 0);
                                if ((id & 0xffff) != 0xffff && id != 0)
                                        add_fn(slot, fn, id);
                        }
                }
        }
        *out = fns;
        return n_fns;
}

const struct pci_fn *pci_find(uint16_t vendor, uint16_t device)
{
        const struct pci_fn *t;
        unsigned n = pci_scan(&t);
        for (unsigned i = 0; i < n; i++)
                if (t[i].vendor == vendor && t[i].device == device)
                        return &t[i];
        return NULL;
}

const struct pci_fn *pci_find_class(uint32_t class_code, uint32_t mask)
{
        const struct pci_fn *t;
        unsigned n = pci_scan(&t);
        for (unsigned i = 0; i < n; i++)
                if ((t[i].class_code & mask) == (class_code & mask))
                        return &t[i];
        return NULL;
}

/* Size of a memory BAR by the all-ones probe, with decode off meanwhile. */
static uint64_t bar_size(const struct pci_fn *f, int bar, bool is64)
{
        unsigned off = 0x10 + 4 * (unsigned)bar;
        uint16_t cmd = pci_read16(f, 0x04);
        pci_write16(f, 0x04, cmd & ~0x3);
        uint32_t lo = pci_read32(f, off), hi = is64 ? pci_read32(f, off + 4) : 0;
        pci_write32(f, off, 0xffffffff);
        uint64_t mask = pci_read32(f, off) & ~0xfULL;
        if (is64) {
                pci_write32(f, off + 4, 0xffffffff);
                mask |= (uint64_t)pci_read32(f, off + 4) << 32;
                pci_write32(f, off + 4, hi);
        } else {
                mask |= 0xffffffff00000000ULL;
        }
        pci_write32(f, off, lo);
        pci_write16(f, 0x04, cmd);
        return mask ? ~mask + 1 : 0;
}

static bool bar_is64(uint32_t v)
{
        return (v & 0x7) == 0x4;
}

static uint64_t bar_read(const struct pci_fn *f, int bar)
{
        unsigned off = 0x10 + 4 * (unsigned)bar;
        uint32_t lo = pci_read32(f, off);
        if (lo & 1)
                return lo & ~0x3u;
        uint64_t a = lo & ~0xfu;
        if (bar_is64(lo) && bar < 5)
                a |= (uint64_t)pci_read32(f, off + 4) << 32;
        return a;
}

/* Our allocations start above every BAR already placed in the window. */
static void init_window(void)
{
        const struct pci_fn *t;
        unsigned n = pci_scan(&t);
        next_mmio = PCI_MMIO_START;
        for (unsigned i = 0; i < n; i++) {
                for (int bar = 0; bar < 6; bar++) {
                        uint32_t lo = pci_read32(&t[i], 0x10 + 4 * (unsigned)bar);
                        uint64_t a = bar_read(&t[i], bar);
                        bool is64 = !(lo & 1) && bar_is64(lo);
                        if (!(lo & 1) && a >= PCI_MMIO_START && a < PCI_MMIO_END) {
                                uint64_t end = a + bar_size(&t[i], bar, is64);
                                if (end > next_mmio)
                                        next_mmio = end;
                        }
                        if (is64)
                                bar++;
                }
        }
}

uint64_t pci_bar_addr(const struct pci_fn *f, int bar)
{
        unsigned off = 0x10 + 4 * (unsigned)bar;
        uint32_t lo = pci_read32(f, off);
        uint64_t a = bar_read(f, bar);
        uint16_t cmd = pci_read16(f, 0x04);
        if (lo & 1) {
                pci_write16(f, 0x04, cmd | 0x5); /* I/O decode, bus master */
                return a;
        }
        /* Unassigned, or above the 4 GiB our page tables map: place it.
         * pci_reassign=1 moves every BAR we use once, to test the VMM's
         * handling of BAR moves (and this code, where firmware assigned). */
        unsigned idx = (unsigned)(f - fns);
        bool move = opt_num("pci_reassign", 0) && idx < MAX_FNS && !(moved[idx] & (1u << bar));
        if (a == 0 || a >= 0x100000000ULL || move) {
                if (idx < MAX_FNS)
                        moved[idx] |= (uint8_t)(1u << bar);
                if (!next_mmio)
                        init_window();
                bool is64 = bar_is64(lo);
                uint64_t size = bar_size(f, bar, is64);
                if (!size)
                        return 0;
                a = (next_mmio + size - 1) & ~(size - 1);
                if (a + size > PCI_MMIO_END)
                        return 0;
                next_mmio = a + size;
                pci_write32(f, off, (uint32_t)a | (lo & 0xf));
                if (is64)
                        pci_write32(f, off + 4, 0);
        }
        pci_write16(f, 0x04, cmd | 0x6); /* memory decode, bus master */
        return a;
}

void test_pci(void)
{
        struct line d = {.len = 0};
        const struct pci_fn *t;
        unsigned n = pci_scan(&t);
        line_add(&d, "devices=%u", n);
        for (unsigned i = 0; i < n; i++)
                line_add(&d, " %02x.%u=%04x:%04x:%06x", t[i].slot, t[i].fn, t[i].vendor,
                         t[i].device, t[i].class_code);
        report("pci", n && t[0].slot == 0 ? PASS : FAIL, &d);
}
