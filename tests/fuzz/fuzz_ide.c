/* Fuzzes the IDE channel with a stream of port accesses against a disk on
 * a small temporary image: 3-byte records (register, width/direction,
 * value), where a data-port record may repeat itself to move whole sectors.
 * Registers include the bus-master block (BAR4) and pokes into the PRD
 * area of a small guest RAM, which starts with a valid table.
 * Invariants: no crash or sanitizer report, the image never grows (no I/O
 * beyond its end), and the device never reports BSY outside SRST. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../devices/fake_vm.h"
#include "devices/ide.h"
#include "devices/pci.h"

#define IMG_SECTORS 64

static char img_path[64];

static int image(void)
{
        static int fd = -1;

        if (fd >= 0)
                return fd;
        snprintf(img_path, sizeof(img_path), "/tmp/isola-fuzz-ide-%d", (int)getpid());
        fd = open(img_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -1;
        unlink(img_path); /* the fd keeps it; reopened through /proc below */
        if (ftruncate(fd, IMG_SECTORS * 512) < 0)
                return -1;
        snprintf(img_path, sizeof(img_path), "/proc/self/fd/%d", fd);
        return fd;
}

#define RAM_SIZE 0x10000
#define N_LEGACY 10
#define N_PORTS  (N_LEGACY + 8)

static const uint16_t legacy_ports[N_LEGACY] = {0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f4,
                                                0x1f5, 0x1f6, 0x1f7, 0x3f6, 0x3f7};

/* Turns on bus mastering and returns the bus-master base (BAR4). */
static uint16_t enable_bus_master(struct fake_vm *f, struct pci_bus *bus)
{
        struct pci_dev *devs[PCI_MAX_SLOTS];
        unsigned n = pci_bus_slots(bus, devs, PCI_MAX_SLOTS);
        uint32_t addr = 0x80000000u | (uint32_t)devs[n - 1]->slot << 11;

        fake_pio_out(f, 0xcf8, 4, addr | 0x04);
        fake_pio_out(f, 0xcfc, 2, 0x0005);
        fake_pio_out(f, 0xcf8, 4, addr | 0x20);
        return (uint16_t)(fake_pio_in(f, 0xcfc, 4) & ~3u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        int fd = image();
        struct fake_vm *f;
        struct pci_bus *bus = NULL;
        struct ide *ide = NULL;
        struct isola_err err;
        struct stat st;
        bool srst = false;

        uint16_t bm;
        uint8_t *ram;

        if (fd < 0 || !(f = fake_vm_new(RAM_SIZE)))
                return 0;
        ram = f->ram;
        /* PRD table at 0: one 32 KiB buffer at 0x1000, end of table. */
        memcpy(ram, (const uint8_t[8]){0x00, 0x10, 0, 0, 0x00, 0x80, 0, 0x80}, 8);
        if (pci_bus_new(&f->vm, &bus, &err) < 0 ||
            ide_create(&f->vm, bus, img_path, size > 0 && (data[0] & 0x80), &ide, &err) < 0)
                goto out;
        bm = enable_bus_master(f, bus);
        for (size_t i = 1; i + 3 <= size; i += 3) {
                unsigned sel = data[i] % (N_PORTS + 1);
                uint16_t port;

                if (sel == N_PORTS) { /* poke the PRD area */
                        ram[data[i + 1] & 0x3f] = data[i + 2];
                        continue;
                }
                port = sel < N_LEGACY ? legacy_ports[sel] : (uint16_t)(bm + sel - N_LEGACY);
                bool is_write = data[i + 1] & 1;
                unsigned len = 1u << ((data[i + 1] >> 1) & 3); /* 1, 2, 4, 8 */
                unsigned reps = port == 0x1f0 ? 1u + (data[i + 1] >> 3) * 16u : 1u;
                uint8_t d[8];

                if (len == 8)
                        len = 4;
                for (unsigned r = 0; r < reps; r++) {
                        memset(d, data[i + 2], sizeof(d));
                        io_bus_dispatch(f->vm.pio_bus, port, d, len, is_write);
                }
                if (port == 0x3f6 && is_write)
                        srst = (data[i + 2] & 0x04) != 0;
                if (!srst && (fake_pio_in(f, 0x3f6, 1) & 0x80))
                        abort(); /* BSY outside reset: the device hung */
        }
out:
        ide_destroy(ide);
        pci_bus_free(bus);
        fake_vm_free(f);
        if (fstat(fd, &st) == 0 && st.st_size != IMG_SECTORS * 512)
                abort(); /* wrote outside the image */
        return 0;
}
