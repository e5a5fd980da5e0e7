/* The container's init process: created with the spec's namespaces, set up
 * up to the point just before execve, then parked on the exec fifo until
 * `start`. The runtime process (parent) and the init talk over a
 * SOCK_SEQPACKET socketpair; see init.c for the protocol. */
#ifndef ISOLA_CTR_INIT_H
#define ISOLA_CTR_INIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctr/cgroup.h"
#include "ctr/spec.h"
#include "util/err.h"

struct init_config {
        const struct spec *spec;
        const char *rootfs; /* absolute */
        int fifo_fd;        /* exec fifo opened O_RDWR: the init blocks reading it;
                             * -1: no parking, exec right after READY (run) */
        int console_fd;     /* connected --console-socket, or -1 */
        bool pty_to_parent; /* no console socket: send the pty master to the parent */
        bool no_pivot, no_new_keyring;
        int preserve_fds;
        int close_fd;              /* closed first thing in the child (the state dir lock), or -1 */
        struct cgroup *cg;         /* joined by the child itself, or NULL */
        int cgroup_fd;             /* cgroup2 dir for CLONE_INTO_CGROUP (v2, hybrid), or -1 */
        const char *seccomp_cache; /* directory of compiled seccomp filters, or NULL */
};

struct init_handle {
        pid_t pid;      /* the container's init, in our pid namespace */
        int sync_fd;    /* our end of the socketpair */
        int pty_master; /* with pty_to_parent, after init_release; else -1 */
};

/* Creates the init (and its namespaces, writing its id maps); on return it
 * waits for init_release. */
int init_spawn(const struct init_config *cfg, struct init_handle *h, struct isola_err *err);

/* Lets the init set itself up (state_json is what createContainer hooks
 * get) and waits until it is parked on the fifo; a failure in the init comes
 * back as the error, naming the failing step. */
int init_release(struct init_handle *h, const char *state_json, struct isola_err *err);

/* After the init died before GO: its queued ERROR message, if any, as err. */
int init_collect_error(struct init_handle *h, struct isola_err *err);

/* Unparked init (fifo_fd -1): waits until it has exec'd (or died), seen
 * as the end of the sync socket, which is close-on-exec in the init. */
void init_wait_exec(struct init_handle *h);

/* Kills and reaps a spawned init (error paths). */
void init_abort(struct init_handle *h);
void init_handle_close(struct init_handle *h);

/* clone3() returning like fork(); cgroup_fd >= 0 adds CLONE_INTO_CGROUP. */
pid_t init_clone3(uint64_t flags, int cgroup_fd);

/* CLONE_NEW* flag of a namespace kind. */
int init_ns_flag(enum spec_ns_kind kind);

/* Writes uid/gid maps of pid from the spec (setgroups "deny" when not root). */
int init_write_id_maps(pid_t pid, const struct spec *spec, struct isola_err *err);

/* Finds args[0] in PATH (from env, default PATH otherwise) and checks it is
 * an executable file; *path_out is heap. */
int init_find_executable(const char *file, char *const *env, char **path_out,
                         struct isola_err *err);

/* Sync protocol message: header then optional text payload. */
enum init_msg_type {
        INIT_MSG_GO = 1,    /* parent -> init: proceed (payload: state JSON) */
        INIT_MSG_MAPS_REQ,  /* stage1 -> parent: write id maps of value (pid) */
        INIT_MSG_MAPS_DONE, /* parent -> stage1 */
        INIT_MSG_PID,       /* stage1 -> parent: the init's pid is value */
        INIT_MSG_PTY,       /* init -> parent: pty master attached (SCM_RIGHTS) */
        INIT_MSG_READY,     /* init -> parent: parked on the exec fifo */
        INIT_MSG_ERROR,     /* init -> parent: payload is the error message */
};

struct init_msg {
        uint32_t type;
        int32_t value;
};

int init_msg_send(int fd, uint32_t type, int32_t value, const char *payload);
/* Sends INIT_MSG_PTY with the pty master attached; -1 with errno. */
int init_msg_send_pty(int fd, int master);
/* Receives into buf (payload NUL-terminated); returns 0, or -1 on EOF/error. */
int init_msg_recv(int fd, struct init_msg *m, char *buf, size_t len, int *fd_out);

#endif
