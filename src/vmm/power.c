/* The ACPI PM1a event and control blocks as a minimal power device: the
 * machine is always in ACPI mode (SCI_EN reads as set) and a write of
 * SLP_EN with SLP_TYP 5 (the DSDT's \_S5) powers the VM off. The one event
 * is the fixed power button (PWRBTN_STS/EN), raised by the host (`isola vm
 * stop`) on the SCI. Reset through port 0xcf9 belongs to the PCI host
 * bridge. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/layout.h"
#include "vmm/power.h"
#include "vmm/tables.h"
#include "vmm/vm.h"

#define PM1_CNT_SCI_EN        0x0001
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_EN        0x2000
#define SLP_TYP_S5            5
#define PM1_EVT_PWRBTN        0x0100 /* in PM1_STS (offset 0) and PM1_EN (offset 2) */

struct power {
        struct vm *vm;
        pthread_mutex_t lock; /* vCPU threads and the host's button press */
        uint16_t sts, en;
        bool sci;
};

/* The SCI is level-triggered: asserted while an enabled status bit is set. */
static void update_sci(struct power *pw)
{
        bool level = (pw->sts & pw->en) != 0;

        if (level != pw->sci) {
                pw->sci = level;
                vm_irq_line(pw->vm, ACPI_SCI_IRQ, level ? 1 : 0);
        }
}

static void pm1_evt_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct power *pw = opaque;

        pthread_mutex_lock(&pw->lock);
        uint8_t regs[4] = {(uint8_t)pw->sts, (uint8_t)(pw->sts >> 8), (uint8_t)pw->en,
                           (uint8_t)(pw->en >> 8)};
        for (uint32_t i = 0; i < len; i++) {
                if (offset + i >= sizeof(regs)) {
                        if (!is_write)
                                data[i] = 0;
                        continue;
                }
                if (!is_write) {
                        data[i] = regs[offset + i];
                } else if (offset + i < 2) {
                        regs[offset + i] &= (uint8_t)~data[i]; /* status: write 1 to clear */
                } else {
                        regs[offset + i] = data[i];
                }
        }
        if (is_write) {
                pw->sts = (uint16_t)(regs[0] | regs[1] << 8);
                pw->en = (uint16_t)(regs[2] | regs[3] << 8) & PM1_EVT_PWRBTN;
                update_sci(pw);
        }
        pthread_mutex_unlock(&pw->lock);
}

void power_button(struct power *pw)
{
        pthread_mutex_lock(&pw->lock);
        pw->sts |= PM1_EVT_PWRBTN;
        update_sci(pw);
        pthread_mutex_unlock(&pw->lock);
}

static void pm1_cnt_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
        struct power *pw = opaque;
        uint16_t v = 0;

        if (!is_write) {
                v = PM1_CNT_SCI_EN;
                for (uint32_t i = 0; i < len; i++)
                        data[i] = offset + i < 2 ? (uint8_t)(v >> (8 * (offset + i))) : 0;
                return;
        }
        /* A 16-bit write, or a byte write of the high half (SLP_EN/SLP_TYP). */
        for (uint32_t i = 0; i < len && offset + i < 2; i++)
                v |= (uint16_t)(data[i] << (8 * (offset + i)));
        if ((v & PM1_CNT_SLP_EN) && ((v >> PM1_CNT_SLP_TYP_SHIFT) & 7) == SLP_TYP_S5)
                vm_request_stop(pw->vm, VM_EXIT_POWEROFF);
}

int power_create(struct vm *vm, struct power **out, struct isola_err *err)
{
        struct power *pw = calloc(1, sizeof(*pw));

        if (!pw)
                return err_set(err, ENOMEM, "power device: out of memory");
        pw->vm = vm;
        pthread_mutex_init(&pw->lock, NULL);
        if (io_bus_register(vm->pio_bus, LAYOUT_PORT_ACPI_PM1A_EVT, 4, pm1_evt_io, pw, err) < 0 ||
            io_bus_register(vm->pio_bus, LAYOUT_PORT_ACPI_PM1A_CNT, 2, pm1_cnt_io, pw, err) < 0) {
                io_bus_unregister(vm->pio_bus, LAYOUT_PORT_ACPI_PM1A_EVT);
                pthread_mutex_destroy(&pw->lock);
                free(pw);
                return err_prefix(err, "power device");
        }
        *out = pw;
        return 0;
}

void power_destroy(struct power *pw)
{
        if (!pw)
                return;
        io_bus_unregister(pw->vm->pio_bus, LAYOUT_PORT_ACPI_PM1A_EVT);
        io_bus_unregister(pw->vm->pio_bus, LAYOUT_PORT_ACPI_PM1A_CNT);
        pthread_mutex_destroy(&pw->lock);
        free(pw);
}
