/* 16550A UART (8250 family) on an ISA port range of 8 bytes: the guest's
 * console. Output bytes go straight to out_fd; input from in_fd (watched by
 * the VM's event loop) fills the 16-byte receive FIFO, and reading from in_fd
 * pauses while the FIFO is full. The IRQ is level: asserted through
 * vm_irq_line() while an interrupt is pending, deasserted when none is. */
#ifndef ISOLA_DEVICES_SERIAL8250_H
#define ISOLA_DEVICES_SERIAL8250_H

#include <stdint.h>

#include "util/err.h"

struct vm;
struct serial8250;

/* Registers ports [port, port+8) on vm->pio_bus. in_fd / out_fd are borrowed
 * (not closed by destroy); -1 means no input / discard output. */
int serial8250_create(struct vm *vm, uint16_t port, uint32_t gsi, int in_fd, int out_fd,
                      struct serial8250 **out, struct isola_err *err);
void serial8250_destroy(struct serial8250 *s);

/* Bytes the guest transmitted (written to out_fd or discarded). */
uint64_t serial8250_tx_bytes(const struct serial8250 *s);

/* Feeds bytes as if they arrived on in_fd (tests, injected console input);
 * returns how many fitted in the receive FIFO. */
unsigned serial8250_inject_rx(struct serial8250 *s, const uint8_t *buf, unsigned len);

#endif
