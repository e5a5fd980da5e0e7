/* `update [--resources FILE|-] [limit flags] <id>`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/runtime_args.h"
#include "util/fs.h"

/* "100m", "1g", "4096" -> bytes; "-1" stays -1 (unlimited). */
static int parse_bytes(const char *s, int64_t *out)
{
        char *end;
        long long v = strtoll(s, &end, 10);
        int64_t mul = 1;

        if (end == s)
                return -1;
        switch (*end | 0x20) {
        case 'k':
                mul = 1LL << 10;
                end++;
                break;
        case 'm':
                mul = 1LL << 20;
                end++;
                break;
        case 'g':
                mul = 1LL << 30;
                end++;
                break;
        case 't':
                mul = 1LL << 40;
                end++;
                break;
        default:
                break;
        }
        if ((*end | 0x20) == 'b')
                end++;
        if (*end)
                return -1;
        *out = v < 0 ? -1 : v * mul;
        return 0;
}

static int read_resources(const char *file, struct spec_resources *res, struct isola_err *err)
{
        char *text = NULL;
        size_t len;
        int rc;

        if (!strcmp(file, "-"))
                rc = fs_read_fd(STDIN_FILENO, 1 << 20, &text, &len, err);
        else
                rc = fs_read_file(file, &text, &len, err);
        if (rc == 0)
                rc = spec_parse_resources(text, len, res, err);
        free(text);
        return rc < 0 ? err_prefix(err, "--resources '%s'", file) : 0;
}

struct flags {
        const char *memory, *swap, *shares, *quota, *period, *cpus, *mems, *pids, *blkio;
        const char *kernel, *kernel_tcp, *reservation, *rt_period, *rt_runtime, *l3;
};

static int num(const char *flag, const char *s, int64_t *out, struct isola_err *err)
{
        if (parse_bytes(s, out) < 0)
                return err_set(err, EINVAL, "--%s '%s': not a number", flag, s);
        return 0;
}

static int apply_flags(const struct flags *f, struct spec_resources *r, struct isola_err *err)
{
        int64_t v;

        if (f->memory) {
                if (num("memory", f->memory, &r->memory_limit, err) < 0)
                        return -1;
                r->has_memory_limit = true;
        }
        if (f->reservation) {
                if (num("memory-reservation", f->reservation, &r->memory_reservation, err) < 0)
                        return -1;
                r->has_memory_reservation = true;
        }
        if (f->swap) {
                if (num("memory-swap", f->swap, &r->memory_swap, err) < 0)
                        return -1;
                r->has_memory_swap = true;
        }
        if (f->shares) {
                if (num("cpu-shares", f->shares, &v, err) < 0)
                        return -1;
                r->cpu_shares = (uint64_t)v;
                r->has_cpu_shares = true;
        }
        if (f->quota) {
                if (num("cpu-quota", f->quota, &r->cpu_quota, err) < 0)
                        return -1;
                r->has_cpu_quota = true;
        }
        if (f->period) {
                if (num("cpu-period", f->period, &v, err) < 0)
                        return -1;
                r->cpu_period = (uint64_t)v;
                r->has_cpu_period = true;
        }
        if (f->pids) {
                if (num("pids-limit", f->pids, &r->pids_limit, err) < 0)
                        return -1;
                r->has_pids_limit = true;
        }
        if (f->blkio) {
                if (num("blkio-weight", f->blkio, &v, err) < 0)
                        return -1;
                r->blkio_weight = (uint16_t)v;
                r->has_blkio_weight = true;
        }
        if (f->cpus) {
                free(r->cpuset_cpus);
                r->cpuset_cpus = strdup(f->cpus);
        }
        if (f->mems) {
                free(r->cpuset_mems);
                r->cpuset_mems = strdup(f->mems);
        }
        return 0;
}

int rt_cmd_update(struct rt_ctx *ctx, int argc, char **argv)
{
        struct spec_resources res = {0};
        struct isola_err err = {0};
        const char *resources = NULL;
        struct flags f = {0};
        const struct rt_opt opts[] = {
            {"resources", 'r', RT_STR, &resources},
            {"memory", 0, RT_STR, &f.memory},
            {"memory-swap", 0, RT_STR, &f.swap},
            {"memory-reservation", 0, RT_STR, &f.reservation},
            {"kernel-memory", 0, RT_STR, &f.kernel},
            {"kernel-memory-tcp", 0, RT_STR, &f.kernel_tcp},
            {"cpu-shares", 0, RT_STR, &f.shares},
            {"cpu-quota", 0, RT_STR, &f.quota},
            {"cpu-period", 0, RT_STR, &f.period},
            {"cpu-rt-period", 0, RT_STR, &f.rt_period},
            {"cpu-rt-runtime", 0, RT_STR, &f.rt_runtime},
            {"cpuset-cpus", 0, RT_STR, &f.cpus},
            {"cpuset-mems", 0, RT_STR, &f.mems},
            {"pids-limit", 0, RT_STR, &f.pids},
            {"blkio-weight", 0, RT_STR, &f.blkio},
            {"l3-cache-schema", 0, RT_STR, &f.l3},
            {NULL, 0, 0, NULL},
        };
        int next, rc = 0;

        if (rt_parse(argv[0], argc, argv, opts, &next) < 0)
                return 1;
        if (next != argc - 1)
                return rt_usage(ctx, argv[0], "expects exactly one argument: <container-id>");
        if ((resources && read_resources(resources, &res, &err) < 0) ||
            apply_flags(&f, &res, &err) < 0 || ctr_update(&ctx->opts, argv[next], &res, &err) < 0)
                rc = rt_fail(ctx, &err);
        spec_resources_clear(&res);
        return rc;
}
