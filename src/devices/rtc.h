/* MC146818 real-time clock and 128 bytes of CMOS RAM at ports 0x70 (index,
 * bit 7 masks NMI) / 0x71 (data). Time comes from the host's realtime clock
 * plus an offset the guest may set; registers follow register B's binary/BCD
 * and 12/24-hour bits. CMOS holds the memory sizes at 0x15-0x18, 0x30-0x31,
 * 0x34-0x35 and 0x5b-0x5d like QEMU and kvmtool firmware expects.
 * Periodic (up to 1024 Hz), alarm and update-ended interrupts on IRQ 8,
 * timed by a timerfd on the VM's event loop (none when vm->loop is NULL). */
#ifndef ISOLA_DEVICES_RTC_H
#define ISOLA_DEVICES_RTC_H

#include "util/err.h"

struct vm;
struct rtc;

/* Reads the RAM size from vm->mem to fill the memory-size bytes. */
int rtc_create(struct vm *vm, struct rtc **out, struct isola_err *err);
void rtc_destroy(struct rtc *rtc);

#endif
