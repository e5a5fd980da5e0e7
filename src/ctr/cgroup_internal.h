/* Shared between the cgroup manager (cgroup.c) and its per-version resource
 * writers (cgroup_v1.c, cgroup_v2.c, cgroup_devices.c). Not a public API. */
#ifndef ISOLA_CTR_CGROUP_INTERNAL_H
#define ISOLA_CTR_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ctr/cgroup.h"
#include "ctr/spec.h"
#include "util/err.h"

/* One hierarchy the container lives in. */
struct cgroup_hier {
        char *controllers; /* v1: "cpu,cpuacct", "memory", ...; cgroup2: "unified" */
        bool unified;
        char *path;         /* the container's directory */
        unsigned n_created; /* trailing components of path that cgroup_create made */
};

struct cgroup {
        enum cgroup_mode mode;
        struct cgroup_hier *hiers;
        size_t n_hiers;
};

/* Bound on cgroup nesting below the container's directory (and on the saved
 * created-level count). */
#define CGROUP_MAX_NESTING 64

const char *cgroup_mode_name(enum cgroup_mode mode);

/* A mounted hierarchy, as found in /proc/self/mountinfo. */
struct cgroup_mount {
        char *mount_point;
        char *root;        /* mount root inside the hierarchy (usually "/") */
        char *controllers; /* as in struct cgroup_hier */
        bool unified;
        char *own; /* the runtime's cgroup, relative to the mount point */
};

/* Lists the hierarchies to use for mode: every v1 controller hierarchy (named-
 * only ones such as name=systemd are skipped) and/or the cgroup2 one. */
int cgroup_scan_mounts(enum cgroup_mode mode, struct cgroup_mount **out, size_t *n_out,
                       struct isola_err *err);
void cgroup_mounts_free(struct cgroup_mount *m, size_t n);

/* Normalises linux.cgroupsPath (NULL -> "isola/<id>", systemd form mapped) into
 * "/a/b/c" in out; *absolute_out tells whether it is relative to the hierarchy
 * root (true) or to the runtime's own cgroup. Rejects "..". */
int cgroup_resolve_path(const char *cgroups_path, const char *id, char *out, size_t cap,
                        bool *absolute_out, struct isola_err *err);

/* The hierarchy that carries controller ctl (v1) or the unified one (ctl NULL);
 * NULL when absent. */
struct cgroup_hier *cgroup_find(struct cgroup *cg, const char *ctl);

/* Writes value to dir/file; on failure the message is
 * "write '<dir>/<file>' = '<value>': <strerror>". */
int cgroup_write(const char *dir, const char *file, const char *value, struct isola_err *err);
/* Reads dir/file into buf (trailing newline stripped). */
int cgroup_read(const char *dir, const char *file, char *buf, size_t size, struct isola_err *err);
bool cgroup_file_exists(const char *dir, const char *file);

/* v1 resource writers: one per controller so that hierarchies can be absent. */
int cgroup_v1_apply(struct cgroup *cg, const struct spec_resources *res, struct isola_err *err);
/* v2 resource writer into one unified directory. */
int cgroup_v2_apply(const char *dir, const struct spec_resources *res, struct isola_err *err);
/* linux.resources.unified key/values into dir. */
int cgroup_v2_apply_unified(const char *dir, const struct spec_resources *res,
                            struct isola_err *err);

/* Conversions from the v1-shaped OCI values to cgroup v2 files. */
uint64_t cgroup_v2_cpu_weight(uint64_t shares);
uint64_t cgroup_v2_io_weight(uint64_t blkio_weight);

/* Device rules: v1 devices.allow/deny in dir. */
int cgroup_devices_v1_apply(const char *dir, const struct spec_device_rule *rules, size_t n,
                            struct isola_err *err);
/* Device rules as a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup2
 * directory dir (BPF_F_ALLOW_MULTI, so parents' programs still apply). */
int cgroup_devices_v2_apply(const char *dir, const struct spec_device_rule *rules, size_t n,
                            struct isola_err *err);

#endif
