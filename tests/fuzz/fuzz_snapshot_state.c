/* The snapshot state file (src/vmm/snapshot_fmt.c) and the vCPU section
 * parser (snapshot_cpu.c) on hostile input. A snapshot is copied around
 * like any file, so every length and count in it is checked.
 *
 * Two modes, chosen by the first byte: odd parses the rest as a state file
 * as it is (header, bounds, checksums); even builds a well-formed file from
 * the rest (records of name index, length, payload) so the checksums hold
 * and the section parsers behind them are reached. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"cpu0",    "cpu1",   "irqchip", "pit",    "clock",
                                    "machine", "memory", "pci",     "serial", "cpu0"};

static void check_sections(const struct snap_file *f)
{
        struct isola_err err;
        struct dstate_r r;

        for (unsigned i = 0; i < 2; i++) {
                char name[8] = "cpu0";
                name[3] = (char)('0' + i);
                if (snap_open_section(f, name, 1, &r, &err) == 0)
                        (void)snap_cpu_check(&r, &err);
        }
        if (snap_open_section(f, "machine", 1, &r, &err) == 0) {
                (void)dstate_r_u32(&r);
                (void)dstate_r_u64(&r);
                (void)dstate_r_u32(&r);
                (void)dstate_r_end(&r, &err);
        }
}

static void build(const uint8_t *data, size_t size, struct snap_writer *w)
{
        size_t at = 0;

        snap_writer_init(w);
        while (at + 3 <= size) {
                const char *name = names[data[at] % (sizeof(names) / sizeof(names[0]))];
                uint32_t version = (data[at] & 0x80) ? 2 : 1;
                size_t len = (size_t)data[at + 1] << 8 | data[at + 2];
                at += 3;
                if (len > size - at)
                        len = size - at;
                struct dstate_w p = {0};
                dstate_w_bytes(&p, data + at, len);
                snap_writer_add(w, name, version, &p);
                dstate_w_free(&p);
                at += len;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct snap_file *f = malloc(sizeof(*f));
        struct isola_err err;

        if (!f || size == 0) {
                free(f);
                return 0;
        }
        if (data[0] & 1) {
                if (snap_parse(data + 1, size - 1, f, &err) == 0)
                        check_sections(f);
        } else {
                struct snap_writer w;
                build(data + 1, size - 1, &w);
                if (snap_writer_finish(&w, &err) == 0 &&
                    snap_parse(w.out.buf, w.out.len, f, &err) == 0)
                        check_sections(f);
                snap_writer_free(&w);
        }
        free(f);
        return 0;
}
