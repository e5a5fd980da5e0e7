/* i8042 tests: the controller commands Linux's i8042 probe uses, keyboard
 * and mouse answers, IRQ 1/12 behaviour and the reset line. */
#include "devices/i8042.h"
#include "fake_vm.h"
#include "tap.h"

static struct fake_vm *f;

static uint8_t status(void)
{
        return (uint8_t)fake_pio_in(f, 0x64, 1);
}

static uint8_t data(void)
{
        return (uint8_t)fake_pio_in(f, 0x60, 1);
}

static void cmd(uint8_t c)
{
        fake_pio_out(f, 0x64, 1, c);
}

static void put(uint8_t v)
{
        fake_pio_out(f, 0x60, 1, v);
}

static void test_controller(void)
{
        TAP_EQ_INT(status() & 0x01, 0, "output buffer empty at start");
        cmd(0xaa);
        TAP_EQ_INT(status() & 0x21, 0x01, "self-test answer in the output buffer (keyboard)");
        TAP_EQ_INT(data(), 0x55, "self-test passes with 0x55");
        TAP_EQ_INT(status() & 0x01, 0, "reading empties it");
        cmd(0x20);
        uint8_t ctr = data();
        TAP_EQ_INT(ctr & 0x03, 0x03, "command byte: both interrupts enabled");
        cmd(0x60);
        put(0x44);
        cmd(0x20);
        TAP_EQ_INT(data(), 0x44, "command byte written through 0x60");
        cmd(0xab);
        TAP_EQ_INT(data(), 0x00, "keyboard interface test OK");
        cmd(0xa9);
        TAP_EQ_INT(data(), 0x00, "aux interface test OK");
        cmd(0xa7);
        cmd(0x20);
        TAP_EQ_INT(data() & 0x20, 0x20, "aux disable sets CTR bit 5");
        cmd(0xa8);
        cmd(0x20);
        TAP_EQ_INT(data() & 0x20, 0, "aux enable clears it");
        cmd(0xd0);
        TAP_EQ_INT(data() & 0x01, 0x01, "output port: reset line high");
        cmd(0x60);
        put(ctr);
}

static void test_devices(void)
{
        unsigned r1 = f->irq_raises[1], r12 = f->irq_raises[12];

        put(0xff);
        TAP_EQ_INT(f->irq_raises[1], r1 + 1, "keyboard answer raises IRQ 1");
        TAP_EQ_INT(data(), 0xfa, "keyboard reset: ACK");
        TAP_EQ_INT(f->irq_level[1], 1, "next byte pending keeps IRQ 1 asserted");
        TAP_EQ_INT(data(), 0xaa, "then self-test passed");
        TAP_EQ_INT(f->irq_level[1], 0, "IRQ 1 low when empty");
        put(0xf5);
        TAP_EQ_INT(data(), 0xfa, "disable scanning: ACK");
        put(0xf4);
        TAP_EQ_INT(data(), 0xfa, "enable scanning: ACK");
        put(0xf2);
        data();
        TAP_EQ_INT(data(), 0xab, "keyboard id starts 0xab");
        data();
        cmd(0xd3);
        put(0x5a);
        TAP_EQ_INT(status() & 0x21, 0x21, "aux loopback byte flagged as aux data");
        TAP_EQ_INT(f->irq_raises[12], r12 + 1, "aux data raises IRQ 12");
        TAP_EQ_INT(data(), 0x5a, "aux loopback echoes the byte");
        cmd(0xd4);
        put(0xf2);
        TAP_EQ_INT(data(), 0xfa, "mouse get id: ACK");
        TAP_EQ_INT(data(), 0x00, "standard PS/2 mouse");
        cmd(0xd4);
        put(0xff);
        TAP_EQ_INT(data(), 0xfa, "mouse reset: ACK");
        TAP_EQ_INT(data(), 0xaa, "mouse self-test passed");
        TAP_EQ_INT(data(), 0x00, "mouse id");
        cmd(0xd2);
        put(0x1c);
        TAP_EQ_INT(status() & 0x21, 0x01, "0xD2 byte appears as keyboard data");
        data();
}

int main(void)
{
        struct isola_err err = {0};
        struct i8042 *k = NULL;

        f = fake_vm_new(0);
        if (!f)
                return 1;
        TAP_EQ_INT(i8042_create(&f->vm, &k, &err), 0, "i8042_create");
        test_controller();
        test_devices();
        for (unsigned i = 0; i < 100; i++)
                put(0xee); /* flood: bounded queue, no crash */
        for (unsigned i = 0; i < 100 && (status() & 1); i++)
                data();
        TAP_EQ_INT(status() & 1, 0, "queue drains after a flood");
        TAP_EQ_INT(f->stops, 0, "no reset so far");
        cmd(0xfe);
        TAP_EQ_INT(f->stop_reason, VM_EXIT_RESET, "command 0xFE pulses reset: VM stops");
        f->stop_reason = -1;
        cmd(0xd1);
        put(0x02);
        TAP_EQ_INT(f->stop_reason, VM_EXIT_RESET, "output port with bit 0 clear resets");
        i8042_destroy(k);
        TAP_EQ_INT(fake_pio_in(f, 0x64, 1), 0xff, "ports released");
        fake_vm_free(f);
        return tap_done();
}
