/* The guest's main: finds the command line (PVH start info or Linux-style
 * boot_params), runs the tests it names, prints one result line per test on
 * COM1 and powers the machine off.
 *
 * Command line: tests=a,b,c (default: all but the I/O benchmarks) plus
 * options read by the tests: sectors=N, io_mib=N, vnet_echo=1, vnet_wait=MS,
 * exits=N, sleep_ms=MS, count_n=N, count_ms=MS, pci_reassign=1, irq_msix=1. An empty tests= runs
 * nothing. */
#include "guest.h"

#define PVH_MAGIC        0x336ec578
#define BOOT_PVH         1
#define BOOT_ELF64       2
#define LINUX_HDRS_MAGIC 0x53726448 /* "HdrS" at boot_params + 0x202 */

static char cmdline[1024];
static unsigned n_pass, n_fail, n_skip;
static uint64_t tsc_per_ms = 2500000;

static const struct {
        const char *name;
        void (*run)(void);
        bool by_default;
} tests[] = {
    {"uart", test_uart, true},        {"uart_irq", test_uart_irq, true},
    {"pci", test_pci, true},          {"rtc", test_rtc, true},
    {"cpuid", test_cpuid, true},      {"ide", test_ide, true},
    {"ide_irq", test_ide_irq, true},  {"vblk", test_vblk, true},
    {"vnet", test_vnet, true},        {"vcon", test_vcon, true},
    {"vrng", test_vrng, true},        {"exits", test_exits, false},
    {"sleep", test_sleep, false},     {"io_ide", test_io_ide, false},
    {"io_vblk", test_io_vblk, false}, {"count", test_count, false},
};
#define N_TESTS (sizeof(tests) / sizeof(tests[0]))

static void copy_cmdline(uint64_t paddr)
{
        const char *s = (const char *)paddr;
        size_t i = 0;
        if (!paddr)
                return;
        for (; i < sizeof(cmdline) - 1 && s[i]; i++)
                cmdline[i] = s[i];
        cmdline[i] = 0;
}

/* Returns the boot protocol that handed us the command line. */
static const char *find_cmdline(uint64_t boot, int mode)
{
        if (mode == BOOT_PVH && boot && *(volatile uint32_t *)boot == PVH_MAGIC) {
                copy_cmdline(*(volatile uint64_t *)(boot + 24));
                return "pvh";
        }
        /* Linux boot_params: isola's ELF64 loader fills cmd_line_ptr (0x228)
         * without the "HdrS" header; accept either, if it points low. */
        if (mode == BOOT_ELF64 && boot && boot < 0x100000) {
                uint32_t cl = *(volatile uint32_t *)(boot + 0x228);
                bool hdrs = *(volatile uint32_t *)(boot + 0x202) == LINUX_HDRS_MAGIC;
                if (cl && cl < 0x100000) {
                        copy_cmdline(cl);
                        return hdrs ? "elf64-bootparams" : "elf64";
                }
        }
        return mode == BOOT_PVH ? "pvh-nostartinfo" : "elf64-nocmdline";
}

/* Looks up key=value in the command line; value points into cmdline. */
static const char *opt_find(const char *key, size_t *len)
{
        size_t kl = strlen(key);
        for (const char *p = cmdline; *p;) {
                while (*p == ' ')
                        p++;
                const char *tok = p;
                while (*p && *p != ' ')
                        p++;
                if ((size_t)(p - tok) > kl && tok[kl] == '=' && memcmp(tok, key, kl) == 0) {
                        *len = (size_t)(p - tok) - kl - 1;
                        return tok + kl + 1;
                }
        }
        return NULL;
}

unsigned long opt_num(const char *key, unsigned long dflt)
{
        size_t len;
        const char *v = opt_find(key, &len);
        if (!v || !len)
                return dflt;
        unsigned long n = 0;
        for (size_t i = 0; i < len; i++) {
                if (v[i] < '0' || v[i] > '9')
                        return dflt;
                n = n * 10 + (unsigned long)(v[i] - '0');
        }
        return n;
}

void report(const char *test, enum result r, const struct line *detail)
{
        static const char *const names[] = {"PASS", "FAIL", "SKIP"};
        if (r == PASS)
                n_pass++;
        else if (r == FAIL)
                n_fail++;
        else
                n_skip++;
        print("ISOLA-TEST %s %s %s\n", test, names[r], detail ? detail->buf : "");
}

bool within(uint64_t start_tsc, unsigned long ms)
{
        return rdtsc() - start_tsc < ms * tsc_per_ms;
}

/* ms: the TSC went back by about that much since start_tsc (0: it did not). */
unsigned long tsc_went_back(uint64_t start_tsc)
{
        uint64_t now = rdtsc();
        return now < start_tsc ? (unsigned long)((start_tsc - now) / tsc_per_ms) + 1 : 0;
}

/* TSC rate: the hypervisor's timing leaf (0x40000010, kHz) or the CPU's
 * base frequency leaf (0x16, MHz); else a guess, only used for timeouts. */
static void calibrate_tsc(void)
{
        uint32_t a, b, c, d;
        cpuid(1, &a, &b, &c, &d);
        if (c >> 31) {
                cpuid(0x40000000, &a, &b, &c, &d);
                if (a >= 0x40000010) {
                        cpuid(0x40000010, &a, &b, &c, &d);
                        if (a) {
                                tsc_per_ms = a;
                                return;
                        }
                }
        }
        cpuid(0, &a, &b, &c, &d);
        if (a >= 0x16) {
                cpuid(0x16, &a, &b, &c, &d);
                if (a)
                        tsc_per_ms = (uint64_t)a * 1000;
        }
}

static void run_one(const char *name, size_t len)
{
        for (unsigned i = 0; i < N_TESTS; i++) {
                if (str_eq_n(name, tests[i].name, len)) {
                        tests[i].run();
                        return;
                }
        }
        char n[32];
        size_t l = len < sizeof(n) - 1 ? len : sizeof(n) - 1;
        memcpy(n, name, l);
        n[l] = 0;
        struct line d = {.len = 0};
        line_add(&d, "reason=unknown-test");
        report(n, FAIL, &d);
}

static void run_tests(void)
{
        size_t len;
        const char *list = opt_find("tests", &len);
        if (!list) {
                for (unsigned i = 0; i < N_TESTS; i++)
                        if (tests[i].by_default)
                                tests[i].run();
                return;
        }
        for (size_t i = 0; i < len;) {
                size_t j = i;
                while (j < len && list[j] != ',')
                        j++;
                if (j > i)
                        run_one(list + i, j - i);
                i = j + 1;
        }
}

/* ACPI S5 (isola: SLP_TYP 5; QEMU's PIIX4 PM: SLP_TYP 0, both at 0x604),
 * then QEMU's isa-debug-exit, then an i8042 reset pulse. */
void guest_power_off(void)
{
        outw(0x604, 0x3400);
        outw(0x604, 0x2000);
        outb(0xf4, 0);
        outb(0x64, 0xfe);
        for (;;)
                __asm__ volatile("cli; hlt");
}

void guest_main(uint64_t boot, int mode);
void guest_main(uint64_t boot, int mode)
{
        uart_init();
        print("ISOLA-GUEST start\n");
        const char *proto = find_cmdline(boot, mode);
        calibrate_tsc();
        print("ISOLA-GUEST boot=%s cmdline=\"%s\"\n", proto, cmdline);
        run_tests();
        print("ISOLA-DONE pass=%u fail=%u skip=%u\n", n_pass, n_fail, n_skip);
        guest_power_off();
}
