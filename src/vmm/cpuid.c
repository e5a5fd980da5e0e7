/* CPUID and per-vCPU CPU state the guest sees: the host's supported leaves
 * with APIC ids and topology per vCPU, and either a KVM paravirtual
 * signature (--pv on) or a bare-metal look (--pv off: no hypervisor bit and
 * no 0x40000000 leaves). Also the LAPIC LINT wiring the PIC path needs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/vm_internal.h"

#define CPUID_MAX_ENTRIES    256
#define CPUID_HYPERVISOR_BIT (1u << 31)
#define KVM_CPUID_BASE       0x40000000u
#define CPUID_1_ECX_CX16     (1u << 13)
#define CPUID_1_ECX_TSC_DL   (1u << 24)

/* The kernel's table ends in a flexible array: room for every entry. */
static struct kvm_cpuid2 *cpuid_alloc(void)
{
        return calloc(1, sizeof(struct kvm_cpuid2) +
                             CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
}

/* kvm-pvm (an instruction-emulating KVM used on nested hosts) reports
 * CMPXCHG16B as supported but cannot emulate it: Linux then stops with an
 * emulation failure in SLUB. Hide it there. (XRSTOR and POPCNT are not
 * emulated either, but kvm-pvm reports XSAVE and POPCNT whatever the VMM
 * sets: Linux guests need "noxsave clearcpuid=popcnt" there.) */
#define CPUID_1_ECX_PVM_MISSING CPUID_1_ECX_CX16

static bool host_is_kvm_pvm(void)
{
        return access("/sys/module/kvm_pvm", F_OK) == 0;
}

/* Bits of the APIC id that number the vCPUs of the one package. */
static unsigned apic_id_bits(unsigned n_cpus)
{
        unsigned shift = 0;

        while ((1u << shift) < n_cpus)
                shift++;
        return shift;
}

/* KVM emulates the LAPIC's TSC-deadline mode but leaves the CPUID bit out
 * of KVM_GET_SUPPORTED_CPUID: the VMM sets it when the in-kernel LAPIC has
 * it. With it Linux arms its timer through one MSR and skips calibrating
 * the LAPIC timer against the PIT at boot (QEMU and Firecracker set it
 * too). */
static bool has_tsc_deadline(const struct vm *vm)
{
        return ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
}

static void fix_entry(struct vm *vm, unsigned id, bool tsc_deadline, struct kvm_cpuid_entry2 *e)
{
        switch (e->function) {
        case 1:
                /* EBX[31:24] initial APIC id, [23:16] logical processors. */
                e->ebx = (e->ebx & 0x0000ffffu) | (id << 24) | ((vm->n_cpus & 0xff) << 16);
                if (vm->n_cpus > 1)
                        e->edx |= 1u << 28; /* HTT: the count above is valid */
                if (host_is_kvm_pvm())
                        e->ecx &= ~CPUID_1_ECX_PVM_MISSING;
                if (tsc_deadline)
                        e->ecx |= CPUID_1_ECX_TSC_DL;
                if (vm->pv)
                        e->ecx |= CPUID_HYPERVISOR_BIT;
                else
                        e->ecx &= ~CPUID_HYPERVISOR_BIT;
                break;
        case 4:
                /* One core per package per vCPU would confuse Linux; declare
                 * n_cpus cores in one package, one thread each. */
                e->eax = (e->eax & 0x3ffu) | ((vm->n_cpus - 1) << 26);
                break;
        case 0x80000008:
                /* AMD: ECX[15:12] APIC id bits for the core, [7:0] cores - 1;
                 * without them each vCPU looks like its own package. */
                e->ecx = (e->ecx & ~0xf0ffu) | (apic_id_bits(vm->n_cpus) << 12) |
                         ((vm->n_cpus - 1) & 0xff);
                break;
        case 0xb:
        case 0x1f:
                /* x2APIC topology: level 0 = SMT (1 thread), level 1 = core. */
                e->edx = id;
                if (e->index == 0) {
                        e->eax = 0;
                        e->ebx = 1;
                        e->ecx = (1u << 8) | 0;
                } else if (e->index == 1) {
                        e->eax = apic_id_bits(vm->n_cpus);
                        e->ebx = vm->n_cpus;
                        e->ecx = (2u << 8) | 1;
                } else {
                        e->eax = e->ebx = 0;
                        e->ecx = e->index;
                }
                break;
        default:
                break;
        }
}

static bool is_pv_leaf(uint32_t function)
{
        return function >= KVM_CPUID_BASE && function < KVM_CPUID_BASE + 0x100;
}

static int get_supported(struct vm *vm, struct kvm_cpuid2 *buf, struct isola_err *err)
{
        buf->nent = CPUID_MAX_ENTRIES;
        if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, buf) < 0)
                return err_sys(err, "KVM_GET_SUPPORTED_CPUID");
        return 0;
}

static int set_cpuid(struct vm *vm, struct vcpu *vcpu, struct isola_err *err)
{
        struct kvm_cpuid2 *buf = cpuid_alloc();
        struct kvm_cpuid2 *out = cpuid_alloc();
        int rc = -1;

        if (!buf || !out) {
                err_set(err, ENOMEM, "CPUID: out of memory");
                goto done;
        }
        if (get_supported(vm, buf, err) < 0)
                goto done;
        bool tsc_deadline = has_tsc_deadline(vm);
        for (unsigned i = 0; i < buf->nent && i < CPUID_MAX_ENTRIES; i++) {
                struct kvm_cpuid_entry2 e = buf->entries[i];
                if (!vm->pv && is_pv_leaf(e.function))
                        continue;
                fix_entry(vm, vcpu->id, tsc_deadline, &e);
                out->entries[out->nent++] = e;
        }
        if (ioctl(vcpu->fd, KVM_SET_CPUID2, out) < 0) {
                err_sys(err, "vCPU %u: KVM_SET_CPUID2", vcpu->id);
                goto done;
        }
        rc = 0;
done:
        free(buf);
        free(out);
        return rc;
}

#define APIC_LVT_LINT0   0x350
#define APIC_LVT_LINT1   0x360
#define APIC_MODE_EXTINT 0x7
#define APIC_MODE_NMI    0x4

static void lapic_set_delivery(struct kvm_lapic_state *st, unsigned reg, uint32_t mode)
{
        uint32_t v;

        memcpy(&v, st->regs + reg, 4);
        v = (v & ~0x700u) | (mode << 8);
        memcpy(st->regs + reg, &v, 4);
}

/* The PIC output reaches the CPU through LINT0 as ExtINT and NMIs through
 * LINT1, as on a PC, so guests that boot on the 8259 path get interrupts. */
static int setup_lapic(struct vcpu *vcpu, struct isola_err *err)
{
        struct kvm_lapic_state st;

        if (ioctl(vcpu->fd, KVM_GET_LAPIC, &st) < 0)
                return err_sys(err, "vCPU %u: KVM_GET_LAPIC", vcpu->id);
        lapic_set_delivery(&st, APIC_LVT_LINT0, APIC_MODE_EXTINT);
        lapic_set_delivery(&st, APIC_LVT_LINT1, APIC_MODE_NMI);
        if (ioctl(vcpu->fd, KVM_SET_LAPIC, &st) < 0)
                return err_sys(err, "vCPU %u: KVM_SET_LAPIC", vcpu->id);
        return 0;
}

static int setup_fpu(struct vcpu *vcpu, struct isola_err *err)
{
        struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};

        if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
                return err_sys(err, "vCPU %u: KVM_SET_FPU", vcpu->id);
        return 0;
}

int cpuid_setup(struct vm *vm, struct vcpu *vcpu, struct isola_err *err)
{
        if (set_cpuid(vm, vcpu, err) < 0 || setup_lapic(vcpu, err) < 0 || setup_fpu(vcpu, err) < 0)
                return -1;
        return 0;
}
