/* 16550A UART model (see serial8250.h). Transmission is instantaneous: THR
 * and the shift register are always empty again when the guest looks, so
 * LSR.THRE/TEMT stay set and a THRE interrupt follows every write while
 * enabled. Receive flow control: the event loop watches in_fd only while the
 * RX FIFO has room, so a guest that does not read input costs nothing. */
#include "devices/serial8250.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "devices/dev_state.h"
#include "util/fs.h"
#include "vmm/vm.h"

#define UART_FIFO_SIZE 16

enum uart_reg { REG_DATA, REG_IER, REG_IIR_FCR, REG_LCR, REG_MCR, REG_LSR, REG_MSR, REG_SCR };

#define IER_RDI      0x01
#define IER_THRI     0x02
#define IER_RLSI     0x04
#define IER_MSI      0x08
#define IER_MASK     0x0f
#define IIR_NO_INT   0x01
#define IIR_MSI      0x00
#define IIR_THRI     0x02
#define IIR_RDI      0x04
#define IIR_RLSI     0x06
#define IIR_FIFO_ON  0xc0
#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define LCR_DLAB     0x80
#define MCR_DTR      0x01
#define MCR_RTS      0x02
#define MCR_OUT1     0x04
#define MCR_OUT2     0x08
#define MCR_LOOP     0x10
#define MCR_MASK     0x1f
#define LSR_DR       0x01
#define LSR_OE       0x02
#define LSR_BI       0x10
#define LSR_THRE     0x20
#define LSR_TEMT     0x40
#define LSR_ERRORS   0x1e
#define MSR_DCTS     0x01
#define MSR_DDSR     0x02
#define MSR_TERI     0x04
#define MSR_DDCD     0x08
#define MSR_DELTAS   0x0f
#define MSR_CTS      0x10
#define MSR_DSR      0x20
#define MSR_RI       0x40
#define MSR_DCD      0x80

struct serial8250 {
        struct vm *vm;
        uint16_t port;
        uint32_t gsi;
        int in_fd, out_fd;
        pthread_mutex_t lock;
        uint8_t ier, fcr, lcr, mcr, lsr_err, msr, scr, dll, dlm;
        bool thr_ipending;
        bool irq_level;
        uint8_t rx[UART_FIFO_SIZE];
        unsigned rx_head, rx_count;
        uint64_t tx_bytes;
        /* in_fd watch state: watch_lock orders the evloop_mod calls so the
         * last decision taken is the one applied. */
        pthread_mutex_t watch_lock;
        bool in_watched, in_registered; /* under watch_lock */
        bool in_eof, in_hup;            /* under lock */
};

static unsigned rx_capacity(const struct serial8250 *s)
{
        return (s->fcr & FCR_ENABLE) ? UART_FIFO_SIZE : 1;
}

static void rx_push(struct serial8250 *s, uint8_t b)
{
        if (s->rx_count >= rx_capacity(s)) {
                s->lsr_err |= LSR_OE;
                return;
        }
        s->rx[(s->rx_head + s->rx_count) % UART_FIFO_SIZE] = b;
        s->rx_count++;
}

static uint8_t rx_pop(struct serial8250 *s)
{
        uint8_t b;

        if (!s->rx_count)
                return 0;
        b = s->rx[s->rx_head];
        s->rx_head = (s->rx_head + 1) % UART_FIFO_SIZE;
        s->rx_count--;
        return b;
}

static void rx_clear(struct serial8250 *s)
{
        s->rx_head = 0;
        s->rx_count = 0;
}

/* Highest-priority pending interrupt, as the IIR reports it. */
static uint8_t pending_iir(const struct serial8250 *s)
{
        if ((s->ier & IER_RLSI) && (s->lsr_err & LSR_ERRORS))
                return IIR_RLSI;
        if ((s->ier & IER_RDI) && s->rx_count)
                return IIR_RDI;
        if ((s->ier & IER_THRI) && s->thr_ipending)
                return IIR_THRI;
        if ((s->ier & IER_MSI) && (s->msr & MSR_DELTAS))
                return IIR_MSI;
        return IIR_NO_INT;
}

/* Called with s->lock held after every state change. */
static void update_irq(struct serial8250 *s)
{
        bool level = pending_iir(s) != IIR_NO_INT;

        if (level == s->irq_level)
                return;
        s->irq_level = level;
        if (s->vm)
                vm_irq_line(s->vm, s->gsi, level);
}

/* Modem status inputs: looped back from MCR in loopback mode, otherwise a
 * permanently connected, ready peer (DCD, DSR, CTS high), as QEMU shows. */
static void update_msr(struct serial8250 *s)
{
        uint8_t in, old = s->msr & 0xf0;

        if (s->mcr & MCR_LOOP)
                in = (uint8_t)(((s->mcr & MCR_RTS) ? MSR_CTS : 0) |
                               ((s->mcr & MCR_DTR) ? MSR_DSR : 0) |
                               ((s->mcr & MCR_OUT1) ? MSR_RI : 0) |
                               ((s->mcr & MCR_OUT2) ? MSR_DCD : 0));
        else
                in = MSR_DCD | MSR_DSR | MSR_CTS;
        s->msr = (uint8_t)((s->msr & MSR_DELTAS) | in);
        if ((old ^ in) & MSR_CTS)
                s->msr |= MSR_DCTS;
        if ((old ^ in) & MSR_DSR)
                s->msr |= MSR_DDSR;
        if ((old ^ in) & MSR_DCD)
                s->msr |= MSR_DDCD;
        if ((old & MSR_RI) && !(in & MSR_RI))
                s->msr |= MSR_TERI;
}

static void serial_input_ready(void *opaque, uint32_t events);

/* What a register access asks the caller to do once s->lock is dropped:
 * writing to out_fd may block (a full pipe), and must not stall the event
 * loop thread, which takes s->lock for input. */
struct uart_effects {
        bool drained; /* RX FIFO space freed: maybe resume reading in_fd */
        bool tx;      /* tx_byte goes to out_fd */
        uint8_t tx_byte;
};

static void transmit(struct serial8250 *s, uint8_t b, struct uart_effects *fx)
{
        s->tx_bytes++;
        if (s->mcr & MCR_LOOP) {
                rx_push(s, b);
        } else if (s->out_fd >= 0) {
                fx->tx = true;
                fx->tx_byte = b;
        }
        s->thr_ipending = true;
}

/* Starts or stops watching in_fd to match the FIFO state: EPOLLIN while
 * the FIFO has room, mask 0 while it is full, and no registration at all
 * after end of file or while a hung-up fd waits for room (epoll reports
 * EPOLLHUP even with an empty mask, which would spin the loop). Must be
 * called without s->lock: the loop thread's callback takes it. */
static void sync_input_watch(struct serial8250 *s)
{
        struct isola_err err;
        bool room, eof, hup;
        struct evloop *loop = s->vm ? s->vm->loop : NULL;

        if (s->in_fd < 0 || !loop)
                return;
        pthread_mutex_lock(&s->watch_lock);
        pthread_mutex_lock(&s->lock);
        room = s->rx_count < rx_capacity(s);
        eof = s->in_eof;
        hup = s->in_hup && !room;
        if (room)
                s->in_hup = false;
        pthread_mutex_unlock(&s->lock);
        if ((eof || hup) && s->in_registered) {
                evloop_del(loop, s->in_fd);
                s->in_registered = false;
        } else if (!eof && !hup && !s->in_registered) {
                if (evloop_add(loop, s->in_fd, room ? EPOLLIN : 0, serial_input_ready, s, &err) ==
                    0) {
                        s->in_registered = true;
                        s->in_watched = room;
                }
        } else if (!eof && !hup && room != s->in_watched) {
                if (evloop_mod(loop, s->in_fd, room ? EPOLLIN : 0, &err) == 0)
                        s->in_watched = room;
        }
        pthread_mutex_unlock(&s->watch_lock);
}

static uint8_t reg_read(struct serial8250 *s, unsigned reg, struct uart_effects *fx)
{
        uint8_t v, iir;

        switch (reg) {
        case REG_DATA:
                if (s->lcr & LCR_DLAB)
                        return s->dll;
                v = rx_pop(s);
                fx->drained = true;
                return v;
        case REG_IER:
                return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
        case REG_IIR_FCR:
                iir = pending_iir(s);
                /* Reading the IIR acknowledges a THRE interrupt it reports. */
                if (iir == IIR_THRI)
                        s->thr_ipending = false;
                return (uint8_t)(iir | ((s->fcr & FCR_ENABLE) ? IIR_FIFO_ON : 0));
        case REG_LCR:
                return s->lcr;
        case REG_MCR:
                return s->mcr;
        case REG_LSR:
                v = (uint8_t)(LSR_THRE | LSR_TEMT | s->lsr_err | (s->rx_count ? LSR_DR : 0));
                s->lsr_err = 0;
                return v;
        case REG_MSR:
                v = s->msr;
                s->msr &= (uint8_t)~MSR_DELTAS;
                return v;
        default:
                return s->scr;
        }
}

static void fcr_write(struct serial8250 *s, uint8_t v)
{
        bool toggled = ((v ^ s->fcr) & FCR_ENABLE) != 0;

        if (toggled || (v & FCR_CLEAR_RX))
                rx_clear(s);
        /* Only the enable and trigger-level bits are kept; the clear bits
         * self-reset, DMA mode and 64-byte mode do not exist on a 16550A. */
        s->fcr = v & (FCR_ENABLE | 0xc0);
        if (!(v & FCR_ENABLE))
                s->fcr = 0;
}

static void reg_write(struct serial8250 *s, unsigned reg, uint8_t v, struct uart_effects *fx)
{
        switch (reg) {
        case REG_DATA:
                if (s->lcr & LCR_DLAB)
                        s->dll = v;
                else
                        transmit(s, v, fx);
                break;
        case REG_IER:
                if (s->lcr & LCR_DLAB) {
                        s->dlm = v;
                        break;
                }
                /* Enabling THRE interrupts with the THR empty raises one at
                 * once; Linux's startup code checks for that. */
                if ((v & IER_THRI) && !(s->ier & IER_THRI))
                        s->thr_ipending = true;
                s->ier = v & IER_MASK;
                break;
        case REG_IIR_FCR:
                fcr_write(s, v);
                fx->drained = true;
                break;
        case REG_LCR:
                s->lcr = v;
                break;
        case REG_MCR:
                s->mcr = v & MCR_MASK;
                update_msr(s);
                break;
        case REG_LSR:
        case REG_MSR:
                break; /* read-only (factory test writes are ignored) */
        default:
                s->scr = v;
                break;
        }
}

static void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct serial8250 *s = opaque;
        struct uart_effects fx = {0};

        if (offset >= 8) {
                memset(data, 0xff, len);
                return;
        }
        pthread_mutex_lock(&s->lock);
        if (is_write)
                reg_write(s, (unsigned)offset, data[0], &fx);
        else
                data[0] = reg_read(s, (unsigned)offset, &fx);
        if (!is_write && len > 1)
                memset(data + 1, 0xff, len - 1);
        update_irq(s);
        pthread_mutex_unlock(&s->lock);
        if (fx.tx)
                (void)fs_write_all(s->out_fd, &fx.tx_byte, 1);
        if (fx.drained)
                sync_input_watch(s);
}

unsigned serial8250_inject_rx(struct serial8250 *s, const uint8_t *buf, unsigned len)
{
        unsigned n = 0;

        pthread_mutex_lock(&s->lock);
        while (n < len && s->rx_count < rx_capacity(s))
                rx_push(s, buf[n++]);
        update_irq(s);
        pthread_mutex_unlock(&s->lock);
        return n;
}

/* Loop thread: in_fd is readable. Reads at most what the FIFO can take. */
static void serial_input_ready(void *opaque, uint32_t events)
{
        struct serial8250 *s = opaque;
        uint8_t buf[UART_FIFO_SIZE];
        unsigned room;
        ssize_t n = 0;

        pthread_mutex_lock(&s->lock);
        room = rx_capacity(s) - s->rx_count;
        pthread_mutex_unlock(&s->lock);
        if (room)
                n = read(s->in_fd, buf, room);
        if (n > 0)
                serial8250_inject_rx(s, buf, (unsigned)n);
        pthread_mutex_lock(&s->lock);
        if (room && (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)))
                s->in_eof = true;
        if (!room && (events & (EPOLLHUP | EPOLLERR)))
                s->in_hup = true;
        pthread_mutex_unlock(&s->lock);
        sync_input_watch(s);
}

int serial8250_create(struct vm *vm, uint16_t port, uint32_t gsi, int in_fd, int out_fd,
                      struct serial8250 **out, struct isola_err *err)
{
        struct serial8250 *s = calloc(1, sizeof(*s));

        if (!s)
                return err_set(err, ENOMEM, "serial %#x: out of memory", port);
        s->vm = vm;
        s->port = port;
        s->gsi = gsi;
        s->in_fd = in_fd;
        s->out_fd = out_fd;
        s->dll = 0x0c; /* 9600 baud, like a BIOS leaves it */
        pthread_mutex_init(&s->lock, NULL);
        pthread_mutex_init(&s->watch_lock, NULL);
        update_msr(s);
        s->msr &= (uint8_t)~MSR_DELTAS;
        if (io_bus_register(vm->pio_bus, port, 8, serial_io, s, err) < 0) {
                err_prefix(err, "serial %#x", port);
                goto fail;
        }
        if (in_fd >= 0 && vm->loop) {
                if (evloop_add(vm->loop, in_fd, EPOLLIN, serial_input_ready, s, err) < 0) {
                        io_bus_unregister(vm->pio_bus, port);
                        err_prefix(err, "serial %#x: watching input fd %d", port, in_fd);
                        goto fail;
                }
                s->in_registered = true;
                s->in_watched = true;
        }
        *out = s;
        return 0;
fail:
        pthread_mutex_destroy(&s->watch_lock);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return -1;
}

void serial8250_destroy(struct serial8250 *s)
{
        if (!s)
                return;
        if (s->in_registered)
                evloop_del(s->vm->loop, s->in_fd);
        io_bus_unregister(s->vm->pio_bus, s->port);
        pthread_mutex_destroy(&s->watch_lock);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

uint64_t serial8250_tx_bytes(const struct serial8250 *s)
{
        return __atomic_load_n(&s->tx_bytes, __ATOMIC_RELAXED);
}

/* ---- snapshot state (devices/dev_state.h) ---- */

void serial8250_save(struct serial8250 *s, struct dstate_w *w)
{
        pthread_mutex_lock(&s->lock);
        uint8_t regs[] = {s->ier, s->fcr, s->lcr, s->mcr, s->lsr_err,
                          s->msr, s->scr, s->dll, s->dlm};
        dstate_w_bytes(w, regs, sizeof(regs));
        dstate_w_bool(w, s->thr_ipending);
        dstate_w_bool(w, s->irq_level);
        dstate_w_bytes(w, s->rx, sizeof(s->rx));
        dstate_w_u32(w, s->rx_head);
        dstate_w_u32(w, s->rx_count);
        dstate_w_u64(w, s->tx_bytes);
        pthread_mutex_unlock(&s->lock);
}

int serial8250_load(struct serial8250 *s, struct dstate_r *r, struct isola_err *err)
{
        uint8_t regs[9];

        dstate_r_bytes(r, regs, sizeof(regs));
        bool thr = dstate_r_bool(r), level = dstate_r_bool(r);
        uint8_t rx[UART_FIFO_SIZE];
        dstate_r_bytes(r, rx, sizeof(rx));
        uint32_t head = dstate_r_max(r, UART_FIFO_SIZE - 1);
        uint32_t count = dstate_r_max(r, UART_FIFO_SIZE);
        uint64_t tx = dstate_r_u64(r);
        if (dstate_r_end(r, err) < 0)
                return -1;
        pthread_mutex_lock(&s->lock);
        s->ier = regs[0];
        s->fcr = regs[1];
        s->lcr = regs[2];
        s->mcr = regs[3];
        s->lsr_err = regs[4];
        s->msr = regs[5];
        s->scr = regs[6];
        s->dll = regs[7];
        s->dlm = regs[8];
        s->thr_ipending = thr;
        memcpy(s->rx, rx, sizeof(rx));
        s->rx_head = head;
        s->rx_count = count;
        s->tx_bytes = tx;
        /* The line follows from the registers (the fresh device's is low);
         * the saved level only cross-checks them. The IRQ chips' own state
         * is restored after the devices. */
        (void)level;
        s->irq_level = false;
        update_irq(s);
        pthread_mutex_unlock(&s->lock);
        sync_input_watch(s);
        return 0;
}
