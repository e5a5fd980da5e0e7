/* 16550A UART tests: the register behaviour Linux's 8250 autoconfig and
 * startup code check (scratch, IER mask, FIFO bits in IIR, loopback MSR),
 * interrupt priorities and the level IRQ line, output to a pipe, and input
 * flow control through the event loop. */
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "devices/serial8250.h"
#include "fake_vm.h"
#include "tap.h"

#define BASE 0x3f8
#define GSI  4

enum { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

static struct fake_vm *f;

static uint8_t in8(unsigned reg)
{
        return (uint8_t)fake_pio_in(f, (uint16_t)(BASE + reg), 1);
}

static void out8(unsigned reg, uint8_t v)
{
        fake_pio_out(f, (uint16_t)(BASE + reg), 1, v);
}

static void test_registers(void)
{
        out8(SCR, 0xa5);
        TAP_EQ_INT(in8(SCR), 0xa5, "scratch register holds a value");
        out8(IER, 0xff);
        TAP_EQ_INT(in8(IER), 0x0f, "IER keeps only bits 0-3 (no UUE: not an XScale)");
        out8(IER, 0);
        out8(LCR, 0x80);
        out8(RBR, 0x01);
        out8(IER, 0x00);
        TAP_EQ_INT(in8(RBR), 0x01, "DLAB: divisor latch low");
        TAP_EQ_INT(in8(IER), 0x00, "DLAB: divisor latch high");
        out8(LCR, 0x03);
        TAP_EQ_INT(in8(LCR), 0x03, "LCR 8N1");
        TAP_EQ_INT(in8(IIR) & 0xc0, 0, "FIFO bits clear while FIFO disabled");
        out8(FCR, 0x01);
        TAP_EQ_INT(in8(IIR), 0xc1, "IIR = 0xc1 with FIFO enabled and nothing pending");
        out8(FCR, 0x21);
        TAP_EQ_INT(in8(IIR) >> 5, 6, "no 64-byte FIFO (not a 16750)");
        TAP_EQ_INT(in8(LSR) & 0x60, 0x60, "THRE and TEMT set");
        TAP_EQ_INT(in8(MSR) & 0xf0, 0xb0, "MSR: DCD, DSR, CTS present");
}

static void test_loopback(void)
{
        out8(MCR, 0x10 | 0x0a);
        TAP_EQ_INT(in8(MSR) & 0xf0, 0x90, "loopback RTS|OUT2 -> CTS|DCD (Linux autoconfig)");
        out8(MCR, 0x10 | 0x05);
        TAP_EQ_INT(in8(MSR) & 0xf0, 0x60, "loopback DTR|OUT1 -> DSR|RI");
        out8(FCR, 0x07);
        for (unsigned i = 0; i < 20; i++)
                out8(RBR, (uint8_t)('a' + i));
        TAP_EQ_INT(in8(LSR) & 0x03, 0x03, "looped data ready and overrun after 17+ bytes");
        TAP_EQ_INT(in8(LSR) & 0x02, 0, "reading LSR clears overrun");
        unsigned n = 0;
        int order_ok = 1;
        while ((in8(LSR) & 1) && n < 40) {
                order_ok &= in8(RBR) == 'a' + n;
                n++;
        }
        TAP_EQ_INT(n, 16, "RX FIFO holds 16 bytes");
        tap_ok(order_ok, "FIFO keeps order");
        out8(FCR, 0x00);
        out8(RBR, 'x');
        out8(RBR, 'y');
        TAP_EQ_INT(in8(RBR), 'x', "without FIFO one byte is held");
        TAP_EQ_INT(in8(LSR) & 1, 0, "and the second overran");
        out8(MCR, 0x00);
}

static void test_interrupts(void)
{
        out8(FCR, 0x07);
        out8(IER, 0);
        TAP_EQ_INT(f->irq_level[GSI], 0, "no IRQ with IER = 0");
        unsigned raises = f->irq_raises[GSI];
        out8(IER, 0x02);
        TAP_EQ_INT(f->irq_level[GSI], 1, "enabling THRE interrupt with empty THR asserts");
        TAP_EQ_INT(f->irq_raises[GSI], raises + 1, "one rising edge");
        TAP_EQ_INT(in8(IIR), 0xc2, "IIR reports THRE");
        TAP_EQ_INT(f->irq_level[GSI], 0, "reading IIR acknowledges THRE, line deasserts");
        TAP_EQ_INT(in8(IIR), 0xc1, "nothing pending after");
        out8(MCR, 0x10);
        out8(IER, 0x03);
        out8(RBR, 'z');
        TAP_EQ_INT(in8(IIR), 0xc4, "RX data outranks THRE");
        TAP_EQ_INT(f->irq_level[GSI], 1, "line asserted while RX data pending");
        in8(RBR);
        TAP_EQ_INT(in8(IIR), 0xc2, "then THRE");
        TAP_EQ_INT(in8(IIR), 0xc1, "then nothing");
        TAP_EQ_INT(f->irq_level[GSI], 0, "line deasserted");
        out8(IER, 0x07);
        for (unsigned i = 0; i < 17; i++)
                out8(RBR, 'q');
        TAP_EQ_INT(in8(IIR) & 0x0f, 0x06, "line status (overrun) outranks RX data");
        in8(LSR);
        TAP_EQ_INT(in8(IIR) & 0x0f, 0x04, "RX data after LSR read");
        out8(FCR, 0x03);
        TAP_EQ_INT(in8(LSR) & 1, 0, "FCR clear RX empties the FIFO");
        out8(IER, 0);
        in8(IIR);
        out8(MCR, 0);
}

static void test_output(int out_r, struct serial8250 *s)
{
        char buf[16] = {0};
        uint64_t before = serial8250_tx_bytes(s);

        out8(RBR, 'o');
        out8(RBR, 'k');
        TAP_EQ_INT(read(out_r, buf, sizeof(buf)), 2, "two bytes reached out_fd");
        TAP_EQ_STR(buf, "ok", "bytes in order");
        TAP_EQ_INT(serial8250_tx_bytes(s) - before, 2, "tx counter counts them");
}

static void test_input(int in_r, int in_w)
{
        struct fake_watch *w;
        char data[40];

        for (unsigned i = 0; i < sizeof(data); i++)
                data[i] = (char)('A' + i % 26);
        out8(FCR, 0x07);
        out8(IER, 0x01);
        TAP_EQ_INT(write(in_w, data, sizeof(data)), (long long)sizeof(data), "host input written");
        w = fake_watch_find(f, in_r);
        if (!w) {
                tap_ok(0, "input fd is watched");
                return;
        }
        TAP_EQ_INT(w->events, EPOLLIN, "input fd is watched for EPOLLIN");
        w->cb(w->opaque, EPOLLIN);
        TAP_EQ_INT(f->irq_level[GSI], 1, "RX interrupt asserted");
        TAP_EQ_INT(w->events, 0, "FIFO full: stop watching (no busy loop)");
        unsigned n = 0;
        while (in8(LSR) & 1)
                n += in8(RBR) == data[n];
        TAP_EQ_INT(n, 16, "16 bytes read in order");
        TAP_EQ_INT(w->events, EPOLLIN, "drained: watching again");
        w->cb(w->opaque, EPOLLIN);
        w->cb(w->opaque, EPOLLIN);
        n = 0;
        while (in8(LSR) & 1)
                n += in8(RBR) == data[16 + n];
        TAP_EQ_INT(n, 16, "next 16 bytes");
        w->cb(w->opaque, EPOLLIN);
        n = 0;
        while (in8(LSR) & 1)
                n += in8(RBR) == data[32 + n];
        TAP_EQ_INT(n, 8, "last 8 bytes");
        TAP_EQ_INT(f->irq_level[GSI], 0, "RX interrupt deasserted when drained");
        out8(IER, 0);
}

static void test_input_eof(int in_w)
{
        close(in_w);
        for (unsigned i = 0; i < FAKE_VM_WATCHES; i++)
                if (f->loop.w[i].live)
                        f->loop.w[i].cb(f->loop.w[i].opaque, EPOLLIN | EPOLLHUP);
        unsigned live = 0;
        for (unsigned i = 0; i < FAKE_VM_WATCHES; i++)
                live += f->loop.w[i].live;
        TAP_EQ_INT(live, 0, "EOF on input removes the watch");
}

int main(void)
{
        struct isola_err err = {0};
        struct serial8250 *s = NULL;
        int in[2], out[2];

        f = fake_vm_new(0);
        if (!f || pipe(in) < 0 || pipe2(out, O_NONBLOCK) < 0)
                return 1;
        TAP_EQ_INT(serial8250_create(&f->vm, BASE, GSI, in[0], out[1], &s, &err), 0,
                   "serial8250_create");
        TAP_EQ_INT(serial8250_create(&f->vm, BASE, GSI, -1, -1, &(struct serial8250 *){0}, &err),
                   -1, "second UART on the same ports is refused");
        test_registers();
        test_loopback();
        test_interrupts();
        test_output(out[0], s);
        test_input(in[0], in[1]);
        test_input_eof(in[1]);
        serial8250_destroy(s);
        TAP_EQ_INT(fake_pio_in(f, BASE + LSR, 1), 0xff, "ports released");
        close(in[0]);
        close(out[0]);
        close(out[1]);
        fake_vm_free(f);
        return tap_done();
}
