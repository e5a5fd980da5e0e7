/* Public container lifecycle API behind `isola-runtime` (runc's command set):
 * every call is one runtime invocation acting on the state under opts->root. */
#ifndef ISOLA_CTR_CONTAINER_H
#define ISOLA_CTR_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ctr/log.h"
#include "ctr/spec.h"
#include "ctr/state.h"
#include "util/err.h"

struct ctr_opts {
        const char *root; /* state root, e.g. /run/isola */
        const struct ctr_log *log;
        bool systemd_cgroup;
        bool rootless;
};

struct ctr_create_args {
        const char *bundle;         /* NULL = cwd */
        const char *pid_file;       /* NULL = none */
        const char *console_socket; /* NULL = none */
        bool no_pivot;
        bool no_new_keyring;
        int preserve_fds; /* fds 3..3+n-1 are passed to the container */
        bool detach;      /* run only */
};

struct ctr_exec_args {
        const char *process_file; /* --process; NULL = use args */
        char **args;              /* NULL-terminated, when no process file */
        bool tty, detach, no_new_privs;
        const char *cwd;
        char **env;       /* extra KEY=VALUE, NULL-terminated or NULL */
        const char *user; /* uid[:gid] */
        char **caps;      /* extra capabilities (CAP_X), NULL-terminated or NULL */
        const char *pid_file;
        const char *console_socket;
        int preserve_fds;
};

struct ctr_list_entry {
        struct ctr_state *state;
        enum ctr_status status;
};

int ctr_create(const struct ctr_opts *o, const char *id, const struct ctr_create_args *a,
               struct isola_err *err);
/* create + start; unless a->detach, waits (relaying the terminal and
 * forwarding signals) and stores the exit status (128+sig when killed). */
int ctr_run(const struct ctr_opts *o, const char *id, const struct ctr_create_args *a,
            int *exit_status, struct isola_err *err);
int ctr_start(const struct ctr_opts *o, const char *id, struct isola_err *err);
/* The OCI state JSON (heap). */
int ctr_state(const struct ctr_opts *o, const char *id, char **json_out, struct isola_err *err);
int ctr_kill(const struct ctr_opts *o, const char *id, int sig, bool all, struct isola_err *err);
int ctr_delete(const struct ctr_opts *o, const char *id, bool force, struct isola_err *err);
int ctr_exec(const struct ctr_opts *o, const char *id, const struct ctr_exec_args *a,
             int *exit_status, struct isola_err *err);
int ctr_ps(const struct ctr_opts *o, const char *id, pid_t **pids_out, size_t *n_out,
           struct isola_err *err);
int ctr_list(const struct ctr_opts *o, struct ctr_list_entry **out, size_t *n_out,
             struct isola_err *err);
void ctr_list_free(struct ctr_list_entry *l, size_t n);
int ctr_pause(const struct ctr_opts *o, const char *id, struct isola_err *err);
int ctr_resume(const struct ctr_opts *o, const char *id, struct isola_err *err);
int ctr_update(const struct ctr_opts *o, const char *id, const struct spec_resources *res,
               struct isola_err *err);

#endif
