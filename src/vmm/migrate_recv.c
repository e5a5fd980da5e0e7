/* The receiving side of the migration stream (docs/migration.md): the
 * header, then records in order, each checked before the caller sees it.
 * What arrives is hostile until checked: record lengths are bounded before
 * anything is allocated, memory records must come after the configuration
 * and fall inside the guest RAM it declares, page-aligned, and the state
 * comes once. What the records mean (writing files, starting the VM) is the
 * caller's (struct migrate_recv_ops). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/migrate.h"

struct recv_state {
        const struct migrate_recv_ops *ops;
        void *opaque;
        uint64_t mem_size; /* bytes of guest RAM; 0 until the configuration */
        bool have_config, have_state;
};

static int check_header(struct migrate_conn *c, struct isola_err *err)
{
        char magic[8];
        uint32_t version;

        if (migrate_conn_read(c, magic, 8, err) < 0 || migrate_conn_read(c, &version, 4, err) < 0)
                return err_prefix(err, "the source");
        if (magic[0] == 0x16) /* a TLS handshake record */
                return err_set(err, EPROTO,
                               "the source uses TLS (run `isola vm receive` with --tls-cert, "
                               "--tls-key and --tls-ca)");
        if (memcmp(magic, MIGRATE_MAGIC, 8) != 0 || version != MIGRATE_VERSION)
                return err_set(err, EPROTO, "not an isola migration stream (version %u)", version);
        return 0;
}

static int on_record(struct recv_state *s, uint8_t type, char *buf, uint32_t len,
                     struct isola_err *err)
{
        uint64_t off;

        switch (type) {
        case 'C':
                if (s->have_config)
                        return err_set(err, EPROTO, "a second configuration record");
                s->have_config = true;
                return s->ops->config(s->opaque, buf, &s->mem_size, err);
        case 'P':
                if (!s->have_config || len < 8)
                        return err_set(err, EPROTO, "a memory record before the configuration");
                memcpy(&off, buf, 8);
                if (off % 4096 || off > s->mem_size || len - 8 > s->mem_size - off)
                        return err_set(err, EPROTO, "a memory record outside guest RAM");
                return s->ops->page(s->opaque, off, buf + 8, len - 8, err);
        case 'S':
                if (!s->have_config || s->have_state)
                        return err_set(err, EPROTO, "an unexpected state record");
                s->have_state = true;
                return s->ops->state(s->opaque, buf, len, err);
        default:
                return err_set(err, EPROTO, "an unexpected record '%c'", type);
        }
}

int migrate_recv(struct migrate_conn *c, const struct migrate_recv_ops *ops, void *opaque,
                 struct isola_err *err)
{
        struct recv_state s = {.ops = ops, .opaque = opaque};

        if (check_header(c, err) < 0)
                return -1;
        for (;;) {
                uint8_t h[5];
                uint32_t len;
                if (ops->before_record && ops->before_record(opaque, err) < 0)
                        return -1;
                if (migrate_conn_read(c, h, 5, err) < 0)
                        return err_prefix(err, "the source");
                memcpy(&len, h + 1, 4);
                if (h[0] == 'E')
                        return s.have_state
                                   ? ops->end(opaque, err)
                                   : err_set(err, EPROTO, "the stream ended before the VM's state");
                if (len > (h[0] == 'S' ? SNAP_MAX_STATE : MIGRATE_MAX_RECORD + 8))
                        return err_set(err, EPROTO, "a record of %u bytes", len);
                char *buf = malloc((size_t)len + 1);
                if (!buf)
                        return err_set(err, ENOMEM, "out of memory");
                int rc = migrate_conn_read(c, buf, len, err);
                buf[len] = 0; /* the configuration is text */
                if (rc < 0)
                        err_prefix(err, "the source");
                else
                        rc = on_record(&s, h[0], buf, len, err);
                free(buf);
                if (rc < 0)
                        return -1;
        }
}
