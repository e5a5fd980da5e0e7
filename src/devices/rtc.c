/* MC146818 RTC + CMOS RAM model (see rtc.h). The clock registers are not
 * stored: each read converts host CLOCK_REALTIME plus the guest's offset.
 * Register A's UIP bit is set during the last 244 us before each second
 * boundary, where a real chip would be updating, so guests that wait for
 * UIP to clear (Linux's mc146818_get_time) behave as on hardware.
 *
 * Interrupts (IRQ 8): a timerfd on the VM's event loop ticks only while
 * register B enables one: at the periodic rate (capped at 1024 Hz) with
 * PIE, else once per second, aligned to the guest's second boundary, for
 * the update-ended (UIE) and alarm (AIE) interrupts. Each tick sets the
 * flags of register C; when an enabled flag gets set, IRQF goes up and the
 * edge-triggered ISA line is pulsed. Reading C clears it (the guest's ack). */
#include "devices/rtc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/dev_state.h"
#include "vmm/layout.h"
#include "vmm/vm.h"

#define CMOS_SIZE 128

#define REG_SEC      0x00
#define REG_SEC_ALM  0x01
#define REG_MIN      0x02
#define REG_MIN_ALM  0x03
#define REG_HOUR     0x04
#define REG_HOUR_ALM 0x05
#define REG_WDAY     0x06
#define REG_MDAY     0x07
#define REG_MON      0x08
#define REG_YEAR     0x09
#define REG_A        0x0a
#define REG_B        0x0b
#define REG_C        0x0c
#define REG_D        0x0d
#define REG_CENTURY  0x32

#define A_UIP         0x80
#define B_SET         0x80
#define B_DM_BIN      0x04
#define B_24H         0x02
#define D_VRT         0x80
#define B_PIE         0x40
#define B_AIE         0x20
#define B_UIE         0x10
#define C_IRQF        0x80
#define C_PF          0x40
#define C_AF          0x20
#define C_UF          0x10
#define ALARM_ANY     0xc0    /* alarm values 0xC0-0xFF match any */
#define MIN_PERIOD_NS 976562L /* 1024 Hz */
#define HOUR_PM       0x80
#define UIP_NSEC      244000

struct rtc {
        struct vm *vm;
        pthread_mutex_t lock;
        uint8_t index;
        uint8_t cmos[CMOS_SIZE];
        int64_t offset; /* guest seconds - host seconds */
        bool nmi_masked;
        /* While register B's SET bit is on the clock is stopped: field
         * writes go to set_tm, which becomes the time when SET clears. */
        bool frozen;
        struct tm set_tm;
        int timer_fd; /* -1 without an event loop */
        bool timer_watched;
        int64_t last_tick_sec; /* guest second of the previous tick */
};

static uint8_t to_bcd(unsigned v)
{
        return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

static unsigned from_bcd(uint8_t v)
{
        return (v >> 4) * 10u + (v & 0x0f);
}

static uint8_t encode(const struct rtc *r, unsigned v)
{
        return (r->cmos[REG_B] & B_DM_BIN) ? (uint8_t)v : to_bcd(v);
}

static unsigned decode(const struct rtc *r, uint8_t v)
{
        return (r->cmos[REG_B] & B_DM_BIN) ? v : from_bcd(v);
}

static void guest_now(const struct rtc *r, struct tm *tm, long *nsec)
{
        struct timespec ts;
        time_t t;

        clock_gettime(CLOCK_REALTIME, &ts);
        t = (time_t)(ts.tv_sec + r->offset);
        gmtime_r(&t, tm);
        if (nsec)
                *nsec = ts.tv_nsec;
}

static uint8_t encode_hour(const struct rtc *r, int hour)
{
        unsigned h12;

        if (r->cmos[REG_B] & B_24H)
                return encode(r, (unsigned)hour);
        h12 = hour % 12 ? (unsigned)hour % 12 : 12;
        return (uint8_t)(encode(r, h12) | (hour >= 12 ? HOUR_PM : 0));
}

static int decode_hour(const struct rtc *r, uint8_t v)
{
        unsigned h;

        if (r->cmos[REG_B] & B_24H)
                return (int)decode(r, v);
        h = decode(r, v & (uint8_t)~HOUR_PM) % 12;
        return (int)h + ((v & HOUR_PM) ? 12 : 0);
}

static void clock_tm(const struct rtc *r, struct tm *tm)
{
        if (r->frozen)
                *tm = r->set_tm;
        else
                guest_now(r, tm, NULL);
}

static void commit_clock(struct rtc *r, struct tm *tm)
{
        struct timespec ts;
        time_t t = timegm(tm);

        if (t == (time_t)-1)
                return;
        clock_gettime(CLOCK_REALTIME, &ts);
        r->offset = (int64_t)t - ts.tv_sec;
}

static uint8_t read_clock(const struct rtc *r, unsigned reg)
{
        struct tm tm;

        clock_tm(r, &tm);
        switch (reg) {
        case REG_SEC:
                return encode(r, (unsigned)tm.tm_sec % 60);
        case REG_MIN:
                return encode(r, (unsigned)tm.tm_min);
        case REG_HOUR:
                return encode_hour(r, tm.tm_hour);
        case REG_WDAY:
                return encode(r, (unsigned)tm.tm_wday + 1);
        case REG_MDAY:
                return encode(r, (unsigned)tm.tm_mday);
        case REG_MON:
                return encode(r, (unsigned)tm.tm_mon + 1);
        case REG_YEAR:
                return encode(r, (unsigned)(tm.tm_year + 1900) % 100);
        default: /* REG_CENTURY */
                return encode(r, (unsigned)(tm.tm_year + 1900) / 100);
        }
}

/* The guest sets one clock field: rebuild the guest time with it replaced
 * and keep the difference to the host clock. Nonsense values (a BCD digit
 * above 9, month 0) are clamped by timegm's normalisation, never stored. */
static void write_clock(struct rtc *r, unsigned reg, uint8_t v)
{
        struct tm tm;
        int year;

        clock_tm(r, &tm);
        switch (reg) {
        case REG_SEC:
                tm.tm_sec = (int)decode(r, v) % 60;
                break;
        case REG_MIN:
                tm.tm_min = (int)decode(r, v) % 60;
                break;
        case REG_HOUR:
                tm.tm_hour = decode_hour(r, v) % 24;
                break;
        case REG_WDAY:
                return; /* derived from the date */
        case REG_MDAY:
                tm.tm_mday = (int)decode(r, v) % 32;
                break;
        case REG_MON:
                tm.tm_mon = (int)decode(r, v) % 13 - 1;
                break;
        case REG_YEAR:
                year = (tm.tm_year + 1900) / 100 * 100 + (int)decode(r, v) % 100;
                tm.tm_year = year - 1900;
                break;
        default: /* REG_CENTURY */
                year = (int)decode(r, v) % 100 * 100 + (tm.tm_year + 1900) % 100;
                tm.tm_year = year - 1900;
                break;
        }
        if (r->frozen)
                r->set_tm = tm;
        else
                commit_clock(r, &tm);
}

static void rearm_timer(struct rtc *r);

static bool is_clock_reg(unsigned reg)
{
        return reg == REG_SEC || reg == REG_MIN || reg == REG_HOUR || reg == REG_WDAY ||
               reg == REG_MDAY || reg == REG_MON || reg == REG_YEAR || reg == REG_CENTURY;
}

static uint8_t reg_read(struct rtc *r, unsigned reg)
{
        uint8_t v;
        long nsec;
        struct tm tm;

        if (is_clock_reg(reg))
                return read_clock(r, reg);
        switch (reg) {
        case REG_A:
                guest_now(r, &tm, &nsec);
                v = r->cmos[REG_A] & (uint8_t)~A_UIP;
                if (!(r->cmos[REG_B] & B_SET) && nsec >= 1000000000L - UIP_NSEC)
                        v |= A_UIP;
                return v;
        case REG_C:
                v = r->cmos[REG_C];
                r->cmos[REG_C] = 0; /* flags clear on read */
                return v;
        case REG_D:
                return D_VRT;
        default:
                return r->cmos[reg];
        }
}

static void reg_write(struct rtc *r, unsigned reg, uint8_t v)
{
        if (is_clock_reg(reg)) {
                write_clock(r, reg, v);
                return;
        }
        switch (reg) {
        case REG_A:
                r->cmos[REG_A] = v & (uint8_t)~A_UIP;
                rearm_timer(r);
                break;
        case REG_B:
                /* Changing the data mode changes only how registers read:
                 * the time itself is kept as an offset. */
                if ((v & B_SET) && !r->frozen) {
                        guest_now(r, &r->set_tm, NULL);
                        r->frozen = true;
                } else if (!(v & B_SET) && r->frozen) {
                        r->frozen = false;
                        commit_clock(r, &r->set_tm);
                }
                r->cmos[REG_B] = v;
                rearm_timer(r);
                break;
        case REG_C:
        case REG_D:
                break; /* read-only */
        default:
                r->cmos[reg] = v;
                break;
        }
}

/* Periodic interrupt period from register A's rate bits; 0 when off. */
static long periodic_ns(const struct rtc *r)
{
        unsigned rate = r->cmos[REG_A] & 0x0f;
        long hz;

        if (rate == 0)
                return 0;
        hz = rate <= 2 ? 256 >> (rate - 1) : 65536 >> rate;
        return 1000000000L / hz < MIN_PERIOD_NS ? MIN_PERIOD_NS : 1000000000L / hz;
}

/* Arms the tick timer for what register B enables now (lock held). */
static void rearm_timer(struct rtc *r)
{
        uint8_t b = r->cmos[REG_B];
        long period = (b & B_PIE) ? periodic_ns(r) : 0;
        struct itimerspec its = {0};
        struct timespec now;

        if (r->timer_fd < 0)
                return;
        if (!(b & B_SET) && period) {
                its.it_interval.tv_nsec = period;
                its.it_value.tv_nsec = period;
                timerfd_settime(r->timer_fd, 0, &its, NULL);
        } else if (!(b & B_SET) && (b & (B_UIE | B_AIE))) {
                /* Realtime, absolute: fire just after each second boundary. */
                clock_gettime(CLOCK_REALTIME, &now);
                its.it_value.tv_sec = now.tv_sec + 1;
                its.it_value.tv_nsec = 1000;
                its.it_interval.tv_sec = 1;
                timerfd_settime(r->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
        } else {
                timerfd_settime(r->timer_fd, 0, &its, NULL);
        }
}

static bool alarm_matches(const struct rtc *r, const struct tm *tm)
{
        uint8_t s = r->cmos[REG_SEC_ALM], m = r->cmos[REG_MIN_ALM], h = r->cmos[REG_HOUR_ALM];

        return (s >= ALARM_ANY || s == encode(r, (unsigned)tm->tm_sec % 60)) &&
               (m >= ALARM_ANY || m == encode(r, (unsigned)tm->tm_min)) &&
               (h >= ALARM_ANY || h == encode_hour(r, tm->tm_hour));
}

/* Loop thread: the tick timer expired. */
static void rtc_tick(void *opaque, uint32_t events)
{
        struct rtc *r = opaque;
        uint64_t expirations;
        struct timespec ts;
        struct tm tm;
        uint8_t flags = 0;
        bool pulse = false;

        (void)events;
        if (read(r->timer_fd, &expirations, sizeof(expirations)) != sizeof(expirations))
                return;
        pthread_mutex_lock(&r->lock);
        clock_gettime(CLOCK_REALTIME, &ts);
        if (r->cmos[REG_B] & B_PIE)
                flags |= C_PF;
        if (ts.tv_sec + r->offset != r->last_tick_sec) {
                r->last_tick_sec = ts.tv_sec + r->offset;
                guest_now(r, &tm, NULL);
                flags |= C_UF;
                if (alarm_matches(r, &tm))
                        flags |= C_AF;
        }
        r->cmos[REG_C] |= flags;
        if ((r->cmos[REG_C] & r->cmos[REG_B] & (C_PF | C_AF | C_UF)) &&
            !(r->cmos[REG_C] & C_IRQF)) {
                r->cmos[REG_C] |= C_IRQF;
                pulse = true;
        }
        pthread_mutex_unlock(&r->lock);
        if (pulse && r->vm) {
                vm_irq_line(r->vm, LAYOUT_IRQ_RTC, 1);
                vm_irq_line(r->vm, LAYOUT_IRQ_RTC, 0);
        }
}

static void timer_init(struct rtc *r)
{
        struct isola_err err;

        r->timer_fd = -1;
        if (!r->vm->loop)
                return;
        r->timer_fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
        if (r->timer_fd < 0)
                return; /* no interrupts; the clock itself still works */
        if (evloop_add(r->vm->loop, r->timer_fd, EPOLLIN, rtc_tick, r, &err) < 0) {
                close(r->timer_fd);
                r->timer_fd = -1;
                return;
        }
        r->timer_watched = true;
}

static void rtc_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct rtc *r = opaque;

        if (!is_write)
                memset(data, 0xff, len);
        if (offset > 1)
                return;
        pthread_mutex_lock(&r->lock);
        if (offset == 0) {
                if (is_write) {
                        r->index = data[0] & 0x7f;
                        r->nmi_masked = (data[0] & 0x80) != 0;
                } else {
                        data[0] = r->index; /* the index port is write-only; QEMU-like */
                }
        } else if (is_write) {
                reg_write(r, r->index, data[0]);
        } else {
                data[0] = reg_read(r, r->index);
        }
        pthread_mutex_unlock(&r->lock);
}

static void set16(uint8_t *cmos, unsigned off, uint64_t v)
{
        cmos[off] = (uint8_t)v;
        cmos[off + 1] = (uint8_t)(v >> 8);
}

/* The memory-size bytes a PC BIOS leaves in CMOS, computed as QEMU does. */
static void fill_memory_size(struct rtc *r, const struct guest_mem *mem)
{
        uint64_t below_4g = 0, above_4g = 0, kb, blocks;

        for (unsigned i = 0; i < mem->n_regions && i < GUEST_MEM_MAX_REGIONS; i++) {
                const struct guest_mem_region *reg = &mem->regions[i];
                if (reg->gpa >= LAYOUT_HIGH_RAM_START)
                        above_4g += reg->size;
                else
                        below_4g += reg->size;
        }
        set16(r->cmos, 0x15, 640);
        kb = below_4g / 1024 > 1024 ? below_4g / 1024 - 1024 : 0;
        if (kb > 0xffff)
                kb = 0xffff;
        set16(r->cmos, 0x17, kb);
        set16(r->cmos, 0x30, kb);
        blocks = below_4g > (16ULL << 20) ? (below_4g - (16ULL << 20)) >> 16 : 0;
        if (blocks > 0xffff)
                blocks = 0xffff;
        set16(r->cmos, 0x34, blocks);
        blocks = above_4g >> 16;
        r->cmos[0x5b] = (uint8_t)blocks;
        r->cmos[0x5c] = (uint8_t)(blocks >> 8);
        r->cmos[0x5d] = (uint8_t)(blocks >> 16);
}

static void timer_free(struct rtc *r)
{
        if (r->timer_watched)
                evloop_del(r->vm->loop, r->timer_fd);
        if (r->timer_fd >= 0)
                close(r->timer_fd);
}

int rtc_create(struct vm *vm, struct rtc **out, struct isola_err *err)
{
        struct rtc *r = calloc(1, sizeof(*r));

        if (!r)
                return err_set(err, ENOMEM, "rtc: out of memory");
        r->vm = vm;
        pthread_mutex_init(&r->lock, NULL);
        r->cmos[REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
        r->cmos[REG_B] = B_24H;
        r->cmos[REG_D] = D_VRT;
        fill_memory_size(r, &vm->mem);
        timer_init(r);
        if (io_bus_register(vm->pio_bus, LAYOUT_PORT_RTC, 2, rtc_io, r, err) < 0) {
                timer_free(r);
                pthread_mutex_destroy(&r->lock);
                free(r);
                return err_prefix(err, "rtc ports %#x-%#x", LAYOUT_PORT_RTC, LAYOUT_PORT_RTC + 1);
        }
        *out = r;
        return 0;
}

void rtc_destroy(struct rtc *r)
{
        if (!r)
                return;
        io_bus_unregister(r->vm->pio_bus, LAYOUT_PORT_RTC);
        timer_free(r);
        pthread_mutex_destroy(&r->lock);
        free(r);
}

/* ---- snapshot state (devices/dev_state.h) ---- */

/* The clock keeps its offset to host time, so a restored guest's wall clock
 * has moved on by the time the snapshot lay on disk, as after a suspend. */
void rtc_save(struct rtc *r, struct dstate_w *w)
{
        pthread_mutex_lock(&r->lock);
        dstate_w_u8(w, r->index);
        dstate_w_bytes(w, r->cmos, CMOS_SIZE);
        dstate_w_u64(w, (uint64_t)r->offset);
        dstate_w_bool(w, r->nmi_masked);
        dstate_w_bool(w, r->frozen);
        int tm[] = {r->set_tm.tm_sec, r->set_tm.tm_min,  r->set_tm.tm_hour, r->set_tm.tm_mday,
                    r->set_tm.tm_mon, r->set_tm.tm_year, r->set_tm.tm_wday, r->set_tm.tm_yday};
        for (unsigned i = 0; i < sizeof(tm) / sizeof(tm[0]); i++)
                dstate_w_u32(w, (uint32_t)tm[i]);
        dstate_w_u64(w, (uint64_t)r->last_tick_sec);
        pthread_mutex_unlock(&r->lock);
}

int rtc_load(struct rtc *r, struct dstate_r *rd, struct isola_err *err)
{
        uint8_t index = dstate_r_u8(rd), cmos[CMOS_SIZE];
        dstate_r_bytes(rd, cmos, sizeof(cmos));
        int64_t offset = (int64_t)dstate_r_u64(rd);
        bool nmi = dstate_r_bool(rd), frozen = dstate_r_bool(rd);
        /* struct tm ranges, as guest writes could leave them (bounded). */
        static const uint32_t max[] = {99, 99, 99, 99, 99, 10000, 9, 400};
        int tm[8];
        for (unsigned i = 0; i < 8; i++)
                tm[i] = (int)dstate_r_max(rd, max[i]);
        int64_t last = (int64_t)dstate_r_u64(rd);
        if (index >= CMOS_SIZE)
                rd->bad = true;
        if (dstate_r_end(rd, err) < 0)
                return -1;
        pthread_mutex_lock(&r->lock);
        r->index = index;
        memcpy(r->cmos, cmos, CMOS_SIZE);
        r->offset = offset;
        r->nmi_masked = nmi;
        r->frozen = frozen;
        r->set_tm = (struct tm){.tm_sec = tm[0],
                                .tm_min = tm[1],
                                .tm_hour = tm[2],
                                .tm_mday = tm[3],
                                .tm_mon = tm[4],
                                .tm_year = tm[5],
                                .tm_wday = tm[6],
                                .tm_yday = tm[7]};
        r->last_tick_sec = last;
        rearm_timer(r);
        pthread_mutex_unlock(&r->lock);
        return 0;
}
