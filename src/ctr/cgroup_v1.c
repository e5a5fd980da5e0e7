/* linux.resources on cgroup v1: one writer per controller hierarchy. Only
 * values present in the spec are written, so a plain container costs no
 * writes beyond mkdir. */
#include "ctr/cgroup_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

static void fmt_i64(char *buf, size_t size, int64_t v)
{
        snprintf(buf, size, "%" PRId64, v);
}

/* Writes two files the kernel checks against each other (a NULL value is left
 * alone): first then second, and if the kernel refuses the first with EINVAL
 * (the new value conflicts with the other file's current one), the other way
 * round. */
static int write_pair(const char *dir, const char *first, const char *first_val, const char *second,
                      const char *second_val, struct isola_err *err)
{
        if (!first_val || !second_val) {
                if (first_val)
                        return cgroup_write(dir, first, first_val, err);
                return second_val ? cgroup_write(dir, second, second_val, err) : 0;
        }
        if (cgroup_write(dir, first, first_val, err) == 0)
                return cgroup_write(dir, second, second_val, err);
        if (errno != EINVAL || cgroup_write(dir, second, second_val, err) < 0 ||
            cgroup_write(dir, first, first_val, err) < 0)
                return -1;
        err_clear(err);
        return 0;
}

/* The kernel requires memory.limit_in_bytes <= memory.memsw.limit_in_bytes at
 * every moment: raising both must write memsw first, lowering both limit first.
 * Tries limit first and, if refused, memsw then limit. */
static int memory_limits(const char *dir, const struct spec_resources *res, struct isola_err *err)
{
        char lim[32], swap[32];
        bool swap_file = cgroup_file_exists(dir, "memory.memsw.limit_in_bytes");
        struct spec_resources unlimited_swap;

        /* Unlimited swap is what a host without swap accounting gives anyway. */
        if (res->has_memory_swap && !swap_file && res->memory_swap == -1) {
                unlimited_swap = *res;
                unlimited_swap.has_memory_swap = false;
                res = &unlimited_swap;
        }
        if (res->has_memory_swap && !swap_file)
                return err_set(err, ENOTSUP,
                               "linux.resources.memory.swap: swap accounting is "
                               "not enabled on this host (no '%s/memory.memsw.limit_in_bytes')",
                               dir);
        fmt_i64(lim, sizeof(lim), res->memory_limit);
        fmt_i64(swap, sizeof(swap), res->memory_swap);
        return write_pair(dir, "memory.limit_in_bytes", res->has_memory_limit ? lim : NULL,
                          "memory.memsw.limit_in_bytes", res->has_memory_swap ? swap : NULL, err);
}

static int apply_memory(struct cgroup *cg, const struct spec_resources *res, struct isola_err *err)
{
        struct cgroup_hier *h = cgroup_find(cg, "memory");
        char buf[32];

        if (!res->has_memory_limit && !res->has_memory_reservation && !res->has_memory_swap &&
            !res->has_memory_swappiness && !res->disable_oom_killer)
                return 0;
        if (!h)
                return err_set(err, ENOTSUP,
                               "linux.resources.memory: no v1 memory hierarchy "
                               "mounted");
        if (memory_limits(h->path, res, err) < 0)
                return -1;
        if (res->has_memory_reservation) {
                fmt_i64(buf, sizeof(buf), res->memory_reservation);
                if (cgroup_write(h->path, "memory.soft_limit_in_bytes", buf, err) < 0)
                        return -1;
        }
        if (res->has_memory_swappiness) {
                if (res->memory_swappiness > 100)
                        return err_set(err, EINVAL,
                                       "linux.resources.memory.swappiness: %" PRIu64
                                       " is out of range 0-100",
                                       res->memory_swappiness);
                snprintf(buf, sizeof(buf), "%" PRIu64, res->memory_swappiness);
                if (cgroup_write(h->path, "memory.swappiness", buf, err) < 0)
                        return -1;
        }
        if (res->disable_oom_killer && cgroup_write(h->path, "memory.oom_control", "1", err) < 0)
                return -1;
        return 0;
}

/* Quota and period are checked against each other (and the parent's
 * bandwidth) on every write; writing period first matches the usual case of
 * both growing, and the reverse order is tried if the kernel refuses. */
static int cpu_bandwidth(const char *dir, const struct spec_resources *res, struct isola_err *err)
{
        char quota[32], period[32];

        fmt_i64(quota, sizeof(quota), res->cpu_quota);
        snprintf(period, sizeof(period), "%" PRIu64, res->cpu_period);
        return write_pair(dir, "cpu.cfs_period_us", res->has_cpu_period ? period : NULL,
                          "cpu.cfs_quota_us", res->has_cpu_quota ? quota : NULL, err);
}

static int apply_cpu(struct cgroup *cg, const struct spec_resources *res, struct isola_err *err)
{
        struct cgroup_hier *h = cgroup_find(cg, "cpu");
        char buf[32];

        if (!res->has_cpu_shares && !res->has_cpu_quota && !res->has_cpu_period)
                return 0;
        if (!h)
                return err_set(err, ENOTSUP, "linux.resources.cpu: no v1 cpu hierarchy mounted");
        if (res->has_cpu_shares && res->cpu_shares) {
                snprintf(buf, sizeof(buf), "%" PRIu64, res->cpu_shares);
                if (cgroup_write(h->path, "cpu.shares", buf, err) < 0)
                        return -1;
        }
        return cpu_bandwidth(h->path, res, err);
}

static int apply_cpuset(struct cgroup *cg, const struct spec_resources *res, struct isola_err *err)
{
        struct cgroup_hier *h = cgroup_find(cg, "cpuset");
        bool cpus = res->cpuset_cpus && res->cpuset_cpus[0];
        bool mems = res->cpuset_mems && res->cpuset_mems[0];

        if (!cpus && !mems)
                return 0;
        if (!h)
                return err_set(err, ENOTSUP,
                               "linux.resources.cpu.cpus/mems: no v1 cpuset "
                               "hierarchy mounted");
        if (cpus && cgroup_write(h->path, "cpuset.cpus", res->cpuset_cpus, err) < 0)
                return -1;
        if (mems && cgroup_write(h->path, "cpuset.mems", res->cpuset_mems, err) < 0)
                return -1;
        return 0;
}

static int apply_pids(struct cgroup *cg, const struct spec_resources *res, struct isola_err *err)
{
        struct cgroup_hier *h = cgroup_find(cg, "pids");
        char buf[32] = "max";

        if (!res->has_pids_limit)
                return 0;
        if (!h)
                return err_set(err, ENOTSUP, "linux.resources.pids: no v1 pids hierarchy mounted");
        if (res->pids_limit > 0)
                fmt_i64(buf, sizeof(buf), res->pids_limit);
        return cgroup_write(h->path, "pids.max", buf, err);
}

static int blkio_weight(const char *dir, const struct spec_resources *res, struct isola_err *err)
{
        char buf[16];

        if (!res->has_blkio_weight)
                return 0;
        snprintf(buf, sizeof(buf), "%u", (unsigned)res->blkio_weight);
        if (cgroup_file_exists(dir, "blkio.weight"))
                return cgroup_write(dir, "blkio.weight", buf, err);
        if (cgroup_file_exists(dir, "blkio.bfq.weight"))
                return cgroup_write(dir, "blkio.bfq.weight", buf, err);
        return err_set(err, ENOTSUP,
                       "linux.resources.blockIO.weight: the I/O scheduler offers "
                       "no weight ('%s' has neither blkio.weight nor blkio.bfq.weight)",
                       dir);
}

/* CFQ's blkio.weight_device, else BFQ's; only CFQ (gone since Linux 5.0) has
 * a leaf weight. Each file takes one "MAJ:MIN WEIGHT" entry per write(). */
static int blkio_weight_device(const char *dir, const struct spec_blkio_weight_device *d, size_t i,
                               struct isola_err *err)
{
        const char *file = cgroup_file_exists(dir, "blkio.weight_device")
                               ? "blkio.weight_device"
                               : "blkio.bfq.weight_device";
        char buf[64];

        if (d->has_weight) {
                if (!cgroup_file_exists(dir, file))
                        return err_set(err, ENOTSUP,
                                       "linux.resources.blockIO.weightDevice[%zu].weight: the I/O "
                                       "scheduler offers no per-device weight ('%s' has neither "
                                       "blkio.weight_device nor blkio.bfq.weight_device)",
                                       i, dir);
                snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %u", d->major, d->minor,
                         (unsigned)d->weight);
                if (cgroup_write(dir, file, buf, err) < 0)
                        return err_prefix(err, "linux.resources.blockIO.weightDevice[%zu]", i);
        }
        if (!d->has_leaf_weight)
                return 0;
        if (!cgroup_file_exists(dir, "blkio.leaf_weight_device"))
                return err_set(err, ENOTSUP,
                               "linux.resources.blockIO.weightDevice[%zu].leafWeight: the I/O "
                               "scheduler has no leaf weight (no '%s/blkio.leaf_weight_device')",
                               i, dir);
        snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %u", d->major, d->minor,
                 (unsigned)d->leaf_weight);
        if (cgroup_write(dir, "blkio.leaf_weight_device", buf, err) < 0)
                return err_prefix(err, "linux.resources.blockIO.weightDevice[%zu]", i);
        return 0;
}

static const struct {
        const char *field, *file;
} blkio_throttle_files[SPEC_THROTTLE_N] = {
    [SPEC_THROTTLE_READ_BPS] = {"throttleReadBpsDevice", "blkio.throttle.read_bps_device"},
    [SPEC_THROTTLE_WRITE_BPS] = {"throttleWriteBpsDevice", "blkio.throttle.write_bps_device"},
    [SPEC_THROTTLE_READ_IOPS] = {"throttleReadIOPSDevice", "blkio.throttle.read_iops_device"},
    [SPEC_THROTTLE_WRITE_IOPS] = {"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"},
};

/* One "MAJ:MIN RATE" entry per write(): the kernel parses a single line. */
static int blkio_throttles(const char *dir, const struct spec_resources *res, struct isola_err *err)
{
        char buf[64];

        for (size_t k = 0; k < SPEC_THROTTLE_N; k++) {
                for (size_t i = 0; i < res->n_blkio_throttle[k]; i++) {
                        const struct spec_blkio_throttle *t = &res->blkio_throttle[k][i];

                        snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %" PRIu64, t->major,
                                 t->minor, t->rate);
                        if (cgroup_write(dir, blkio_throttle_files[k].file, buf, err) < 0)
                                return err_prefix(err, "linux.resources.blockIO.%s[%zu]",
                                                  blkio_throttle_files[k].field, i);
                }
        }
        return 0;
}

static bool blkio_requested(const struct spec_resources *res)
{
        if (res->has_blkio_weight || res->n_blkio_weight_devices)
                return true;
        for (size_t k = 0; k < SPEC_THROTTLE_N; k++)
                if (res->n_blkio_throttle[k])
                        return true;
        return false;
}

static int apply_blkio(struct cgroup *cg, const struct spec_resources *res, struct isola_err *err)
{
        struct cgroup_hier *h = cgroup_find(cg, "blkio");

        if (!blkio_requested(res))
                return 0;
        if (!h)
                return err_set(err, ENOTSUP,
                               "linux.resources.blockIO: no v1 blkio "
                               "hierarchy mounted");
        if (blkio_weight(h->path, res, err) < 0)
                return -1;
        for (size_t i = 0; i < res->n_blkio_weight_devices; i++)
                if (blkio_weight_device(h->path, &res->blkio_weight_devices[i], i, err) < 0)
                        return -1;
        return blkio_throttles(h->path, res, err);
}

static int apply_devices(struct cgroup *cg, const struct spec_resources *res, struct isola_err *err)
{
        struct cgroup_hier *h = cgroup_find(cg, "devices");

        if (res->n_device_rules == 0)
                return 0;
        if (!h)
                return err_set(err, ENOTSUP,
                               "linux.resources.devices: no v1 devices hierarchy "
                               "mounted");
        return cgroup_devices_v1_apply(h->path, res->device_rules, res->n_device_rules, err);
}

int cgroup_v1_apply(struct cgroup *cg, const struct spec_resources *res, struct isola_err *err)
{
        if (apply_memory(cg, res, err) < 0 || apply_cpu(cg, res, err) < 0 ||
            apply_cpuset(cg, res, err) < 0 || apply_pids(cg, res, err) < 0 ||
            apply_blkio(cg, res, err) < 0 || apply_devices(cg, res, err) < 0)
                return -1;
        return 0;
}
