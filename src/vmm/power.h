/* ACPI PM1a power device: SLP_EN with SLP_TYP 5 written to
 * LAYOUT_PORT_ACPI_PM1A_CNT (a 16-bit write: outw 0x3400) powers off. */
#ifndef ISOLA_VMM_POWER_H
#define ISOLA_VMM_POWER_H

#include "util/err.h"

struct vm;
struct power;

int power_create(struct vm *vm, struct power **out, struct isola_err *err);
void power_destroy(struct power *pw);
/* Presses the ACPI fixed power button: PWRBTN_STS, and the SCI when the
 * guest enabled it. Thread-safe. */
void power_button(struct power *pw);

#endif
