/* Implementation of the vm.h / evloop.h functions device models call, for
 * tests that run devices without KVM (see fake_vm.h). */
#include "fake_vm.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static struct fake_vm *to_fake(struct vm *vm)
{
        return (struct fake_vm *)((char *)vm - offsetof(struct fake_vm, vm));
}

struct fake_vm *fake_vm_new(uint64_t ram_bytes)
{
        struct fake_vm *f = calloc(1, sizeof(*f));

        if (!f)
                return NULL;
        f->stop_reason = -1;
        f->vm.kvm_fd = f->vm.vm_fd = -1;
        f->vm.pio_bus = io_bus_new("pio");
        f->vm.mmio_bus = io_bus_new("mmio");
        f->vm.loop = &f->loop;
        f->vm.n_cpus = 1;
        if (ram_bytes) {
                f->ram = calloc(1, ram_bytes);
                f->vm.mem.regions[0] = (struct guest_mem_region){0, ram_bytes, f->ram};
                f->vm.mem.n_regions = 1;
                f->vm.mem.ram_size = ram_bytes;
        }
        if (!f->vm.pio_bus || !f->vm.mmio_bus || (ram_bytes && !f->ram)) {
                fake_vm_free(f);
                return NULL;
        }
        return f;
}

void fake_vm_free(struct fake_vm *f)
{
        if (!f)
                return;
        io_bus_free(f->vm.pio_bus);
        io_bus_free(f->vm.mmio_bus);
        free(f->ram);
        free(f);
}

uint32_t fake_pio_in(struct fake_vm *f, uint16_t port, unsigned len)
{
        uint8_t d[4] = {0};
        uint32_t v = 0;

        io_bus_dispatch(f->vm.pio_bus, port, d, len, false);
        for (unsigned i = 0; i < len; i++)
                v |= (uint32_t)d[i] << (8 * i);
        return v;
}

void fake_pio_out(struct fake_vm *f, uint16_t port, unsigned len, uint32_t value)
{
        uint8_t d[4];

        for (unsigned i = 0; i < 4; i++)
                d[i] = (uint8_t)(value >> (8 * i));
        io_bus_dispatch(f->vm.pio_bus, port, d, len, true);
}

bool fake_mmio(struct fake_vm *f, uint64_t addr, uint8_t *data, unsigned len, bool is_write)
{
        return io_bus_dispatch(f->vm.mmio_bus, addr, data, len, is_write);
}

bool fake_pio_claimed(struct fake_vm *f, uint16_t port)
{
        uint8_t d = 0;

        return io_bus_dispatch(f->vm.pio_bus, port, &d, 1, false);
}

struct fake_watch *fake_watch_find(struct fake_vm *f, int fd)
{
        for (unsigned i = 0; i < FAKE_VM_WATCHES; i++)
                if (f->loop.w[i].live && f->loop.w[i].fd == fd)
                        return &f->loop.w[i];
        return NULL;
}

int vm_irq_line(struct vm *vm, uint32_t gsi, int level)
{
        struct fake_vm *f = to_fake(vm);

        if (gsi >= FAKE_VM_GSIS)
                return -1;
        if (level && !f->irq_level[gsi])
                f->irq_raises[gsi]++;
        f->irq_level[gsi] = level ? 1 : 0;
        return 0;
}

void vm_request_stop(struct vm *vm, enum vm_exit_reason reason)
{
        struct fake_vm *f = to_fake(vm);

        if (f->stop_reason < 0)
                f->stop_reason = (int)reason;
        f->stops++;
}

int vm_msi_alloc(struct vm *vm, uint64_t addr, uint32_t data, uint32_t *gsi_out, int *efd_out,
                 struct isola_err *err)
{
        (void)vm, (void)addr, (void)data, (void)gsi_out, (void)efd_out;
        return err_set(err, ENOSYS, "fake VM: no MSI");
}

int vm_msi_update(struct vm *vm, uint32_t gsi, uint64_t addr, uint32_t data, bool masked,
                  struct isola_err *err)
{
        (void)vm, (void)gsi, (void)addr, (void)data, (void)masked;
        return err_set(err, ENOSYS, "fake VM: no MSI");
}

void vm_msi_free(struct vm *vm, uint32_t gsi, int efd)
{
        (void)vm, (void)gsi, (void)efd;
}

int vm_msi_signal(struct vm *vm, uint64_t addr, uint32_t data)
{
        (void)vm, (void)addr, (void)data;
        return -1;
}

int vm_ioeventfd_add(struct vm *vm, uint64_t addr, uint32_t len, bool is_pio, int fd,
                     struct isola_err *err)
{
        (void)vm, (void)addr, (void)len, (void)is_pio, (void)fd;
        return err_set(err, ENOSYS, "fake VM: no ioeventfd");
}

int vm_ioeventfd_del(struct vm *vm, uint64_t addr, uint32_t len, bool is_pio, int fd)
{
        (void)vm, (void)addr, (void)len, (void)is_pio, (void)fd;
        return -1;
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_cb cb, void *opaque,
               struct isola_err *err)
{
        for (unsigned i = 0; i < FAKE_VM_WATCHES; i++) {
                if (loop->w[i].live)
                        continue;
                loop->w[i] = (struct fake_watch){fd, events, cb, opaque, true};
                loop->adds++;
                return 0;
        }
        return err_set(err, ENOSPC, "fake event loop: full");
}

int evloop_mod(struct evloop *loop, int fd, uint32_t events, struct isola_err *err)
{
        for (unsigned i = 0; i < FAKE_VM_WATCHES; i++) {
                if (loop->w[i].live && loop->w[i].fd == fd) {
                        loop->w[i].events = events;
                        loop->mods++;
                        return 0;
                }
        }
        return err_set(err, ENOENT, "fake event loop: fd %d not registered", fd);
}

int evloop_del(struct evloop *loop, int fd)
{
        for (unsigned i = 0; i < FAKE_VM_WATCHES; i++) {
                if (loop->w[i].live && loop->w[i].fd == fd) {
                        loop->w[i].live = false;
                        loop->dels++;
                        return 0;
                }
        }
        return -1;
}
