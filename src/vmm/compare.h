/* `isola vm compare`: the same kernel and initramfs booted as a fully
 * virtualized machine (IDE, 8250, no PV CPUID) and as a paravirtualized one
 * (virtio-blk, PV CPUID, kvm-clock), the same workloads in each and on the
 * host as the baseline. The guest's /init runs the workload script, which
 * brackets each workload with ISOLA-BENCH-BEGIN/END lines on the serial
 * console; the host times the interval as the lines arrive and samples
 * KVM's exit counters at both ends. */
#ifndef ISOLA_VMM_COMPARE_H
#define ISOLA_VMM_COMPARE_H

#include <stdint.h>

#include "util/err.h"

struct json_object;

struct compare_opts {
        const char *kernel;      /* bzImage, booted by both machines */
        const char *kernel_pv;   /* optional: e.g. the vmlinux (PVH) for the para machine */
        const char *initrd;      /* holds /init and /workloads.sh */
        const char *workloads;   /* the same script, run on the host (NULL: no baseline) */
        const char *busybox;     /* runs it on the host ("busybox" from PATH when NULL) */
        const char *scratch_dir; /* for the scratch disks (not tmpfs: O_DIRECT) */
        unsigned scale;          /* workload size factor, 1 = tiny */
        unsigned cpus;
        uint64_t memory_mib;
        unsigned timeout_s; /* per machine */
};

/* Runs everything; *out: {"source", "source_note", "scale", "boot_ms",
 * "workloads": [{"name", "unit", "amount", "host"|"full"|"para":
 * {"ms", "rate", "overhead_pct", "exits": {...}}}]}. */
int vm_compare(const struct compare_opts *o, struct json_object **out, struct isola_err *err);

#endif
