/* VM snapshots (docs/snapshots.md): the state file format (snapshot_fmt.c),
 * vCPU and VM-wide KVM state (snapshot_cpu.c), saving a paused machine and
 * restoring one into a freshly created machine (snapshot.c), the control
 * socket routes (snapshot_ctl.c).
 *
 * A snapshot is a directory: `state` (every vCPU, the in-kernel IRQ chips,
 * PIT, kvmclock and each device, in named, versioned, checksummed sections),
 * `memory` (guest RAM, sparse, mapped privately on restore so pages load on
 * demand) and `config.json` (the machine). It is written under a temporary
 * name, fsync'ed and renamed into place, so a crash leaves either the old
 * set of snapshots or the new one. */
#ifndef ISOLA_VMM_SNAPSHOT_H
#define ISOLA_VMM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "devices/state.h"
#include "util/err.h"

#define SNAP_MAGIC          "ISOLASNP"
#define SNAP_FORMAT_VERSION 1
#define SNAP_MAX_SECTIONS   256
#define SNAP_MAX_SECTION    (16u << 20) /* bytes of one section's payload */
#define SNAP_MAX_STATE      (64u << 20) /* bytes of the whole state file */
#define SNAP_NAME_MAX       31

/* ---- the state file (snapshot_fmt.c) ---- */

struct snap_section {
        char name[SNAP_NAME_MAX + 1];
        uint32_t version;
        const uint8_t *data;
        size_t len;
};

/* A parsed state file; sections point into the caller's buffer. */
struct snap_file {
        uint32_t n;
        struct snap_section s[SNAP_MAX_SECTIONS];
};

/* Appends one section to an in-memory state file being built. */
struct snap_writer {
        struct dstate_w out;
        uint32_t n;
};
void snap_writer_init(struct snap_writer *w);
void snap_writer_add(struct snap_writer *w, const char *name, uint32_t version,
                     const struct dstate_w *payload);
/* Finishes the file (header count, trailer checksum); -1 when out of memory
 * or over the limits. The bytes are w->out.buf[0..w->out.len). */
int snap_writer_finish(struct snap_writer *w, struct isola_err *err);
void snap_writer_free(struct snap_writer *w);

/* Checks magic, version, every section's bounds and checksum and the
 * whole file's checksum; errors name the part that is wrong. */
int snap_parse(const uint8_t *buf, size_t len, struct snap_file *out, struct isola_err *err);
/* The section `name` with exactly `version`, ready to read. */
int snap_open_section(const struct snap_file *f, const char *name, uint32_t version,
                      struct dstate_r *r, struct isola_err *err);

uint32_t snap_crc32c(uint32_t crc, const void *p, size_t len);

/* ---- vCPU and VM-wide state (snapshot_cpu.c) ---- */

struct vm;
/* Section "cpu<N>" for every vCPU, "irqchip", "pit", "clock". */
int snap_cpu_save(struct vm *vm, struct snap_writer *w, struct isola_err *err);
int snap_cpu_load(struct vm *vm, const struct snap_file *f, struct isola_err *err);
/* The "cpu<N>" sections only (not the VM's IRQ chips, PIT and clock). */
int snap_cpu_load_vcpus(struct vm *vm, const struct snap_file *f, struct isola_err *err);
/* Parses (does not apply) a vCPU section: for the fuzzer. */
int snap_cpu_check(struct dstate_r *r, struct isola_err *err);

/* ---- machines (snapshot.c) ---- */

struct machine;
struct machine_config;
struct pci_bus;
struct serial8250;
struct i8042;
struct rtc;
struct ide;
struct virtio_blk;
struct virtio_net;
struct virtio_console;
struct virtio_rng;

/* The parts of a machine a snapshot covers (machine_get_parts, machine.c);
 * absent devices are NULL. */
#define SNAP_MAX_DISKS 8
#define SNAP_MAX_NETS  4
struct machine_parts {
        struct vm *vm;
        struct pci_bus *pci;
        struct serial8250 *serial;
        struct i8042 *kbc;
        struct rtc *rtc;
        struct ide *ide;
        struct virtio_blk *blk[SNAP_MAX_DISKS];
        struct virtio_net *net[SNAP_MAX_NETS];
        struct virtio_console *vcon;
        struct virtio_rng *rng;
};
void machine_get_parts(struct machine *m, struct machine_parts *out);
/* Saves the machine (created from cfg) into dir, which must not exist. The
 * caller has paused the vCPUs; the device back ends are stopped meanwhile.
 * stats (may be NULL) gets the pause-relevant timings. */
struct snapshot_stats {
        double save_ms;
        uint64_t memory_bytes, memory_written;
        /* live snapshots */
        unsigned rounds;           /* memory passes while the guest ran */
        uint64_t last_pages;       /* dirty pages copied while paused */
        bool paused_here;          /* the vCPUs were paused by the save: resume them */
        struct timespec paused_at; /* CLOCK_MONOTONIC */
};
int snapshot_save(struct machine *m, const struct machine_config *cfg, const char *dir,
                  struct snapshot_stats *stats, struct isola_err *err);
/* The same with the vCPUs running: memory is copied while the guest runs
 * (KVM's dirty log catches what it writes meanwhile, in rounds), then the
 * vCPUs pause for the last dirty pages, the vCPU and device state and the
 * disks. Returns with them paused when stats->paused_here (also on error):
 * the caller resumes them. */
int snapshot_save_live(struct machine *m, const struct machine_config *cfg, const char *dir,
                       struct snapshot_stats *stats, struct isola_err *err);
/* Pieces of a snapshot, shared with migration (snapshot.c). */
typedef int (*snap_mem_sink)(void *opaque, uint64_t off, const void *p, size_t n,
                             struct isola_err *err);
/* Calls sink for every 64 KiB chunk of guest RAM that may hold data, with
 * its offset in the memory file layout (regions back to back). */
int snap_memory_walk(struct vm *vm, snap_mem_sink sink, void *opaque, struct isola_err *err);
/* The "memory" section: the regions and their offsets in that layout. */
void snap_memory_section(struct vm *vm, struct snap_writer *w);
/* The "machine" section and one section per device. */
void snap_devices_save(const struct machine_parts *p, struct snap_writer *w);
/* A whole state without memory pages (a migration's or a warm-up's):
 * initialises w (the caller frees it, also on failure), then the vCPUs and
 * VM, the devices and the memory section. */
int snap_state_build(const struct machine_parts *p, struct snap_writer *w, struct isola_err *err);

/* ---- disks (snapshot_disk.c) ---- */

/* Copies an image (reflink when possible) to dst through a temporary name. */
int snap_copy_file(const char *src, const char *dst, struct isola_err *err);
/* A new qcow2 overlay at dst (through a temporary name) over base. */
int snap_overlay(const char *base, const char *dst, struct isola_err *err);
struct machine_parts;
struct machine_config;
/* Snapshot time, VM paused: flush every disk, then freeze each writable
 * qcow2 image into tmp as disk<N>.qcow2 (frozen[N] set) or copy it (raw,
 * other file system) as disk<N>. */
int snap_disks_save(const struct machine_parts *p, const struct machine_config *cfg,
                    const char *tmp, bool frozen[], struct isola_err *err);
/* Moves frozen images in dir back (the snapshot failed before its rename). */
void snap_disks_unfreeze(const struct machine_config *cfg, const char *dir, bool frozen[]);
/* After the rename to dir: the VM continues on new overlays over the
 * frozen images, at the disks' own paths. */
int snap_disks_continue(const struct machine_parts *p, const struct machine_config *cfg,
                        const char *dir, bool frozen[], struct isola_err *err);
/* Revert/restore: disk N of snapshot snap to dst (overlay over the frozen
 * image, or a copy of the copy). */
int snap_disk_put(const char *snap, unsigned i, const char *dst, struct isola_err *err);

/* ---- control socket (snapshot_ctl.c) ---- */

struct ctl_server;
/* The routes' context; the caller keeps it alive as long as the server. */
struct snapshot_ctl {
        struct machine *m;
        const struct machine_config *cfg;
        /* set while the VM waits for its state (an incoming migration):
         * nothing can be saved or sent yet (read with __atomic_load_n) */
        const bool *incoming;
};
/* PUT /snapshot {"snapshot_path": DIR}: pause, save, resume. */
struct ctl_response;
/* While *incoming (a VM still being received: no state yet) answers 409
 * and returns true; the routes that need the machine's state call it. */
bool snapshot_ctl_refuse_incoming(const bool *incoming, struct ctl_response *resp);
int snapshot_ctl_register(struct ctl_server *s, struct snapshot_ctl *c, struct machine *m,
                          const struct machine_config *cfg, struct isola_err *err);

/* A managed VM started with a restore request (snapshot_request_restore,
 * by `isola vm restore/revert`) boots from that snapshot: the VMM takes the
 * request (reads and removes it) before it creates the machine. Returns 1
 * with the snapshot directory in out, 0 when there is none. */
int snapshot_request_restore(const char *data_dir, const char *snap_dir, struct isola_err *err);
int snapshot_take_restore(const char *data_dir, char *out, size_t len);
/* A managed VM started with an incoming request (by `isola vm receive`,
 * process `receiver`) is created without state and waits: its memory and
 * state are still on their way. The receiver then drives it over the go
 * socket (migrate.h): the memory file of the snapshot being received is
 * mapped as guest RAM as soon as it exists (snapshot_map_incoming: the
 * pages written into it meanwhile show through the private mapping, which
 * nothing writes before the state is loaded), and once the snapshot is
 * complete snapshot_restore_incoming reopens the disks (the source flushed
 * them meanwhile) and loads the state; if the receiver dies first, the
 * VMM exits. The VMM starting while pre-copy runs is what keeps its start
 * out of the migration's downtime. */
int snapshot_request_incoming(const char *data_dir, pid_t receiver, struct isola_err *err);
int snapshot_take_incoming(const char *data_dir, pid_t *receiver);
int snapshot_map_incoming(struct machine *m, const char *dir, struct isola_err *err);
/* mapped: snapshot_map_incoming mapped dir's memory file already. state
 * (len bytes): dir's state file as it is in memory already, or NULL to read
 * the file. */
int snapshot_restore_incoming(struct machine *m, const struct machine_config *cfg, const char *dir,
                              bool mapped, const uint8_t *state, size_t len, struct isola_err *err);

/* The configuration a snapshot was taken with (config.json). */
int snapshot_read_config(const char *dir, struct machine_config *cfg, struct isola_err *err);
/* Loads a snapshot into a machine just created from the snapshot's
 * configuration with cfg->restore_dir set (no kernel loaded, vCPUs not
 * started). mapped: guest RAM is mapped from dir's memory file already
 * (snapshot_map_incoming; the layout of the "memory" section is checked
 * either way). */
int snapshot_restore(struct machine *m, const char *dir, bool mapped, struct isola_err *err);
/* Runs the restore path once on a machine's own state, taken from it
 * before it ever ran and loaded straight back (the vCPUs and devices; not
 * the VM's IRQ chips, PIT and clock, whose timers would run): nothing
 * changes, but the restore's code and data are paged in and its KVM
 * objects made, so that a migration's pause, which loads the real state
 * later, does not pay for them. For a VM waiting for an incoming state. */
int snapshot_warm(struct machine *m, struct isola_err *err);
/* The same with dir's state file given in memory (state, len bytes). */
int snapshot_restore_state(struct machine *m, const char *dir, bool mapped, const uint8_t *state,
                           size_t len, struct isola_err *err);

#endif
