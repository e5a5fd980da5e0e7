/* config.json "linux.seccomp": actions, architectures and comparison
 * operators resolved to libseccomp values, so the filter builder only loads
 * rules. Syscall names are kept as written: names this libseccomp does not
 * know are the filter builder's to skip, as profiles list future syscalls. */
#include <ctype.h>
#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "ctr/spec_parse_json.h"
#include "util/cleanup.h"

static const struct {
        const char *name;
        uint32_t action;
} seccomp_actions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0)},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0)},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY},
};

static const struct {
        const char *name;
        enum scmp_compare op;
} seccomp_ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

static const char *const seccomp_flags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

static int seccomp_action(json_object *val, const struct jp *path, uint32_t *out,
                          struct isola_err *err)
{
        const char *name;

        if (sj_plain_string(val, path, &name, err) < 0)
                return -1;
        for (size_t i = 0; i < ARRAY_SIZE(seccomp_actions); i++) {
                if (!strcmp(seccomp_actions[i].name, name)) {
                        *out = seccomp_actions[i].action;
                        return 0;
                }
        }
        return sj_err(err, path, "unknown seccomp action '%s'", name);
}

static int seccomp_errno_ret(json_object *val, const struct jp *path, uint32_t *out, bool *has,
                             struct isola_err *err)
{
        uint64_t v;

        if (sj_uint64(val, path, 0xffff, &v, err) < 0)
                return -1;
        *out = (uint32_t)v;
        *has = true;
        return 0;
}

/* ERRNO and TRACE carry their return value in the low 16 bits; EPERM when
 * errnoRet is absent, as runc and crun do. */
static uint32_t seccomp_finish_action(uint32_t action, bool has_ret, uint32_t ret)
{
        uint32_t base = action & 0xffff0000U;

        if (base == SCMP_ACT_ERRNO(0))
                return SCMP_ACT_ERRNO(has_ret ? ret : EPERM);
        if (base == SCMP_ACT_TRACE(0))
                return SCMP_ACT_TRACE(has_ret ? ret : EPERM);
        return action;
}

/* ---- syscall rules ---- */

static int arg_parse_index(json_object *val, const struct jp *path, void *target,
                           struct isola_err *err)
{
        uint64_t v;

        if (sj_uint64(val, path, 5, &v, err) < 0)
                return -1;
        ((struct spec_seccomp_arg *)target)->index = (unsigned)v;
        return 0;
}

static int arg_parse_op(json_object *val, const struct jp *path, void *target,
                        struct isola_err *err)
{
        struct spec_seccomp_arg *arg = target;
        const char *name;

        if (sj_plain_string(val, path, &name, err) < 0)
                return -1;
        for (size_t i = 0; i < ARRAY_SIZE(seccomp_ops); i++) {
                if (!strcmp(seccomp_ops[i].name, name)) {
                        arg->op = seccomp_ops[i].op;
                        return 0;
                }
        }
        return sj_err(err, path, "unknown seccomp operator '%s'", name);
}

static const struct sj_field arg_fields[] = {
    SJ_FN_F("index", arg_parse_index),
    SJ_F("value", SJK_U64, struct spec_seccomp_arg, value),
    SJ_F("valueTwo", SJK_U64, struct spec_seccomp_arg, value_two),
    SJ_FN_F("op", arg_parse_op),
};

static int require_member(json_object *obj, const struct jp *path, const char *key,
                          struct isola_err *err)
{
        json_object *v;
        struct jp kp = JP_KEY(path, key);

        if (!json_object_object_get_ex(obj, key, &v) || !v)
                return sj_err(err, &kp, "required");
        return 0;
}

static int rule_parse_args(json_object *val, const struct jp *path, void *target,
                           struct isola_err *err)
{
        struct spec_seccomp_rule *rule = target;

        if (sj_array_alloc(val, path, sizeof(*rule->args), (void **)&rule->args, &rule->n_args,
                           err) < 0)
                return -1;
        for (size_t i = 0; i < rule->n_args; i++) {
                json_object *obj = json_object_array_get_idx(val, i);
                struct jp ip = JP_IDX(path, i);

                if (sj_object(obj, &ip, arg_fields, ARRAY_SIZE(arg_fields), &rule->args[i], err) <
                    0)
                        return -1;
                if (require_member(obj, &ip, "index", err) < 0 ||
                    require_member(obj, &ip, "value", err) < 0 ||
                    require_member(obj, &ip, "op", err) < 0)
                        return -1;
        }
        return 0;
}

static int rule_parse_action(json_object *val, const struct jp *path, void *target,
                             struct isola_err *err)
{
        return seccomp_action(val, path, &((struct spec_seccomp_rule *)target)->action, err);
}

static int rule_parse_errno(json_object *val, const struct jp *path, void *target,
                            struct isola_err *err)
{
        struct spec_seccomp_rule *rule = target;

        return seccomp_errno_ret(val, path, &rule->errno_ret, &rule->has_errno_ret, err);
}

static const struct sj_field rule_fields[] = {
    SJ_STRV_F("names", struct spec_seccomp_rule, names, n_names),
    SJ_FN_F("action", rule_parse_action),
    SJ_FN_F("errnoRet", rule_parse_errno),
    SJ_FN_F("args", rule_parse_args),
};

static int seccomp_parse_syscalls(json_object *val, const struct jp *path, void *target,
                                  struct isola_err *err)
{
        struct spec_seccomp *sc = target;

        if (sj_array_alloc(val, path, sizeof(*sc->rules), (void **)&sc->rules, &sc->n_rules, err) <
            0)
                return -1;
        for (size_t i = 0; i < sc->n_rules; i++) {
                json_object *obj = json_object_array_get_idx(val, i);
                struct spec_seccomp_rule *rule = &sc->rules[i];
                struct jp ip = JP_IDX(path, i);

                if (sj_object(obj, &ip, rule_fields, ARRAY_SIZE(rule_fields), rule, err) < 0)
                        return -1;
                if (require_member(obj, &ip, "action", err) < 0)
                        return -1;
                if (rule->n_names == 0) {
                        struct jp np = JP_KEY(&ip, "names");
                        return sj_err(err, &np, "required: at least one syscall name");
                }
                rule->action =
                    seccomp_finish_action(rule->action, rule->has_errno_ret, rule->errno_ret);
        }
        return 0;
}

/* ---- filter ---- */

/* "SCMP_ARCH_X86_64" is libseccomp's "x86_64". */
static int seccomp_parse_arches(json_object *val, const struct jp *path, void *target,
                                struct isola_err *err)
{
        struct spec_seccomp *sc = target;

        if (!json_object_is_type(val, json_type_array))
                return sj_err(err, path, "expected an array of strings");
        if (sj_array_alloc(val, path, sizeof(uint32_t), (void **)&sc->architectures,
                           &sc->n_architectures, err) < 0)
                return -1;
        for (size_t i = 0; i < sc->n_architectures; i++) {
                json_object *item = json_object_array_get_idx(val, i);
                struct jp ip = JP_IDX(path, i);
                const char *name;
                char lower[32];
                size_t len;

                if (sj_plain_string(item, &ip, &name, err) < 0)
                        return -1;
                len = strlen(name);
                if (strncmp(name, "SCMP_ARCH_", 10) != 0 || len - 10 >= sizeof(lower))
                        return sj_err(err, &ip, "unknown architecture '%s'", name);
                for (size_t j = 10; j <= len; j++)
                        lower[j - 10] = (char)tolower((unsigned char)name[j]);
                sc->architectures[i] = seccomp_arch_resolve_name(lower);
                if (sc->architectures[i] == 0)
                        return sj_err(err, &ip, "unknown architecture '%s'", name);
        }
        return 0;
}

static int seccomp_parse_flags(json_object *val, const struct jp *path, void *target,
                               struct isola_err *err)
{
        struct spec_seccomp *sc = target;

        if (sj_strv(val, path, &sc->flags, &sc->n_flags, err) < 0)
                return -1;
        for (size_t i = 0; i < sc->n_flags; i++) {
                struct jp ip = JP_IDX(path, i);
                bool known = false;

                for (size_t j = 0; j < ARRAY_SIZE(seccomp_flags); j++)
                        known = known || !strcmp(seccomp_flags[j], sc->flags[i]);
                if (!known)
                        return sj_err(err, &ip, "unknown seccomp flag '%s'", sc->flags[i]);
        }
        return 0;
}

static int seccomp_parse_default(json_object *val, const struct jp *path, void *target,
                                 struct isola_err *err)
{
        return seccomp_action(val, path, &((struct spec_seccomp *)target)->default_action, err);
}

static int seccomp_parse_default_errno(json_object *val, const struct jp *path, void *target,
                                       struct isola_err *err)
{
        struct spec_seccomp *sc = target;

        return seccomp_errno_ret(val, path, &sc->default_errno_ret, &sc->has_default_errno_ret,
                                 err);
}

static const struct sj_field seccomp_fields[] = {
    SJ_FN_F("defaultAction", seccomp_parse_default),
    SJ_FN_F("defaultErrnoRet", seccomp_parse_default_errno),
    SJ_FN_F("architectures", seccomp_parse_arches),
    SJ_FN_F("flags", seccomp_parse_flags),
    SJ_FN_F("syscalls", seccomp_parse_syscalls),
};

int spec_seccomp_parse_obj(json_object *val, const struct jp *path, struct spec_seccomp *sc,
                           struct isola_err *err)
{
        if (sj_object(val, path, seccomp_fields, ARRAY_SIZE(seccomp_fields), sc, err) < 0)
                return -1;
        if (require_member(val, path, "defaultAction", err) < 0)
                return -1;
        sc->default_action = seccomp_finish_action(sc->default_action, sc->has_default_errno_ret,
                                                   sc->default_errno_ret);
        return 0;
}

void spec_seccomp_free(struct spec_seccomp *sc)
{
        if (!sc)
                return;
        free(sc->architectures);
        sj_strv_free(sc->flags);
        for (size_t i = 0; i < sc->n_rules; i++) {
                sj_strv_free(sc->rules[i].names);
                free(sc->rules[i].args);
        }
        free(sc->rules);
        free(sc);
}

const char *spec_seccomp_action_name(size_t i)
{
        return i < ARRAY_SIZE(seccomp_actions) ? seccomp_actions[i].name : NULL;
}

const char *spec_seccomp_op_name(size_t i)
{
        return i < ARRAY_SIZE(seccomp_ops) ? seccomp_ops[i].name : NULL;
}

const char *spec_seccomp_flag_name(size_t i)
{
        return i < ARRAY_SIZE(seccomp_flags) ? seccomp_flags[i] : NULL;
}
