/* The JSON printed by `isola-runtime features` (OCI runtime-spec
 * features.md): what this runtime accepts in config.json. The lists come from
 * the same tables the parser uses, so they cannot drift apart. */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

#include "ctr/spec_parse_json.h"
#include "util/cleanup.h"

/* The OCI names of the architectures; those this libseccomp lacks are left out. */
static const char *const oci_arches[] = {
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",     "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",    "SCMP_ARCH_SH",       "SCMP_ARCH_SHEB",
};

static json_object *names_json(const char *(*name_at)(size_t))
{
        json_object *a = json_object_new_array();
        const char *name;

        for (size_t i = 0; (name = name_at(i)); i++)
                json_object_array_add(a, json_object_new_string(name));
        return a;
}

static const char *hook_name_at(size_t i)
{
        return i < HOOK_KIND_COUNT ? spec_hook_name(i) : NULL;
}

static const char *ns_name_at(size_t i)
{
        return i < NS_KIND_COUNT ? spec_ns_name(i) : NULL;
}

static json_object *arches_json(void)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < ARRAY_SIZE(oci_arches); i++) {
                char lower[32];
                size_t j;

                for (j = 0; oci_arches[i][10 + j] && j + 1 < sizeof(lower); j++)
                        lower[j] = (char)tolower((unsigned char)oci_arches[i][10 + j]);
                lower[j] = '\0';
                if (seccomp_arch_resolve_name(lower))
                        json_object_array_add(a, json_object_new_string(oci_arches[i]));
        }
        return a;
}

/* Every capability this libcap can name, in OCI spelling. */
static json_object *caps_json(void)
{
        json_object *a = json_object_new_array();

        for (int cap = 0; cap <= CAP_LAST_CAP && cap < 64; cap++) {
                char *name = cap_to_name(cap);

                if (!name)
                        continue;
                if (!isdigit((unsigned char)name[0])) {
                        for (char *p = name; *p; p++)
                                *p = (char)toupper((unsigned char)*p);
                        json_object_array_add(a, json_object_new_string(name));
                }
                cap_free(name);
        }
        return a;
}

static json_object *enabled_json(bool enabled)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "enabled", json_object_new_boolean(enabled));
        return o;
}

/* Flags the filter loader can set with this libseccomp and kernel: TSYNC
 * needs API level 2, LOG 3, SPEC_ALLOW 4; WAIT_KILLABLE_RECV is parsed but
 * not applied. */
static json_object *supported_flags_json(void)
{
        static const struct {
                const char *name;
                unsigned api;
        } flags[] = {
            {"SECCOMP_FILTER_FLAG_TSYNC", 2},
            {"SECCOMP_FILTER_FLAG_LOG", 3},
            {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", 4},
        };
        json_object *a = json_object_new_array();
        unsigned api = seccomp_api_get();

        for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
                if (api >= flags[i].api)
                        json_object_array_add(a, json_object_new_string(flags[i].name));
        return a;
}

static json_object *seccomp_json(void)
{
        json_object *sc = enabled_json(true);

        json_object_object_add(sc, "actions", names_json(spec_seccomp_action_name));
        json_object_object_add(sc, "operators", names_json(spec_seccomp_op_name));
        json_object_object_add(sc, "archs", arches_json());
        json_object_object_add(sc, "knownFlags", names_json(spec_seccomp_flag_name));
        json_object_object_add(sc, "supportedFlags", supported_flags_json());
        return sc;
}

static json_object *linux_json(void)
{
        json_object *lnx = json_object_new_object(), *cg = json_object_new_object();
        json_object *ext = json_object_new_object();

        json_object_object_add(lnx, "namespaces", names_json(ns_name_at));
        json_object_object_add(lnx, "capabilities", caps_json());
        json_object_object_add(cg, "v1", json_object_new_boolean(1));
        json_object_object_add(cg, "v2", json_object_new_boolean(1));
        json_object_object_add(cg, "systemd", json_object_new_boolean(0));
        json_object_object_add(cg, "systemdUser", json_object_new_boolean(0));
        json_object_object_add(cg, "rdma", json_object_new_boolean(0));
        json_object_object_add(lnx, "cgroup", cg);
        json_object_object_add(lnx, "seccomp", seccomp_json());
        json_object_object_add(lnx, "apparmor", enabled_json(false));
        json_object_object_add(lnx, "selinux", enabled_json(false));
        json_object_object_add(lnx, "intelRdt", enabled_json(false));
        json_object_object_add(ext, "idmap", enabled_json(false));
        json_object_object_add(lnx, "mountExtensions", ext);
        return lnx;
}

int spec_features_json(char **buf_out, struct isola_err *err)
{
        json_object *f = json_object_new_object();
        const char *text;

        if (!f)
                return err_set(err, ENOMEM, "out of memory");
        json_object_object_add(f, "ociVersionMin", json_object_new_string("1.0.0"));
        json_object_object_add(f, "ociVersionMax", json_object_new_string("1.1.0"));
        json_object_object_add(f, "hooks", names_json(hook_name_at));
        json_object_object_add(f, "mountOptions", names_json(spec_mount_option_name));
        json_object_object_add(f, "linux", linux_json());
        text = json_object_to_json_string_ext(f, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        *buf_out = text ? strdup(text) : NULL;
        json_object_put(f);
        if (!*buf_out)
                return err_set(err, ENOMEM, "out of memory");
        return 0;
}
