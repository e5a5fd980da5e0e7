/* linux.resources on the unified (v2) hierarchy: the OCI values are v1-shaped,
 * so some are converted (shares -> cpu.weight, swap -> memory.swap.max, blkio
 * weights -> io.weight, the four blkio throttle lists -> one io.max line per
 * device). memory.swappiness, disableOOMKiller and weightDevice's leafWeight
 * have no v2 equivalent and are ignored, as other runtimes do. */
#include "ctr/cgroup_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Clamps v to [lo, hi] and maps that range linearly onto a v2 weight
 * [1, 10000]. */
static uint64_t to_weight(uint64_t v, uint64_t lo, uint64_t hi)
{
        if (v < lo)
                v = lo;
        if (v > hi)
                v = hi;
        return 1 + ((v - lo) * 9999) / (hi - lo);
}

/* cpu.shares [2, 262144] -> cpu.weight. */
uint64_t cgroup_v2_cpu_weight(uint64_t shares)
{
        return to_weight(shares, 2, 262144);
}

/* blkio.weight [10, 1000] -> io.weight. */
uint64_t cgroup_v2_io_weight(uint64_t w)
{
        return to_weight(w, 10, 1000);
}

static void fmt_limit(char *buf, size_t size, int64_t v)
{
        if (v < 0)
                snprintf(buf, size, "max");
        else
                snprintf(buf, size, "%" PRId64, v);
}

/* OCI memory.swap is memory+swap (v1 memsw); v2 limits swap alone. */
static int swap_max(const struct spec_resources *res, char *buf, size_t size, struct isola_err *err)
{
        if (res->memory_swap < 0) {
                snprintf(buf, size, "max");
                return 0;
        }
        if (!res->has_memory_limit || res->memory_limit < 0)
                return err_set(err, EINVAL,
                               "linux.resources.memory.swap: %" PRId64 " needs a "
                               "finite memory.limit on cgroup v2",
                               res->memory_swap);
        if (res->memory_swap < res->memory_limit)
                return err_set(err, EINVAL,
                               "linux.resources.memory.swap: %" PRId64 " is below "
                               "memory.limit %" PRId64,
                               res->memory_swap, res->memory_limit);
        snprintf(buf, size, "%" PRId64, res->memory_swap - res->memory_limit);
        return 0;
}

static int apply_memory(const char *dir, const struct spec_resources *res, struct isola_err *err)
{
        char buf[32];

        if (res->has_memory_limit) {
                fmt_limit(buf, sizeof(buf), res->memory_limit);
                if (cgroup_write(dir, "memory.max", buf, err) < 0)
                        return -1;
        }
        if (res->has_memory_reservation) {
                fmt_limit(buf, sizeof(buf), res->memory_reservation);
                if (cgroup_write(dir, "memory.low", buf, err) < 0)
                        return -1;
        }
        /* 0 means "not set" in the OCI swap field. */
        if (res->has_memory_swap && res->memory_swap != 0) {
                if (swap_max(res, buf, sizeof(buf), err) < 0)
                        return -1;
                if (!cgroup_file_exists(dir, "memory.swap.max")) {
                        if (res->memory_swap < 0)
                                return 0;
                        return err_set(err, ENOTSUP,
                                       "linux.resources.memory.swap: swap "
                                       "accounting is not enabled ('%s/memory.swap.max' absent)",
                                       dir);
                }
                if (cgroup_write(dir, "memory.swap.max", buf, err) < 0)
                        return -1;
        }
        return 0;
}

static int apply_cpu(const char *dir, const struct spec_resources *res, struct isola_err *err)
{
        char buf[64];

        if (res->has_cpu_shares && res->cpu_shares) {
                snprintf(buf, sizeof(buf), "%" PRIu64, cgroup_v2_cpu_weight(res->cpu_shares));
                if (cgroup_write(dir, "cpu.weight", buf, err) < 0)
                        return -1;
        }
        if (!res->has_cpu_quota && !res->has_cpu_period)
                return 0;
        /* cpu.max is "quota period"; a lone quota keeps the current period, a
         * lone period needs a quota word, and "max" keeps it unlimited. */
        if (res->has_cpu_quota)
                fmt_limit(buf, sizeof(buf), res->cpu_quota);
        else
                snprintf(buf, sizeof(buf), "max");
        if (res->has_cpu_period)
                snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " %" PRIu64,
                         res->cpu_period);
        return cgroup_write(dir, "cpu.max", buf, err);
}

static int io_weight(const char *dir, const struct spec_resources *res, struct isola_err *err)
{
        char buf[16];

        if (!res->has_blkio_weight)
                return 0;
        if (cgroup_file_exists(dir, "io.bfq.weight")) {
                snprintf(buf, sizeof(buf), "%u", (unsigned)res->blkio_weight);
                return cgroup_write(dir, "io.bfq.weight", buf, err);
        }
        if (!cgroup_file_exists(dir, "io.weight"))
                return err_set(err, ENOTSUP,
                               "linux.resources.blockIO.weight: '%s' has neither "
                               "io.bfq.weight nor io.weight",
                               dir);
        snprintf(buf, sizeof(buf), "%" PRIu64, cgroup_v2_io_weight(res->blkio_weight));
        return cgroup_write(dir, "io.weight", buf, err);
}

/* Per-device weights: "MAJ:MIN W", in BFQ's own 1-1000 scale or converted
 * for io.weight; one entry per write(). */
static int io_weight_devices(const char *dir, const struct spec_resources *res,
                             struct isola_err *err)
{
        bool bfq = cgroup_file_exists(dir, "io.bfq.weight");
        const char *file = bfq ? "io.bfq.weight" : "io.weight";
        char buf[64];

        for (size_t i = 0; i < res->n_blkio_weight_devices; i++) {
                const struct spec_blkio_weight_device *d = &res->blkio_weight_devices[i];
                uint64_t w = bfq ? d->weight : cgroup_v2_io_weight(d->weight);

                if (!d->has_weight)
                        continue;
                if (!bfq && !cgroup_file_exists(dir, "io.weight"))
                        return err_set(err, ENOTSUP,
                                       "linux.resources.blockIO.weightDevice[%zu].weight: '%s' "
                                       "has neither io.bfq.weight nor io.weight",
                                       i, dir);
                snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor,
                         w);
                if (cgroup_write(dir, file, buf, err) < 0)
                        return err_prefix(err, "linux.resources.blockIO.weightDevice[%zu]", i);
        }
        return 0;
}

static const struct {
        const char *key, *field;
} io_max_keys[SPEC_THROTTLE_N] = {
    [SPEC_THROTTLE_READ_BPS] = {"rbps", "throttleReadBpsDevice"},
    [SPEC_THROTTLE_WRITE_BPS] = {"wbps", "throttleWriteBpsDevice"},
    [SPEC_THROTTLE_READ_IOPS] = {"riops", "throttleReadIOPSDevice"},
    [SPEC_THROTTLE_WRITE_IOPS] = {"wiops", "throttleWriteIOPSDevice"},
};

/* Whether device t first appears in the throttle lists at (kind, idx). */
static bool io_max_first(const struct spec_resources *res, const struct spec_blkio_throttle *t,
                         size_t kind, size_t idx)
{
        for (size_t k = 0; k <= kind; k++) {
                size_t end = k == kind ? idx : res->n_blkio_throttle[k];

                for (size_t i = 0; i < end; i++)
                        if (res->blkio_throttle[k][i].major == t->major &&
                            res->blkio_throttle[k][i].minor == t->minor)
                                return false;
        }
        return true;
}

/* "MAJ:MIN rbps=R wbps=W riops=.. wiops=.." for one device, with only the keys
 * the spec gives (the last entry wins, as successive v1 writes would). A rate
 * of 0 removes a v1 throttle, which io.max spells "max". */
static void io_max_line(const struct spec_resources *res, int64_t major, int64_t minor, char *buf,
                        size_t size)
{
        size_t len = (size_t)snprintf(buf, size, "%" PRId64 ":%" PRId64, major, minor);

        for (size_t k = 0; k < SPEC_THROTTLE_N; k++) {
                const struct spec_blkio_throttle *last = NULL;

                for (size_t i = 0; i < res->n_blkio_throttle[k]; i++)
                        if (res->blkio_throttle[k][i].major == major &&
                            res->blkio_throttle[k][i].minor == minor)
                                last = &res->blkio_throttle[k][i];
                if (!last || len >= size)
                        continue;
                if (last->rate)
                        len += (size_t)snprintf(buf + len, size - len, " %s=%" PRIu64,
                                                io_max_keys[k].key, last->rate);
                else
                        len +=
                            (size_t)snprintf(buf + len, size - len, " %s=max", io_max_keys[k].key);
        }
}

static int io_max(const char *dir, const struct spec_resources *res, struct isola_err *err)
{
        char buf[160];

        for (size_t k = 0; k < SPEC_THROTTLE_N; k++) {
                for (size_t i = 0; i < res->n_blkio_throttle[k]; i++) {
                        const struct spec_blkio_throttle *t = &res->blkio_throttle[k][i];

                        if (!io_max_first(res, t, k, i))
                                continue;
                        io_max_line(res, t->major, t->minor, buf, sizeof(buf));
                        if (cgroup_write(dir, "io.max", buf, err) < 0)
                                return err_prefix(err, "linux.resources.blockIO.%s[%zu]",
                                                  io_max_keys[k].field, i);
                }
        }
        return 0;
}

static int apply_io(const char *dir, const struct spec_resources *res, struct isola_err *err)
{
        if (io_weight(dir, res, err) < 0 || io_weight_devices(dir, res, err) < 0)
                return -1;
        return io_max(dir, res, err);
}

int cgroup_v2_apply(const char *dir, const struct spec_resources *res, struct isola_err *err)
{
        char buf[32];

        if (apply_memory(dir, res, err) < 0 || apply_cpu(dir, res, err) < 0)
                return -1;
        if (res->cpuset_cpus && res->cpuset_cpus[0] &&
            cgroup_write(dir, "cpuset.cpus", res->cpuset_cpus, err) < 0)
                return -1;
        if (res->cpuset_mems && res->cpuset_mems[0] &&
            cgroup_write(dir, "cpuset.mems", res->cpuset_mems, err) < 0)
                return -1;
        if (res->has_pids_limit) {
                fmt_limit(buf, sizeof(buf), res->pids_limit > 0 ? res->pids_limit : -1);
                if (cgroup_write(dir, "pids.max", buf, err) < 0)
                        return -1;
        }
        return apply_io(dir, res, err);
}

int cgroup_v2_apply_unified(const char *dir, const struct spec_resources *res,
                            struct isola_err *err)
{
        for (size_t i = 0; i < res->n_unified; i++) {
                const char *key = res->unified_keys[i], *val = res->unified_values[i];
                if (!key[0] || strchr(key, '/') || !strcmp(key, ".") || !strcmp(key, ".."))
                        return err_set(err, EINVAL,
                                       "linux.resources.unified: invalid key '%s' "
                                       "(must be a file name in the cgroup directory)",
                                       key);
                if (cgroup_write(dir, key, val ? val : "", err) < 0)
                        return err_prefix(err, "linux.resources.unified[\"%s\"]", key);
        }
        return 0;
}
