/* Fuzzes the small ISA devices through their ports: the 16550A UART at
 * 0x3f8 (with host input arriving through its event-loop callback), the
 * i8042 at 0x60/0x64 and the RTC/CMOS at 0x70/0x71. Records are 3 bytes:
 * port selector, width/direction, value; selector 13 feeds one byte of host
 * input to the UART. Invariant: nothing crashes or trips a sanitizer, and
 * every IRQ line the devices drive stays a 0/1 level. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../devices/fake_vm.h"
#include "devices/i8042.h"
#include "devices/rtc.h"
#include "devices/serial8250.h"

static const uint16_t ports[] = {0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe,
                                 0x3ff, 0x60,  0x64,  0x70,  0x71,  0x72};
#define N_PORTS (sizeof(ports) / sizeof(ports[0]))

static void feed_input(struct fake_vm *f, int in_r, int in_w, uint8_t b)
{
        struct fake_watch *w = fake_watch_find(f, in_r);

        if (write(in_w, &b, 1) != 1 || !w || !(w->events & EPOLLIN))
                return;
        w->cb(w->opaque, EPOLLIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct fake_vm *f = fake_vm_new(0);
        struct serial8250 *uart = NULL;
        struct i8042 *kbc = NULL;
        struct rtc *rtc = NULL;
        struct isola_err err;
        int in[2] = {-1, -1};

        if (!f)
                return 0;
        f->vm.mem.regions[0] = (struct guest_mem_region){0, 256ULL << 20, NULL};
        f->vm.mem.n_regions = 1;
        if (pipe2(in, O_NONBLOCK | O_CLOEXEC) < 0 ||
            serial8250_create(&f->vm, 0x3f8, 4, in[0], -1, &uart, &err) < 0 ||
            i8042_create(&f->vm, &kbc, &err) < 0 || rtc_create(&f->vm, &rtc, &err) < 0)
                goto out;
        for (size_t i = 0; i + 3 <= size; i += 3) {
                unsigned sel = data[i] % (N_PORTS + 1);
                bool is_write = data[i + 1] & 1;
                unsigned len = 1u << ((data[i + 1] >> 1) & 3);
                uint8_t d[8];

                if (sel == N_PORTS) {
                        feed_input(f, in[0], in[1], data[i + 2]);
                        continue;
                }
                memset(d, data[i + 2], sizeof(d));
                io_bus_dispatch(f->vm.pio_bus, ports[sel], d, len > 4 ? 4 : len, is_write);
        }
        for (unsigned g = 0; g < FAKE_VM_GSIS; g++)
                if (f->irq_level[g] != 0 && f->irq_level[g] != 1)
                        abort();
out:
        rtc_destroy(rtc);
        i8042_destroy(kbc);
        serial8250_destroy(uart);
        if (in[0] >= 0) {
                close(in[0]);
                close(in[1]);
        }
        fake_vm_free(f);
        return 0;
}
