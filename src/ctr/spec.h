/* Typed form of an OCI runtime-spec 1.1 config.json. spec_parse.c fills it,
 * spec_free() releases it; everything else in src/ctr reads it. Strings are
 * heap-allocated and NUL-terminated; arrays come with a count; an absent
 * optional value is NULL / 0 with its `has_*` flag false. */
#ifndef ISOLA_CTR_SPEC_H
#define ISOLA_CTR_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

/* GNU C predefines `linux` as 1, which would turn `spec->linux` into
 * `spec->1`; __linux__ is the one to test for the platform. */
#undef linux

struct spec_rlimit {
        int resource; /* RLIMIT_* */
        uint64_t soft, hard;
};

struct spec_user {
        uid_t uid;
        gid_t gid;
        gid_t *additional_gids;
        size_t n_additional_gids;
        bool has_umask;
        mode_t umask;
        char *username; /* optional; not resolved */
};

/* Capability sets as bit masks indexed by CAP_* numbers (libcap numbering). */
struct spec_caps {
        uint64_t bounding, effective, inheritable, permitted, ambient;
        bool present; /* "capabilities" appeared in the config */
};

struct spec_process {
        bool terminal;
        bool has_console_size;
        unsigned console_height, console_width;
        struct spec_user user;
        char **args; /* NULL-terminated */
        size_t n_args;
        char **env; /* NULL-terminated */
        size_t n_env;
        char *cwd;
        struct spec_caps caps;
        struct spec_rlimit *rlimits;
        size_t n_rlimits;
        bool no_new_privileges;
        bool has_oom_score_adj;
        int oom_score_adj;
        char *apparmor_profile; /* accepted, not applied */
        char *selinux_label;    /* accepted, not applied */
};

struct spec_mount {
        char *destination;
        char *type; /* may be NULL (bind mounts) */
        char *source;
        char **options; /* raw option strings, NULL-terminated */
        size_t n_options;
        /* Decoded from options by the parser (later options override earlier
         * ones; bind/rbind also put MS_BIND [| MS_REC] in flags): */
        unsigned long flags;       /* MS_* to set */
        unsigned long clear;       /* MS_* named with a "no" form to clear (e.g. "rw", "dev") */
        unsigned long propagation; /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE [| MS_REC] */
        bool bind, recursive;      /* bind or rbind */
        char *data;                /* leftover options joined by ',' for mount(2) data */
};

struct spec_hook {
        char *path;
        char **args; /* NULL-terminated, may be NULL */
        char **env;  /* NULL-terminated, may be NULL */
        int timeout; /* seconds, 0 = none */
};

enum spec_hook_kind {
        HOOK_PRESTART, /* deprecated, run with createRuntime */
        HOOK_CREATE_RUNTIME,
        HOOK_CREATE_CONTAINER,
        HOOK_START_CONTAINER,
        HOOK_POSTSTART,
        HOOK_POSTSTOP,
        HOOK_KIND_COUNT
};

enum spec_ns_kind {
        NS_PID,
        NS_NET,
        NS_MNT,
        NS_IPC,
        NS_UTS,
        NS_USER,
        NS_CGROUP,
        NS_TIME,
        NS_KIND_COUNT
};

struct spec_namespace {
        enum spec_ns_kind kind;
        char *path; /* join this one instead of creating; NULL = new */
};

struct spec_id_mapping {
        uint32_t container_id, host_id, size;
};

struct spec_device {
        char *path;
        char type; /* 'c', 'b', 'u', 'p' */
        int64_t major, minor;
        bool has_file_mode;
        mode_t file_mode;
        bool has_uid, has_gid;
        uid_t uid;
        gid_t gid;
};

/* linux.resources.devices[] entry: a device-cgroup rule. */
struct spec_device_rule {
        bool allow;
        char type;            /* 'a', 'c', 'b' */
        int64_t major, minor; /* -1 = wildcard */
        char access[4];       /* subset of "rwm" */
};

/* The four linux.resources.blockIO throttle lists, in the order of
 * spec_resources.blkio_throttle[]. */
enum spec_blkio_throttle_kind {
        SPEC_THROTTLE_READ_BPS,
        SPEC_THROTTLE_WRITE_BPS,
        SPEC_THROTTLE_READ_IOPS,
        SPEC_THROTTLE_WRITE_IOPS,
        SPEC_THROTTLE_N
};

/* linux.resources.blockIO.throttle*Device[] entry: bytes or I/Os per second
 * for one block device; 0 removes the limit. */
struct spec_blkio_throttle {
        int64_t major, minor;
        uint64_t rate;
};

/* linux.resources.blockIO.weightDevice[] entry. */
struct spec_blkio_weight_device {
        int64_t major, minor;
        bool has_weight, has_leaf_weight;
        uint16_t weight, leaf_weight;
};

struct spec_resources {
        bool has_memory_limit, has_memory_reservation, has_memory_swap, has_memory_swappiness;
        int64_t memory_limit, memory_reservation, memory_swap; /* bytes; -1 = unlimited */
        uint64_t memory_swappiness;
        bool disable_oom_killer;
        bool has_cpu_shares, has_cpu_quota, has_cpu_period;
        uint64_t cpu_shares;
        int64_t cpu_quota; /* microseconds; -1 = unlimited */
        uint64_t cpu_period;
        char *cpuset_cpus, *cpuset_mems;
        bool has_pids_limit;
        int64_t pids_limit; /* -1 or 0 = unlimited */
        bool has_blkio_weight;
        uint16_t blkio_weight;
        struct spec_blkio_weight_device *blkio_weight_devices;
        size_t n_blkio_weight_devices;
        struct spec_blkio_throttle *blkio_throttle[SPEC_THROTTLE_N];
        size_t n_blkio_throttle[SPEC_THROTTLE_N];
        struct spec_device_rule *device_rules;
        size_t n_device_rules;
        /* linux.resources.unified (cgroup v2 key/value), NULL-terminated pairs */
        char **unified_keys, **unified_values;
        size_t n_unified;
};

/* Seccomp: actions use libseccomp's SCMP_ACT_* values once resolved. */
struct spec_seccomp_arg {
        unsigned index;
        uint64_t value, value_two;
        int op; /* enum scmp_compare */
};

struct spec_seccomp_rule {
        char **names; /* NULL-terminated syscall names */
        size_t n_names;
        uint32_t action;
        bool has_errno_ret;
        uint32_t errno_ret;
        struct spec_seccomp_arg *args;
        size_t n_args;
};

struct spec_seccomp {
        uint32_t default_action;
        bool has_default_errno_ret;
        uint32_t default_errno_ret;
        uint32_t *architectures; /* SCMP_ARCH_* tokens */
        size_t n_architectures;
        char **flags;
        size_t n_flags;
        struct spec_seccomp_rule *rules;
        size_t n_rules;
};

struct spec_sysctl {
        char *key, *value;
};

struct spec_linux {
        struct spec_namespace *namespaces;
        size_t n_namespaces;
        struct spec_id_mapping *uid_mappings, *gid_mappings;
        size_t n_uid_mappings, n_gid_mappings;
        struct spec_device *devices;
        size_t n_devices;
        char *cgroups_path;
        bool has_resources;
        struct spec_resources resources;
        struct spec_sysctl *sysctl;
        size_t n_sysctl;
        struct spec_seccomp *seccomp; /* NULL = no filter */
        char **masked_paths;
        size_t n_masked_paths;
        char **readonly_paths;
        size_t n_readonly_paths;
        unsigned long rootfs_propagation; /* MS_* or 0 */
        bool has_personality;
        unsigned long personality; /* PER_LINUX or PER_LINUX32 */
        char *mount_label;
};

struct spec {
        char *oci_version;
        char *root_path; /* as written; relative to the bundle when not absolute */
        bool root_readonly;
        char *hostname;
        char *domainname;
        struct spec_process *process; /* NULL allowed for create-only bundles */
        struct spec_mount *mounts;
        size_t n_mounts;
        struct spec_hook *hooks[HOOK_KIND_COUNT];
        size_t n_hooks[HOOK_KIND_COUNT];
        char **annotation_keys, **annotation_values;
        size_t n_annotations;
        struct spec_linux linux;
};

/* Parses config.json text. On error the message names the JSON path of the
 * offending field (e.g. "process.rlimits[1].type: unknown rlimit 'RLIMIT_FOO'"). */
int spec_parse(const char *json, size_t len, struct spec **spec_out, struct isola_err *err);
/* Reads <bundle>/config.json and parses it. */
int spec_load(const char *bundle, struct spec **spec_out, struct isola_err *err);
/* Parses a process.json as given to `exec --process`. */
int spec_parse_process(const char *json, size_t len, struct spec_process **process_out,
                       struct isola_err *err);
/* Parses a resources object as given to `update --resources`. */
int spec_parse_resources(const char *json, size_t len, struct spec_resources *res_out,
                         struct isola_err *err);
void spec_free(struct spec *spec);
void spec_process_free(struct spec_process *process);
void spec_resources_clear(struct spec_resources *res);

bool spec_has_namespace(const struct spec *spec, enum spec_ns_kind kind);
const struct spec_namespace *spec_namespace(const struct spec *spec, enum spec_ns_kind kind);
const char *spec_ns_name(enum spec_ns_kind kind);

/* Writes the default config.json (as `runc spec`) to buf_out. */
int spec_default_json(bool rootless, char **buf_out, struct isola_err *err);
/* Writes the `features` document (OCI features.md) to buf_out. */
int spec_features_json(char **buf_out, struct isola_err *err);

#endif
