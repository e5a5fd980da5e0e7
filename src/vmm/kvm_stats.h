/* KVM's own per-vCPU exit counters (binary statistics, KVM_GET_STATS_FD):
 * they include the exits KVM handles without returning to user space
 * (ioeventfd notifications, LAPIC EOIs, HLT, host interrupts), which the
 * VMM's user-space counters cannot see. */
#ifndef ISOLA_VMM_KVM_STATS_H
#define ISOLA_VMM_KVM_STATS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

struct kvm_stats;

/* Whether this KVM offers KVM_GET_STATS_FD (KVM_CAP_BINARY_STATS_FD). */
bool kvm_stats_supported(int kvm_fd);

/* Opens the statistics of each vCPU fd and records the baseline. */
int kvm_stats_open(const int *vcpu_fds, unsigned n_vcpus, struct kvm_stats **out,
                   struct isola_err *err);

/* Adds one statistics fd (taken over, also on failure): reads its
 * descriptors and the baseline. kvm_stats_open uses it; tests feed files.
 * After a failure the set is only fit for kvm_stats_free. */
int kvm_stats_add_fd(struct kvm_stats *s, int stats_fd, struct isola_err *err);

/* An empty set, to which kvm_stats_add_fd adds fds. */
struct kvm_stats *kvm_stats_new(void);

/* Reads the counters again; the values reported are since the baseline. */
int kvm_stats_sample(struct kvm_stats *s, struct isola_err *err);

/* {"exits": N, "io_exits": N, ...}: each counter summed over the vCPUs,
 * last sample minus baseline. NULL when out of memory. */
struct json_object *kvm_stats_json(const struct kvm_stats *s);

/* The summed value of counter `name` (last sample minus baseline); false
 * when no vCPU reports it. */
bool kvm_stats_get(const struct kvm_stats *s, const char *name, uint64_t *value);

void kvm_stats_free(struct kvm_stats *s);

#endif
