/* Initial CPU state of the boot vCPU for a loaded kernel. */
#ifndef ISOLA_VMM_BOOT_REGS_H
#define ISOLA_VMM_BOOT_REGS_H

#include "util/err.h"
#include "vmm/guest_mem.h"
#include "vmm/loader.h"

/* Writes the GDT (and page tables for long mode) to guest memory and sets
 * the registers of vcpu_fd so it starts at info->entry. */
int boot_regs_setup(int vcpu_fd, struct guest_mem *mem, const struct boot_info *info,
                    struct isola_err *err);

#endif
