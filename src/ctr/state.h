/* Per-container state kept under <root>/<id>/ so that separate runtime
 * invocations (create, start, kill, delete...) share one state machine:
 * state.json (what create recorded, with the config.json text as created,
 * for exec and poststop hooks: one file, as every file created and removed
 * per container costs inode and block work), exec.fifo (present while the
 * init waits for start). Also the container id rules and the OCI state JSON. */
#ifndef ISOLA_CTR_STATE_H
#define ISOLA_CTR_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

#define STATE_FILE      "state.json"
#define STATE_FIFO_FILE "exec.fifo"

enum ctr_status { CTR_CREATING, CTR_CREATED, CTR_RUNNING, CTR_STOPPED, CTR_PAUSED };

struct ctr_state {
        char *id;
        pid_t pid;
        unsigned long long pid_start; /* /proc/<pid>/stat starttime, detects pid reuse */
        char *bundle;
        char *rootfs;
        char *created;          /* RFC 3339, UTC */
        enum ctr_status status; /* last recorded; the live status is derived */
        char *cgroup;           /* cgroup_to_string(), NULL when cgroups were skipped */
        uid_t owner;
        unsigned hook_mask; /* bit per enum spec_hook_kind present in the config */
        char *config;       /* config.json text as created */
        char **annotation_keys, **annotation_values;
        size_t n_annotations;
};

const char *ctr_status_name(enum ctr_status status);

/* Ids are [A-Za-z0-9_+.-]{1,1024}, not "." or "..": they become a path. */
int state_validate_id(const char *id, struct isola_err *err);

/* Creates <root>/<id> (mode 0700, <root> as needed) and returns an fd of it,
 * flock'ed exclusively. An existing id is an error. */
int state_dir_create(const char *root, const char *id, struct isola_err *err);

/* Opens <root>/<id> and flocks it (lock: LOCK_EX, LOCK_SH or 0 for none:
 * readers need no lock since state.json is replaced atomically).
 * A missing directory is "container '<id>' does not exist". */
int state_dir_open(const char *root, const char *id, int lock, struct isola_err *err);

/* Removes <root>/<id> and everything in it. */
int state_dir_remove(const char *root, const char *id, struct isola_err *err);

/* Atomic write (temp file + rename) of state.json into dirfd. */
int state_save(int dirfd, const struct ctr_state *st, struct isola_err *err);
int state_load(int dirfd, struct ctr_state **st_out, struct isola_err *err);
/* Parses state.json text (the file may be damaged: a crash, a full disk). */
int state_parse(const char *text, size_t len, struct ctr_state **st_out, struct isola_err *err);
void state_free(struct ctr_state *st);

/* The OCI state document for `state` and hook stdin. */
char *state_oci_json(const struct ctr_state *st, enum ctr_status status, bool pretty);

/* Field 22 of /proc/<pid>/stat; -1 when the process is gone. */
int proc_start_time(pid_t pid, unsigned long long *start_out);
/* True when pid is alive (not a zombie) and started at `start`. */
bool proc_is_same(pid_t pid, unsigned long long start);

/* Current time in RFC 3339 with nanoseconds. */
void state_now_rfc3339(char *buf, size_t len);

#endif
