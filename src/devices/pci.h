/* PCI: the host bridge (configuration mechanism #1 at 0xcf8/0xcfc), the bus
 * with its device slots, and the config-space model every PCI device embeds.
 * Config space is guest-controlled: every write goes through the device's
 * write mask, so a guest can only change the bits a real device would let it. */
#ifndef ISOLA_DEVICES_PCI_H
#define ISOLA_DEVICES_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"
#include "vmm/io_bus.h"

#define PCI_CFG_SIZE  256
#define PCI_MAX_SLOTS 32
#define PCI_NUM_BARS  6

struct vm;
struct pci_dev;

enum pci_bar_kind {
        PCI_BAR_NONE = 0,
        PCI_BAR_IO,
        PCI_BAR_MMIO32,
        PCI_BAR_MMIO64, /* takes two BAR slots */
};

struct pci_bar {
        enum pci_bar_kind kind;
        uint64_t size; /* power of two */
        uint64_t addr; /* address programmed in the BAR (decoded only when mapped) */
        bool mapped;   /* registered on the bus (decode enabled and addr valid) */
        io_handler_fn fn;
        void *opaque;
};

struct pci_dev_ops {
        /* Called after the generic model applied a config write (under the
         * device's cfg lock), e.g. to react to MSI-X enable. Optional. */
        void (*cfg_written)(struct pci_dev *dev, unsigned offset, unsigned len);
        /* Called after a BAR's mapping changed (moved, or decode toggled),
         * under the device's cfg lock. old_addr/new_addr are the mapped
         * addresses before/after, 0 meaning "not mapped". Optional. */
        void (*bar_moved)(struct pci_dev *dev, int bar, uint64_t old_addr, uint64_t new_addr);
};

struct pci_dev {
        uint8_t cfg[PCI_CFG_SIZE];
        uint8_t wmask[PCI_CFG_SIZE];   /* 1 bits are guest-writable */
        uint8_t w1cmask[PCI_CFG_SIZE]; /* write-1-to-clear bits (status) */
        struct pci_bar bars[PCI_NUM_BARS];
        const struct pci_dev_ops *ops;
        void *opaque;
        uint8_t slot;     /* device number on bus 0 */
        uint8_t next_cap; /* next free byte for capabilities */
        struct pci_bus *bus;
        pthread_mutex_t lock; /* guards cfg and bars */
};

/* Fills the type-0 header: ids, class (base<<16 | sub<<8 | prog_if),
 * subsystem ids, interrupt pin (0 = none, 1 = INTA). Resets everything else
 * in dev (BARs, ops, opaque): set ops/opaque after it. */
void pci_dev_init(struct pci_dev *dev, uint16_t vendor, uint16_t device, uint32_t class_code,
                  uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id, uint8_t int_pin);
/* Declares a BAR; the bus assigns its address when the device is added. */
int pci_dev_set_bar(struct pci_dev *dev, int index, enum pci_bar_kind kind, uint64_t size,
                    io_handler_fn fn, void *opaque, struct isola_err *err);
/* Appends a capability (id, then body bytes after the id/next pair) to the
 * list; *offset_out is where it starts. body_wmask (same length as body, may
 * be NULL) marks guest-writable bits. */
int pci_dev_add_cap(struct pci_dev *dev, uint8_t cap_id, const uint8_t *body,
                    const uint8_t *body_wmask, unsigned body_len, uint8_t *offset_out,
                    struct isola_err *err);

/* Little-endian accessors on config space (no locking). */
uint32_t pci_cfg_read(const struct pci_dev *dev, unsigned offset, unsigned len);
void pci_cfg_set(struct pci_dev *dev, unsigned offset, uint32_t value, unsigned len);

struct pci_bus;

/* Creates bus 0 with the host bridge (8086:1237) at slot 0 and registers
 * 0xcf8-0xcff. Dword accesses to 0xcf8 are the config address; byte port 0xcf9
 * is the reset control register (writing bit 2 set resets the VM:
 * vm_request_stop(VM_EXIT_RESET)), so nobody else may register 0xcf9. */
int pci_bus_new(struct vm *vm, struct pci_bus **bus_out, struct isola_err *err);
void pci_bus_free(struct pci_bus *bus);
/* Places dev in the first free slot (or in `slot` when >= 0), assigns BAR
 * addresses from the layout windows, maps them and enables decode. */
int pci_bus_add(struct pci_bus *bus, struct pci_dev *dev, int slot, struct isola_err *err);
/* Legacy INTx of a slot: the GSI the MP table / device uses. The routing is
 * GSI = 16 + ((slot + pin - 1) % 8), pin 1 = INTA, i.e. IOAPIC pins 16-23,
 * level-triggered, asserted with vm_irq_line(gsi, 1) (describe them as
 * active-high level in the MP/ACPI tables). pci_bus_add also writes it into
 * the Interrupt Line register. Returns 0 for a device without a pin. */
uint32_t pci_bus_intx_gsi(const struct pci_bus *bus, const struct pci_dev *dev);
/* The same routing for any slot and pin (1-4), as the ACPI _PRT lists it. */
uint32_t pci_slot_intx_gsi(unsigned slot, unsigned pin);
/* Raw config access as the guest does it, used by the port handler and fuzzers. */
void pci_bus_cfg_access(struct pci_bus *bus, uint32_t address, unsigned byte_off, uint8_t *data,
                        unsigned len, bool is_write);
unsigned pci_bus_slots(const struct pci_bus *bus, struct pci_dev **devs, unsigned max);
/* Unmaps dev's BARs and frees its slot (device destroy paths). */
void pci_bus_remove(struct pci_bus *bus, struct pci_dev *dev);

#endif
