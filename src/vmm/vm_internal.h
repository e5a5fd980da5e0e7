/* State of the VM that only the monitor core (vm.c, vcpu.c, machine.c) sees:
 * the GSI routing table, the vCPUs and the stop protocol. Devices use vm.h. */
#ifndef ISOLA_VMM_VM_INTERNAL_H
#define ISOLA_VMM_VM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/vm.h"

#define VM_MAX_CPUS       64
#define VM_MAX_MSI_ROUTES 256
#define VM_IOAPIC_PINS    24
/* 15 PIC routes (pin 2 is the cascade) + 24 IOAPIC routes + MSIs. */
#define VM_MAX_ROUTES (15 + VM_IOAPIC_PINS + VM_MAX_MSI_ROUTES)

struct vcpu {
        struct vm *vm;
        unsigned id;
        int fd;
        struct kvm_run *run;
        size_t run_size;
        pthread_t thread;
        bool started;
};

struct vm_priv {
        /* KVM_SET_GSI_ROUTING replaces the whole table, so the VM keeps it:
         * the fixed IOAPIC/PIC part followed by one entry per MSI GSI. */
        pthread_mutex_t route_lock;
        struct kvm_irq_routing_entry routes[VM_MAX_ROUTES];
        unsigned n_fixed_routes;
        struct {
                bool used;
                bool masked;
                uint64_t addr;
                uint32_t data;
        } msi[VM_MAX_MSI_ROUTES];

        struct vcpu vcpus[VM_MAX_CPUS];
        size_t run_size;

        /* Stop protocol: the first reason wins; vCPUs are kicked with a
         * signal + immediate_exit and the main thread waits on stop_fd. */
        int stop_reason; /* -1 while running; accessed atomically */
        int stop_fd;
        char internal_msg[256];

        /* Pause protocol (machine_pause): while `pause` is set each vCPU
         * parks before KVM_RUN; n_parked counts the parked ones. */
        pthread_mutex_t pause_lock;
        pthread_cond_t pause_cond;
        bool pause;
        unsigned n_parked;
};

static inline struct vm_priv *vm_priv(struct vm *vm)
{
        return vm->priv;
}

/* kvm.c */
int kvm_open(struct isola_err *err);
int kvm_check(int kvm_fd, struct isola_err *err);

/* vm.c: vm_create maps guest RAM and makes the buses and the event loop
 * without touching KVM, so that the kernel and the devices' files can be
 * checked first; vm_open_kvm then creates the KVM VM, its memslots and the
 * interrupt controllers. */
int vm_create(unsigned n_cpus, uint64_t mem_bytes, struct vm **vm_out, struct isola_err *err);
int vm_open_kvm(struct vm *vm, struct isola_err *err);
/* One memslot per region, in region order, with KVM_MEM_* flags (again,
 * to turn the dirty log on or off). */
int vm_set_memslots(struct vm *vm, uint32_t flags, struct isola_err *err);
void vm_destroy(struct vm *vm);
int vm_stop_reason(struct vm *vm);
/* Records why a vCPU gave up (printed by the front end) and stops the VM. */
void vm_fail(struct vm *vm, enum vm_exit_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* vcpu.c */
int vcpu_create(struct vm *vm, unsigned id, struct isola_err *err);
int vcpu_start(struct vcpu *vcpu, struct isola_err *err);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);
int vcpu_install_kick_handler(struct isola_err *err);
/* Parks every started vCPU outside KVM_RUN (returns once all are parked or
 * the VM is stopping); vcpus_resume lets them run again. */
void vcpus_pause(struct vm *vm);
void vcpus_resume(struct vm *vm);
bool vcpus_paused(struct vm *vm);

/* cpuid.c */
int cpuid_setup(struct vm *vm, struct vcpu *vcpu, struct isola_err *err);

#endif
