/* The receiving side of a live migration stream (src/vmm/migrate_recv.c):
 * whoever connects to `isola vm receive` may send anything. The input is
 * the stream as it would arrive over TCP (written into a socketpair, then
 * the write side shut, as a source that closes). The callbacks do what the
 * receiver checks do: the configuration is parsed and validated, the state
 * file is parsed as the VMM will parse it.
 * An input that starts with 'R' is, after that byte, the rest of a stream
 * as the destination's VMM reads it once the receiver has handed it over
 * (migrate_recv_rest: the configuration came before, 64 MiB of RAM).
 * Invariants: no crash, leak or sanitizer report; every page handed over
 * lies inside the RAM the configuration declared, 4 KiB aligned; the state
 * comes once, after the configuration; the end only after the state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/machine.h"
#include "vmm/migrate.h"
#include "vmm/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
        uint64_t mem;
        int configs, states;
};

static int on_config(void *opaque, const char *json, uint64_t *mem_size, struct isola_err *err)
{
        struct seen *s = opaque;
        struct machine_config cfg;

        machine_config_init(&cfg);
        int rc = machine_config_load_string(&cfg, json, "fuzz", err);
        if (rc == 0)
                rc = machine_config_validate(&cfg, err);
        *mem_size = s->mem = cfg.memory_mib << 20;
        machine_config_free(&cfg);
        s->configs++;
        return rc;
}

static int on_page(void *opaque, uint64_t off, const char *p, uint32_t n, struct isola_err *err)
{
        struct seen *s = opaque;
        (void)err;
        if (s->configs != 1 || off % 4096 || off > s->mem || n > s->mem - off)
                abort();
        if (n) { /* the bytes are readable */
                volatile char sink = p[n - 1];
                (void)sink;
        }
        return 0;
}

static int on_state(void *opaque, const char *p, uint32_t n, struct isola_err *err)
{
        struct seen *s = opaque;
        struct snap_file *f = malloc(sizeof(*f));

        if (s->configs != 1 || s->states++ != 0)
                abort();
        if (!f)
                return -1;
        int rc = snap_parse((const uint8_t *)p, n, f, err);
        free(f);
        return rc;
}

static int on_end(void *opaque, struct isola_err *err)
{
        struct seen *s = opaque;
        (void)err;
        if (s->states != 1)
                abort();
        return 0;
}

static const struct migrate_recv_ops ops = {
    .config = on_config, .page = on_page, .state = on_state, .end = on_end};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        int sv[2];
        struct seen s = {0};
        struct isola_err err;

        if (size > 65536) /* what a socketpair holds without a reader */
                size = 65536;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return 0;
        int buf = 1 << 20;
        (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
        size_t skip = size && data[0] == 'R';
        if (write(sv[0], data + skip, size - skip) == (ssize_t)(size - skip)) {
                shutdown(sv[0], SHUT_WR);
                struct migrate_conn c = {.fd = sv[1]};
                if (size && data[0] == 'R') { /* the handed-over rest */
                        s.configs = 1;
                        s.mem = 64u << 20;
                        (void)migrate_recv_rest(&c, &ops, &s, s.mem, &err);
                } else {
                        (void)migrate_recv(&c, &ops, &s, &err);
                }
        }
        close(sv[0]);
        close(sv[1]);
        return 0;
}
