/* Shared declarations of the freestanding test guest: port and MMIO access,
 * output, PCI, the virtio-pci transport and the tests' entry points. */
#ifndef GUEST_H
#define GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define barrier() __asm__ volatile("" ::: "memory")

static inline void outb(uint16_t port, uint8_t v)
{
        __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
        __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
        __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
        uint8_t v;
        __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}
static inline uint16_t inw(uint16_t port)
{
        uint16_t v;
        __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}
static inline uint32_t inl(uint16_t port)
{
        uint32_t v;
        __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}
/* One string instruction moves a whole sector: KVM batches it into a single
 * exit, where a loop of inw would cost 256. */
static inline void insw(uint16_t port, void *buf, unsigned long n)
{
        __asm__ volatile("rep insw" : "+D"(buf), "+c"(n) : "d"(port) : "memory");
}
static inline void outsw(uint16_t port, const void *buf, unsigned long n)
{
        __asm__ volatile("rep outsw" : "+S"(buf), "+c"(n) : "d"(port) : "memory");
}

static inline uint8_t mmio_read8(uint64_t a)
{
        return *(volatile uint8_t *)a;
}
static inline uint16_t mmio_read16(uint64_t a)
{
        return *(volatile uint16_t *)a;
}
static inline uint32_t mmio_read32(uint64_t a)
{
        return *(volatile uint32_t *)a;
}
static inline void mmio_write8(uint64_t a, uint8_t v)
{
        *(volatile uint8_t *)a = v;
}
static inline void mmio_write16(uint64_t a, uint16_t v)
{
        *(volatile uint16_t *)a = v;
}
static inline void mmio_write32(uint64_t a, uint32_t v)
{
        *(volatile uint32_t *)a = v;
}
static inline void mmio_write64(uint64_t a, uint64_t v)
{
        /* Two halves: virtio allows it and not every VMM decodes 8-byte MMIO. */
        mmio_write32(a, (uint32_t)v);
        mmio_write32(a + 4, (uint32_t)(v >> 32));
}

static inline uint64_t rdtsc(void)
{
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
        __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* lib.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
bool str_eq_n(const char *a, const char *b, size_t n);
void uart_init(void);
void uart_write(const char *s, size_t n);
void print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Appends to a bounded line buffer; results are assembled with it. */
struct line {
        char buf[512];
        size_t len;
};
void line_add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Deterministic per-sector pattern the host checks in the disk image. */
void fill_sector(uint8_t *s, const char *tag, uint64_t lba);

/* main.c: the command line, the result lines, the end. */
__attribute__((noreturn)) void guest_power_off(void);
unsigned long opt_num(const char *key, unsigned long dflt);
enum result { PASS, FAIL, SKIP };
void report(const char *test, enum result r, const struct line *detail);
/* Bounded wait: true while fewer than `ms` (approximate) milliseconds passed. */
bool within(uint64_t start_tsc, unsigned long ms);
unsigned long tsc_went_back(uint64_t start_tsc);
/* Raw guest RAM outside the image, for the large I/O buffers. */
#define SCRATCH_BASE 0x400000UL

/* pci.c */
struct pci_fn {
        uint8_t slot, fn;
        uint16_t vendor, device;
        uint32_t class_code; /* base << 16 | sub << 8 | prog_if */
};
uint32_t pci_read32(const struct pci_fn *f, unsigned off);
uint16_t pci_read16(const struct pci_fn *f, unsigned off);
uint8_t pci_read8(const struct pci_fn *f, unsigned off);
void pci_write32(const struct pci_fn *f, unsigned off, uint32_t v);
void pci_write16(const struct pci_fn *f, unsigned off, uint16_t v);
/* Scans bus 0 once; returns the count and the table. */
unsigned pci_scan(const struct pci_fn **out);
const struct pci_fn *pci_find(uint16_t vendor, uint16_t device);
const struct pci_fn *pci_find_class(uint32_t class_code, uint32_t mask);
/* Memory address of BAR `bar`, assigned from the layout window when the
 * firmware left it 0 (QEMU's PVH path has no BIOS). Enables decode. */
uint64_t pci_bar_addr(const struct pci_fn *f, int bar);

/* irq.c: MSI-X entry 0 of a function delivers IRQ_VECTOR_MSI to this CPU. */
#define IRQ_VECTOR_MSI 0x40
int msix_enable_entry0(const struct pci_fn *f, struct line *why);
unsigned long irq_seen(void);
/* Enables interrupts until irq_seen() reaches count or ms pass. */
bool irq_wait(unsigned long count, unsigned long ms);
/* IOAPIC pin gsi to IRQ_VECTOR_LEGACY (or masked), counted apart. */
#define IRQ_VECTOR_LEGACY 0x41
void ioapic_route(unsigned gsi, bool enable);
unsigned long irq_legacy_seen(void);
bool irq_legacy_wait(unsigned long count, unsigned long ms);

/* virtio.c: modern virtio-pci, polled split queues. */
#define VQ_SIZE 64
struct virtq_desc {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        uint16_t next;
};
#define VIRTQ_DESC_F_NEXT  1
#define VIRTQ_DESC_F_WRITE 2
struct virtq {
        struct virtq_desc desc[VQ_SIZE];
        struct {
                uint16_t flags, idx, ring[VQ_SIZE], used_event;
        } avail __attribute__((aligned(2)));
        struct {
                uint16_t flags, idx;
                struct {
                        uint32_t id, len;
                } ring[VQ_SIZE];
                uint16_t avail_event;
        } used __attribute__((aligned(4096)));
        uint16_t size, free_head, last_used, index;
        bool irq;               /* MSI-X vector 0 instead of polling */
        unsigned long irq_mark; /* interrupts seen when the last request went out */
        uint64_t notify_addr;
} __attribute__((aligned(4096)));
struct virtio_dev {
        const struct pci_fn *pci;
        uint64_t common, notify, isr, device_cfg;
        uint32_t notify_mult;
        uint64_t features;
        bool msix; /* queues set up from here on interrupt on MSI-X vector 0 */
};
/* Routes the device's MSI-X vector 0 to this CPU (irq=msix on the cmdline). */
int virtio_use_msix(struct virtio_dev *d, struct line *why);
int virtio_open(struct virtio_dev *d, uint16_t pci_device, struct line *why);
/* Negotiates VERSION_1 plus the wanted features the device offers. */
int virtio_negotiate(struct virtio_dev *d, uint64_t wanted, struct line *why);
int virtio_queue_setup(struct virtio_dev *d, unsigned index, struct virtq *q, struct line *why);
void virtio_driver_ok(struct virtio_dev *d);
void virtio_reset(struct virtio_dev *d);
/* Chains n buffers, makes them available and notifies; returns head id. */
struct vbuf {
        void *addr;
        uint32_t len;
        bool device_writes;
};
int virtq_submit(struct virtq *q, const struct vbuf *bufs, unsigned n, bool notify);
void virtq_notify(struct virtq *q);
/* Polls the used ring; returns 0 with the head id and written length, -1 on timeout. */
int virtq_wait(struct virtq *q, unsigned long ms, uint32_t *id, uint32_t *len);
/* Non-blocking: 1 when an element was used. */
int virtq_poll(struct virtq *q, uint32_t *id, uint32_t *len);
#define VIRTIO_ID_NET     0x1041
#define VIRTIO_ID_BLK     0x1042
#define VIRTIO_ID_CONSOLE 0x1043
#define VIRTIO_ID_RNG     0x1044

/* The tests. */
void test_uart(void);
void test_uart_irq(void);
void test_rtc(void);
void test_cpuid(void);
void test_exits(void);
void test_sleep(void);
void test_count(void);
void test_pci(void);
void test_ide(void);
void test_ide_irq(void);
void test_io_ide(void);
void test_vblk(void);
void test_io_vblk(void);
void test_vnet(void);
void test_vcon(void);
void test_vrng(void);

#endif
