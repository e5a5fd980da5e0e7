/* A whole microVM: its configuration (CLI flags / JSON file), the devices
 * wired to the VM, the loaded kernel and the run until the guest stops. */
#ifndef ISOLA_VMM_MACHINE_H
#define ISOLA_VMM_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>

struct json_object;

#include "util/err.h"
#include "vmm/vm.h"

#define MACHINE_MAX_DISKS      8
#define MACHINE_MAX_NETS       4
#define MACHINE_MAX_CPUS       64
#define MACHINE_MIN_MEMORY_MIB 16
#define MACHINE_MAX_MEMORY_MIB (1024 * 1024)

enum machine_disk_bus { MACHINE_DISK_VIRTIO, MACHINE_DISK_IDE };
enum machine_console { MACHINE_CONSOLE_SERIAL, MACHINE_CONSOLE_VIRTIO };

struct machine_disk {
        char *path;
        bool readonly;
        enum machine_disk_bus bus;
};

struct machine_net {
        char *tap;
        bool has_mac;
        uint8_t mac[6];
};

struct machine_config {
        char *kernel, *initrd, *cmdline;
        unsigned cpus;
        uint64_t memory_mib;
        struct machine_disk disks[MACHINE_MAX_DISKS];
        unsigned n_disks;
        struct machine_net nets[MACHINE_MAX_NETS];
        unsigned n_nets;
        enum machine_console console;
        char *console_log;
        bool pv;
        bool rng;
        /* snap: when set (borrowed, not in the JSON), machine_create loads no
         * kernel and restores this snapshot directory instead (snapshot.h). */
        const char *restore_dir;
        /* with restore_dir: create the machine only; the caller loads the
         * state later (snapshot_restore_incoming), before machine_run */
        bool restore_deferred;
};

/* machine_config.c */
void machine_config_init(struct machine_config *cfg);
/* A machine configuration as the JSON `vm run --config` reads
 * (machine_config_load_string reads it back). */
struct json_object *machine_config_to_json(const struct machine_config *cfg);
void machine_config_free(struct machine_config *cfg);
/* Reads the JSON description (keys as the CLI flags: kernel, initrd, cmdline,
 * cpus, memory_mib, disks[{path,readonly,bus}], net[{tap,mac}], console,
 * console_log, pv, rng) into cfg, replacing what it sets. */
int machine_config_load_json(struct machine_config *cfg, const char *path, struct isola_err *err);
/* The same from a string; `what` names it in errors. */
int machine_config_load_string(struct machine_config *cfg, const char *json, const char *what,
                               struct isola_err *err);
/* "PATH[,ro][,bus=virtio|ide]" */
int machine_config_parse_disk(const char *spec, struct machine_disk *disk, struct isola_err *err);
/* "tap=NAME[,mac=aa:bb:cc:dd:ee:ff]" */
int machine_config_parse_net(const char *spec, struct machine_net *net, struct isola_err *err);
int machine_config_parse_mac(const char *s, uint8_t mac[6]);
/* Checks the combination (kernel present, ranges). */
int machine_config_validate(const struct machine_config *cfg, struct isola_err *err);
/* Replaces *dst with a copy of src. */
int machine_config_set_str(char **dst, const char *src, struct isola_err *err);

/* machine.c */
struct machine;

/* What machine_create checks before it opens /dev/kvm: the configuration,
 * that the kernel loads (and the initrd), that the disks open. */
int machine_check(const struct machine_config *cfg, struct isola_err *err);
/* console_in/console_out are borrowed fds for the console device. */
int machine_create(const struct machine_config *cfg, int console_in, int console_out,
                   struct machine **out, struct isola_err *err);
/* Runs until the guest stops or one of the blocked signals in `sigs`
 * arrives (then *signo_out is set and VM_EXIT_SIGNAL returned). */
enum vm_exit_reason machine_run(struct machine *m, const sigset_t *sigs, int *signo_out,
                                struct isola_err *err);
/* An incoming migration splits machine_run: machine_prepare_run does what
 * it sets up (KVM's counters, the vCPU threads, which wait before their
 * first KVM_RUN) while the state is still on its way; once it is loaded,
 * machine_release starts the event loop and lets the vCPUs run, and
 * machine_run then only waits for the stop. A prepared machine that is
 * destroyed unreleased stops and joins its threads. */
int machine_prepare_run(struct machine *m, struct isola_err *err);
int machine_release(struct machine *m, struct isola_err *err);
/* Why the guest failed (internal error, triple fault), "" otherwise. */
const char *machine_failure(struct machine *m);
void machine_write_stats(struct machine *m, FILE *out);
/* The --stats object; callable from another thread while the VM runs
 * (then "exit_reason" is "running" and KVM's counters are sampled now). */
struct json_object *machine_stats_json(struct machine *m);
/* Parks every vCPU outside KVM_RUN (returns once all are parked); the
 * devices' back ends keep running. Thread-safe; for the control socket and
 * snapshots. */
int machine_pause(struct machine *m, struct isola_err *err);
void machine_resume(struct machine *m);
bool machine_paused(struct machine *m);
/* Presses the ACPI power button (the guest decides what to do). */
void machine_power_button(struct machine *m);
struct vm *machine_vm(struct machine *m);
void machine_destroy(struct machine *m);

#endif
