/* i8042 keyboard controller at ports 0x60 (data) / 0x64 (status/command):
 * enough of the controller, a keyboard and a PS/2 mouse that Linux's i8042,
 * atkbd and psmouse drivers probe it cleanly, and the CPU reset line: command
 * 0xFE (or writing the output port with bit 0 clear) ends the VM with
 * VM_EXIT_RESET. Keyboard data raises IRQ 1, mouse data IRQ 12. */
#ifndef ISOLA_DEVICES_I8042_H
#define ISOLA_DEVICES_I8042_H

#include "util/err.h"

struct vm;
struct i8042;

int i8042_create(struct vm *vm, struct i8042 **out, struct isola_err *err);
void i8042_destroy(struct i8042 *kbc);

#endif
