/* config.json "linux": namespaces, id mappings, devices, cgroupsPath,
 * sysctl, masked/read-only paths, rootfs propagation, personality and mount
 * label. resources and seccomp have their own files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>

#include "ctr/spec_parse_json.h"
#include "util/cleanup.h"

/* ---- namespaces ---- */

static int ns_parse_type(json_object *val, const struct jp *path, void *target,
                         struct isola_err *err)
{
        struct spec_namespace *ns = target;
        const char *name;

        if (sj_plain_string(val, path, &name, err) < 0)
                return -1;
        for (int k = 0; k < NS_KIND_COUNT; k++) {
                if (!strcmp(spec_ns_name(k), name)) {
                        ns->kind = k;
                        return 0;
                }
        }
        return sj_err(err, path, "unknown namespace type '%s'", name);
}

static const struct sj_field ns_fields[] = {
    SJ_FN_F("type", ns_parse_type),
    SJ_F("path", SJK_STR, struct spec_namespace, path),
};

static int linux_parse_namespaces(json_object *val, const struct jp *path, void *target,
                                  struct isola_err *err)
{
        struct spec_linux *lnx = target;
        unsigned seen = 0;

        if (sj_array_alloc(val, path, sizeof(*lnx->namespaces), (void **)&lnx->namespaces,
                           &lnx->n_namespaces, err) < 0)
                return -1;
        for (size_t i = 0; i < lnx->n_namespaces; i++) {
                struct spec_namespace *ns = &lnx->namespaces[i];
                struct jp ip = JP_IDX(path, i), tp = JP_KEY(&ip, "type");

                ns->kind = NS_KIND_COUNT;
                if (sj_object(json_object_array_get_idx(val, i), &ip, ns_fields,
                              ARRAY_SIZE(ns_fields), ns, err) < 0)
                        return -1;
                if (ns->kind == NS_KIND_COUNT)
                        return sj_err(err, &tp, "required");
                if (seen & (1U << ns->kind))
                        return sj_err(err, &tp, "duplicate namespace '%s'", spec_ns_name(ns->kind));
                seen |= 1U << ns->kind;
        }
        return 0;
}

/* ---- id mappings ---- */

static int mapping_field(json_object *obj, const struct jp *path, const char *key, uint32_t *out,
                         struct isola_err *err)
{
        json_object *v;
        struct jp kp = JP_KEY(path, key);

        if (!json_object_object_get_ex(obj, key, &v) || !v)
                return sj_err(err, &kp, "required");
        return sj_uint32(v, &kp, out, err);
}

static int parse_mappings(json_object *val, const struct jp *path, struct spec_id_mapping **out,
                          size_t *n_out, struct isola_err *err)
{
        if (sj_array_alloc(val, path, sizeof(**out), (void **)out, n_out, err) < 0)
                return -1;
        for (size_t i = 0; i < *n_out; i++) {
                json_object *m = json_object_array_get_idx(val, i);
                struct jp ip = JP_IDX(path, i);
                struct spec_id_mapping *map = &(*out)[i];

                if (!json_object_is_type(m, json_type_object))
                        return sj_err(err, &ip, "expected an object");
                if (mapping_field(m, &ip, "containerID", &map->container_id, err) < 0 ||
                    mapping_field(m, &ip, "hostID", &map->host_id, err) < 0 ||
                    mapping_field(m, &ip, "size", &map->size, err) < 0)
                        return -1;
        }
        return 0;
}

static int linux_parse_uid_mappings(json_object *val, const struct jp *path, void *target,
                                    struct isola_err *err)
{
        struct spec_linux *lnx = target;

        return parse_mappings(val, path, &lnx->uid_mappings, &lnx->n_uid_mappings, err);
}

static int linux_parse_gid_mappings(json_object *val, const struct jp *path, void *target,
                                    struct isola_err *err)
{
        struct spec_linux *lnx = target;

        return parse_mappings(val, path, &lnx->gid_mappings, &lnx->n_gid_mappings, err);
}

/* ---- devices ---- */

static int device_parse_type(json_object *val, const struct jp *path, void *target,
                             struct isola_err *err)
{
        struct spec_device *dev = target;
        const char *t;

        if (sj_plain_string(val, path, &t, err) < 0)
                return -1;
        if (strlen(t) != 1 || !strchr("cbup", t[0]))
                return sj_err(err, path, "unknown device type '%s' (expected c, b, u or p)", t);
        dev->type = t[0];
        return 0;
}

static int device_parse_mode(json_object *val, const struct jp *path, void *target,
                             struct isola_err *err)
{
        struct spec_device *dev = target;
        uint64_t mode;

        if (sj_uint64(val, path, 07777, &mode, err) < 0)
                return -1;
        dev->file_mode = (mode_t)mode;
        dev->has_file_mode = true;
        return 0;
}

static int device_parse_major(json_object *val, const struct jp *path, void *target,
                              struct isola_err *err)
{
        return sj_int64(val, path, 0, UINT32_MAX, &((struct spec_device *)target)->major, err);
}

static int device_parse_minor(json_object *val, const struct jp *path, void *target,
                              struct isola_err *err)
{
        return sj_int64(val, path, 0, UINT32_MAX, &((struct spec_device *)target)->minor, err);
}

static const struct sj_field device_fields[] = {
    SJ_F("path", SJK_STR, struct spec_device, path),
    SJ_FN_F("type", device_parse_type),
    SJ_FN_F("major", device_parse_major),
    SJ_FN_F("minor", device_parse_minor),
    SJ_FN_F("fileMode", device_parse_mode),
    SJ_FH("uid", SJK_U32, struct spec_device, uid, has_uid),
    SJ_FH("gid", SJK_U32, struct spec_device, gid, has_gid),
};

static int linux_parse_devices(json_object *val, const struct jp *path, void *target,
                               struct isola_err *err)
{
        struct spec_linux *lnx = target;

        if (sj_array_alloc(val, path, sizeof(*lnx->devices), (void **)&lnx->devices,
                           &lnx->n_devices, err) < 0)
                return -1;
        for (size_t i = 0; i < lnx->n_devices; i++) {
                struct spec_device *dev = &lnx->devices[i];
                struct jp ip = JP_IDX(path, i);

                dev->major = dev->minor = -1;
                if (sj_object(json_object_array_get_idx(val, i), &ip, device_fields,
                              ARRAY_SIZE(device_fields), dev, err) < 0)
                        return -1;
                if (!dev->path) {
                        struct jp pp = JP_KEY(&ip, "path");
                        return sj_err(err, &pp, "required");
                }
                if (!dev->type) {
                        struct jp tp = JP_KEY(&ip, "type");
                        return sj_err(err, &tp, "required");
                }
                if (dev->type != 'p' && (dev->major < 0 || dev->minor < 0)) {
                        struct jp mp = JP_KEY(&ip, dev->major < 0 ? "major" : "minor");
                        return sj_err(err, &mp, "required for device type '%c'", dev->type);
                }
        }
        return 0;
}

/* ---- the rest ---- */

static int linux_parse_sysctl(json_object *val, const struct jp *path, void *target,
                              struct isola_err *err)
{
        struct spec_linux *lnx = target;
        size_t i = 0;

        if (!json_object_is_type(val, json_type_object))
                return sj_err(err, path, "expected an object of strings");
        lnx->n_sysctl = 0;
        lnx->sysctl = calloc((size_t)json_object_object_length(val) + 1, sizeof(*lnx->sysctl));
        if (!lnx->sysctl)
                return err_set(err, ENOMEM, "out of memory");
        json_object_object_foreach(val, key, member)
        {
                struct jp kp = JP_KEY(path, key);
                struct spec_sysctl *sc = &lnx->sysctl[i];

                if (!member)
                        return sj_err(err, &kp, "expected a string");
                lnx->n_sysctl = ++i;
                sc->key = strdup(key);
                if (!sc->key)
                        return err_set(err, ENOMEM, "out of memory");
                if (sj_string(member, &kp, &sc->value, err) < 0)
                        return -1;
        }
        return 0;
}

static int linux_parse_resources(json_object *val, const struct jp *path, void *target,
                                 struct isola_err *err)
{
        struct spec_linux *lnx = target;

        lnx->has_resources = true;
        return spec_resources_parse_obj(val, path, &lnx->resources, err);
}

static int linux_parse_seccomp(json_object *val, const struct jp *path, void *target,
                               struct isola_err *err)
{
        struct spec_linux *lnx = target;

        if (!lnx->seccomp) {
                lnx->seccomp = calloc(1, sizeof(*lnx->seccomp));
                if (!lnx->seccomp)
                        return err_set(err, ENOMEM, "out of memory");
        }
        return spec_seccomp_parse_obj(val, path, lnx->seccomp, err);
}

static int linux_parse_propagation(json_object *val, const struct jp *path, void *target,
                                   struct isola_err *err)
{
        struct spec_linux *lnx = target;
        const char *name;

        if (sj_plain_string(val, path, &name, err) < 0)
                return -1;
        if (!name[0])
                return 0;
        lnx->rootfs_propagation = spec_propagation_flags(name);
        if (!lnx->rootfs_propagation)
                return sj_err(err, path, "unknown propagation '%s'", name);
        return 0;
}

static int personality_parse_domain(json_object *val, const struct jp *path, void *target,
                                    struct isola_err *err)
{
        struct spec_linux *lnx = target;
        const char *name;

        if (sj_plain_string(val, path, &name, err) < 0)
                return -1;
        if (!strcmp(name, "LINUX"))
                lnx->personality = PER_LINUX;
        else if (!strcmp(name, "LINUX32"))
                lnx->personality = PER_LINUX32;
        else
                return sj_err(err, path, "unknown personality domain '%s'", name);
        lnx->has_personality = true;
        return 0;
}

static const struct sj_field personality_fields[] = {
    SJ_FN_F("domain", personality_parse_domain),
};

static int linux_parse_personality(json_object *val, const struct jp *path, void *target,
                                   struct isola_err *err)
{
        struct spec_linux *lnx = target;

        if (sj_object(val, path, personality_fields, ARRAY_SIZE(personality_fields), lnx, err) < 0)
                return -1;
        if (!lnx->has_personality) {
                struct jp dp = JP_KEY(path, "domain");
                return sj_err(err, &dp, "required");
        }
        return 0;
}

static const struct sj_field linux_fields[] = {
    SJ_FN_F("namespaces", linux_parse_namespaces),
    SJ_FN_F("uidMappings", linux_parse_uid_mappings),
    SJ_FN_F("gidMappings", linux_parse_gid_mappings),
    SJ_FN_F("devices", linux_parse_devices),
    SJ_F("cgroupsPath", SJK_STR, struct spec_linux, cgroups_path),
    SJ_FN_F("resources", linux_parse_resources),
    SJ_FN_F("sysctl", linux_parse_sysctl),
    SJ_FN_F("seccomp", linux_parse_seccomp),
    SJ_STRV_F("maskedPaths", struct spec_linux, masked_paths, n_masked_paths),
    SJ_STRV_F("readonlyPaths", struct spec_linux, readonly_paths, n_readonly_paths),
    SJ_FN_F("rootfsPropagation", linux_parse_propagation),
    SJ_FN_F("personality", linux_parse_personality),
    SJ_F("mountLabel", SJK_STR, struct spec_linux, mount_label),
};

int spec_linux_parse_obj(json_object *val, const struct jp *path, struct spec_linux *lnx,
                         struct isola_err *err)
{
        return sj_object(val, path, linux_fields, ARRAY_SIZE(linux_fields), lnx, err);
}

void spec_linux_clear(struct spec_linux *lnx)
{
        for (size_t i = 0; i < lnx->n_namespaces; i++)
                free(lnx->namespaces[i].path);
        free(lnx->namespaces);
        free(lnx->uid_mappings);
        free(lnx->gid_mappings);
        for (size_t i = 0; i < lnx->n_devices; i++)
                free(lnx->devices[i].path);
        free(lnx->devices);
        free(lnx->cgroups_path);
        spec_resources_clear(&lnx->resources);
        for (size_t i = 0; i < lnx->n_sysctl; i++) {
                free(lnx->sysctl[i].key);
                free(lnx->sysctl[i].value);
        }
        free(lnx->sysctl);
        spec_seccomp_free(lnx->seccomp);
        sj_strv_free(lnx->masked_paths);
        sj_strv_free(lnx->readonly_paths);
        free(lnx->mount_label);
}
