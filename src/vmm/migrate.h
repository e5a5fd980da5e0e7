/* Live migration (docs/migration.md): the source VMM sends guest memory in
 * pre-copy rounds driven by KVM's dirty log, then pauses, sends the last
 * dirty pages and the state sections (the snapshot format), and stops only
 * after the destination has the VM running (its ack). Any failure before
 * the ack leaves the source running.
 *
 * The stream (TCP): "ISOLAMIG" u32 version, then records
 *   u8 type, u32 length, payload
 *   'C' config JSON   'P' u64 memory-file offset + page data
 *   'S' state file    'E' end (no payload)
 * and one byte back from the destination: 'K' (running) or 'F' (failed). */
#ifndef ISOLA_VMM_MIGRATE_H
#define ISOLA_VMM_MIGRATE_H

#include <stdint.h>

#include "util/err.h"

#define MIGRATE_MAGIC      "ISOLAMIG"
#define MIGRATE_VERSION    1
#define MIGRATE_MAX_RECORD (1u << 20) /* payload bytes, except 'S' */
#define MIGRATE_MAX_ROUNDS 30

struct machine;
struct machine_config;

struct migrate_stats {
        unsigned rounds;
        uint64_t bytes_sent;
        double total_ms, downtime_ms; /* downtime: pause to the destination's ack */
        uint64_t last_dirty_pages;
};

/* Sends the running machine to host:port ("ADDR:PORT"); on success the
 * caller stops the VMM. downtime_ms bounds the estimated final pause. */
int migrate_send(struct machine *m, const struct machine_config *cfg, const char *to,
                 unsigned downtime_ms, struct migrate_stats *st, struct isola_err *err);

#endif
