/* `spec` and `features` output: the default config parses back with
 * spec_parse, and the features document lists what the parser accepts. */
#include <json-c/json.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include "test_spec_util.h"

static void test_default(void)
{
        struct isola_err err = {0};
        char *json = NULL;
        struct spec *s;
        uint64_t caps =
            (1ULL << CAP_AUDIT_WRITE) | (1ULL << CAP_KILL) | (1ULL << CAP_NET_BIND_SERVICE);

        tap_ok(spec_default_json(false, &json, &err) == 0 && json, "default spec generated");
        if (!json)
                return;
        s = parse_ok(json, "default spec");
        free(json);
        if (!s)
                return;
        TAP_EQ_STR(s->root_path, "rootfs", "root.path is rootfs");
        tap_ok(s->root_readonly, "root is read-only");
        TAP_EQ_STR(s->process->args[0], "sh", "runs sh");
        tap_ok(s->process->terminal, "with a terminal");
        tap_ok(s->process->caps.bounding == caps && s->process->caps.ambient == caps,
               "default capabilities");
        tap_ok(s->process->n_rlimits == 1 && s->process->rlimits[0].resource == RLIMIT_NOFILE &&
                   s->process->rlimits[0].soft == 1024,
               "RLIMIT_NOFILE 1024");
        tap_ok(s->process->no_new_privileges, "noNewPrivileges");
        tap_ok(spec_has_namespace(s, NS_PID) && spec_has_namespace(s, NS_NET) &&
                   spec_has_namespace(s, NS_MNT) && spec_has_namespace(s, NS_CGROUP) &&
                   !spec_has_namespace(s, NS_USER),
               "namespaces");
        TAP_EQ_INT(s->n_mounts, 7, "seven mounts");
        TAP_EQ_STR(s->mounts[1].destination, "/dev", "/dev mount");
        TAP_EQ_INT(s->mounts[1].flags, MS_NOSUID | MS_STRICTATIME, "/dev flags");
        TAP_EQ_STR(s->mounts[2].data, "newinstance,ptmxmode=0666,mode=0620,gid=5", "devpts data");
        tap_ok(s->linux.has_resources && s->linux.resources.n_device_rules == 1 &&
                   !s->linux.resources.device_rules[0].allow,
               "deny-all device rule");
        tap_ok(s->linux.n_masked_paths > 5 && s->linux.n_readonly_paths > 3,
               "masked and read-only paths");
        spec_free(s);
}

static void test_default_rootless(void)
{
        struct isola_err err = {0};
        char *json = NULL;
        struct spec *s;
        bool no_ids = true;

        tap_ok(spec_default_json(true, &json, &err) == 0 && json, "rootless spec generated");
        if (!json)
                return;
        s = parse_ok(json, "rootless spec");
        free(json);
        if (!s)
                return;
        tap_ok(spec_has_namespace(s, NS_USER) && !spec_has_namespace(s, NS_NET) &&
                   spec_has_namespace(s, NS_CGROUP),
               "user namespace added, network namespace left out");
        tap_ok(s->linux.n_uid_mappings == 1 && s->linux.uid_mappings[0].host_id == geteuid() &&
                   s->linux.uid_mappings[0].container_id == 0 && s->linux.uid_mappings[0].size == 1,
               "maps the caller's uid to root");
        tap_ok(s->linux.n_gid_mappings == 1 && s->linux.gid_mappings[0].host_id == getegid(),
               "maps the caller's gid");
        tap_ok(!s->linux.has_resources, "no cgroup resources");
        TAP_EQ_STR(s->mounts[5].destination, "/sys", "/sys");
        tap_ok(s->mounts[5].bind && s->mounts[5].recursive, "/sys is an rbind");
        for (size_t i = 0; i < s->n_mounts; i++)
                no_ids = no_ids && (!s->mounts[i].data || !strstr(s->mounts[i].data, "gid="));
        tap_ok(no_ids, "no gid= mount options");
        spec_free(s);
}

static bool json_array_has(json_object *obj, const char *path, const char *want)
{
        json_object *cur = obj, *next;
        char buf[128], *save = NULL;

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *key = strtok_r(buf, ".", &save); key; key = strtok_r(NULL, ".", &save)) {
                if (!json_object_object_get_ex(cur, key, &next))
                        return false;
                cur = next;
        }
        for (size_t i = 0; i < json_object_array_length(cur); i++)
                if (!strcmp(json_object_get_string(json_object_array_get_idx(cur, i)), want))
                        return true;
        return false;
}

static void test_features(void)
{
        struct isola_err err = {0};
        char *json = NULL;
        json_object *f, *v;

        tap_ok(spec_features_json(&json, &err) == 0 && json, "features generated");
        if (!json)
                return;
        f = json_tokener_parse(json);
        free(json);
        tap_ok(f != NULL, "features is valid JSON");
        if (!f)
                return;
        tap_ok(json_object_object_get_ex(f, "ociVersionMin", &v) &&
                   !strcmp(json_object_get_string(v), "1.0.0"),
               "ociVersionMin");
        tap_ok(json_object_object_get_ex(f, "ociVersionMax", &v) &&
                   !strcmp(json_object_get_string(v), "1.1.0"),
               "ociVersionMax");
        tap_ok(json_array_has(f, "hooks", "prestart") && json_array_has(f, "hooks", "poststop"),
               "hooks");
        tap_ok(json_array_has(f, "mountOptions", "rbind") &&
                   json_array_has(f, "mountOptions", "nostrictatime") &&
                   !json_array_has(f, "mountOptions", "idmap"),
               "mountOptions lists what is decoded, not idmap");
        tap_ok(json_array_has(f, "linux.namespaces", "time") &&
                   json_array_has(f, "linux.namespaces", "network"),
               "namespaces");
        tap_ok(json_array_has(f, "linux.capabilities", "CAP_SYS_ADMIN") &&
                   json_array_has(f, "linux.capabilities", "CAP_CHECKPOINT_RESTORE"),
               "capabilities in OCI spelling");
        tap_ok(json_array_has(f, "linux.seccomp.actions", "SCMP_ACT_NOTIFY") &&
                   json_array_has(f, "linux.seccomp.operators", "SCMP_CMP_MASKED_EQ") &&
                   json_array_has(f, "linux.seccomp.archs", "SCMP_ARCH_X86_64"),
               "seccomp actions, operators, archs");
        tap_ok(json_object_object_get_ex(f, "linux", &v) &&
                   json_object_object_get_ex(v, "apparmor", &v) &&
                   json_object_object_get_ex(v, "enabled", &v) && !json_object_get_boolean(v),
               "apparmor disabled");
        json_object_put(f);
}

int main(void)
{
        test_default();
        test_default_rootless();
        test_features();
        return tap_done();
}
