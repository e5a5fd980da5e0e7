/* The KVM VM (see vm.h): creation with guest RAM around the PCI hole, the
 * in-kernel IRQ chips, the GSI routing table, irqfd/ioeventfd plumbing, and
 * the stop protocol shared by devices, vCPUs and the front end. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/layout.h"
#include "vmm/vm_internal.h"

/* Below the IOAPIC, inside the PCI hole: KVM needs three pages for the real
 * mode TSS and one for the EPT identity map on Intel. */
#define VM_TSS_ADDR          0xfffbd000ULL
#define VM_IDENTITY_MAP_ADDR 0xfffbc000ULL

static int map_region(struct vm *vm, uint64_t gpa, uint64_t size, struct isola_err *err)
{
        void *hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (hva == MAP_FAILED)
                return err_sys(err, "mapping %llu MiB of guest memory",
                               (unsigned long long)(size >> 20));
        /* Optional: lets KSM share identical guest pages between VMs. */
        (void)madvise(hva, size, MADV_MERGEABLE);
        struct guest_mem_region *r = &vm->mem.regions[vm->mem.n_regions++];
        *r = (struct guest_mem_region){.gpa = gpa, .size = size, .hva = hva};
        vm->mem.ram_size += size;
        return 0;
}

static int setup_memory(struct vm *vm, uint64_t mem_bytes, struct isola_err *err)
{
        uint64_t low = mem_bytes < LAYOUT_PCI_HOLE_START ? mem_bytes : LAYOUT_PCI_HOLE_START;

        if (map_region(vm, 0, low, err) < 0)
                return -1;
        if (mem_bytes > low)
                return map_region(vm, LAYOUT_HIGH_RAM_START, mem_bytes - low, err);
        return 0;
}

int vm_set_memslots(struct vm *vm, uint32_t flags, struct isola_err *err)
{
        for (unsigned slot = 0; slot < vm->mem.n_regions; slot++) {
                const struct guest_mem_region *r = &vm->mem.regions[slot];
                struct kvm_userspace_memory_region kr = {
                    .slot = slot,
                    .flags = flags,
                    .guest_phys_addr = r->gpa,
                    .memory_size = r->size,
                    .userspace_addr = (uintptr_t)r->hva,
                };
                if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
                        return err_sys(err, "KVM_SET_USER_MEMORY_REGION slot %u", slot);
        }
        return 0;
}

static int commit_routes(struct vm *vm, struct isola_err *err)
{
        struct vm_priv *p = vm_priv(vm);
        unsigned n = p->n_fixed_routes;
        /* The kernel's table ends in a flexible array: allocate it with room
         * for every route we can have. */
        struct kvm_irq_routing *tbl =
            calloc(1, sizeof(*tbl) + VM_MAX_ROUTES * sizeof(tbl->entries[0]));

        if (!tbl)
                return err_set(err, ENOMEM, "GSI routing: out of memory");
        memcpy(tbl->entries, p->routes, n * sizeof(tbl->entries[0]));
        for (unsigned i = 0; i < VM_MAX_MSI_ROUTES; i++) {
                if (!p->msi[i].used || p->msi[i].masked)
                        continue;
                struct kvm_irq_routing_entry *e = &tbl->entries[n++];
                e->gsi = LAYOUT_MSI_GSI_BASE + i;
                e->type = KVM_IRQ_ROUTING_MSI;
                e->u.msi.address_lo = (uint32_t)p->msi[i].addr;
                e->u.msi.address_hi = (uint32_t)(p->msi[i].addr >> 32);
                e->u.msi.data = p->msi[i].data;
        }
        tbl->nr = n;
        int rc = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, tbl);
        free(tbl);
        if (rc < 0)
                return err_sys(err, "KVM_SET_GSI_ROUTING");
        return 0;
}

/* The same wiring a PC chipset has: ISA IRQs reach both the PICs and the
 * IOAPIC, except that the PIT (IRQ 0) is wired to IOAPIC pin 2, which the
 * MADT/MP table announce as an interrupt source override. */
static int setup_routing(struct vm *vm, struct isola_err *err)
{
        struct vm_priv *p = vm_priv(vm);
        unsigned n = 0;

        for (unsigned irq = 0; irq < 16; irq++) {
                if (irq == 2)
                        continue;
                struct kvm_irq_routing_entry *e = &p->routes[n++];
                e->gsi = irq;
                e->type = KVM_IRQ_ROUTING_IRQCHIP;
                e->u.irqchip.irqchip = irq < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
                e->u.irqchip.pin = irq % 8;
        }
        for (unsigned gsi = 0; gsi < VM_IOAPIC_PINS; gsi++) {
                if (gsi == 2)
                        continue;
                struct kvm_irq_routing_entry *e = &p->routes[n++];
                e->gsi = gsi;
                e->type = KVM_IRQ_ROUTING_IRQCHIP;
                e->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
                e->u.irqchip.pin = gsi == 0 ? 2 : gsi;
        }
        p->n_fixed_routes = n;
        return commit_routes(vm, err);
}

static int setup_chips(struct vm *vm, struct isola_err *err)
{
        if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VM_TSS_ADDR) < 0)
                return err_sys(err, "KVM_SET_TSS_ADDR");
        uint64_t idmap = VM_IDENTITY_MAP_ADDR;
        if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
                return err_sys(err, "KVM_SET_IDENTITY_MAP_ADDR");
        if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
                return err_sys(err, "KVM_CREATE_IRQCHIP");
        struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
        if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
                return err_sys(err, "KVM_CREATE_PIT2");
        return setup_routing(vm, err);
}

int vm_create(unsigned n_cpus, uint64_t mem_bytes, struct vm **vm_out, struct isola_err *err)
{
        struct vm *vm = calloc(1, sizeof(*vm));
        struct vm_priv *p = calloc(1, sizeof(*p));

        if (!vm || !p) {
                free(vm);
                free(p);
                return err_set(err, ENOMEM, "VM: out of memory");
        }
        vm->priv = p;
        vm->kvm_fd = vm->vm_fd = -1;
        vm->n_cpus = n_cpus;
        p->stop_reason = -1;
        p->stop_fd = -1;
        pthread_mutex_init(&p->route_lock, NULL);
        pthread_mutex_init(&p->pause_lock, NULL);
        pthread_cond_init(&p->pause_cond, NULL);
        for (unsigned i = 0; i < VM_MAX_CPUS; i++)
                p->vcpus[i].fd = -1;

        p->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (p->stop_fd < 0) {
                err_sys(err, "eventfd");
                goto fail;
        }
        if (setup_memory(vm, mem_bytes, err) < 0)
                goto fail;
        vm->pio_bus = io_bus_new("port I/O");
        vm->mmio_bus = io_bus_new("MMIO");
        if (!vm->pio_bus || !vm->mmio_bus) {
                err_set(err, ENOMEM, "VM: out of memory");
                goto fail;
        }
        vm->loop = evloop_new(err);
        if (!vm->loop)
                goto fail;
        *vm_out = vm;
        return 0;
fail:
        vm_destroy(vm);
        return -1;
}

int vm_open_kvm(struct vm *vm, struct isola_err *err)
{
        vm->kvm_fd = kvm_open(err);
        if (vm->kvm_fd < 0 || kvm_check(vm->kvm_fd, err) < 0)
                return -1;
        vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
        if (vm->vm_fd < 0)
                return err_sys(err, "KVM_CREATE_VM");
        if (vm_set_memslots(vm, 0, err) < 0 || setup_chips(vm, err) < 0)
                return -1;
        return 0;
}

void vm_destroy(struct vm *vm)
{
        if (!vm)
                return;
        struct vm_priv *p = vm_priv(vm);
        for (unsigned i = 0; i < VM_MAX_CPUS; i++)
                vcpu_destroy(&p->vcpus[i]);
        evloop_free(vm->loop);
        io_bus_free(vm->pio_bus);
        io_bus_free(vm->mmio_bus);
        for (unsigned i = 0; i < vm->mem.n_regions; i++)
                munmap(vm->mem.regions[i].hva, vm->mem.regions[i].size);
        if (p->stop_fd >= 0)
                close(p->stop_fd);
        if (vm->vm_fd >= 0)
                close(vm->vm_fd);
        if (vm->kvm_fd >= 0)
                close(vm->kvm_fd);
        pthread_mutex_destroy(&p->route_lock);
        pthread_mutex_destroy(&p->pause_lock);
        pthread_cond_destroy(&p->pause_cond);
        free(p);
        free(vm);
}

int vm_irq_line(struct vm *vm, uint32_t gsi, int level)
{
        struct kvm_irq_level irq = {.irq = gsi, .level = level};

        return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -1 : 0;
}

static int irqfd(struct vm *vm, uint32_t gsi, int efd, bool deassign)
{
        struct kvm_irqfd req = {
            .fd = (uint32_t)efd,
            .gsi = gsi,
            .flags = deassign ? KVM_IRQFD_FLAG_DEASSIGN : 0,
        };
        return ioctl(vm->vm_fd, KVM_IRQFD, &req);
}

int vm_msi_alloc(struct vm *vm, uint64_t addr, uint32_t data, uint32_t *gsi_out, int *efd_out,
                 struct isola_err *err)
{
        struct vm_priv *p = vm_priv(vm);
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

        if (efd < 0)
                return err_sys(err, "MSI: eventfd");
        pthread_mutex_lock(&p->route_lock);
        unsigned i = 0;
        while (i < VM_MAX_MSI_ROUTES && p->msi[i].used)
                i++;
        if (i == VM_MAX_MSI_ROUTES) {
                pthread_mutex_unlock(&p->route_lock);
                close(efd);
                return err_set(err, ENOSPC, "MSI: all %d routes in use", VM_MAX_MSI_ROUTES);
        }
        p->msi[i].used = true;
        p->msi[i].masked = false;
        p->msi[i].addr = addr;
        p->msi[i].data = data;
        uint32_t gsi = LAYOUT_MSI_GSI_BASE + i;
        int rc = commit_routes(vm, err);
        if (rc == 0 && irqfd(vm, gsi, efd, false) < 0)
                rc = err_sys(err, "MSI: KVM_IRQFD for GSI %u", gsi);
        if (rc < 0) {
                p->msi[i].used = false;
                (void)commit_routes(vm, NULL);
                pthread_mutex_unlock(&p->route_lock);
                close(efd);
                return -1;
        }
        pthread_mutex_unlock(&p->route_lock);
        *gsi_out = gsi;
        *efd_out = efd;
        return 0;
}

static int msi_index(uint32_t gsi)
{
        if (gsi < LAYOUT_MSI_GSI_BASE || gsi >= LAYOUT_MSI_GSI_BASE + VM_MAX_MSI_ROUTES)
                return -1;
        return (int)(gsi - LAYOUT_MSI_GSI_BASE);
}

int vm_msi_update(struct vm *vm, uint32_t gsi, uint64_t addr, uint32_t data, bool masked,
                  struct isola_err *err)
{
        struct vm_priv *p = vm_priv(vm);
        int i = msi_index(gsi);

        if (i < 0 || !p->msi[i].used)
                return err_set(err, EINVAL, "MSI: GSI %u is not allocated", gsi);
        pthread_mutex_lock(&p->route_lock);
        bool same = p->msi[i].addr == addr && p->msi[i].data == data && p->msi[i].masked == masked;
        p->msi[i].addr = addr;
        p->msi[i].data = data;
        p->msi[i].masked = masked;
        int rc = same ? 0 : commit_routes(vm, err);
        pthread_mutex_unlock(&p->route_lock);
        return rc;
}

void vm_msi_free(struct vm *vm, uint32_t gsi, int efd)
{
        struct vm_priv *p = vm_priv(vm);
        int i = msi_index(gsi);

        if (i < 0)
                return;
        pthread_mutex_lock(&p->route_lock);
        if (efd >= 0)
                (void)irqfd(vm, gsi, efd, true);
        if (p->msi[i].used) {
                p->msi[i].used = false;
                (void)commit_routes(vm, NULL);
        }
        pthread_mutex_unlock(&p->route_lock);
        if (efd >= 0)
                close(efd);
}

int vm_msi_signal(struct vm *vm, uint64_t addr, uint32_t data)
{
        struct kvm_msi msi = {
            .address_lo = (uint32_t)addr,
            .address_hi = (uint32_t)(addr >> 32),
            .data = data,
        };
        return ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -1 : 0;
}

static int ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, bool is_pio, int fd, bool deassign)
{
        struct kvm_ioeventfd req = {
            .addr = addr,
            .len = len,
            .fd = fd,
            .flags = (is_pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
                     (deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0),
        };
        return ioctl(vm->vm_fd, KVM_IOEVENTFD, &req);
}

int vm_ioeventfd_add(struct vm *vm, uint64_t addr, uint32_t len, bool is_pio, int fd,
                     struct isola_err *err)
{
        if (ioeventfd(vm, addr, len, is_pio, fd, false) < 0)
                return err_sys(err, "KVM_IOEVENTFD at %s 0x%llx", is_pio ? "port" : "address",
                               (unsigned long long)addr);
        return 0;
}

int vm_ioeventfd_del(struct vm *vm, uint64_t addr, uint32_t len, bool is_pio, int fd)
{
        return ioeventfd(vm, addr, len, is_pio, fd, true);
}

void vm_request_stop(struct vm *vm, enum vm_exit_reason reason)
{
        struct vm_priv *p = vm_priv(vm);
        int expected = -1;
        uint64_t one = 1;

        bool first = __atomic_compare_exchange_n(&p->stop_reason, &expected, (int)reason, false,
                                                 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);

        /* The first reason wins, but every request kicks the vCPUs again, so
         * a SIGTERM from the host still ends a VM whose stop got stuck.
         * immediate_exit covers a vCPU that is between its stop check and
         * KVM_RUN; the signal interrupts one already inside KVM_RUN. */
        for (unsigned i = 0; i < VM_MAX_CPUS; i++) {
                struct vcpu *v = &p->vcpus[i];
                if (!v->run)
                        continue;
                __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
                if (__atomic_load_n(&v->started, __ATOMIC_SEQ_CST))
                        pthread_kill(v->thread, SIGUSR1);
        }
        if (first && write(p->stop_fd, &one, sizeof(one)) < 0) {
                /* cannot fail for a fresh eventfd counter */
        }
}

int vm_stop_reason(struct vm *vm)
{
        return __atomic_load_n(&vm_priv(vm)->stop_reason, __ATOMIC_SEQ_CST);
}

void vm_fail(struct vm *vm, enum vm_exit_reason reason, const char *fmt, ...)
{
        struct vm_priv *p = vm_priv(vm);
        va_list ap;

        if (vm_stop_reason(vm) < 0) {
                va_start(ap, fmt);
                vsnprintf(p->internal_msg, sizeof(p->internal_msg), fmt, ap);
                va_end(ap);
        }
        vm_request_stop(vm, reason);
}
