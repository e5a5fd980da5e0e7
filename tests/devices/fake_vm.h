/* A fake VM for device unit tests and fuzzers: real port/MMIO buses, a
 * malloc'd guest RAM region, and recorders for what devices do to the VM
 * (IRQ lines, stop requests, event-loop registrations). */
#ifndef ISOLA_TESTS_FAKE_VM_H
#define ISOLA_TESTS_FAKE_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/vm.h"

#define FAKE_VM_GSIS    32
#define FAKE_VM_WATCHES 8

struct fake_watch {
        int fd;
        uint32_t events;
        evloop_cb cb;
        void *opaque;
        bool live;
};

struct evloop {
        struct fake_watch w[FAKE_VM_WATCHES];
        unsigned adds, mods, dels;
};

struct fake_vm {
        struct vm vm;
        struct evloop loop;
        int irq_level[FAKE_VM_GSIS];
        unsigned irq_raises[FAKE_VM_GSIS]; /* 0 -> 1 transitions */
        int stop_reason;                   /* -1 until vm_request_stop */
        unsigned stops;
        void *ram;
};

/* ram_bytes of RAM at gpa 0 (may be 0); returns NULL on allocation failure. */
struct fake_vm *fake_vm_new(uint64_t ram_bytes);
void fake_vm_free(struct fake_vm *f);

uint32_t fake_pio_in(struct fake_vm *f, uint16_t port, unsigned len);
void fake_pio_out(struct fake_vm *f, uint16_t port, unsigned len, uint32_t value);
/* false when nothing decodes the address. */
bool fake_mmio(struct fake_vm *f, uint64_t addr, uint8_t *data, unsigned len, bool is_write);
bool fake_pio_claimed(struct fake_vm *f, uint16_t port);

struct fake_watch *fake_watch_find(struct fake_vm *f, int fd);

#endif
