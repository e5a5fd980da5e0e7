/* config.json top level: ociVersion, root, hostname, domainname, mounts (with
 * their options decoded into mount(2) flags), hooks and annotations; plus
 * spec_parse/spec_load/spec_free, which drive the section parsers in
 * spec_parse_process.c, spec_parse_linux.c, spec_parse_resources.c and
 * spec_parse_seccomp.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "ctr/spec_parse_json.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* ---- mounts ---- */

enum mount_opt_kind { MO_SET, MO_CLEAR, MO_PROPAGATION, MO_BIND, MO_RBIND, MO_IGNORE, MO_UNSUP };

struct mount_opt {
        const char *name;
        enum mount_opt_kind kind;
        unsigned long flag;
};

static const struct mount_opt mount_opts[] = {
    {"ro", MO_SET, MS_RDONLY},
    {"rw", MO_CLEAR, MS_RDONLY},
    {"nosuid", MO_SET, MS_NOSUID},
    {"suid", MO_CLEAR, MS_NOSUID},
    {"nodev", MO_SET, MS_NODEV},
    {"dev", MO_CLEAR, MS_NODEV},
    {"noexec", MO_SET, MS_NOEXEC},
    {"exec", MO_CLEAR, MS_NOEXEC},
    {"sync", MO_SET, MS_SYNCHRONOUS},
    {"async", MO_CLEAR, MS_SYNCHRONOUS},
    {"dirsync", MO_SET, MS_DIRSYNC},
    {"remount", MO_SET, MS_REMOUNT},
    {"mand", MO_SET, MS_MANDLOCK},
    {"nomand", MO_CLEAR, MS_MANDLOCK},
    {"noatime", MO_SET, MS_NOATIME},
    {"atime", MO_CLEAR, MS_NOATIME},
    {"nodiratime", MO_SET, MS_NODIRATIME},
    {"diratime", MO_CLEAR, MS_NODIRATIME},
    {"relatime", MO_SET, MS_RELATIME},
    {"norelatime", MO_CLEAR, MS_RELATIME},
    {"strictatime", MO_SET, MS_STRICTATIME},
    {"nostrictatime", MO_CLEAR, MS_STRICTATIME},
    {"bind", MO_BIND, MS_BIND},
    {"rbind", MO_RBIND, MS_BIND | MS_REC},
    {"private", MO_PROPAGATION, MS_PRIVATE},
    {"rprivate", MO_PROPAGATION, MS_PRIVATE | MS_REC},
    {"shared", MO_PROPAGATION, MS_SHARED},
    {"rshared", MO_PROPAGATION, MS_SHARED | MS_REC},
    {"slave", MO_PROPAGATION, MS_SLAVE},
    {"rslave", MO_PROPAGATION, MS_SLAVE | MS_REC},
    {"unbindable", MO_PROPAGATION, MS_UNBINDABLE},
    {"runbindable", MO_PROPAGATION, MS_UNBINDABLE | MS_REC},
    /* crun's copy-up of the image content into a tmpfs; not needed here. */
    {"tmpcopyup", MO_IGNORE, 0},
    {"idmap", MO_UNSUP, 0},
    {"ridmap", MO_UNSUP, 0},
};

unsigned long spec_propagation_flags(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(mount_opts); i++)
                if (mount_opts[i].kind == MO_PROPAGATION && !strcmp(mount_opts[i].name, name))
                        return mount_opts[i].flag;
        return 0;
}

/* Unsupported options are left out. */
const char *spec_mount_option_name(size_t i)
{
        for (size_t j = 0; j < ARRAY_SIZE(mount_opts); j++) {
                if (mount_opts[j].kind == MO_UNSUP)
                        continue;
                if (i-- == 0)
                        return mount_opts[j].name;
        }
        return NULL;
}

static int mount_data_append(struct spec_mount *m, const char *opt, struct isola_err *err)
{
        size_t old = m->data ? strlen(m->data) : 0, add = strlen(opt);
        char *data = realloc(m->data, old + add + 2);

        if (!data)
                return err_set(err, ENOMEM, "out of memory");
        if (old)
                data[old++] = ',';
        memcpy(data + old, opt, add + 1);
        m->data = data;
        return 0;
}

/* Later options override earlier ones, as with mount(8). */
static int mount_decode_option(struct spec_mount *m, const char *opt, const struct jp *path,
                               struct isola_err *err)
{
        for (size_t i = 0; i < ARRAY_SIZE(mount_opts); i++) {
                const struct mount_opt *mo = &mount_opts[i];

                if (strcmp(mo->name, opt) != 0)
                        continue;
                switch (mo->kind) {
                case MO_SET:
                        m->flags |= mo->flag;
                        m->clear &= ~mo->flag;
                        break;
                case MO_CLEAR:
                        m->clear |= mo->flag;
                        m->flags &= ~mo->flag;
                        break;
                case MO_PROPAGATION:
                        m->propagation = mo->flag;
                        break;
                case MO_RBIND:
                        m->recursive = true;
                        /* fall through */
                case MO_BIND:
                        m->bind = true;
                        m->flags |= mo->flag;
                        break;
                case MO_IGNORE:
                        break;
                case MO_UNSUP:
                        return sj_err(err, path, "mount option '%s' is not supported", opt);
                }
                return 0;
        }
        return mount_data_append(m, opt, err);
}

static int mount_parse_options(json_object *val, const struct jp *path, void *target,
                               struct isola_err *err)
{
        struct spec_mount *m = target;

        if (sj_strv(val, path, &m->options, &m->n_options, err) < 0)
                return -1;
        for (size_t i = 0; i < m->n_options; i++) {
                struct jp ip = JP_IDX(path, i);

                if (mount_decode_option(m, m->options[i], &ip, err) < 0)
                        return -1;
        }
        return 0;
}

static int mount_reject_mappings(json_object *val, const struct jp *path, void *target,
                                 struct isola_err *err)
{
        (void)val;
        (void)target;
        return sj_err(err, path, "id-mapped mounts are not supported");
}

static const struct sj_field mount_fields[] = {
    SJ_F("destination", SJK_STR, struct spec_mount, destination),
    SJ_F("type", SJK_STR, struct spec_mount, type),
    SJ_F("source", SJK_STR, struct spec_mount, source),
    SJ_FN_F("options", mount_parse_options),
    SJ_FN_F("uidMappings", mount_reject_mappings),
    SJ_FN_F("gidMappings", mount_reject_mappings),
};

static int spec_parse_mounts(json_object *val, const struct jp *path, void *target,
                             struct isola_err *err)
{
        struct spec *spec = target;

        if (sj_array_alloc(val, path, sizeof(*spec->mounts), (void **)&spec->mounts,
                           &spec->n_mounts, err) < 0)
                return -1;
        for (size_t i = 0; i < spec->n_mounts; i++) {
                struct spec_mount *m = &spec->mounts[i];
                struct jp ip = JP_IDX(path, i);

                if (sj_object(json_object_array_get_idx(val, i), &ip, mount_fields,
                              ARRAY_SIZE(mount_fields), m, err) < 0)
                        return -1;
                if (!m->destination) {
                        struct jp dp = JP_KEY(&ip, "destination");
                        return sj_err(err, &dp, "required");
                }
                if (m->type && !strcmp(m->type, "bind"))
                        m->bind = true;
        }
        return 0;
}

/* ---- hooks ---- */

static const char *const hook_names[HOOK_KIND_COUNT] = {
    [HOOK_PRESTART] = "prestart",
    [HOOK_CREATE_RUNTIME] = "createRuntime",
    [HOOK_CREATE_CONTAINER] = "createContainer",
    [HOOK_START_CONTAINER] = "startContainer",
    [HOOK_POSTSTART] = "poststart",
    [HOOK_POSTSTOP] = "poststop",
};

const char *spec_hook_name(enum spec_hook_kind kind)
{
        return (unsigned)kind < HOOK_KIND_COUNT ? hook_names[kind] : NULL;
}

static int hook_parse_timeout(json_object *val, const struct jp *path, void *target,
                              struct isola_err *err)
{
        struct spec_hook *hook = target;
        int64_t t;

        if (sj_int64(val, path, 1, INT32_MAX, &t, err) < 0)
                return -1;
        hook->timeout = (int)t;
        return 0;
}

static int hook_parse_strv(json_object *val, const struct jp *path, char ***out,
                           struct isola_err *err)
{
        size_t n;

        return sj_strv(val, path, out, &n, err);
}

static int hook_parse_args(json_object *val, const struct jp *path, void *target,
                           struct isola_err *err)
{
        return hook_parse_strv(val, path, &((struct spec_hook *)target)->args, err);
}

static int hook_parse_env(json_object *val, const struct jp *path, void *target,
                          struct isola_err *err)
{
        return hook_parse_strv(val, path, &((struct spec_hook *)target)->env, err);
}

static const struct sj_field hook_fields[] = {
    SJ_F("path", SJK_STR, struct spec_hook, path),
    SJ_FN_F("args", hook_parse_args),
    SJ_FN_F("env", hook_parse_env),
    SJ_FN_F("timeout", hook_parse_timeout),
};

static int spec_parse_hook_list(json_object *val, const struct jp *path, struct spec *spec,
                                enum spec_hook_kind kind, struct isola_err *err)
{
        if (sj_array_alloc(val, path, sizeof(struct spec_hook), (void **)&spec->hooks[kind],
                           &spec->n_hooks[kind], err) < 0)
                return -1;
        for (size_t i = 0; i < spec->n_hooks[kind]; i++) {
                struct spec_hook *hook = &spec->hooks[kind][i];
                struct jp ip = JP_IDX(path, i);

                if (sj_object(json_object_array_get_idx(val, i), &ip, hook_fields,
                              ARRAY_SIZE(hook_fields), hook, err) < 0)
                        return -1;
                if (!hook->path || hook->path[0] != '/') {
                        struct jp pp = JP_KEY(&ip, "path");
                        return hook->path ? sj_err(err, &pp, "must be an absolute path, not '%s'",
                                                   hook->path)
                                          : sj_err(err, &pp, "required");
                }
        }
        return 0;
}

static int spec_parse_hooks(json_object *val, const struct jp *path, void *target,
                            struct isola_err *err)
{
        struct spec *spec = target;

        if (!json_object_is_type(val, json_type_object))
                return sj_err(err, path, "expected an object");
        for (int k = 0; k < HOOK_KIND_COUNT; k++) {
                json_object *list;
                struct jp kp = JP_KEY(path, hook_names[k]);

                if (!json_object_object_get_ex(val, hook_names[k], &list) || !list)
                        continue;
                if (spec_parse_hook_list(list, &kp, spec, k, err) < 0)
                        return -1;
        }
        return 0;
}

/* ---- top level ---- */

static int spec_parse_annotations(json_object *val, const struct jp *path, void *target,
                                  struct isola_err *err)
{
        struct spec *spec = target;

        return sj_string_map(val, path, &spec->annotation_keys, &spec->annotation_values,
                             &spec->n_annotations, err);
}

static const struct sj_field root_fields[] = {
    SJ_F("path", SJK_STR, struct spec, root_path),
    SJ_F("readonly", SJK_BOOL, struct spec, root_readonly),
};

static int spec_parse_root(json_object *val, const struct jp *path, void *target,
                           struct isola_err *err)
{
        struct spec *spec = target;

        if (sj_object(val, path, root_fields, ARRAY_SIZE(root_fields), spec, err) < 0)
                return -1;
        if (!spec->root_path || !spec->root_path[0]) {
                struct jp pp = JP_KEY(path, "path");
                return sj_err(err, &pp, "required");
        }
        return 0;
}

static int spec_parse_top_process(json_object *val, const struct jp *path, void *target,
                                  struct isola_err *err)
{
        struct spec *spec = target;

        if (!spec->process) {
                spec->process = calloc(1, sizeof(*spec->process));
                if (!spec->process)
                        return err_set(err, ENOMEM, "out of memory");
        }
        return spec_process_parse_obj(val, path, spec->process, err);
}

static int spec_parse_top_linux(json_object *val, const struct jp *path, void *target,
                                struct isola_err *err)
{
        return spec_linux_parse_obj(val, path, &((struct spec *)target)->linux, err);
}

static int spec_parse_version(json_object *val, const struct jp *path, void *target,
                              struct isola_err *err)
{
        struct spec *spec = target;

        if (sj_string(val, path, &spec->oci_version, err) < 0)
                return -1;
        /* Minor versions only add fields, which are ignored when unknown. */
        if (strncmp(spec->oci_version, "1.", 2) != 0)
                return sj_err(err, path, "unsupported version '%s' (expected 1.x)",
                              spec->oci_version);
        return 0;
}

static const struct sj_field spec_fields[] = {
    SJ_FN_F("ociVersion", spec_parse_version),
    SJ_FN_F("root", spec_parse_root),
    SJ_F("hostname", SJK_STR, struct spec, hostname),
    SJ_F("domainname", SJK_STR, struct spec, domainname),
    SJ_FN_F("process", spec_parse_top_process),
    SJ_FN_F("mounts", spec_parse_mounts),
    SJ_FN_F("hooks", spec_parse_hooks),
    SJ_FN_F("annotations", spec_parse_annotations),
    SJ_FN_F("linux", spec_parse_top_linux),
};

int spec_parse(const char *json, size_t len, struct spec **spec_out, struct isola_err *err)
{
        json_object *obj;
        struct spec *spec;
        int rc;

        if (sj_tokenize(json, len, &obj, err) < 0)
                return -1;
        spec = calloc(1, sizeof(*spec));
        if (!spec) {
                json_object_put(obj);
                return err_set(err, ENOMEM, "out of memory");
        }
        rc = sj_object(obj, NULL, spec_fields, ARRAY_SIZE(spec_fields), spec, err);
        json_object_put(obj);
        if (rc == 0 && !spec->oci_version)
                rc = err_set(err, EINVAL, "ociVersion: required");
        if (rc == 0 && !spec->root_path)
                rc = err_set(err, EINVAL, "root.path: required");
        if (rc < 0) {
                spec_free(spec);
                return -1;
        }
        *spec_out = spec;
        return 0;
}

int spec_load(const char *bundle, struct spec **spec_out, struct isola_err *err)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len;

        if (asprintf(&path, "%s/config.json", bundle) < 0) {
                path = NULL;
                return err_set(err, ENOMEM, "out of memory");
        }
        if (fs_read_file(path, &buf, &len, err) < 0)
                return -1;
        if (spec_parse(buf, len, spec_out, err) < 0)
                return err_prefix(err, "%s", path);
        return 0;
}

static void spec_mount_clear(struct spec_mount *m)
{
        free(m->destination);
        free(m->type);
        free(m->source);
        sj_strv_free(m->options);
        free(m->data);
}

static void spec_hook_clear(struct spec_hook *h)
{
        free(h->path);
        sj_strv_free(h->args);
        sj_strv_free(h->env);
}

void spec_free(struct spec *spec)
{
        if (!spec)
                return;
        free(spec->oci_version);
        free(spec->root_path);
        free(spec->hostname);
        free(spec->domainname);
        spec_process_free(spec->process);
        for (size_t i = 0; i < spec->n_mounts; i++)
                spec_mount_clear(&spec->mounts[i]);
        free(spec->mounts);
        for (int k = 0; k < HOOK_KIND_COUNT; k++) {
                for (size_t i = 0; i < spec->n_hooks[k]; i++)
                        spec_hook_clear(&spec->hooks[k][i]);
                free(spec->hooks[k]);
        }
        sj_strv_free(spec->annotation_keys);
        sj_strv_free(spec->annotation_values);
        spec_linux_clear(&spec->linux);
        free(spec);
}

static const char *const ns_names[NS_KIND_COUNT] = {
    [NS_PID] = "pid", [NS_NET] = "network", [NS_MNT] = "mount",     [NS_IPC] = "ipc",
    [NS_UTS] = "uts", [NS_USER] = "user",   [NS_CGROUP] = "cgroup", [NS_TIME] = "time",
};

const char *spec_ns_name(enum spec_ns_kind kind)
{
        return (unsigned)kind < NS_KIND_COUNT ? ns_names[kind] : "unknown";
}

const struct spec_namespace *spec_namespace(const struct spec *spec, enum spec_ns_kind kind)
{
        for (size_t i = 0; i < spec->linux.n_namespaces; i++)
                if (spec->linux.namespaces[i].kind == kind)
                        return &spec->linux.namespaces[i];
        return NULL;
}

bool spec_has_namespace(const struct spec *spec, enum spec_ns_kind kind)
{
        return spec_namespace(spec, kind) != NULL;
}
