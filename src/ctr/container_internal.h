/* Helpers shared by the lifecycle files (container*.c, exec.c). */
#ifndef ISOLA_CTR_CONTAINER_INTERNAL_H
#define ISOLA_CTR_CONTAINER_INTERNAL_H

#include "ctr/cgroup.h"
#include "ctr/container.h"

/* An opened container: state dir (locked as asked), its state, its cgroup. */
struct ctr_handle {
        int dirfd;
        int lock; /* LOCK_EX, LOCK_SH or 0: what we hold on dirfd */
        struct ctr_state *st;
        struct cgroup *cg; /* NULL when the container has no cgroup */
};

int ctr_handle_open(const struct ctr_opts *o, const char *id, int lock, struct ctr_handle *h,
                    struct isola_err *err);
void ctr_handle_close(struct ctr_handle *h);

/* Live status: recorded "creating" while create still holds the lock ->
 * creating, pid gone (or reused) -> stopped, frozen -> paused, exec fifo
 * still there -> created, else running. */
enum ctr_status ctr_handle_status(const struct ctr_handle *h);

/* Parses the config.json saved in the state dir. */
int ctr_handle_spec(const struct ctr_handle *h, struct spec **spec_out, struct isola_err *err);

/* Kills everything, removes the cgroup, runs poststop hooks, removes the
 * state dir (the handle is closed). */
int ctr_destroy(const struct ctr_opts *o, struct ctr_handle *h, struct isola_err *err);

/* Waits until pid (not necessarily our child) has exited. */
void ctr_wait_pid_gone(pid_t pid);

/* Waits for our child pid (forwarding signals, relaying pty_master when
 * >= 0); *exit_status is its exit code or 128+signal. */
int ctr_wait_foreground(pid_t pid, int pty_master, int *exit_status, struct isola_err *err);

/* Writes pid to path atomically (temp file + rename), as runc. */
int ctr_write_pid_file(const char *path, pid_t pid, struct isola_err *err);

#endif
