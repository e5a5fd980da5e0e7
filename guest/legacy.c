/* Tests of the CPU and the ISA devices: the 8250 UART, the MC146818 RTC,
 * the hypervisor CPUID leaves and the cost of a port-I/O exit. */
#include "guest.h"

#define COM1     0x3f8
#define UART_RBR 0
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

static bool uart_scratch_ok(void)
{
        static const uint8_t values[] = {0x5a, 0xa5, 0x00};
        for (unsigned i = 0; i < sizeof(values); i++) {
                outb(COM1 + UART_SCR, values[i]);
                if (inb(COM1 + UART_SCR) != values[i])
                        return false;
        }
        return true;
}

/* Loopback mode routes THR to RBR and the modem outputs to the modem
 * inputs; nothing may be printed while it is on. */
static bool uart_loopback_ok(uint8_t *msr_out)
{
        bool ok = true;
        outb(COM1 + UART_MCR, 0x13); /* LOOP | RTS | DTR */
        for (unsigned i = 0; i < 32 && (inb(COM1 + UART_LSR) & 1); i++)
                inb(COM1 + UART_RBR);
        *msr_out = inb(COM1 + UART_MSR) & 0xf0;
        outb(COM1, 0xae);
        unsigned spin = 0;
        while (!(inb(COM1 + UART_LSR) & 1) && spin < 1000)
                spin++;
        if (spin == 1000 || inb(COM1 + UART_RBR) != 0xae)
                ok = false;
        outb(COM1 + UART_MCR, 0x03);
        return ok && *msr_out == 0x30; /* CTS = RTS, DSR = DTR */
}

void test_uart(void)
{
        struct line d = {.len = 0};
        uint8_t msr = 0;
        bool scr = uart_scratch_ok();
        bool loop = uart_loopback_ok(&msr);
        line_add(&d, "scratch=%s loopback=%s msr=0x%02x", scr ? "ok" : "bad", loop ? "ok" : "bad",
                 msr);
        report("uart", scr && loop ? PASS : FAIL, &d);
}

/* COM1's THR-empty interrupt through IOAPIC pin 4: enabling it with the
 * transmitter idle raises IRQ 4 at once; reading IIR acknowledges it. */
void test_uart_irq(void)
{
        struct line d = {.len = 0};
        ioapic_route(4, true);
        outb(COM1 + UART_MCR, 0x0b); /* DTR | RTS | OUT2 (gates the IRQ on a PC) */
        unsigned long before = irq_legacy_seen();
        outb(COM1 + 1, 0x02); /* IER: THR empty */
        bool got = irq_legacy_wait(before + 1, 1000);
        uint8_t iir = inb(COM1 + 2);
        outb(COM1 + 1, 0x00);
        outb(COM1 + UART_MCR, 0x03);
        ioapic_route(4, false);
        line_add(&d, "irq=4 interrupts=%lu iir=0x%02x", irq_legacy_seen() - before, iir);
        report("uart_irq", got ? PASS : FAIL, &d);
}

static uint8_t cmos(uint8_t reg)
{
        outb(0x70, reg);
        return inb(0x71);
}

static bool bcd_ok(uint8_t v, unsigned lo, unsigned hi)
{
        if ((v & 0x0f) > 9 || (v >> 4) > 9)
                return false;
        unsigned n = (v >> 4) * 10 + (v & 0x0f);
        return n >= lo && n <= hi;
}

void test_rtc(void)
{
        struct line d = {.len = 0};
        unsigned spin = 0;
        while ((cmos(0x0a) & 0x80) && spin < 10000) /* update in progress */
                spin++;
        uint8_t sec = cmos(0), min = cmos(2), hour = cmos(4), day = cmos(7);
        uint8_t mon = cmos(8), year = cmos(9), cent = cmos(0x32), regb = cmos(0x0b);
        bool bcd = !(regb & 0x04), h24 = regb & 0x02;
        bool ok = bcd && bcd_ok(sec, 0, 59) && bcd_ok(min, 0, 59) &&
                  bcd_ok(hour & 0x7f, 0, h24 ? 23 : 12) && bcd_ok(day, 1, 31) &&
                  bcd_ok(mon, 1, 12) && bcd_ok(year, 0, 99);
        line_add(&d, "time=%02x%02x-%02x-%02xT%02x:%02x:%02x bcd=%d h24=%d regb=0x%02x", cent, year,
                 mon, day, hour, min, sec, bcd, h24, regb);
        report("rtc", ok ? PASS : FAIL, &d);
}

static void sig_string(uint32_t b, uint32_t c, uint32_t d, char out[13])
{
        uint32_t w[3] = {b, c, d};
        memcpy(out, w, 12);
        out[12] = 0;
        for (unsigned i = 0; i < 12; i++)
                if (out[i] && (out[i] < 0x21 || out[i] > 0x7e))
                        out[i] = '_';
        if (!out[0])
                memcpy(out, "none", 5);
}

void test_cpuid(void)
{
        struct line d = {.len = 0};
        uint32_t a, b, c, dx;
        char sig[13] = "none";
        cpuid(1, &a, &b, &c, &dx);
        bool hv = c >> 31;
        uint32_t max = 0, feat = 0;
        if (hv) {
                cpuid(0x40000000, &max, &b, &c, &dx);
                sig_string(b, c, dx, sig);
                if (max >= 0x40000001)
                        cpuid(0x40000001, &feat, &b, &c, &dx);
        }
        line_add(&d, "hypervisor=%d sig=%s hv_max=0x%x kvm_features=0x%x", hv, sig, max, feat);
        report("cpuid", PASS, &d);
}

void test_exits(void)
{
        struct line d = {.len = 0};
        unsigned long n = opt_num("exits", 1000);
        uint64_t t0 = rdtsc();
        for (unsigned long i = 0; i < n; i++)
                inb(COM1 + UART_SCR);
        uint64_t t1 = rdtsc();
        line_add(&d, "pio_reads=%lu tsc_per_exit=%lu", n, n ? (unsigned long)((t1 - t0) / n) : 0UL);
        report("exits", PASS, &d);
}

/* Keeps the VM alive for sleep_ms so a benchmark can sample the VMM. */
void test_sleep(void)
{
        struct line d = {.len = 0};
        unsigned long ms = opt_num("sleep_ms", 100);
        uint64_t t0 = rdtsc();
        while (within(t0, ms))
                __asm__ volatile("pause");
        line_add(&d, "ms=%lu", ms);
        report("sleep", PASS, &d);
}

/* A counter kept in guest memory and printed on COM1 every count_ms: the
 * snapshot tests check that it continues across snapshot and restore with
 * no line lost or repeated. count_n=0 counts until the host stops the VM.
 * count_dirty=R (MiB/s): a memory-writing guest for bench/vm-migrate; after
 * each line it writes one word into each of R * count_ms / 1000 MiB of
 * pages, round-robin over count_dirty_set MiB (64) from DIRTY_BASE, so
 * the VM needs 32 + count_dirty_set MiB of RAM. A TSC that goes back
 * while it waits prints "ISOLA-TSC went back N ms". */
#define DIRTY_BASE 0x2000000UL
void test_count(void)
{
        static volatile unsigned long counter;
        struct line d = {.len = 0};
        unsigned long n = opt_num("count_n", 0), ms = opt_num("count_ms", 50);
        unsigned long rate = opt_num("count_dirty", 0), set = opt_num("count_dirty_set", 64) * 256;
        unsigned long per_line = rate * 256 * ms / 1000, next = 0;

        for (counter = 0; n == 0 || counter < n; counter++) {
                uint64_t t0 = rdtsc();
                print("ISOLA-COUNT %lu\n", counter);
                for (unsigned long i = 0; set && i < per_line; i++, next = (next + 1) % set)
                        *(volatile uint64_t *)(DIRTY_BASE + next * 4096) = counter;
                /* A restored or migrated guest's TSC goes on from where it
                 * was saved: one that went back says so (tests/vm). */
                unsigned long back = 0;
                while (!(back = tsc_went_back(t0)) && within(t0, ms))
                        __asm__ volatile("pause");
                if (back)
                        print("ISOLA-TSC went back %lu ms\n", back);
        }
        line_add(&d, "n=%lu", n);
        report("count", PASS, &d);
}
