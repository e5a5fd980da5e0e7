/* The config.json written by `isola-runtime spec [--rootless]`: a minimal
 * container running "sh" from ./rootfs with the usual namespaces, pseudo file
 * systems, masked /proc entries and a deny-all device cgroup. The rootless
 * variant adds a user namespace mapping the caller to root, bind-mounts /sys
 * (a fresh sysfs needs a network namespace the user owns), leaves out cgroup
 * resources, which an unprivileged user cannot write, and leaves out the
 * network namespace so the container keeps the host's network. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctr/spec.h"
#include "util/cleanup.h"

struct default_mount {
        const char *destination, *type, *source;
        const char *options[8];
};

static const struct default_mount default_mounts[] = {
    {"/proc", "proc", "proc", {NULL}},
    {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
    {"/dev/pts",
     "devpts",
     "devpts",
     {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
    {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
    {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
    {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
    {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
};

static const struct default_mount rootless_sys = {
    "/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}};

static const char *const default_caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE",
                                           NULL};

static const char *const default_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", NULL};

static const char *const masked_paths[] = {"/proc/acpi",
                                           "/proc/asound",
                                           "/proc/kcore",
                                           "/proc/keys",
                                           "/proc/latency_stats",
                                           "/proc/timer_list",
                                           "/proc/timer_stats",
                                           "/proc/sched_debug",
                                           "/proc/scsi",
                                           "/sys/firmware",
                                           NULL};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};

static json_object *jstrv(const char *const *v)
{
        json_object *a = json_object_new_array();

        for (; a && *v; v++)
                json_object_array_add(a, json_object_new_string(*v));
        return a;
}

static json_object *jint(int64_t v)
{
        return json_object_new_int64(v);
}

static void jadd(json_object *obj, const char *key, json_object *val)
{
        json_object_object_add(obj, key, val);
}

static json_object *default_process(void)
{
        json_object *p = json_object_new_object(), *user = json_object_new_object();
        json_object *caps = json_object_new_object(), *rl = json_object_new_object();
        json_object *rlimits = json_object_new_array();

        jadd(p, "terminal", json_object_new_boolean(1));
        jadd(user, "uid", jint(0));
        jadd(user, "gid", jint(0));
        jadd(p, "user", user);
        jadd(p, "args", jstrv((const char *const[]){"sh", NULL}));
        jadd(p, "env", jstrv(default_env));
        jadd(p, "cwd", json_object_new_string("/"));
        jadd(caps, "bounding", jstrv(default_caps));
        jadd(caps, "effective", jstrv(default_caps));
        jadd(caps, "permitted", jstrv(default_caps));
        jadd(caps, "ambient", jstrv(default_caps));
        jadd(p, "capabilities", caps);
        jadd(rl, "type", json_object_new_string("RLIMIT_NOFILE"));
        jadd(rl, "hard", jint(1024));
        jadd(rl, "soft", jint(1024));
        json_object_array_add(rlimits, rl);
        jadd(p, "rlimits", rlimits);
        jadd(p, "noNewPrivileges", json_object_new_boolean(1));
        return p;
}

/* Rootless: uid=/gid= options name ids that do not exist in the user namespace. */
static json_object *default_mount_json(const struct default_mount *dm, bool rootless)
{
        json_object *m = json_object_new_object(), *opts = json_object_new_array();

        jadd(m, "destination", json_object_new_string(dm->destination));
        jadd(m, "type", json_object_new_string(dm->type));
        jadd(m, "source", json_object_new_string(dm->source));
        for (const char *const *o = dm->options; *o; o++) {
                if (rootless && (!strncmp(*o, "gid=", 4) || !strncmp(*o, "uid=", 4)))
                        continue;
                json_object_array_add(opts, json_object_new_string(*o));
        }
        if (json_object_array_length(opts))
                jadd(m, "options", opts);
        else
                json_object_put(opts);
        return m;
}

static json_object *default_mounts_json(bool rootless)
{
        json_object *mounts = json_object_new_array();

        for (size_t i = 0; i < ARRAY_SIZE(default_mounts); i++) {
                const struct default_mount *dm = &default_mounts[i];

                if (rootless && !strcmp(dm->destination, "/sys"))
                        dm = &rootless_sys;
                json_object_array_add(mounts, default_mount_json(dm, rootless));
        }
        return mounts;
}

static json_object *id_mapping(unsigned host_id)
{
        json_object *list = json_object_new_array(), *m = json_object_new_object();

        jadd(m, "containerID", jint(0));
        jadd(m, "hostID", jint(host_id));
        jadd(m, "size", jint(1));
        json_object_array_add(list, m);
        return list;
}

static json_object *default_linux(bool rootless)
{
        static const char *const ns_root[] = {"pid",   "network", "ipc", "uts",
                                              "mount", "cgroup",  NULL};
        static const char *const ns_rootless[] = {"pid",    "ipc",  "uts", "mount",
                                                  "cgroup", "user", NULL};
        json_object *lnx = json_object_new_object(), *nss = json_object_new_array();

        for (const char *const *n = rootless ? ns_rootless : ns_root; *n; n++) {
                json_object *ns = json_object_new_object();

                jadd(ns, "type", json_object_new_string(*n));
                json_object_array_add(nss, ns);
        }
        if (rootless) {
                jadd(lnx, "uidMappings", id_mapping(geteuid()));
                jadd(lnx, "gidMappings", id_mapping(getegid()));
        } else {
                json_object *res = json_object_new_object(), *rules = json_object_new_array();
                json_object *deny = json_object_new_object();

                jadd(deny, "allow", json_object_new_boolean(0));
                jadd(deny, "access", json_object_new_string("rwm"));
                json_object_array_add(rules, deny);
                jadd(res, "devices", rules);
                jadd(lnx, "resources", res);
        }
        jadd(lnx, "namespaces", nss);
        jadd(lnx, "maskedPaths", jstrv(masked_paths));
        jadd(lnx, "readonlyPaths", jstrv(readonly_paths));
        return lnx;
}

int spec_default_json(bool rootless, char **buf_out, struct isola_err *err)
{
        json_object *spec = json_object_new_object(), *root = json_object_new_object();
        const char *text;

        if (!spec || !root) {
                json_object_put(spec);
                json_object_put(root);
                return err_set(err, ENOMEM, "out of memory");
        }
        jadd(spec, "ociVersion", json_object_new_string("1.1.0"));
        jadd(spec, "process", default_process());
        jadd(root, "path", json_object_new_string("rootfs"));
        jadd(root, "readonly", json_object_new_boolean(1));
        jadd(spec, "root", root);
        jadd(spec, "hostname", json_object_new_string("isola"));
        jadd(spec, "mounts", default_mounts_json(rootless));
        jadd(spec, "linux", default_linux(rootless));
        text =
            json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        *buf_out = text ? strdup(text) : NULL;
        json_object_put(spec);
        if (!*buf_out)
                return err_set(err, ENOMEM, "out of memory");
        return 0;
}
