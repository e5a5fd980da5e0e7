/* The KVM virtual machine as device models see it: guest memory, the port and
 * MMIO buses, interrupt injection (IOAPIC lines and MSI through irqfd), guest
 * notifications through ioeventfd, the back-end event loop, and the ways a
 * device can end the VM. vm.c implements it. */
#ifndef ISOLA_VMM_VM_H
#define ISOLA_VMM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"
#include "vmm/evloop.h"
#include "vmm/guest_mem.h"
#include "vmm/io_bus.h"

/* How the guest ended; also the `isola vm run` exit status. */
enum vm_exit_reason {
        VM_EXIT_POWEROFF = 0,     /* ACPI S5 or the test guest's poweroff */
        VM_EXIT_VMM_ERROR = 1,    /* host-side failure */
        VM_EXIT_RESET = 3,        /* i8042 pulse, port 0xcf9 */
        VM_EXIT_TRIPLE_FAULT = 4, /* KVM_EXIT_SHUTDOWN */
        VM_EXIT_INTERNAL = 5,     /* KVM could not run the guest (emulation failure) */
        VM_EXIT_SIGNAL = 6,       /* SIGINT/SIGTERM from the host: CLI turns it into 128+sig */
};

struct pci_bus;

struct vm {
        int kvm_fd, vm_fd;
        struct guest_mem mem;
        struct io_bus *pio_bus;
        struct io_bus *mmio_bus;
        struct evloop *loop;
        struct pci_bus *pci; /* created by the machine set-up */
        bool pv;             /* paravirtual CPUID/features exposed */
        unsigned n_cpus;
        /* Counters the benchmarks read (updated atomically by vCPU threads). */
        uint64_t exits_pio, exits_mmio, exits_total;
        /* internal state follows in vm.c's private part */
        void *priv;
};

/* Drives an IOAPIC/PIC input (GSI 0-23). level: 1 assert, 0 deassert. For
 * edge-triggered ISA devices call with 1 then 0. */
int vm_irq_line(struct vm *vm, uint32_t gsi, int level);

/* MSI delivery: allocates a GSI with an MSI route (address, data) and an
 * eventfd bound to it by KVM_IRQFD. Writing 1 to *efd_out injects the MSI
 * without leaving the thread. Re-route with vm_msi_update(). */
int vm_msi_alloc(struct vm *vm, uint64_t addr, uint32_t data, uint32_t *gsi_out, int *efd_out,
                 struct isola_err *err);
int vm_msi_update(struct vm *vm, uint32_t gsi, uint64_t addr, uint32_t data, bool masked,
                  struct isola_err *err);
void vm_msi_free(struct vm *vm, uint32_t gsi, int efd);
/* Signals an MSI directly (KVM_SIGNAL_MSI), for rarely used vectors. */
int vm_msi_signal(struct vm *vm, uint64_t addr, uint32_t data);

/* Guest writes of len bytes at addr (MMIO or port when is_pio) signal fd
 * instead of exiting to user space. */
int vm_ioeventfd_add(struct vm *vm, uint64_t addr, uint32_t len, bool is_pio, int fd,
                     struct isola_err *err);
int vm_ioeventfd_del(struct vm *vm, uint64_t addr, uint32_t len, bool is_pio, int fd);

/* Ends the VM from a device (i8042 reset, ACPI power-off). Thread-safe. */
void vm_request_stop(struct vm *vm, enum vm_exit_reason reason);

#endif
