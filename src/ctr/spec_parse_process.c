/* config.json "process" (also the whole of an `exec --process` file): user,
 * args/env/cwd, capability sets resolved to bit masks with libcap, rlimits
 * resolved to RLIMIT_* numbers, and the scalar knobs. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/resource.h>

#include "ctr/spec_parse_json.h"
#include "util/cleanup.h"

/* ---- user ---- */

static int user_parse_umask(json_object *val, const struct jp *path, void *target,
                            struct isola_err *err)
{
        struct spec_user *user = target;
        uint64_t v;

        if (sj_uint64(val, path, 0777, &v, err) < 0)
                return -1;
        user->umask = (mode_t)v;
        user->has_umask = true;
        return 0;
}

static int user_parse_gids(json_object *val, const struct jp *path, void *target,
                           struct isola_err *err)
{
        struct spec_user *user = target;

        free(user->additional_gids);
        user->additional_gids = NULL;
        if (sj_array_alloc(val, path, sizeof(gid_t), (void **)&user->additional_gids,
                           &user->n_additional_gids, err) < 0)
                return -1;
        for (size_t i = 0; i < user->n_additional_gids; i++) {
                struct jp ip = JP_IDX(path, i);
                uint32_t gid;

                if (sj_uint32(json_object_array_get_idx(val, i), &ip, &gid, err) < 0)
                        return -1;
                user->additional_gids[i] = gid;
        }
        return 0;
}

static const struct sj_field user_fields[] = {
    SJ_F("uid", SJK_U32, struct spec_user, uid),
    SJ_F("gid", SJK_U32, struct spec_user, gid),
    SJ_FN_F("umask", user_parse_umask),
    SJ_FN_F("additionalGids", user_parse_gids),
    SJ_F("username", SJK_STR, struct spec_user, username),
};

static int process_parse_user(json_object *val, const struct jp *path, void *target,
                              struct isola_err *err)
{
        struct spec_process *proc = target;

        return sj_object(val, path, user_fields, ARRAY_SIZE(user_fields), &proc->user, err);
}

/* ---- console size ---- */

static const struct sj_field console_fields[] = {
    SJ_F("height", SJK_U32, struct spec_process, console_height),
    SJ_F("width", SJK_U32, struct spec_process, console_width),
};

static int process_parse_console(json_object *val, const struct jp *path, void *target,
                                 struct isola_err *err)
{
        struct spec_process *proc = target;

        if (sj_object(val, path, console_fields, ARRAY_SIZE(console_fields), proc, err) < 0)
                return -1;
        proc->has_console_size = true;
        return 0;
}

/* ---- capabilities ---- */

/* cap_from_name() also accepts numbers and stops at a comma ("CAP_KILL,x"),
 * so the name is checked to be one bare identifier first. The OCI spelling
 * is "CAP_SYS_ADMIN"; "SYS_ADMIN" and lower case are accepted as well. */
static int cap_resolve(const char *name, cap_value_t *cap)
{
        char buf[64];
        size_t len = strlen(name);

        if (len == 0 || len + 5 > sizeof(buf))
                return -1;
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char)name[i]) && name[i] != '_')
                        return -1;
        if (strncasecmp(name, "CAP_", 4) == 0)
                snprintf(buf, sizeof(buf), "%s", name);
        else
                snprintf(buf, sizeof(buf), "cap_%s", name);
        for (char *p = buf; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        if (cap_from_name(buf, cap) < 0 || *cap < 0 || *cap > 63)
                return -1;
        return 0;
}

static int caps_parse_set(json_object *val, const struct jp *path, uint64_t *set,
                          struct isola_err *err)
{
        size_t n;

        if (!json_object_is_type(val, json_type_array))
                return sj_err(err, path, "expected an array of strings");
        n = json_object_array_length(val);
        *set = 0;
        for (size_t i = 0; i < n; i++) {
                json_object *item = json_object_array_get_idx(val, i);
                struct jp ip = JP_IDX(path, i);
                cap_value_t cap;

                if (!json_object_is_type(item, json_type_string))
                        return sj_err(err, &ip, "expected a string");
                if (cap_resolve(json_object_get_string(item), &cap) < 0)
                        return sj_err(err, &ip, "unknown capability '%s'",
                                      json_object_get_string(item));
                *set |= 1ULL << cap;
        }
        return 0;
}

#define CAPS_SET_PARSER(fn, member)                                                                \
        static int fn(json_object *val, const struct jp *path, void *target,                       \
                      struct isola_err *err)                                                       \
        {                                                                                          \
                return caps_parse_set(val, path, &((struct spec_caps *)target)->member, err);      \
        }
CAPS_SET_PARSER(caps_parse_bounding, bounding)
CAPS_SET_PARSER(caps_parse_effective, effective)
CAPS_SET_PARSER(caps_parse_inheritable, inheritable)
CAPS_SET_PARSER(caps_parse_permitted, permitted)
CAPS_SET_PARSER(caps_parse_ambient, ambient)

static const struct sj_field caps_fields[] = {
    SJ_FN_F("bounding", caps_parse_bounding),       SJ_FN_F("effective", caps_parse_effective),
    SJ_FN_F("inheritable", caps_parse_inheritable), SJ_FN_F("permitted", caps_parse_permitted),
    SJ_FN_F("ambient", caps_parse_ambient),
};

static int process_parse_caps(json_object *val, const struct jp *path, void *target,
                              struct isola_err *err)
{
        struct spec_process *proc = target;

        if (sj_object(val, path, caps_fields, ARRAY_SIZE(caps_fields), &proc->caps, err) < 0)
                return -1;
        proc->caps.present = true;
        return 0;
}

/* ---- rlimits ---- */

static const struct {
        const char *name;
        int resource;
} rlimit_names[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

static const char *rlimit_name(int resource)
{
        for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++)
                if (rlimit_names[i].resource == resource)
                        return rlimit_names[i].name;
        return "?";
}

static int rlimit_parse_type(json_object *val, const struct jp *path, void *target,
                             struct isola_err *err)
{
        struct spec_rlimit *rl = target;
        const char *name;

        if (sj_plain_string(val, path, &name, err) < 0)
                return -1;
        for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++) {
                if (!strcmp(rlimit_names[i].name, name)) {
                        rl->resource = rlimit_names[i].resource;
                        return 0;
                }
        }
        return sj_err(err, path, "unknown rlimit '%s'", name);
}

static const struct sj_field rlimit_fields[] = {
    SJ_FN_F("type", rlimit_parse_type),
    SJ_F("soft", SJK_U64, struct spec_rlimit, soft),
    SJ_F("hard", SJK_U64, struct spec_rlimit, hard),
};

static int process_parse_rlimits(json_object *val, const struct jp *path, void *target,
                                 struct isola_err *err)
{
        struct spec_process *proc = target;
        uint32_t seen = 0;

        free(proc->rlimits);
        proc->rlimits = NULL;
        if (sj_array_alloc(val, path, sizeof(*proc->rlimits), (void **)&proc->rlimits,
                           &proc->n_rlimits, err) < 0)
                return -1;
        for (size_t i = 0; i < proc->n_rlimits; i++) {
                struct spec_rlimit *rl = &proc->rlimits[i];
                struct jp ip = JP_IDX(path, i);

                rl->resource = -1;
                if (sj_object(json_object_array_get_idx(val, i), &ip, rlimit_fields,
                              ARRAY_SIZE(rlimit_fields), rl, err) < 0)
                        return -1;
                if (rl->resource < 0) {
                        struct jp tp = JP_KEY(&ip, "type");
                        return sj_err(err, &tp, "required");
                }
                if (seen & (1U << rl->resource)) {
                        struct jp tp = JP_KEY(&ip, "type");
                        return sj_err(err, &tp, "duplicate rlimit '%s'", rlimit_name(rl->resource));
                }
                seen |= 1U << rl->resource;
        }
        return 0;
}

/* ---- process ---- */

static int process_parse_oom(json_object *val, const struct jp *path, void *target,
                             struct isola_err *err)
{
        struct spec_process *proc = target;
        int64_t v;

        if (sj_int64(val, path, -1000, 1000, &v, err) < 0)
                return -1;
        proc->oom_score_adj = (int)v;
        proc->has_oom_score_adj = true;
        return 0;
}

static const struct sj_field process_fields[] = {
    SJ_F("terminal", SJK_BOOL, struct spec_process, terminal),
    SJ_FN_F("consoleSize", process_parse_console),
    SJ_FN_F("user", process_parse_user),
    SJ_STRV_F("args", struct spec_process, args, n_args),
    SJ_STRV_F("env", struct spec_process, env, n_env),
    SJ_F("cwd", SJK_STR, struct spec_process, cwd),
    SJ_FN_F("capabilities", process_parse_caps),
    SJ_FN_F("rlimits", process_parse_rlimits),
    SJ_F("noNewPrivileges", SJK_BOOL, struct spec_process, no_new_privileges),
    SJ_FN_F("oomScoreAdj", process_parse_oom),
    SJ_F("apparmorProfile", SJK_STR, struct spec_process, apparmor_profile),
    SJ_F("selinuxLabel", SJK_STR, struct spec_process, selinux_label),
};

int spec_process_parse_obj(json_object *val, const struct jp *path, struct spec_process *proc,
                           struct isola_err *err)
{
        if (sj_object(val, path, process_fields, ARRAY_SIZE(process_fields), proc, err) < 0)
                return -1;
        if (proc->n_args == 0) {
                struct jp ap = JP_KEY(path, "args");
                return sj_err(err, &ap, "required: at least one entry");
        }
        if (!proc->cwd) {
                struct jp cp = JP_KEY(path, "cwd");
                return sj_err(err, &cp, "required");
        }
        if (proc->cwd[0] != '/') {
                struct jp cp = JP_KEY(path, "cwd");
                return sj_err(err, &cp, "must be an absolute path, not '%s'", proc->cwd);
        }
        return 0;
}

int spec_parse_process(const char *json, size_t len, struct spec_process **process_out,
                       struct isola_err *err)
{
        json_object *obj;
        struct spec_process *proc;
        int rc;

        if (sj_tokenize(json, len, &obj, err) < 0)
                return -1;
        proc = calloc(1, sizeof(*proc));
        if (!proc) {
                json_object_put(obj);
                return err_set(err, ENOMEM, "out of memory");
        }
        rc = spec_process_parse_obj(obj, NULL, proc, err);
        json_object_put(obj);
        if (rc < 0) {
                spec_process_free(proc);
                return -1;
        }
        *process_out = proc;
        return 0;
}

void spec_process_free(struct spec_process *proc)
{
        if (!proc)
                return;
        free(proc->user.additional_gids);
        free(proc->user.username);
        sj_strv_free(proc->args);
        sj_strv_free(proc->env);
        free(proc->cwd);
        free(proc->rlimits);
        free(proc->apparmor_profile);
        free(proc->selinux_label);
        free(proc);
}
