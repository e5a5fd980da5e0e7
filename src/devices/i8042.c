/* i8042 keyboard controller model (see i8042.h). The controller has one
 * output byte register; the keyboard and mouse queue their answers behind it
 * (a small FIFO of bytes tagged with their source). The IRQ of the source of
 * the byte in the output register follows OBF while the command byte enables
 * it, like QEMU: raised when a byte becomes visible, lowered when read. */
#include "devices/i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "devices/dev_state.h"
#include "vmm/layout.h"
#include "vmm/vm.h"

#define KBC_QUEUE 32
#define IRQ_KBD   1
#define IRQ_AUX   12

#define STAT_OBF      0x01
#define STAT_SYS      0x04
#define STAT_CMD      0x08 /* last write went to the command port */
#define STAT_UNLOCKED 0x10
#define STAT_AUX_OBF  0x20

#define CTR_KBD_INT 0x01
#define CTR_AUX_INT 0x02
#define CTR_SYS     0x04
#define CTR_KBD_DIS 0x10
#define CTR_AUX_DIS 0x20
#define CTR_XLATE   0x40

#define OUTP_RESET 0x01 /* active low CPU reset line */
#define OUTP_A20   0x02

#define KBD_ACK    0xfa
#define KBD_RESEND 0xfe

/* What the next byte written to port 0x60 means. */
enum pending_write {
        PW_NONE,     /* a keyboard command or its parameter */
        PW_CTR,      /* 0x60: command byte */
        PW_OUTPORT,  /* 0xD1: output port */
        PW_KBD_OBUF, /* 0xD2: echo as keyboard data */
        PW_AUX_OBUF, /* 0xD3: echo as mouse data */
        PW_AUX_DEV,  /* 0xD4: byte for the mouse */
};

struct i8042 {
        struct vm *vm;
        pthread_mutex_t lock;
        uint8_t ctr, outport, status_cmd;
        enum pending_write pending;
        uint8_t kbd_cmd; /* keyboard command waiting for its parameter */
        uint8_t aux_cmd; /* mouse command waiting for its parameter */
        bool aux_stream; /* mouse data reporting enabled */
        uint8_t aux_rate, aux_res, aux_scaling;
        uint8_t scancode_set;
        struct {
                uint8_t byte;
                bool aux;
        } q[KBC_QUEUE];
        unsigned q_head, q_count;
        bool irq_kbd, irq_aux;
        bool reset_requested;
};

static void queue_byte(struct i8042 *k, uint8_t b, bool aux)
{
        if (k->q_count == KBC_QUEUE)
                return; /* a device whose buffer is full drops bytes */
        k->q[(k->q_head + k->q_count) % KBC_QUEUE].byte = b;
        k->q[(k->q_head + k->q_count) % KBC_QUEUE].aux = aux;
        k->q_count++;
}

static void set_line(struct i8042 *k, uint32_t gsi, bool *cur, bool level)
{
        if (*cur == level)
                return;
        *cur = level;
        if (k->vm)
                vm_irq_line(k->vm, gsi, level);
}

static void update_irq(struct i8042 *k)
{
        bool kbd = false, aux = false;

        if (k->q_count) {
                if (k->q[k->q_head].aux)
                        aux = (k->ctr & CTR_AUX_INT) != 0;
                else
                        kbd = (k->ctr & CTR_KBD_INT) != 0;
        }
        set_line(k, IRQ_KBD, &k->irq_kbd, kbd);
        set_line(k, IRQ_AUX, &k->irq_aux, aux);
}

static uint8_t read_data(struct i8042 *k)
{
        uint8_t b;

        if (!k->q_count)
                return 0; /* real controllers return the stale byte; Linux never relies on it */
        b = k->q[k->q_head].byte;
        k->q_head = (k->q_head + 1) % KBC_QUEUE;
        k->q_count--;
        /* Lower the line so the next byte, if any, gives a fresh edge. */
        set_line(k, IRQ_KBD, &k->irq_kbd, false);
        set_line(k, IRQ_AUX, &k->irq_aux, false);
        return b;
}

static uint8_t read_status(const struct i8042 *k)
{
        uint8_t st = STAT_UNLOCKED | k->status_cmd | (k->ctr & CTR_SYS);

        if (k->q_count) {
                st |= STAT_OBF;
                if (k->q[k->q_head].aux)
                        st |= STAT_AUX_OBF;
        }
        return st;
}

static void kbd_reply(struct i8042 *k, uint8_t b)
{
        queue_byte(k, b, false);
}

static void aux_reply(struct i8042 *k, uint8_t b)
{
        queue_byte(k, b, true);
}

/* A byte written to port 0x60 with no controller command pending goes to
 * the keyboard: a command, or the parameter of the previous one. */
static void kbd_write(struct i8042 *k, uint8_t v)
{
        if (k->kbd_cmd) {
                if (k->kbd_cmd == 0xf0 && v == 0) {
                        kbd_reply(k, KBD_ACK);
                        kbd_reply(k, k->scancode_set);
                } else {
                        if (k->kbd_cmd == 0xf0 && v >= 1 && v <= 3)
                                k->scancode_set = v;
                        kbd_reply(k, KBD_ACK);
                }
                k->kbd_cmd = 0;
                return;
        }
        switch (v) {
        case 0xed: /* set LEDs */
        case 0xf3: /* typematic rate */
        case 0xf0: /* scancode set */
                k->kbd_cmd = v;
                kbd_reply(k, KBD_ACK);
                break;
        case 0xee: /* echo */
                kbd_reply(k, 0xee);
                break;
        case 0xf2: /* identify: MF2 keyboard */
                kbd_reply(k, KBD_ACK);
                kbd_reply(k, 0xab);
                kbd_reply(k, (k->ctr & CTR_XLATE) ? 0x41 : 0x83);
                break;
        case 0xff: /* reset and self-test */
                k->scancode_set = 2;
                kbd_reply(k, KBD_ACK);
                kbd_reply(k, 0xaa);
                break;
        case 0xf4: /* enable scanning */
        case 0xf5: /* disable scanning, restore defaults */
        case 0xf6: /* restore defaults */
        case 0xf7:
        case 0xf8:
        case 0xf9:
        case 0xfa:
                kbd_reply(k, KBD_ACK);
                break;
        default:
                kbd_reply(k, KBD_RESEND);
                break;
        }
}

/* A byte for the PS/2 mouse (controller command 0xD4 before it). */
static void aux_write(struct i8042 *k, uint8_t v)
{
        if (k->aux_cmd) {
                if (k->aux_cmd == 0xf3)
                        k->aux_rate = v;
                else if (k->aux_cmd == 0xe8)
                        k->aux_res = v & 3;
                k->aux_cmd = 0;
                aux_reply(k, KBD_ACK);
                return;
        }
        switch (v) {
        case 0xe8: /* set resolution */
        case 0xf3: /* set sample rate */
                k->aux_cmd = v;
                aux_reply(k, KBD_ACK);
                break;
        case 0xe6:
        case 0xe7:
                k->aux_scaling = v == 0xe7 ? 2 : 1;
                aux_reply(k, KBD_ACK);
                break;
        case 0xe9: /* status request */
                aux_reply(k, KBD_ACK);
                aux_reply(k,
                          (uint8_t)((k->aux_stream ? 0x20 : 0) | (k->aux_scaling == 2 ? 0x10 : 0)));
                aux_reply(k, k->aux_res);
                aux_reply(k, k->aux_rate);
                break;
        case 0xf2: /* get device id: standard mouse */
                aux_reply(k, KBD_ACK);
                aux_reply(k, 0x00);
                break;
        case 0xeb: /* read data: no movement */
                aux_reply(k, KBD_ACK);
                aux_reply(k, 0x08);
                aux_reply(k, 0x00);
                aux_reply(k, 0x00);
                break;
        case 0xf4:
                k->aux_stream = true;
                aux_reply(k, KBD_ACK);
                break;
        case 0xf5:
                k->aux_stream = false;
                aux_reply(k, KBD_ACK);
                break;
        case 0xff: /* reset: ack, self-test passed, id */
                k->aux_stream = false;
                k->aux_rate = 100;
                k->aux_res = 2;
                k->aux_scaling = 1;
                aux_reply(k, KBD_ACK);
                aux_reply(k, 0xaa);
                aux_reply(k, 0x00);
                break;
        case 0xea:
        case 0xec:
        case 0xee:
        case 0xf0:
        case 0xf6:
                aux_reply(k, KBD_ACK);
                break;
        default:
                aux_reply(k, KBD_RESEND);
                break;
        }
}

static void data_write(struct i8042 *k, uint8_t v)
{
        enum pending_write pw = k->pending;

        k->pending = PW_NONE;
        switch (pw) {
        case PW_CTR:
                k->ctr = v;
                break;
        case PW_OUTPORT:
                k->outport = v;
                if (!(v & OUTP_RESET))
                        k->reset_requested = true;
                break;
        case PW_KBD_OBUF:
                kbd_reply(k, v);
                break;
        case PW_AUX_OBUF:
                aux_reply(k, v);
                break;
        case PW_AUX_DEV:
                aux_write(k, v);
                break;
        case PW_NONE:
                /* Writing to the keyboard enables its interface again. */
                k->ctr &= (uint8_t)~CTR_KBD_DIS;
                kbd_write(k, v);
                break;
        }
}

static void command_write(struct i8042 *k, uint8_t cmd)
{
        k->pending = PW_NONE;
        switch (cmd) {
        case 0x20: /* read command byte */
                kbd_reply(k, k->ctr);
                break;
        case 0x60:
                k->pending = PW_CTR;
                break;
        case 0xa7:
                k->ctr |= CTR_AUX_DIS;
                break;
        case 0xa8:
                k->ctr &= (uint8_t)~CTR_AUX_DIS;
                break;
        case 0xa9: /* aux interface test: 0 = no error */
        case 0xab: /* keyboard interface test */
                kbd_reply(k, 0x00);
                break;
        case 0xaa: /* controller self-test */
                k->ctr |= CTR_SYS;
                kbd_reply(k, 0x55);
                break;
        case 0xad:
                k->ctr |= CTR_KBD_DIS;
                break;
        case 0xae:
                k->ctr &= (uint8_t)~CTR_KBD_DIS;
                break;
        case 0xc0: /* input port: keyboard not inhibited */
                kbd_reply(k, 0x80);
                break;
        case 0xd0:
                kbd_reply(k, k->outport);
                break;
        case 0xd1:
                k->pending = PW_OUTPORT;
                break;
        case 0xd2:
                k->pending = PW_KBD_OBUF;
                break;
        case 0xd3:
                k->pending = PW_AUX_OBUF;
                break;
        case 0xd4:
                k->pending = PW_AUX_DEV;
                break;
        case 0xe0: /* test inputs */
                kbd_reply(k, 0x00);
                break;
        default:
                /* 0xF0-0xFF pulse output-port lines low for 6 us: bit 0 of
                 * the command clear pulses the CPU reset line (0xFE). */
                if (cmd >= 0xf0 && !(cmd & 0x01))
                        k->reset_requested = true;
                break;
        }
}

static void i8042_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write,
                     bool cmd_port)
{
        struct i8042 *k = opaque;
        bool reset;

        if (!is_write)
                memset(data, 0xff, len);
        if (offset != 0)
                return;
        pthread_mutex_lock(&k->lock);
        if (is_write && cmd_port) {
                k->status_cmd = STAT_CMD;
                command_write(k, data[0]);
        } else if (is_write) {
                k->status_cmd = 0;
                data_write(k, data[0]);
        } else {
                data[0] = cmd_port ? read_status(k) : read_data(k);
        }
        update_irq(k);
        reset = k->reset_requested;
        k->reset_requested = false;
        pthread_mutex_unlock(&k->lock);
        if (reset && k->vm)
                vm_request_stop(k->vm, VM_EXIT_RESET);
}

static void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        i8042_io(opaque, offset, data, len, is_write, false);
}

static void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        i8042_io(opaque, offset, data, len, is_write, true);
}

int i8042_create(struct vm *vm, struct i8042 **out, struct isola_err *err)
{
        struct i8042 *k = calloc(1, sizeof(*k));

        if (!k)
                return err_set(err, ENOMEM, "i8042: out of memory");
        k->vm = vm;
        pthread_mutex_init(&k->lock, NULL);
        k->ctr = CTR_KBD_INT | CTR_AUX_INT | CTR_SYS | CTR_XLATE;
        k->outport = OUTP_RESET | OUTP_A20;
        k->scancode_set = 2;
        k->aux_rate = 100;
        k->aux_res = 2;
        k->aux_scaling = 1;
        if (io_bus_register(vm->pio_bus, LAYOUT_PORT_I8042_DATA, 1, i8042_data_io, k, err) < 0) {
                err_prefix(err, "i8042 data port %#x", LAYOUT_PORT_I8042_DATA);
                goto fail;
        }
        if (io_bus_register(vm->pio_bus, LAYOUT_PORT_I8042_CMD, 1, i8042_cmd_io, k, err) < 0) {
                io_bus_unregister(vm->pio_bus, LAYOUT_PORT_I8042_DATA);
                err_prefix(err, "i8042 command port %#x", LAYOUT_PORT_I8042_CMD);
                goto fail;
        }
        *out = k;
        return 0;
fail:
        pthread_mutex_destroy(&k->lock);
        free(k);
        return -1;
}

void i8042_destroy(struct i8042 *k)
{
        if (!k)
                return;
        io_bus_unregister(k->vm->pio_bus, LAYOUT_PORT_I8042_DATA);
        io_bus_unregister(k->vm->pio_bus, LAYOUT_PORT_I8042_CMD);
        pthread_mutex_destroy(&k->lock);
        free(k);
}

/* ---- snapshot state (devices/dev_state.h) ---- */

void i8042_save(struct i8042 *k, struct dstate_w *w)
{
        pthread_mutex_lock(&k->lock);
        uint8_t regs[] = {k->ctr,      k->outport, k->status_cmd,  k->kbd_cmd,     k->aux_cmd,
                          k->aux_rate, k->aux_res, k->aux_scaling, k->scancode_set};
        dstate_w_bytes(w, regs, sizeof(regs));
        dstate_w_u32(w, (uint32_t)k->pending);
        dstate_w_bool(w, k->aux_stream);
        for (unsigned i = 0; i < KBC_QUEUE; i++) {
                dstate_w_u8(w, k->q[i].byte);
                dstate_w_u8(w, k->q[i].aux ? 1 : 0);
        }
        dstate_w_u32(w, k->q_head);
        dstate_w_u32(w, k->q_count);
        pthread_mutex_unlock(&k->lock);
}

int i8042_load(struct i8042 *k, struct dstate_r *r, struct isola_err *err)
{
        uint8_t regs[9], q[KBC_QUEUE][2];

        dstate_r_bytes(r, regs, sizeof(regs));
        uint32_t pending = dstate_r_max(r, PW_AUX_DEV);
        bool stream = dstate_r_bool(r);
        dstate_r_bytes(r, q, sizeof(q));
        uint32_t head = dstate_r_max(r, KBC_QUEUE - 1), count = dstate_r_max(r, KBC_QUEUE);
        if (dstate_r_end(r, err) < 0)
                return -1;
        pthread_mutex_lock(&k->lock);
        k->ctr = regs[0];
        k->outport = regs[1];
        k->status_cmd = regs[2];
        k->kbd_cmd = regs[3];
        k->aux_cmd = regs[4];
        k->aux_rate = regs[5];
        k->aux_res = regs[6];
        k->aux_scaling = regs[7];
        k->scancode_set = regs[8];
        k->pending = (enum pending_write)pending;
        k->aux_stream = stream;
        for (unsigned i = 0; i < KBC_QUEUE; i++) {
                k->q[i].byte = q[i][0];
                k->q[i].aux = q[i][1] != 0;
        }
        k->q_head = head;
        k->q_count = count;
        update_irq(k);
        pthread_mutex_unlock(&k->lock);
        return 0;
}
