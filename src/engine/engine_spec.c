/* The OCI config.json of a container: the image config (Env, Entrypoint,
 * Cmd, WorkingDir, User, Volumes) under the run flags, with podman's
 * defaults for everything a user does not say (capabilities, seccomp,
 * masked and read-only paths, /dev/shm, pids limit). */
#include "engine/engine_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

static const char *const default_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE",     "CAP_FOWNER",     "CAP_FSETID",
    "CAP_KILL",    "CAP_NET_BIND_SERVICE", "CAP_SETFCAP",    "CAP_SETGID",
    "CAP_SETPCAP", "CAP_SETUID",           "CAP_SYS_CHROOT",
};
static const char *const masked_paths[] = {
    "/proc/acpi",       "/proc/kcore",       "/proc/keys",        "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware",    "/sys/fs/selinux",   "/sys/dev/block",
};
static const char *const readonly_paths[] = {
    "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};
/* Every capability libcap knows on this kernel, for --cap-add ALL. */
static const char *const all_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

static json_object *strv_json(const char *const *v, size_t n)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n && v[i]; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static int cap_index(const char *name)
{
        char full[64];

        if (strncasecmp(name, "CAP_", 4) != 0)
                snprintf(full, sizeof(full), "CAP_%s", name);
        else
                snprintf(full, sizeof(full), "%s", name);
        for (size_t i = 0; i < ARRAY_SIZE(all_caps); i++)
                if (!strcasecmp(full, all_caps[i]))
                        return (int)i;
        return -1;
}

static int caps_json(const struct eng_config *cfg, json_object **out, struct isola_err *err)
{
        bool set[ARRAY_SIZE(all_caps)] = {0};

        for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
                set[cap_index(default_caps[i])] = true;
        for (char **p = cfg->cap_drop; p && *p; p++) {
                if (!strcasecmp(*p, "ALL")) {
                        memset(set, 0, sizeof(set));
                        continue;
                }
                int k = cap_index(*p);
                if (k < 0)
                        return err_set(err, EINVAL, "--cap-drop '%s': unknown capability", *p);
                set[k] = false;
        }
        for (char **p = cfg->cap_add; p && *p; p++) {
                if (!strcasecmp(*p, "ALL")) {
                        memset(set, 1, sizeof(set));
                        continue;
                }
                int k = cap_index(*p);
                if (k < 0)
                        return err_set(err, EINVAL, "--cap-add '%s': unknown capability", *p);
                set[k] = true;
        }
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < ARRAY_SIZE(all_caps); i++)
                if (set[i])
                        json_object_array_add(a, json_object_new_string(all_caps[i]));
        json_object *caps = json_object_new_object();
        json_object_object_add(caps, "bounding", a);
        json_object_object_add(caps, "effective", json_object_get(a));
        json_object_object_add(caps, "permitted", json_object_get(a));
        *out = caps;
        return 0;
}

static json_object *mount_json(const char *dst, const char *type, const char *src,
                               const char *const *opts, size_t n)
{
        json_object *m = json_object_new_object();
        json_object_object_add(m, "destination", json_object_new_string(dst));
        json_object_object_add(m, "type", json_object_new_string(type));
        json_object_object_add(m, "source", json_object_new_string(src));
        json_object_object_add(m, "options", strv_json(opts, n));
        return m;
}

static void default_mounts(json_object *mounts)
{
        static const char *const proc[] = {"nosuid", "noexec", "nodev"};
        static const char *const dev[] = {"nosuid", "noexec", "strictatime", "mode=755",
                                          "size=65536k"};
        static const char *const sys[] = {"nosuid", "noexec", "nodev", "ro"};
        static const char *const pts[] = {"nosuid",        "noexec",    "newinstance",
                                          "ptmxmode=0666", "mode=0620", "gid=5"};
        static const char *const shm[] = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"};
        static const char *const cg[] = {"rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"};

        json_object_array_add(mounts, mount_json("/proc", "proc", "proc", proc, 3));
        json_object_array_add(mounts, mount_json("/dev", "tmpfs", "tmpfs", dev, 5));
        json_object_array_add(mounts, mount_json("/sys", "sysfs", "sysfs", sys, 4));
        json_object_array_add(mounts, mount_json("/dev/pts", "devpts", "devpts", pts, 6));
        json_object_array_add(mounts, mount_json("/dev/mqueue", "mqueue", "mqueue", proc, 3));
        json_object_array_add(mounts, mount_json("/dev/shm", "tmpfs", "shm", shm, 5));
        json_object_array_add(mounts, mount_json("/sys/fs/cgroup", "cgroup", "cgroup", cg, 6));
}

static void file_mounts(struct eng_ctx *c, const char *id, json_object *mounts)
{
        static const char *const files[][2] = {{"hostname", "/etc/hostname"},
                                               {"hosts", "/etc/hosts"},
                                               {"resolv.conf", "/etc/resolv.conf"}};
        static const char *const opts[] = {"bind", "rprivate"};
        char path[PATH_MAX];

        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                eng_ctr_path(c, id, files[i][0], path, sizeof(path));
                json_object_array_add(mounts, mount_json(files[i][1], "bind", path, opts, 2));
        }
}

/* -v SRC:DST[:opts]; named volumes are made on first use. (-v DST is an
 * anonymous volume, in the anon list.) */
static int bind_mount(struct eng_ctx *c, const char *id, const char *arg, json_object *mounts,
                      struct isola_err *err)
{
        char spec[PATH_MAX * 2 + 32], path[PATH_MAX], *src = spec, *dst, *opt, *save = NULL;
        bool ro = false;

        if (snprintf(spec, sizeof(spec), "%s", arg) >= (int)sizeof(spec))
                return err_set(err, ENAMETOOLONG, "-v '%.64s...': too long", arg);
        dst = strchr(src, ':');
        if (!dst)
                return 0;
        *dst++ = '\0';
        opt = strchr(dst, ':');
        if (opt) {
                *opt++ = '\0';
                for (char *o = strtok_r(opt, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
                        if (!strcmp(o, "ro"))
                                ro = true;
                        else if (strcmp(o, "rw") != 0 && strcmp(o, "z") != 0 && strcmp(o, "Z") != 0)
                                return err_set(err, EINVAL, "-v '%s': unknown option '%s'", arg, o);
                }
        }
        if (dst[0] != '/')
                return err_set(err, EINVAL, "-v '%s': destination must be absolute", arg);
        if (src[0] == '/' || src[0] == '.') {
                if (!realpath(src, path))
                        return err_sys(err, "-v '%s': source '%s'", arg, src);
        } else if (eng_volume_use(c, id, src, false, path, err) < 0) {
                return err_prefix(err, "-v '%s'", arg);
        }
        const char *opts[] = {"rbind", "rprivate", ro ? "ro" : "rw"};
        json_object_array_add(mounts, mount_json(dst, "bind", path, opts, 3));
        return 0;
}

static int anon_mount(struct eng_ctx *c, const char *id, const char *dst, json_object *mounts,
                      struct isola_err *err)
{
        char path[PATH_MAX], name[ENG_ID_LEN + 1];
        unsigned char rnd[ENG_ID_LEN / 2];
        const char *opts[] = {"rbind", "rprivate", "rw"};

        if (getentropy(rnd, sizeof(rnd)) < 0)
                return err_sys(err, "getentropy");
        for (size_t i = 0; i < sizeof(rnd); i++)
                snprintf(name + 2 * i, 3, "%02x", rnd[i]);
        if (eng_volume_use(c, id, name, true, path, err) < 0)
                return -1;
        json_object_array_add(mounts, mount_json(dst, "bind", path, opts, 3));
        return 0;
}

/* --tmpfs DST[:opts] */
static int tmpfs_mount(const char *arg, json_object *mounts, struct isola_err *err)
{
        char spec[PATH_MAX + 256], *opt, *save = NULL;
        const char *opts[8] = {"nosuid", "nodev", "rw"};
        size_t n = 3;

        if (snprintf(spec, sizeof(spec), "%s", arg) >= (int)sizeof(spec) || spec[0] != '/')
                return err_set(err, EINVAL, "--tmpfs '%s': destination must be absolute", arg);
        opt = strchr(spec, ':');
        if (opt) {
                *opt++ = '\0';
                for (char *o = strtok_r(opt, ",", &save); o && n < ARRAY_SIZE(opts);
                     o = strtok_r(NULL, ",", &save))
                        opts[n++] = o;
        }
        json_object_array_add(mounts, mount_json(spec, "tmpfs", "tmpfs", opts, n));
        return 0;
}

static int volume_mounts(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                         char **anon, json_object *mounts, struct isola_err *err)
{
        for (char **p = cfg->volumes; p && *p; p++)
                if (bind_mount(c, id, *p, mounts, err) < 0)
                        return -1;
        for (char **p = anon; p && *p; p++)
                if (anon_mount(c, id, *p, mounts, err) < 0)
                        return -1;
        for (char **p = cfg->tmpfs; p && *p; p++)
                if (tmpfs_mount(*p, mounts, err) < 0)
                        return -1;
        return 0;
}

static const struct {
        const char *name;
        const char *type;
} rlimit_names[] = {
    {"nofile", "RLIMIT_NOFILE"},     {"nproc", "RLIMIT_NPROC"},
    {"core", "RLIMIT_CORE"},         {"memlock", "RLIMIT_MEMLOCK"},
    {"stack", "RLIMIT_STACK"},       {"cpu", "RLIMIT_CPU"},
    {"fsize", "RLIMIT_FSIZE"},       {"as", "RLIMIT_AS"},
    {"locks", "RLIMIT_LOCKS"},       {"sigpending", "RLIMIT_SIGPENDING"},
    {"msgqueue", "RLIMIT_MSGQUEUE"}, {"nice", "RLIMIT_NICE"},
    {"rtprio", "RLIMIT_RTPRIO"},     {"rttime", "RLIMIT_RTTIME"},
    {"data", "RLIMIT_DATA"},         {"rss", "RLIMIT_RSS"},
};

static int rlimits_json(const struct eng_config *cfg, json_object **out, struct isola_err *err)
{
        json_object *a = json_object_new_array();

        *out = a;
        for (char **p = cfg->ulimits; p && *p; p++) {
                char name[32];
                long long soft, hard;
                const char *type = NULL;
                int n = sscanf(*p, "%31[a-z]=%lld:%lld", name, &soft, &hard);

                if (n < 2)
                        return err_set(err, EINVAL, "--ulimit '%s': expected NAME=SOFT[:HARD]", *p);
                if (n == 2)
                        hard = soft;
                for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++)
                        if (!strcmp(name, rlimit_names[i].name))
                                type = rlimit_names[i].type;
                if (!type)
                        return err_set(err, EINVAL, "--ulimit '%s': unknown limit '%s'", *p, name);
                if (soft > hard || soft < -1)
                        return err_set(err, EINVAL, "--ulimit '%s': soft limit above hard", *p);
                json_object *r = json_object_new_object();
                json_object_object_add(r, "type", json_object_new_string(type));
                json_object_object_add(r, "soft", json_object_new_uint64((uint64_t)soft));
                json_object_object_add(r, "hard", json_object_new_uint64((uint64_t)hard));
                json_object_array_add(a, r);
        }
        return 0;
}

static json_object *resources_json(const struct eng_config *cfg)
{
        json_object *res = json_object_new_object(), *dev = json_object_new_object();
        json_object *devs = json_object_new_array(), *pids = json_object_new_object();

        json_object_object_add(dev, "allow", json_object_new_boolean(0));
        json_object_object_add(dev, "access", json_object_new_string("rwm"));
        json_object_array_add(devs, dev);
        json_object_object_add(res, "devices", devs);
        /* podman's default: 2048 processes */
        json_object_object_add(res, "pids", pids);
        json_object_object_add(pids, "limit",
                               json_object_new_int64(cfg->pids_limit ? cfg->pids_limit : 2048));
        if (cfg->memory > 0) {
                json_object *m = json_object_new_object();
                json_object_object_add(m, "limit", json_object_new_int64(cfg->memory));
                json_object_object_add(res, "memory", m);
        }
        if (cfg->cpus > 0) {
                json_object *cpu = json_object_new_object();
                json_object_object_add(cpu, "period", json_object_new_int64(100000));
                json_object_object_add(cpu, "quota",
                                       json_object_new_int64((int64_t)(cfg->cpus * 100000)));
                json_object_object_add(res, "cpu", cpu);
        }
        return res;
}

static int seccomp_json(const struct eng_config *cfg, json_object **out, struct isola_err *err)
{
        *out = NULL;
        if (!cfg->seccomp) {
                *out = eng_seccomp_default();
                return 0;
        }
        if (!strcmp(cfg->seccomp, "unconfined"))
                return 0;
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (fs_read_file(cfg->seccomp, &text, &len, err) < 0)
                return err_prefix(err, "--security-opt seccomp");
        *out = json_tokener_parse(text);
        if (!*out || !json_object_is_type(*out, json_type_object)) {
                json_object_put(*out);
                *out = NULL;
                return err_set(err, EINVAL, "--security-opt seccomp='%s': not a JSON object",
                               cfg->seccomp);
        }
        return 0;
}

static json_object *linux_json(const char *id, const struct eng_config *cfg)
{
        json_object *l = json_object_new_object(), *ns = json_object_new_array();
        static const char *const kinds[] = {"pid", "ipc", "uts", "mount"};
        char path[128];

        for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
                json_object *n = json_object_new_object();
                json_object_object_add(n, "type", json_object_new_string(kinds[i]));
                json_object_array_add(ns, n);
        }
        json_object_object_add(l, "namespaces", ns);
        snprintf(path, sizeof(path), "/isola/%s", id);
        json_object_object_add(l, "cgroupsPath", json_object_new_string(path));
        json_object_object_add(l, "resources", resources_json(cfg));
        json_object_object_add(l, "maskedPaths", strv_json(masked_paths, ARRAY_SIZE(masked_paths)));
        json_object_object_add(l, "readonlyPaths",
                               strv_json(readonly_paths, ARRAY_SIZE(readonly_paths)));
        return l;
}

/* KEY=VALUE lists: later entries replace earlier ones with the same key. */
static void env_set(json_object *env, const char *kv)
{
        size_t klen = strcspn(kv, "=");

        for (size_t i = 0; i < json_object_array_length(env); i++) {
                const char *e = json_object_get_string(json_object_array_get_idx(env, i));
                if (!strncmp(e, kv, klen) && (e[klen] == '=' || e[klen] == '\0')) {
                        json_object_array_put_idx(env, i, json_object_new_string(kv));
                        return;
                }
        }
        json_object_array_add(env, json_object_new_string(kv));
}

static bool env_has(json_object *env, const char *key)
{
        size_t klen = strlen(key);
        for (size_t i = 0; i < json_object_array_length(env); i++) {
                const char *e = json_object_get_string(json_object_array_get_idx(env, i));
                if (!strncmp(e, key, klen) && e[klen] == '=')
                        return true;
        }
        return false;
}

static int args_json(const struct eng_config *cfg, const struct eng_image_info *img,
                     json_object **out, struct isola_err *err)
{
        char **ep = cfg->entrypoint_set ? cfg->entrypoint : img->entrypoint;
        /* as docker: --entrypoint drops the image's Cmd */
        char **cmd = cfg->cmd ? cfg->cmd : (cfg->entrypoint_set ? NULL : img->cmd);
        json_object *a = json_object_new_array();

        if (cfg->init) {
                json_object_array_add(a, json_object_new_string("/run/isola-init"));
                json_object_array_add(a, json_object_new_string("--"));
        }
        for (char **p = ep; p && *p; p++)
                json_object_array_add(a, json_object_new_string(*p));
        for (char **p = cmd; p && *p; p++)
                json_object_array_add(a, json_object_new_string(*p));
        *out = a;
        if (json_object_array_length(a) == (cfg->init ? 2u : 0u))
                return err_set(err, EINVAL, "no command specified (the image has none)");
        return 0;
}

static int user_json(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                     const struct eng_image_info *img, json_object *process, json_object *env,
                     struct isola_err *err)
{
        const char *u = cfg->user ? cfg->user : img->user;
        char rootfs[PATH_MAX], home[PATH_MAX] = "/root";
        uid_t uid = 0;
        gid_t gid = 0, groups[64];
        size_t n_groups = 0;
        json_object *user = json_object_new_object();

        json_object_object_add(process, "user", user);
        if (u && *u) {
                eng_ctr_path(c, id, "merged", rootfs, sizeof(rootfs));
                n_groups = ARRAY_SIZE(groups);
                if (eng_user_resolve(rootfs, u, &uid, &gid, home, groups, &n_groups, err) < 0)
                        return err_prefix(err, "user '%s'", u);
        }
        json_object_object_add(user, "uid", json_object_new_int64(uid));
        json_object_object_add(user, "gid", json_object_new_int64(gid));
        if (n_groups) {
                json_object *g = json_object_new_array();
                for (size_t i = 0; i < n_groups; i++)
                        json_object_array_add(g, json_object_new_int64(groups[i]));
                json_object_object_add(user, "additionalGids", g);
        }
        json_object_object_add(user, "umask", json_object_new_int(022));
        if (!env_has(env, "HOME")) {
                char kv[PATH_MAX + 8];
                snprintf(kv, sizeof(kv), "HOME=%s", home);
                env_set(env, kv);
        }
        return 0;
}

static int process_json(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                        const struct eng_image_info *img, const char *hostname, json_object **out,
                        struct isola_err *err)
{
        json_object *p = json_object_new_object(), *env = json_object_new_array(), *x;
        char kv[512];

        *out = p;
        env_set(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        env_set(env, "TERM=xterm");
        env_set(env, "container=isola");
        for (char **e = img->env; e && *e; e++)
                env_set(env, *e);
        snprintf(kv, sizeof(kv), "HOSTNAME=%s", hostname);
        env_set(env, kv);
        for (char **e = cfg->env; e && *e; e++)
                env_set(env, *e);
        json_object_object_add(p, "env", env);
        json_object_object_add(p, "terminal", json_object_new_boolean(cfg->tty));
        if (args_json(cfg, img, &x, err) < 0) {
                json_object_put(x);
                return -1;
        }
        json_object_object_add(p, "args", x);
        const char *cwd = cfg->workdir ? cfg->workdir : img->working_dir;
        if (cwd && cwd[0] != '/')
                return err_set(err, EINVAL, "working directory '%s' is not absolute", cwd);
        json_object_object_add(p, "cwd", json_object_new_string(cwd && *cwd ? cwd : "/"));
        if (user_json(c, id, cfg, img, p, env, err) < 0)
                return -1;
        if (caps_json(cfg, &x, err) < 0)
                return -1;
        json_object_object_add(p, "capabilities", x);
        if (rlimits_json(cfg, &x, err) < 0) {
                json_object_put(x);
                return -1;
        }
        json_object_object_add(p, "rlimits", x);
        json_object_object_add(p, "noNewPrivileges", json_object_new_boolean(cfg->no_new_privs));
        return 0;
}

int eng_spec_write(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                   const struct eng_image_info *img, char **anon_volumes, struct isola_err *err)
{
        json_object *spec = json_object_new_object(), *root = json_object_new_object(), *x;
        json_object *mounts = json_object_new_array(), *l = linux_json(id, cfg);
        char path[PATH_MAX], hostname[256];
        int rc = -1;

        if (cfg->hostname)
                snprintf(hostname, sizeof(hostname), "%s", cfg->hostname);
        else if (cfg->network && !strcmp(cfg->network, "host"))
                gethostname(hostname, sizeof(hostname));
        else
                snprintf(hostname, sizeof(hostname), "%.12s", id);
        json_object_object_add(spec, "ociVersion", json_object_new_string("1.0.2"));
        json_object_object_add(spec, "hostname", json_object_new_string(hostname));
        eng_ctr_path(c, id, "merged", path, sizeof(path));
        json_object_object_add(root, "path", json_object_new_string(path));
        json_object_object_add(root, "readonly", json_object_new_boolean(cfg->read_only));
        json_object_object_add(spec, "root", root);
        json_object_object_add(spec, "mounts", mounts);
        json_object_object_add(spec, "linux", l);
        default_mounts(mounts);
        file_mounts(c, id, mounts);
        if (cfg->init) {
                static const char *const opts[] = {"bind", "ro", "rprivate"};
                snprintf(path, sizeof(path), "%s", c->self_exe);
                char *slash = strrchr(path, '/');
                snprintf(slash + 1, sizeof(path) - (size_t)(slash + 1 - path), "isola-init");
                json_object_array_add(mounts, mount_json("/run/isola-init", "bind", path, opts, 3));
        }
        if (process_json(c, id, cfg, img, hostname, &x, err) < 0)
                goto out_x;
        json_object_object_add(spec, "process", x);
        if (volume_mounts(c, id, cfg, anon_volumes, mounts, err) < 0 ||
            seccomp_json(cfg, &x, err) < 0)
                goto out;
        if (x)
                json_object_object_add(l, "seccomp", x);
        if (eng_net_prepare(c, id, cfg, spec, err) < 0 ||
            eng_net_files(c, id, cfg, hostname, err) < 0)
                goto out;
        eng_ctr_path(c, id, "config.json", path, sizeof(path));
        const char *text = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN);
        rc = fs_write_file(path, text, strlen(text), O_CREAT | O_TRUNC, 0600, err);
        goto out;
out_x:
        json_object_put(x);
out:
        json_object_put(spec);
        return rc;
}
