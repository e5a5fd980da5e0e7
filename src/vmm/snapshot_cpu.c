/* vCPU and VM-wide KVM state for snapshots: per vCPU the registers, special
 * registers, FPU/XSAVE, XCRs, the MSRs KVM lists, LAPIC, debug registers,
 * pending events and MP state; for the VM the in-kernel PIC and IOAPIC, the
 * PIT and kvmclock. KVM's structures have a fixed ABI, so they are stored
 * as they are, each inside a versioned section. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/snapshot.h"
#include "vmm/vm_internal.h"

#define CPU_STATE_VERSION 1
#define VM_STATE_VERSION  1
#define MAX_MSRS          512

/* Which FPU format a section holds: XSAVE when KVM has it, else legacy. */
enum { FPU_LEGACY = 0, FPU_XSAVE = 1 };

struct cpu_state {
        struct kvm_regs regs;
        struct kvm_sregs sregs;
        uint32_t fpu_kind;
        struct kvm_fpu fpu;
        uint32_t has_xcrs;
        struct kvm_xcrs xcrs;
        struct kvm_lapic_state lapic;
        struct kvm_debugregs dregs;
        struct kvm_vcpu_events events;
        struct kvm_mp_state mp;
        uint32_t nmsrs;
        struct kvm_msr_entry msrs[MAX_MSRS];
        /* Last: newer headers end struct kvm_xsave in a flexible array
         * (for KVM_GET_XSAVE2); the 4 KiB legacy area is what is used. */
        struct kvm_xsave xsave;
};

/* The MSR list KVM reports for this host (emulated and hardware ones). */
static int msr_index_list(int kvm_fd, uint32_t *idx, uint32_t *n, struct isola_err *err)
{
        struct kvm_msr_list *l = calloc(1, sizeof(*l) + MAX_MSRS * sizeof(uint32_t));

        if (!l)
                return err_set(err, ENOMEM, "snapshot: out of memory");
        l->nmsrs = MAX_MSRS;
        if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
                free(l);
                return err_sys(err, "KVM_GET_MSR_INDEX_LIST");
        }
        *n = l->nmsrs < MAX_MSRS ? l->nmsrs : MAX_MSRS;
        memcpy(idx, l->indices, *n * sizeof(uint32_t));
        free(l);
        return 0;
}

/* KVM_GET_MSRS stops at the first MSR it cannot read (one the CPU lacks);
 * that one is left out and the rest read on. */
static int read_msrs(int fd, const uint32_t *idx, uint32_t n, struct cpu_state *st,
                     struct isola_err *err)
{
        struct kvm_msrs *req = calloc(1, sizeof(*req) + MAX_MSRS * sizeof(struct kvm_msr_entry));

        if (!req)
                return err_set(err, ENOMEM, "snapshot: out of memory");
        st->nmsrs = 0;
        for (uint32_t i = 0; i < n;) {
                req->nmsrs = n - i;
                for (uint32_t k = 0; k < req->nmsrs; k++)
                        req->entries[k] = (struct kvm_msr_entry){.index = idx[i + k]};
                int got = ioctl(fd, KVM_GET_MSRS, req);
                if (got < 0) {
                        free(req);
                        return err_sys(err, "KVM_GET_MSRS");
                }
                memcpy(&st->msrs[st->nmsrs], req->entries, (size_t)got * sizeof(req->entries[0]));
                st->nmsrs += (uint32_t)got;
                i += (uint32_t)got + 1; /* skip the one that failed */
        }
        free(req);
        return 0;
}

static int get_cpu(struct vm *vm, struct vcpu *v, struct cpu_state *st, struct isola_err *err)
{
        uint32_t idx[MAX_MSRS], n;

        memset(st, 0, sizeof(*st));
        if (ioctl(v->fd, KVM_GET_REGS, &st->regs) < 0 ||
            ioctl(v->fd, KVM_GET_SREGS, &st->sregs) < 0)
                return err_sys(err, "vCPU %u: KVM_GET_REGS/SREGS", v->id);
        st->fpu_kind = FPU_XSAVE;
        if (ioctl(v->fd, KVM_GET_XSAVE, &st->xsave) < 0) {
                st->fpu_kind = FPU_LEGACY;
                if (ioctl(v->fd, KVM_GET_FPU, &st->fpu) < 0)
                        return err_sys(err, "vCPU %u: KVM_GET_FPU", v->id);
        }
        st->has_xcrs = ioctl(v->fd, KVM_GET_XCRS, &st->xcrs) == 0;
        if (ioctl(v->fd, KVM_GET_LAPIC, &st->lapic) < 0)
                return err_sys(err, "vCPU %u: KVM_GET_LAPIC", v->id);
        if (ioctl(v->fd, KVM_GET_DEBUGREGS, &st->dregs) < 0)
                return err_sys(err, "vCPU %u: KVM_GET_DEBUGREGS", v->id);
        if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &st->events) < 0)
                return err_sys(err, "vCPU %u: KVM_GET_VCPU_EVENTS", v->id);
        if (ioctl(v->fd, KVM_GET_MP_STATE, &st->mp) < 0)
                return err_sys(err, "vCPU %u: KVM_GET_MP_STATE", v->id);
        if (msr_index_list(vm->kvm_fd, idx, &n, err) < 0 || read_msrs(v->fd, idx, n, st, err) < 0)
                return err_prefix(err, "vCPU %u", v->id);
        return 0;
}

static void put_cpu(const struct cpu_state *st, struct dstate_w *w)
{
        dstate_w_bytes(w, &st->regs, sizeof(st->regs));
        dstate_w_bytes(w, &st->sregs, sizeof(st->sregs));
        dstate_w_u32(w, st->fpu_kind);
        if (st->fpu_kind == FPU_XSAVE)
                dstate_w_bytes(w, &st->xsave, sizeof(st->xsave));
        else
                dstate_w_bytes(w, &st->fpu, sizeof(st->fpu));
        dstate_w_bool(w, st->has_xcrs);
        dstate_w_bytes(w, &st->xcrs, sizeof(st->xcrs));
        dstate_w_bytes(w, &st->lapic, sizeof(st->lapic));
        dstate_w_bytes(w, &st->dregs, sizeof(st->dregs));
        dstate_w_bytes(w, &st->events, sizeof(st->events));
        dstate_w_bytes(w, &st->mp, sizeof(st->mp));
        dstate_w_u32(w, st->nmsrs);
        dstate_w_bytes(w, st->msrs, st->nmsrs * sizeof(st->msrs[0]));
}

static int parse_cpu(struct dstate_r *r, struct cpu_state *st, struct isola_err *err)
{
        memset(st, 0, sizeof(*st));
        dstate_r_bytes(r, &st->regs, sizeof(st->regs));
        dstate_r_bytes(r, &st->sregs, sizeof(st->sregs));
        st->fpu_kind = dstate_r_max(r, FPU_XSAVE);
        if (st->fpu_kind == FPU_XSAVE)
                dstate_r_bytes(r, &st->xsave, sizeof(st->xsave));
        else
                dstate_r_bytes(r, &st->fpu, sizeof(st->fpu));
        st->has_xcrs = dstate_r_bool(r);
        dstate_r_bytes(r, &st->xcrs, sizeof(st->xcrs));
        if (st->xcrs.nr_xcrs > KVM_MAX_XCRS)
                r->bad = true;
        dstate_r_bytes(r, &st->lapic, sizeof(st->lapic));
        dstate_r_bytes(r, &st->dregs, sizeof(st->dregs));
        dstate_r_bytes(r, &st->events, sizeof(st->events));
        dstate_r_bytes(r, &st->mp, sizeof(st->mp));
        st->nmsrs = dstate_r_max(r, MAX_MSRS);
        dstate_r_bytes(r, st->msrs, st->nmsrs * sizeof(st->msrs[0]));
        return dstate_r_end(r, err);
}

int snap_cpu_check(struct dstate_r *r, struct isola_err *err)
{
        struct cpu_state *st = malloc(sizeof(*st));

        if (!st)
                return err_set(err, ENOMEM, "out of memory");
        int rc = parse_cpu(r, st, err);
        free(st);
        return rc;
}

#define MSR_IA32_TSC          0x10
#define MSR_IA32_TSC_DEADLINE 0x6e0

/* The TSC offset every vCPU of the VM being loaded gets (tsc_offset_set). */
struct tsc_sync {
        bool have;
        bool absent; /* the first vCPU lacked the attribute: none has it */
        uint64_t offset;
};

/* KVM_SET_MSRS of the saved MSRs with (tsc_deadline) or without the
 * TSC-deadline MSR; without the TSC when skip_tsc (set as an offset). */
static int set_msrs(struct vcpu *v, const struct cpu_state *st, bool tsc_deadline, bool skip_tsc,
                    struct isola_err *err)
{
        struct kvm_msrs *req = calloc(1, sizeof(*req) + st->nmsrs * sizeof(struct kvm_msr_entry));

        if (!req)
                return err_set(err, ENOMEM, "out of memory");
        for (uint32_t i = 0; i < st->nmsrs; i++) {
                uint32_t index = st->msrs[i].index;
                if ((index == MSR_IA32_TSC_DEADLINE) == tsc_deadline &&
                    !(skip_tsc && index == MSR_IA32_TSC))
                        req->entries[req->nmsrs++] = st->msrs[i];
        }
        uint32_t want = req->nmsrs;
        int set = want ? ioctl(v->fd, KVM_SET_MSRS, req) : 0;
        uint32_t bad = set >= 0 && (uint32_t)set < want ? req->entries[set].index : 0;
        free(req);
        if (set < 0 || (uint32_t)set != want)
                return err_set(err, EINVAL, "vCPU %u: KVM_SET_MSRS took %d of %u MSRs (0x%x)",
                               v->id, set, want, bad);
        return 0;
}

static bool saved_tsc(const struct cpu_state *st, uint64_t *tsc)
{
        for (uint32_t i = 0; i < st->nmsrs; i++)
                if (st->msrs[i].index == MSR_IA32_TSC) {
                        *tsc = st->msrs[i].data;
                        return true;
                }
        return false;
}

static int tsc_offset_attr(struct vcpu *v, unsigned long req, uint64_t *offset)
{
        struct kvm_device_attr a = {
            .group = KVM_VCPU_TSC_CTRL,
            .attr = KVM_VCPU_TSC_OFFSET,
            .addr = (uint64_t)(uintptr_t)offset,
        };
        return ioctl(v->fd, req, &a);
}

/* The vCPU's TSC now (KVM_GET_MSRS of IA32_TSC alone). */
static int read_tsc(struct vcpu *v, uint64_t *tsc, struct isola_err *err)
{
        struct kvm_msrs *req = calloc(1, sizeof(*req) + sizeof(struct kvm_msr_entry));

        if (!req)
                return err_set(err, ENOMEM, "out of memory");
        req->nmsrs = 1;
        req->entries[0].index = MSR_IA32_TSC;
        int got = ioctl(v->fd, KVM_GET_MSRS, req);
        *tsc = req->entries[0].data;
        free(req);
        return got == 1 ? 0 : err_sys(err, "vCPU %u: KVM_GET_MSRS (TSC)", v->id);
}

/* The saved TSC goes back as the vCPU's TSC offset (KVM_VCPU_TSC_OFFSET,
 * Linux 5.16), not as a KVM_SET_MSRS of IA32_TSC: Linux 6.1 (Debian 12's)
 * takes a TSC the VMM writes within 1 s of what it expects from the new
 * VM's age as an attempt to synchronise and keeps its own offset
 * (kvm_synchronize_tsc), so a guest snapshotted within about a second of
 * its boot came back with its TSC up to a second back (tests/vm/snapshot.sh
 * "a young guest"). The offset is the current one plus what the saved TSC
 * lacks from the current TSC, which holds with TSC scaling too; the first
 * vCPU's offset goes to all of them, in step as KVM's own matching keeps
 * them. Returns 1 when set, 0 where KVM lacks the attribute or refuses it
 * (the MSR is written then, as before), -1 on error. */
static int tsc_offset_set(struct vcpu *v, const struct cpu_state *st, struct tsc_sync *sync,
                          struct isola_err *err)
{
        uint64_t want, offset, cur;

        if (sync->absent || !saved_tsc(st, &want))
                return 0;
        if (!sync->have) {
                /* GET fails where the attribute is missing, as HAS would. */
                if (tsc_offset_attr(v, KVM_GET_DEVICE_ATTR, &offset) < 0) {
                        sync->absent = true;
                        return 0;
                }
                if (read_tsc(v, &cur, err) < 0)
                        return -1;
                sync->offset = offset + (want - cur); /* modulo 2^64, as KVM's */
                sync->have = true;
        }
        offset = sync->offset;
        return tsc_offset_attr(v, KVM_SET_DEVICE_ATTR, &offset) < 0 ? 0 : 1;
}

/* The order QEMU and Firecracker use: special registers before the MSRs
 * (EFER, APIC base), the LAPIC before the events, MP state last. The
 * TSC-deadline MSR goes after the LAPIC (as QEMU's kvm_put_tscdeadline_msr
 * after kvm_put_apic): KVM drops a write to it unless the LAPIC timer is
 * in TSC-deadline mode, which only KVM_SET_LAPIC restores; before it, a
 * guest's armed deadline timer would be lost. It also needs the TSC (its
 * offset, or the first batch): KVM turns the deadline into host time
 * against it. */
static int set_cpu(struct vcpu *v, struct cpu_state *st, struct tsc_sync *sync,
                   struct isola_err *err)
{
        if (ioctl(v->fd, KVM_SET_SREGS, &st->sregs) < 0)
                return err_sys(err, "vCPU %u: KVM_SET_SREGS", v->id);
        if (ioctl(v->fd, KVM_SET_REGS, &st->regs) < 0)
                return err_sys(err, "vCPU %u: KVM_SET_REGS", v->id);
        if (st->fpu_kind == FPU_XSAVE ? ioctl(v->fd, KVM_SET_XSAVE, &st->xsave) < 0
                                      : ioctl(v->fd, KVM_SET_FPU, &st->fpu) < 0)
                return err_sys(err, "vCPU %u: setting the FPU state", v->id);
        if (st->has_xcrs && ioctl(v->fd, KVM_SET_XCRS, &st->xcrs) < 0)
                return err_sys(err, "vCPU %u: KVM_SET_XCRS", v->id);
        int tsc_set = tsc_offset_set(v, st, sync, err);
        if (tsc_set < 0 || set_msrs(v, st, false, tsc_set == 1, err) < 0)
                return -1;
        if (ioctl(v->fd, KVM_SET_LAPIC, &st->lapic) < 0)
                return err_sys(err, "vCPU %u: KVM_SET_LAPIC", v->id);
        if (set_msrs(v, st, true, false, err) < 0)
                return -1;
        if (ioctl(v->fd, KVM_SET_DEBUGREGS, &st->dregs) < 0)
                return err_sys(err, "vCPU %u: KVM_SET_DEBUGREGS", v->id);
        if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &st->events) < 0)
                return err_sys(err, "vCPU %u: KVM_SET_VCPU_EVENTS", v->id);
        if (ioctl(v->fd, KVM_SET_MP_STATE, &st->mp) < 0)
                return err_sys(err, "vCPU %u: KVM_SET_MP_STATE", v->id);
        return 0;
}

static int save_vm(struct vm *vm, struct snap_writer *w, struct isola_err *err)
{
        struct dstate_w p = {0};
        struct kvm_irqchip chip;
        struct kvm_pit_state2 pit;
        struct kvm_clock_data clock = {0};

        for (uint32_t id = KVM_IRQCHIP_PIC_MASTER; id <= KVM_IRQCHIP_IOAPIC; id++) {
                memset(&chip, 0, sizeof(chip));
                chip.chip_id = id;
                if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
                        return err_sys(err, "KVM_GET_IRQCHIP %u", id);
                dstate_w_bytes(&p, &chip, sizeof(chip));
        }
        snap_writer_add(w, "irqchip", VM_STATE_VERSION, &p);
        dstate_w_free(&p);
        if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0)
                return err_sys(err, "KVM_GET_PIT2");
        dstate_w_bytes(&p, &pit, sizeof(pit));
        snap_writer_add(w, "pit", VM_STATE_VERSION, &p);
        dstate_w_free(&p);
        if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) < 0)
                return err_sys(err, "KVM_GET_CLOCK");
        dstate_w_u64(&p, clock.clock);
        snap_writer_add(w, "clock", VM_STATE_VERSION, &p);
        dstate_w_free(&p);
        return 0;
}

int snap_cpu_save(struct vm *vm, struct snap_writer *w, struct isola_err *err)
{
        struct vm_priv *priv = vm_priv(vm);
        struct cpu_state *st = malloc(sizeof(*st));
        char name[16];

        if (!st)
                return err_set(err, ENOMEM, "snapshot: out of memory");
        for (unsigned i = 0; i < vm->n_cpus; i++) {
                struct dstate_w p = {0};
                if (get_cpu(vm, &priv->vcpus[i], st, err) < 0) {
                        free(st);
                        return -1;
                }
                put_cpu(st, &p);
                snprintf(name, sizeof(name), "cpu%u", i);
                snap_writer_add(w, name, CPU_STATE_VERSION, &p);
                dstate_w_free(&p);
        }
        free(st);
        return save_vm(vm, w, err);
}

static int load_vm(struct vm *vm, const struct snap_file *f, struct isola_err *err)
{
        struct dstate_r r;
        struct kvm_irqchip chip[3];
        struct kvm_pit_state2 pit;

        if (snap_open_section(f, "irqchip", VM_STATE_VERSION, &r, err) < 0)
                return -1;
        dstate_r_bytes(&r, chip, sizeof(chip));
        for (uint32_t id = 0; id < 3; id++)
                if (chip[id].chip_id != id)
                        r.bad = true;
        if (dstate_r_end(&r, err) < 0)
                return -1;
        for (uint32_t id = 0; id < 3; id++)
                if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip[id]) < 0)
                        return err_sys(err, "KVM_SET_IRQCHIP %u", id);
        if (snap_open_section(f, "pit", VM_STATE_VERSION, &r, err) < 0)
                return -1;
        dstate_r_bytes(&r, &pit, sizeof(pit));
        if (dstate_r_end(&r, err) < 0)
                return -1;
        if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0)
                return err_sys(err, "KVM_SET_PIT2");
        if (snap_open_section(f, "clock", VM_STATE_VERSION, &r, err) < 0)
                return -1;
        struct kvm_clock_data clock = {.clock = dstate_r_u64(&r)};
        if (dstate_r_end(&r, err) < 0)
                return -1;
        /* The guest's clock resumes where it stopped: no jump for kvmclock. */
        if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
                return err_sys(err, "KVM_SET_CLOCK");
        return 0;
}

int snap_cpu_load_vcpus(struct vm *vm, const struct snap_file *f, struct isola_err *err)
{
        struct vm_priv *priv = vm_priv(vm);
        struct cpu_state *st = malloc(sizeof(*st));
        char name[16];
        struct dstate_r r;
        struct tsc_sync sync = {.have = false, .absent = false};

        if (!st)
                return err_set(err, ENOMEM, "snapshot: out of memory");
        for (unsigned i = 0; i < vm->n_cpus; i++) {
                snprintf(name, sizeof(name), "cpu%u", i);
                if (snap_open_section(f, name, CPU_STATE_VERSION, &r, err) < 0 ||
                    parse_cpu(&r, st, err) < 0 || set_cpu(&priv->vcpus[i], st, &sync, err) < 0) {
                        free(st);
                        return -1;
                }
        }
        free(st);
        snprintf(name, sizeof(name), "cpu%u", vm->n_cpus);
        if (snap_open_section(f, name, CPU_STATE_VERSION, &r, NULL) == 0)
                return err_set(err, EINVAL, "snapshot: it has more vCPUs than this machine's %u",
                               vm->n_cpus);
        return 0;
}

int snap_cpu_load(struct vm *vm, const struct snap_file *f, struct isola_err *err)
{
        if (snap_cpu_load_vcpus(vm, f, err) < 0)
                return -1;
        return load_vm(vm, f, err);
}
