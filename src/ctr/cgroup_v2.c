/* linux.resources on the unified (v2) hierarchy: the OCI values are v1-shaped,
 * so some are converted (shares -> cpu.weight, swap -> memory.swap.max, blkio
 * weight -> io.weight). memory.swappiness and disableOOMKiller have no v2
 * equivalent and are ignored, as other runtimes do. */
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

static int apply_io(const char *dir, const struct spec_resources *res, struct isola_err *err)
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
