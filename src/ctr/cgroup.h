/* Container cgroup manager: detects the host layout (v1, v2, hybrid), creates
 * and removes the container's cgroup directories in every hierarchy, moves
 * processes in, applies linux.resources, freezes, lists and kills members.
 * The created directories are recorded in a string (cgroup_to_string) kept in
 * the container's state dir so a later runtime invocation, even after a crash,
 * can re-open and destroy exactly what was created. */
#ifndef ISOLA_CTR_CGROUP_H
#define ISOLA_CTR_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

struct spec_resources; /* ctr/spec.h */

enum cgroup_mode {
        CGROUP_V1,     /* one cgroup v1 hierarchy per controller */
        CGROUP_V2,     /* unified hierarchy at /sys/fs/cgroup */
        CGROUP_HYBRID, /* v1 controllers + cgroup2 at /sys/fs/cgroup/unified */
};

struct cgroup; /* opaque */

struct cgroup_stats {
        uint64_t memory_current; /* bytes in use now */
        uint64_t memory_peak;    /* v1 memory.max_usage_in_bytes / v2 memory.peak; 0 if unknown */
        uint64_t memory_limit;   /* bytes; UINT64_MAX = unlimited */
        uint64_t oom_kills;      /* v1 memory.oom_control oom_kill / v2 memory.events oom_kill */
        uint64_t pids_current;
        uint64_t pids_limit; /* UINT64_MAX = unlimited */
};

/* Detects the host layout (statfs of /sys/fs/cgroup and /sys/fs/cgroup/unified). */
int cgroup_detect_mode(enum cgroup_mode *mode_out, struct isola_err *err);

/* Creates the container's cgroup(s). cgroups_path is linux.cgroupsPath (may be
 * NULL -> default "isola/<id>"). Relative paths are relative to the runtime's
 * own cgroup in each hierarchy, absolute paths to each hierarchy root; a path
 * that escapes the hierarchy ("..") is an error naming linux.cgroupsPath.
 * systemd-style "slice:prefix:name" is accepted and mapped to a cgroupfs path
 * ("/<slice path>/<prefix>-<name>.scope"). Only directories that did not exist
 * before are recorded for removal. */
int cgroup_create(const char *cgroups_path, const char *id, struct cgroup **cg_out,
                  struct isola_err *err);

/* Re-opens from the string cgroup_to_string produced (stored in the state dir). */
int cgroup_open(const char *saved, struct cgroup **cg_out, struct isola_err *err);

/* Serialises the cgroup (mode, directories, which levels were created); heap,
 * NULL on allocation failure. One line, no trailing newline. */
char *cgroup_to_string(const struct cgroup *cg);

/* Writes linux.resources; only fields that are set are written. */
int cgroup_apply(struct cgroup *cg, const struct spec_resources *res, struct isola_err *err);

/* Moves pid into the container's cgroup in every hierarchy where it is not
 * already (so it is cheap after cgroup_join_self in the child). Moving another
 * process costs the kernel an RCU grace period (~12 ms on this host). */
int cgroup_add_pid(struct cgroup *cg, pid_t pid, struct isola_err *err);

/* Fast path for the container's own processes: the CALLING process moves
 * itself, which must be single-threaded (e.g. the init child between clone and
 * exec). On v1 hierarchies it writes "0" to "tasks": a thread moving itself
 * skips the kernel's global threadgroup lock that cgroup.procs takes. The
 * cgroup2 hierarchy has no such path, so on v2/hybrid use clone3 with
 * CLONE_INTO_CGROUP (cgroup_unified_fd) and pass skip_unified = true. Uses only
 * open/write/close: safe after fork in a multi-threaded parent. */
int cgroup_join_self(struct cgroup *cg, bool skip_unified, struct isola_err *err);

/* O_DIRECTORY fd of the container's cgroup2 directory on v2 AND hybrid hosts,
 * for clone3(CLONE_INTO_CGROUP); -1 (ENOENT) on pure v1. On hybrid that only
 * places the child in the cgroup2 tree: it must still cgroup_join_self(cg, true). */
int cgroup_unified_fd(struct cgroup *cg, struct isola_err *err);

/* On pure cgroup v2 returns a new O_DIRECTORY|O_CLOEXEC fd of the container's
 * cgroup for clone3(CLONE_INTO_CGROUP); the caller closes it. On v1/hybrid
 * returns -1 with errnum EOPNOTSUPP (use cgroup_add_pid instead). */
int cgroup_enter_fd(struct cgroup *cg, struct isola_err *err);

/* v1 freezer / v2 cgroup.freeze; waits until the state is reached. */
int cgroup_freeze(struct cgroup *cg, bool frozen, struct isola_err *err);
bool cgroup_is_frozen(struct cgroup *cg);

/* Lists the pids in the container's cgroup (including sub-cgroups); *pids_out
 * is heap (may be NULL when *n_out == 0). */
int cgroup_pids(struct cgroup *cg, pid_t **pids_out, size_t *n_out, struct isola_err *err);

/* Sends sig to every process in the cgroup (v2 cgroup.kill for SIGKILL when
 * available; otherwise freeze, signal each pid, thaw, so forks cannot escape). */
int cgroup_kill_all(struct cgroup *cg, int sig, struct isola_err *err);

/* Removes every directory cgroup_create made (never a pre-existing parent).
 * With force, remaining processes are SIGKILLed first; without force a
 * non-empty cgroup is an error (EBUSY). */
int cgroup_destroy(struct cgroup *cg, bool force, struct isola_err *err);

void cgroup_free(struct cgroup *cg);

/* Memory/pids counters for metering. */
int cgroup_stats(struct cgroup *cg, struct cgroup_stats *out, struct isola_err *err);

#endif
