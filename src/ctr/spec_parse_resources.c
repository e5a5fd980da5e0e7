/* config.json "linux.resources" (also the whole of an `update --resources`
 * file): memory, cpu, pids, blockIO (weight, weightDevice and the four
 * throttle*Device lists), device-cgroup rules and the cgroup v2 "unified"
 * map. Members the cgroup back ends do not apply (hugepageLimits, network,
 * rdma, kernel memory) are ignored. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctr/spec_parse_json.h"
#include "util/cleanup.h"

/* ---- memory ---- */

/* Memory sizes are bytes, or -1 for "unlimited". */
static int mem_size(json_object *val, const struct jp *path, int64_t *out, bool *has,
                    struct isola_err *err)
{
        if (sj_int64(val, path, -1, INT64_MAX, out, err) < 0)
                return -1;
        *has = true;
        return 0;
}

static int mem_parse_limit(json_object *val, const struct jp *path, void *target,
                           struct isola_err *err)
{
        struct spec_resources *r = target;

        return mem_size(val, path, &r->memory_limit, &r->has_memory_limit, err);
}

static int mem_parse_reservation(json_object *val, const struct jp *path, void *target,
                                 struct isola_err *err)
{
        struct spec_resources *r = target;

        return mem_size(val, path, &r->memory_reservation, &r->has_memory_reservation, err);
}

static int mem_parse_swap(json_object *val, const struct jp *path, void *target,
                          struct isola_err *err)
{
        struct spec_resources *r = target;

        return mem_size(val, path, &r->memory_swap, &r->has_memory_swap, err);
}

static int mem_parse_swappiness(json_object *val, const struct jp *path, void *target,
                                struct isola_err *err)
{
        struct spec_resources *r = target;

        if (sj_uint64(val, path, 100, &r->memory_swappiness, err) < 0)
                return -1;
        r->has_memory_swappiness = true;
        return 0;
}

static const struct sj_field memory_fields[] = {
    SJ_FN_F("limit", mem_parse_limit),
    SJ_FN_F("reservation", mem_parse_reservation),
    SJ_FN_F("swap", mem_parse_swap),
    SJ_FN_F("swappiness", mem_parse_swappiness),
    SJ_F("disableOOMKiller", SJK_BOOL, struct spec_resources, disable_oom_killer),
};

/* ---- cpu ---- */

static int cpu_parse_quota(json_object *val, const struct jp *path, void *target,
                           struct isola_err *err)
{
        struct spec_resources *r = target;

        if (sj_int64(val, path, -1, INT64_MAX, &r->cpu_quota, err) < 0)
                return -1;
        r->has_cpu_quota = true;
        return 0;
}

static const struct sj_field cpu_fields[] = {
    SJ_FH("shares", SJK_U64, struct spec_resources, cpu_shares, has_cpu_shares),
    SJ_FN_F("quota", cpu_parse_quota),
    SJ_FH("period", SJK_U64, struct spec_resources, cpu_period, has_cpu_period),
    SJ_F("cpus", SJK_STR, struct spec_resources, cpuset_cpus),
    SJ_F("mems", SJK_STR, struct spec_resources, cpuset_mems),
};

/* ---- pids, blockIO ---- */

static int pids_parse_limit(json_object *val, const struct jp *path, void *target,
                            struct isola_err *err)
{
        struct spec_resources *r = target;

        if (sj_int64(val, path, INT64_MIN, INT64_MAX, &r->pids_limit, err) < 0)
                return -1;
        /* Any value <= 0 means "no limit" in runc and crun. */
        if (r->pids_limit < 0)
                r->pids_limit = -1;
        r->has_pids_limit = true;
        return 0;
}

static const struct sj_field pids_fields[] = {
    SJ_FN_F("limit", pids_parse_limit),
};

static int blkio_parse_weight(json_object *val, const struct jp *path, void *target,
                              struct isola_err *err)
{
        struct spec_resources *r = target;
        uint64_t w;

        if (sj_uint64(val, path, 1000, &w, err) < 0)
                return -1;
        r->blkio_weight = (uint16_t)w;
        r->has_blkio_weight = true;
        return 0;
}

/* OCI requires these members; a device entry without them would otherwise
 * silently target device 0:0. */
static int require_members(json_object *obj, const struct jp *path, const char *const *names,
                           size_t n, struct isola_err *err)
{
        for (size_t i = 0; i < n; i++) {
                json_object *m;

                if (!json_object_object_get_ex(obj, names[i], &m) || !m) {
                        struct jp mp = JP_KEY(path, names[i]);
                        return sj_err(err, &mp, "required");
                }
        }
        return 0;
}

static int blkdev_number(json_object *val, const struct jp *path, int64_t *out,
                         struct isola_err *err)
{
        return sj_int64(val, path, 0, UINT32_MAX, out, err);
}

static int throttle_parse_major(json_object *val, const struct jp *path, void *target,
                                struct isola_err *err)
{
        return blkdev_number(val, path, &((struct spec_blkio_throttle *)target)->major, err);
}

static int throttle_parse_minor(json_object *val, const struct jp *path, void *target,
                                struct isola_err *err)
{
        return blkdev_number(val, path, &((struct spec_blkio_throttle *)target)->minor, err);
}

static const struct sj_field throttle_fields[] = {
    SJ_FN_F("major", throttle_parse_major),
    SJ_FN_F("minor", throttle_parse_minor),
    SJ_F("rate", SJK_U64, struct spec_blkio_throttle, rate),
};

static int blkio_parse_throttle(json_object *val, const struct jp *path, struct spec_resources *r,
                                enum spec_blkio_throttle_kind kind, struct isola_err *err)
{
        static const char *const required[] = {"major", "minor", "rate"};

        free(r->blkio_throttle[kind]);
        r->blkio_throttle[kind] = NULL;
        if (sj_array_alloc(val, path, sizeof(*r->blkio_throttle[kind]),
                           (void **)&r->blkio_throttle[kind], &r->n_blkio_throttle[kind], err) < 0)
                return -1;
        for (size_t i = 0; i < r->n_blkio_throttle[kind]; i++) {
                json_object *obj = json_object_array_get_idx(val, i);
                struct jp ip = JP_IDX(path, i);

                if (sj_object(obj, &ip, throttle_fields, ARRAY_SIZE(throttle_fields),
                              &r->blkio_throttle[kind][i], err) < 0 ||
                    require_members(obj, &ip, required, ARRAY_SIZE(required), err) < 0)
                        return -1;
        }
        return 0;
}

#define BLKIO_THROTTLE_PARSER(fn, kind)                                                            \
        static int fn(json_object *val, const struct jp *path, void *target,                       \
                      struct isola_err *err)                                                       \
        {                                                                                          \
                return blkio_parse_throttle(val, path, target, kind, err);                         \
        }
BLKIO_THROTTLE_PARSER(blkio_parse_read_bps, SPEC_THROTTLE_READ_BPS)
BLKIO_THROTTLE_PARSER(blkio_parse_write_bps, SPEC_THROTTLE_WRITE_BPS)
BLKIO_THROTTLE_PARSER(blkio_parse_read_iops, SPEC_THROTTLE_READ_IOPS)
BLKIO_THROTTLE_PARSER(blkio_parse_write_iops, SPEC_THROTTLE_WRITE_IOPS)

static int wdev_parse_major(json_object *val, const struct jp *path, void *target,
                            struct isola_err *err)
{
        return blkdev_number(val, path, &((struct spec_blkio_weight_device *)target)->major, err);
}

static int wdev_parse_minor(json_object *val, const struct jp *path, void *target,
                            struct isola_err *err)
{
        return blkdev_number(val, path, &((struct spec_blkio_weight_device *)target)->minor, err);
}

/* Same range as blockIO.weight: what blkio.weight_device takes. */
static int wdev_weight(json_object *val, const struct jp *path, uint16_t *out, bool *has,
                       struct isola_err *err)
{
        uint64_t w;

        if (sj_uint64(val, path, 1000, &w, err) < 0)
                return -1;
        *out = (uint16_t)w;
        *has = true;
        return 0;
}

static int wdev_parse_weight(json_object *val, const struct jp *path, void *target,
                             struct isola_err *err)
{
        struct spec_blkio_weight_device *d = target;

        return wdev_weight(val, path, &d->weight, &d->has_weight, err);
}

static int wdev_parse_leaf_weight(json_object *val, const struct jp *path, void *target,
                                  struct isola_err *err)
{
        struct spec_blkio_weight_device *d = target;

        return wdev_weight(val, path, &d->leaf_weight, &d->has_leaf_weight, err);
}

static const struct sj_field wdev_fields[] = {
    SJ_FN_F("major", wdev_parse_major),
    SJ_FN_F("minor", wdev_parse_minor),
    SJ_FN_F("weight", wdev_parse_weight),
    SJ_FN_F("leafWeight", wdev_parse_leaf_weight),
};

static int blkio_parse_weight_device(json_object *val, const struct jp *path, void *target,
                                     struct isola_err *err)
{
        static const char *const required[] = {"major", "minor"};
        struct spec_resources *r = target;

        free(r->blkio_weight_devices);
        r->blkio_weight_devices = NULL;
        if (sj_array_alloc(val, path, sizeof(*r->blkio_weight_devices),
                           (void **)&r->blkio_weight_devices, &r->n_blkio_weight_devices, err) < 0)
                return -1;
        for (size_t i = 0; i < r->n_blkio_weight_devices; i++) {
                json_object *obj = json_object_array_get_idx(val, i);
                struct jp ip = JP_IDX(path, i);

                if (sj_object(obj, &ip, wdev_fields, ARRAY_SIZE(wdev_fields),
                              &r->blkio_weight_devices[i], err) < 0 ||
                    require_members(obj, &ip, required, ARRAY_SIZE(required), err) < 0)
                        return -1;
        }
        return 0;
}

static const struct sj_field blkio_fields[] = {
    SJ_FN_F("weight", blkio_parse_weight),
    SJ_FN_F("weightDevice", blkio_parse_weight_device),
    SJ_FN_F("throttleReadBpsDevice", blkio_parse_read_bps),
    SJ_FN_F("throttleWriteBpsDevice", blkio_parse_write_bps),
    SJ_FN_F("throttleReadIOPSDevice", blkio_parse_read_iops),
    SJ_FN_F("throttleWriteIOPSDevice", blkio_parse_write_iops),
};

/* ---- device-cgroup rules ---- */

static int rule_parse_type(json_object *val, const struct jp *path, void *target,
                           struct isola_err *err)
{
        struct spec_device_rule *rule = target;
        const char *t;

        if (sj_plain_string(val, path, &t, err) < 0)
                return -1;
        if (strlen(t) != 1 || !strchr("acb", t[0]))
                return sj_err(err, path, "unknown device type '%s' (expected a, c or b)", t);
        rule->type = t[0];
        return 0;
}

static int rule_parse_access(json_object *val, const struct jp *path, void *target,
                             struct isola_err *err)
{
        struct spec_device_rule *rule = target;
        bool seen[3] = {false, false, false};
        const char *a;
        size_t n = 0;

        if (sj_plain_string(val, path, &a, err) < 0)
                return -1;
        for (const char *p = a; *p; p++) {
                const char *slot = strchr("rwm", *p);

                if (!slot || seen[slot - "rwm"])
                        return sj_err(err, path, "invalid access '%s' (expected a subset of rwm)",
                                      a);
                seen[slot - "rwm"] = true;
                rule->access[n++] = *p;
        }
        rule->access[n] = '\0';
        if (n == 0)
                memcpy(rule->access, "rwm", 4);
        return 0;
}

static int rule_parse_major(json_object *val, const struct jp *path, void *target,
                            struct isola_err *err)
{
        return sj_int64(val, path, -1, UINT32_MAX, &((struct spec_device_rule *)target)->major,
                        err);
}

static int rule_parse_minor(json_object *val, const struct jp *path, void *target,
                            struct isola_err *err)
{
        return sj_int64(val, path, -1, UINT32_MAX, &((struct spec_device_rule *)target)->minor,
                        err);
}

static const struct sj_field rule_fields[] = {
    SJ_F("allow", SJK_BOOL, struct spec_device_rule, allow),
    SJ_FN_F("type", rule_parse_type),
    SJ_FN_F("major", rule_parse_major),
    SJ_FN_F("minor", rule_parse_minor),
    SJ_FN_F("access", rule_parse_access),
};

static int res_parse_devices(json_object *val, const struct jp *path, void *target,
                             struct isola_err *err)
{
        struct spec_resources *r = target;

        free(r->device_rules);
        r->device_rules = NULL;
        if (sj_array_alloc(val, path, sizeof(*r->device_rules), (void **)&r->device_rules,
                           &r->n_device_rules, err) < 0)
                return -1;
        for (size_t i = 0; i < r->n_device_rules; i++) {
                struct spec_device_rule *rule = &r->device_rules[i];
                json_object *obj = json_object_array_get_idx(val, i), *allow;
                struct jp ip = JP_IDX(path, i);

                *rule = (struct spec_device_rule){
                    .type = 'a', .major = -1, .minor = -1, .access = "rwm"};
                if (sj_object(obj, &ip, rule_fields, ARRAY_SIZE(rule_fields), rule, err) < 0)
                        return -1;
                if (!json_object_object_get_ex(obj, "allow", &allow) || !allow) {
                        struct jp ap = JP_KEY(&ip, "allow");
                        return sj_err(err, &ap, "required");
                }
        }
        return 0;
}

/* ---- resources ---- */

#define RES_SUBOBJECT_PARSER(fn, table)                                                            \
        static int fn(json_object *val, const struct jp *path, void *target,                       \
                      struct isola_err *err)                                                       \
        {                                                                                          \
                return sj_object(val, path, table, ARRAY_SIZE(table), target, err);                \
        }
RES_SUBOBJECT_PARSER(res_parse_memory, memory_fields)
RES_SUBOBJECT_PARSER(res_parse_cpu, cpu_fields)
RES_SUBOBJECT_PARSER(res_parse_pids, pids_fields)
RES_SUBOBJECT_PARSER(res_parse_blkio, blkio_fields)

static int res_parse_unified(json_object *val, const struct jp *path, void *target,
                             struct isola_err *err)
{
        struct spec_resources *r = target;

        return sj_string_map(val, path, &r->unified_keys, &r->unified_values, &r->n_unified, err);
}

static const struct sj_field resources_fields[] = {
    SJ_FN_F("devices", res_parse_devices), SJ_FN_F("memory", res_parse_memory),
    SJ_FN_F("cpu", res_parse_cpu),         SJ_FN_F("pids", res_parse_pids),
    SJ_FN_F("blockIO", res_parse_blkio),   SJ_FN_F("unified", res_parse_unified),
};

int spec_resources_parse_obj(json_object *val, const struct jp *path, struct spec_resources *res,
                             struct isola_err *err)
{
        return sj_object(val, path, resources_fields, ARRAY_SIZE(resources_fields), res, err);
}

int spec_parse_resources(const char *json, size_t len, struct spec_resources *res_out,
                         struct isola_err *err)
{
        json_object *obj;
        int rc;

        memset(res_out, 0, sizeof(*res_out));
        if (sj_tokenize(json, len, &obj, err) < 0)
                return -1;
        rc = spec_resources_parse_obj(obj, NULL, res_out, err);
        json_object_put(obj);
        if (rc < 0)
                spec_resources_clear(res_out);
        return rc;
}

void spec_resources_clear(struct spec_resources *res)
{
        free(res->cpuset_cpus);
        free(res->cpuset_mems);
        free(res->device_rules);
        free(res->blkio_weight_devices);
        for (size_t k = 0; k < SPEC_THROTTLE_N; k++)
                free(res->blkio_throttle[k]);
        sj_strv_free(res->unified_keys);
        sj_strv_free(res->unified_values);
        memset(res, 0, sizeof(*res));
}
