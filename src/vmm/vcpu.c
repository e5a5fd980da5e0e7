/* vCPU threads: each runs KVM_RUN and hands port/MMIO exits to the buses.
 * The loop switches only on the exit reason; devices live behind io_bus.
 * Stopping: vm_request_stop() sets immediate_exit and sends SIGUSR1, whose
 * empty handler makes KVM_RUN return EINTR. */
#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <time.h>

#include "vmm/vm_internal.h"

static void kick_handler(int sig)
{
        (void)sig;
}

int vcpu_install_kick_handler(struct isola_err *err)
{
        struct sigaction sa = {.sa_handler = kick_handler};

        sigemptyset(&sa.sa_mask);
        /* No SA_RESTART: KVM_RUN must return to the loop. */
        if (sigaction(SIGUSR1, &sa, NULL) < 0)
                return err_sys(err, "installing the vCPU kick handler");
        return 0;
}

int vcpu_create(struct vm *vm, unsigned id, struct isola_err *err)
{
        struct vm_priv *p = vm_priv(vm);
        struct vcpu *v = &p->vcpus[id];

        if (id >= VM_MAX_CPUS)
                return err_set(err, EINVAL, "vCPU %u: at most %d vCPUs", id, VM_MAX_CPUS);
        v->vm = vm;
        v->id = id;
        v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
        if (v->fd < 0)
                return err_sys(err, "vCPU %u: KVM_CREATE_VCPU", id);
        int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (size <= 0)
                return err_sys(err, "KVM_GET_VCPU_MMAP_SIZE");
        void *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
        if (run == MAP_FAILED)
                return err_sys(err, "vCPU %u: mapping kvm_run", id);
        v->run_size = (size_t)size;
        /* Published last: vm_request_stop() only touches vCPUs with a run page. */
        __atomic_store_n(&v->run, (struct kvm_run *)run, __ATOMIC_SEQ_CST);
        if (vm_stop_reason(vm) >= 0)
                v->run->immediate_exit = 1;
        return 0;
}

void vcpu_destroy(struct vcpu *v)
{
        if (v->run) {
                munmap(v->run, v->run_size);
                v->run = NULL;
        }
        if (v->fd >= 0) {
                close(v->fd);
                v->fd = -1;
        }
}

static void handle_io(struct vcpu *v)
{
        struct kvm_run *run = v->run;
        uint8_t *data = (uint8_t *)run + run->io.data_offset;
        bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

        __atomic_fetch_add(&v->vm->exits_pio, 1, __ATOMIC_RELAXED);
        /* String I/O (rep ins/outs) hands over `count` elements at once. */
        for (uint32_t i = 0; i < run->io.count; i++) {
                io_bus_dispatch(v->vm->pio_bus, run->io.port, data, run->io.size, is_write);
                data += run->io.size;
        }
}

static void handle_mmio(struct vcpu *v)
{
        struct kvm_run *run = v->run;
        uint32_t len = run->mmio.len <= 8 ? run->mmio.len : 8;

        __atomic_fetch_add(&v->vm->exits_mmio, 1, __ATOMIC_RELAXED);
        io_bus_dispatch(v->vm->mmio_bus, run->mmio.phys_addr, run->mmio.data, len,
                        run->mmio.is_write);
}

static unsigned long long vcpu_rip(struct vcpu *v)
{
        struct kvm_regs regs;

        if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
                return 0;
        return regs.rip;
}

static void handle_system_event(struct vcpu *v)
{
        switch (v->run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
                vm_request_stop(v->vm, VM_EXIT_POWEROFF);
                break;
        case KVM_SYSTEM_EVENT_RESET:
                vm_request_stop(v->vm, VM_EXIT_RESET);
                break;
        default:
                vm_fail(v->vm, VM_EXIT_INTERNAL, "vCPU %u: system event %u", v->id,
                        v->run->system_event.type);
        }
}

static const char *internal_suberror(uint32_t sub)
{
        switch (sub) {
        case KVM_INTERNAL_ERROR_EMULATION:
                return "instruction emulation failed";
        case KVM_INTERNAL_ERROR_SIMUL_EX:
                return "exception during exception delivery";
        case KVM_INTERNAL_ERROR_DELIVERY_EV:
                return "event delivery failed";
        default:
                return "internal error";
        }
}

/* Reads up to len instruction bytes at the guest's linear address rip
 * (within one page); returns how many. */
static unsigned read_insn(struct vcpu *v, uint64_t rip, uint8_t *buf, unsigned len)
{
        struct kvm_translation tr = {.linear_address = rip};
        unsigned in_page = 4096 - (unsigned)(rip & 0xfff);

        if (len > in_page)
                len = in_page;
        if (ioctl(v->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid ||
            guest_mem_read(&v->vm->mem, tr.physical_address, buf, len) < 0)
                return 0;
        return len;
}

/* Some hosts' KVM (kvm-pvm, which emulates every guest instruction) fails
 * on a few instructions Linux executes: INT3 (its alternatives self-test)
 * and FWAIT. Finish them here: INT3 delivers the #BP it raises (a trap, so
 * the saved RIP is the next instruction); FWAIT without pending x87
 * exceptions does nothing. Anything else stays an emulation failure. */
static bool emulate_unsupported(struct vcpu *v)
{
        struct kvm_regs regs;
        struct kvm_vcpu_events ev;
        uint8_t insn = 0;

        if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0 || read_insn(v, regs.rip, &insn, 1) != 1)
                return false;
        if (insn != 0xcc && insn != 0x9b)
                return false;
        regs.rip++;
        if (insn == 0x9b)
                return ioctl(v->fd, KVM_SET_REGS, &regs) == 0;
        if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0 || ev.exception.injected)
                return false;
        ev.exception.injected = 1;
        ev.exception.nr = 3;
        ev.exception.has_error_code = 0;
        ev.flags = 0;
        return ioctl(v->fd, KVM_SET_REGS, &regs) == 0 &&
               ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) == 0;
}

static void fail_with_insn(struct vcpu *v, const char *what, uint32_t suberror)
{
        unsigned long long rip = vcpu_rip(v);
        uint8_t insn[8];
        char hex[8 * 3 + 1] = "";
        unsigned n = read_insn(v, rip, insn, sizeof(insn));

        for (unsigned i = 0; i < n; i++)
                snprintf(hex + 3 * i, sizeof(hex) - 3 * i, " %02x", insn[i]);
        vm_fail(v->vm, VM_EXIT_INTERNAL, "vCPU %u: KVM %s (suberror %u) at RIP 0x%llx (bytes:%s)",
                v->id, what, suberror, rip, n ? hex : " unreadable");
}

/* Returns false when the loop must end. */
static bool handle_exit(struct vcpu *v)
{
        struct kvm_run *run = v->run;

        __atomic_fetch_add(&v->vm->exits_total, 1, __ATOMIC_RELAXED);
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
                handle_io(v);
                return true;
        case KVM_EXIT_MMIO:
                handle_mmio(v);
                return true;
        case KVM_EXIT_HLT:
                /* Only without an in-kernel LAPIC; ours has one. */
                return true;
        case KVM_EXIT_SHUTDOWN:
                vm_fail(v->vm, VM_EXIT_TRIPLE_FAULT, "vCPU %u: triple fault at RIP 0x%llx", v->id,
                        vcpu_rip(v));
                return false;
        case KVM_EXIT_SYSTEM_EVENT:
                handle_system_event(v);
                return false;
        case KVM_EXIT_INTERNAL_ERROR:
                if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
                    emulate_unsupported(v))
                        return true;
                fail_with_insn(v, internal_suberror(run->internal.suberror),
                               run->internal.suberror);
                return false;
        case KVM_EXIT_FAIL_ENTRY:
                vm_fail(v->vm, VM_EXIT_INTERNAL,
                        "vCPU %u: VM entry failed (hardware reason 0x%llx) at RIP 0x%llx", v->id,
                        (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
                        vcpu_rip(v));
                return false;
        default:
                vm_fail(v->vm, VM_EXIT_INTERNAL, "vCPU %u: unexpected KVM exit %u at RIP 0x%llx",
                        v->id, run->exit_reason, vcpu_rip(v));
                return false;
        }
}

static void deadline_in(struct timespec *ts, long ms)
{
        clock_gettime(CLOCK_REALTIME, ts);
        ts->tv_nsec += ms * 1000 * 1000;
        while (ts->tv_nsec >= 1000000000L) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000L;
        }
}

/* Waits outside KVM_RUN while the VM is paused. The wait is bounded so that
 * a stop request, which does not know about parked threads, is seen. */
static void park(struct vcpu *v)
{
        struct vm_priv *p = vm_priv(v->vm);
        struct timespec ts;

        if (!__atomic_load_n(&p->pause, __ATOMIC_SEQ_CST))
                return;
        pthread_mutex_lock(&p->pause_lock);
        p->n_parked++;
        pthread_cond_broadcast(&p->pause_cond);
        while (p->pause && vm_stop_reason(v->vm) < 0) {
                deadline_in(&ts, 100);
                pthread_cond_timedwait(&p->pause_cond, &p->pause_lock, &ts);
        }
        p->n_parked--;
        pthread_mutex_unlock(&p->pause_lock);
        /* The pause kick set immediate_exit; a stop request keeps it set. */
        __atomic_store_n(&v->run->immediate_exit, vm_stop_reason(v->vm) >= 0 ? 1 : 0,
                         __ATOMIC_SEQ_CST);
}

static void kick_all(struct vm *vm)
{
        struct vm_priv *p = vm_priv(vm);

        for (unsigned i = 0; i < vm->n_cpus; i++) {
                struct vcpu *v = &p->vcpus[i];
                if (!v->run || !__atomic_load_n(&v->started, __ATOMIC_SEQ_CST))
                        continue;
                __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
                pthread_kill(v->thread, SIGUSR1);
        }
}

static unsigned n_started(struct vm *vm)
{
        struct vm_priv *p = vm_priv(vm);
        unsigned n = 0;

        for (unsigned i = 0; i < vm->n_cpus; i++)
                n += __atomic_load_n(&p->vcpus[i].started, __ATOMIC_SEQ_CST) ? 1 : 0;
        return n;
}

void vcpus_pause(struct vm *vm)
{
        struct vm_priv *p = vm_priv(vm);
        struct timespec ts;

        pthread_mutex_lock(&p->pause_lock);
        __atomic_store_n(&p->pause, true, __ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&p->pause_lock);
        /* A vCPU that is between its pause check and KVM_RUN sees
         * immediate_exit; one inside KVM_RUN (or an AP waiting for its SIPI)
         * is interrupted by the signal. Kicked again on each round. */
        pthread_mutex_lock(&p->pause_lock);
        while (p->n_parked < n_started(vm) && vm_stop_reason(vm) < 0) {
                kick_all(vm);
                deadline_in(&ts, 20);
                pthread_cond_timedwait(&p->pause_cond, &p->pause_lock, &ts);
        }
        pthread_mutex_unlock(&p->pause_lock);
}

void vcpus_resume(struct vm *vm)
{
        struct vm_priv *p = vm_priv(vm);

        pthread_mutex_lock(&p->pause_lock);
        __atomic_store_n(&p->pause, false, __ATOMIC_SEQ_CST);
        pthread_cond_broadcast(&p->pause_cond);
        pthread_mutex_unlock(&p->pause_lock);
}

bool vcpus_paused(struct vm *vm)
{
        return __atomic_load_n(&vm_priv(vm)->pause, __ATOMIC_SEQ_CST);
}

static void *vcpu_thread(void *arg)
{
        struct vcpu *v = arg;
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        /* Parking happens only where KVM_RUN returned EINTR: the pause kick
         * sets immediate_exit, so a vCPU that was handling an exit enters
         * KVM_RUN once more, KVM completes the pending I/O (an IN's result
         * in RAX) and returns; the state it parks with is complete, as
         * snapshots need. */
        park(v);
        while (vm_stop_reason(v->vm) < 0) {
                if (ioctl(v->fd, KVM_RUN, 0) < 0) {
                        if (errno == EINTR || errno == EAGAIN) {
                                park(v);
                                continue;
                        }
                        vm_fail(v->vm, VM_EXIT_VMM_ERROR, "vCPU %u: KVM_RUN: %s", v->id,
                                strerror(errno));
                        break;
                }
                if (!handle_exit(v))
                        break;
        }
        return NULL;
}

int vcpu_start(struct vcpu *v, struct isola_err *err)
{
        int rc = pthread_create(&v->thread, NULL, vcpu_thread, v);

        if (rc != 0)
                return err_set(err, rc, "vCPU %u: creating thread failed", v->id);
        __atomic_store_n(&v->started, true, __ATOMIC_SEQ_CST);
        /* A stop requested before `started` was visible sent this thread no
         * signal, and an AP waiting for its SIPI blocks inside KVM_RUN where
         * immediate_exit is no longer looked at. vm_request_stop writes the
         * reason then reads `started`; we write `started` then read the
         * reason: one of the two sides always sees the other and kicks. */
        if (vm_stop_reason(v->vm) >= 0)
                pthread_kill(v->thread, SIGUSR1);
        return 0;
}

/* Called once the VM is stopping. A vCPU blocked inside KVM_RUN (an AP
 * waiting for its SIPI) leaves only on a signal, so one that has not left
 * after a moment is kicked again rather than waited for forever. */
void vcpu_join(struct vcpu *v)
{
        if (!v->started)
                return;
        for (;;) {
                struct timespec deadline;
                clock_gettime(CLOCK_REALTIME, &deadline);
                deadline.tv_nsec += 50 * 1000 * 1000;
                if (deadline.tv_nsec >= 1000000000L) {
                        deadline.tv_sec++;
                        deadline.tv_nsec -= 1000000000L;
                }
                if (pthread_timedjoin_np(v->thread, NULL, &deadline) == 0)
                        break;
                __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
                pthread_kill(v->thread, SIGUSR1);
        }
        v->started = false;
}
