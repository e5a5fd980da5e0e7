/* RTC/CMOS tests: the clock in BCD and binary, 12-hour mode, setting the
 * time, the UIP bit, registers C/D, NMI mask in the index and the memory
 * size bytes. */
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>

#include "devices/rtc.h"
#include "fake_vm.h"
#include "tap.h"

static struct fake_vm *f;

static uint8_t cmos(uint8_t idx)
{
        fake_pio_out(f, 0x70, 1, idx);
        return (uint8_t)fake_pio_in(f, 0x71, 1);
}

static void cmos_set(uint8_t idx, uint8_t v)
{
        fake_pio_out(f, 0x70, 1, idx);
        fake_pio_out(f, 0x71, 1, v);
}

static int bcd_ok(uint8_t v)
{
        return (v & 0x0f) <= 9 && (v >> 4) <= 9;
}

static unsigned bcd(uint8_t v)
{
        return (v >> 4) * 10u + (v & 0x0f);
}

/* Guest time from the registers, read Linux-style: wait for UIP clear, read,
 * retry if the seconds changed. */
static time_t read_rtc_time(int binary)
{
        struct tm tm = {0};
        uint8_t sec;

        for (int tries = 0; tries < 1000000 && (cmos(0x0a) & 0x80); tries++)
                ;
        do {
                sec = cmos(0x00);
                tm.tm_sec = binary ? sec : (int)bcd(sec);
                tm.tm_min = binary ? cmos(0x02) : (int)bcd(cmos(0x02));
                tm.tm_hour = binary ? cmos(0x04) : (int)bcd(cmos(0x04));
                tm.tm_mday = binary ? cmos(0x07) : (int)bcd(cmos(0x07));
                tm.tm_mon = (binary ? cmos(0x08) : (int)bcd(cmos(0x08))) - 1;
                int yy = binary ? cmos(0x09) : (int)bcd(cmos(0x09));
                int cc = binary ? cmos(0x32) : (int)bcd(cmos(0x32));
                tm.tm_year = cc * 100 + yy - 1900;
        } while (sec != cmos(0x00));
        return timegm(&tm);
}

/* Waits for the RTC's timer (the only fd it watches) and runs its callback. */
static int tick(int timeout_ms)
{
        struct fake_watch *w = NULL;
        struct pollfd p;

        for (unsigned i = 0; i < FAKE_VM_WATCHES; i++)
                if (f->loop.w[i].live)
                        w = &f->loop.w[i];
        if (!w)
                return -1;
        p = (struct pollfd){.fd = w->fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) != 1)
                return 0;
        w->cb(w->opaque, EPOLLIN);
        return 1;
}

static void test_interrupts(void)
{
        unsigned raises = f->irq_raises[8];

        cmos_set(0x0b, 0x12); /* UIE, 24h, BCD */
        TAP_EQ_INT(tick(1500), 1, "update-ended interrupt timer fires within a second");
        TAP_EQ_INT(cmos(0x0c) & 0xf0, 0x90, "register C: IRQF | UF");
        TAP_EQ_INT(f->irq_raises[8], raises + 1, "IRQ 8 pulsed");
        TAP_EQ_INT(cmos(0x0c), 0, "reading C cleared it");
        cmos_set(0x01, 0xff);
        cmos_set(0x03, 0xff);
        cmos_set(0x05, 0xff);
        cmos_set(0x0b, 0x22); /* AIE only, alarm matches any time */
        tick(1500);
        TAP_EQ_INT(cmos(0x0c) & 0xa0, 0xa0, "alarm (don't-care fields): IRQF | AF");
        cmos_set(0x0a, 0x2f); /* 2 Hz */
        cmos_set(0x0b, 0x42);
        raises = f->irq_raises[8];
        tick(1000);
        TAP_EQ_INT(cmos(0x0c) & 0xc0, 0xc0, "periodic interrupt: IRQF | PF");
        TAP_EQ_INT(f->irq_raises[8], raises + 1, "IRQ 8 pulsed for PF");
        cmos_set(0x0b, 0x02);
        cmos_set(0x0a, 0x26);
        TAP_EQ_INT(tick(700), 0, "no interrupts enabled: the timer is quiet");
}

int main(void)
{
        struct isola_err err = {0};
        struct rtc *r = NULL;
        /* 3 GiB below 4 GiB + 1 GiB above, in two regions (no backing). */
        f = fake_vm_new(0);
        if (!f)
                return 1;
        f->vm.mem.regions[0] = (struct guest_mem_region){0, 0xC0000000ULL, NULL};
        f->vm.mem.regions[1] = (struct guest_mem_region){0x100000000ULL, 1ULL << 30, NULL};
        f->vm.mem.n_regions = 2;
        TAP_EQ_INT(rtc_create(&f->vm, &r, &err), 0, "rtc_create");

        TAP_EQ_INT(cmos(0x0b) & 0x06, 0x02, "register B: 24-hour, BCD");
        TAP_EQ_INT(cmos(0x0d), 0x80, "register D: valid RAM and time");
        uint8_t s = cmos(0x00), m = cmos(0x02), h = cmos(0x04), d = cmos(0x07), mo = cmos(0x08),
                y = cmos(0x09);
        tap_ok(bcd_ok(s) && bcd_ok(m) && bcd_ok(h) && bcd_ok(d) && bcd_ok(mo) && bcd_ok(y),
               "time registers are valid BCD");
        time_t now = time(NULL), t = read_rtc_time(0);
        tap_ok(llabs((long long)(t - now)) <= 2, "BCD time within 2 s of the host (%lld)",
               (long long)(t - now));
        cmos_set(0x0b, 0x06);
        t = read_rtc_time(1);
        tap_ok(llabs((long long)(t - time(NULL))) <= 2, "binary mode time within 2 s");
        cmos_set(0x0b, 0x04);
        uint8_t h12 = cmos(0x04);
        tap_ok((h12 & 0x7f) >= 1 && (h12 & 0x7f) <= 12, "12-hour mode hour in 1..12 (%#x)", h12);
        cmos_set(0x0b, 0x02);

        /* Set 2031-05-06 07:08:09 the way Linux does it (SET bit). */
        cmos_set(0x0b, 0x82);
        cmos_set(0x00, 0x09);
        cmos_set(0x02, 0x08);
        cmos_set(0x04, 0x07);
        cmos_set(0x07, 0x06);
        cmos_set(0x08, 0x05);
        cmos_set(0x09, 0x31);
        cmos_set(0x32, 0x20);
        TAP_EQ_INT(cmos(0x00), 0x09, "clock stopped while SET");
        cmos_set(0x0b, 0x02);
        struct tm want = {
            .tm_year = 131, .tm_mon = 4, .tm_mday = 6, .tm_hour = 7, .tm_min = 8, .tm_sec = 9};
        t = read_rtc_time(0);
        tap_ok(llabs((long long)(t - timegm(&want))) <= 2, "guest-set time is kept");
        TAP_EQ_INT(cmos(0x06), 3, "day of week follows the date (Tuesday)");

        /* UIP lasts 244 us before each second: sleep to just before a
         * boundary, then poll, so a loaded machine cannot make us miss it. */
        unsigned uip = 0;
        for (int attempt = 0; !uip && attempt < 10; attempt++) {
                struct timespec now, wake;
                clock_gettime(CLOCK_REALTIME, &now);
                wake.tv_sec = now.tv_sec;
                wake.tv_nsec = 1000000000L - 3000000L;
                if (now.tv_nsec >= wake.tv_nsec)
                        wake.tv_sec++;
                clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &wake, NULL);
                /* poll from 3 ms before the boundary until just past it */
                do {
                        uip = cmos(0x0a) & 0x80;
                        clock_gettime(CLOCK_REALTIME, &now);
                } while (!uip && now.tv_sec == wake.tv_sec);
        }
        tap_ok(uip, "UIP is seen around a second boundary");
        TAP_EQ_INT(cmos(0x0c), 0, "register C reads 0 (no interrupts)");
        cmos_set(0x3f, 0x77);
        TAP_EQ_INT(cmos(0x80 | 0x3f), 0x77, "NMI mask bit does not change the index");
        TAP_EQ_INT(cmos(0x15) | cmos(0x16) << 8, 640, "base memory 640 KiB");
        TAP_EQ_INT(cmos(0x30) | cmos(0x31) << 8, 0xffff, "extended memory capped");
        TAP_EQ_INT(cmos(0x34) | cmos(0x35) << 8, (0xC0000000 - (16 << 20)) >> 16,
                   "0x34/0x35: RAM above 16 MiB in 64 KiB units");
        TAP_EQ_INT(cmos(0x5b) | cmos(0x5c) << 8 | cmos(0x5d) << 16, (1 << 30) >> 16,
                   "0x5b-0x5d: RAM above 4 GiB in 64 KiB units");
        test_interrupts();
        rtc_destroy(r);
        TAP_EQ_INT(f->loop.dels, 1, "timer removed from the event loop");
        TAP_EQ_INT(fake_pio_in(f, 0x71, 1), 0xff, "ports released");
        fake_vm_free(f);
        return tap_done();
}
