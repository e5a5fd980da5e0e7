/* Fuzzes the microVM description parsers: the --config JSON file (read
 * through a memfd path, loaded twice into one config so replacing a setting
 * must free the old one), the --disk and --net specs and MAC addresses, each
 * followed by validation. Byte 0 selects the parser; the rest is the input.
 * Invariants: no crash, leak or sanitizer report; an accepted spec has a
 * non-empty path / tap name. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_json(const uint8_t *data, size_t size)
{
        struct machine_config cfg;
        struct isola_err err;
        char path[64];
        int fd = memfd_create("machine-config", MFD_CLOEXEC);

        if (fd < 0)
                return;
        if (write(fd, data, size) == (ssize_t)size) {
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                machine_config_init(&cfg);
                if (machine_config_load_json(&cfg, path, &err) == 0 &&
                    machine_config_load_json(&cfg, path, &err) == 0)
                        (void)machine_config_validate(&cfg, &err);
                machine_config_free(&cfg);
        }
        close(fd);
}

static void fuzz_specs(uint8_t which, const char *text)
{
        struct machine_disk disk;
        struct machine_net net;
        struct isola_err err;
        uint8_t mac[6];

        switch (which % 3) {
        case 0:
                if (machine_config_parse_disk(text, &disk, &err) == 0) {
                        if (!disk.path || !disk.path[0])
                                abort();
                        free(disk.path);
                }
                break;
        case 1:
                if (machine_config_parse_net(text, &net, &err) == 0) {
                        if (!net.tap || !net.tap[0])
                                abort();
                        free(net.tap);
                }
                break;
        default:
                (void)machine_config_parse_mac(text, mac);
                break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text;

        if (size < 1 || size > 65536)
                return 0;
        if (data[0] % 4 == 0) {
                fuzz_json(data + 1, size - 1);
                return 0;
        }
        text = malloc(size);
        if (!text)
                return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        fuzz_specs((uint8_t)(data[0] % 4 - 1), text);
        free(text);
        return 0;
}
