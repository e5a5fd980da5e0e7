/* Managed VMs: rows in the state database (table `vms`), each running VM a
 * VMM process of its own under a small monitor (console log, console
 * socket, exit status), reached through its control socket (vmm/ctl.h).
 * The CLI (`isola vm create/start/...`) and the API call this library.
 *
 * Paths (id12 = the first 12 hex digits of the id):
 *   <root>/vms/<id12>/console.log       console output, appended per start
 *   <runroot>/vms/<id12>/ctl.sock       REST control socket (VMM process)
 *   <runroot>/vms/<id12>/console.sock   console byte stream (monitor)
 */
#ifndef ISOLA_VMM_MGR_H
#define ISOLA_VMM_MGR_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"
#include "vmm/machine.h"

struct json_object;
struct vm_mgr;

/* cli_root: NULL for ISOLA_ROOT or the default. */
int vm_mgr_open(const char *cli_root, struct vm_mgr **out, struct isola_err *err);
void vm_mgr_close(struct vm_mgr *m);

/* Checks cfg (ranges, the kernel is a kernel, memory within the host's,
 * disk files exist) and stores it; id_out gets the 64-hex id. */
int vm_mgr_create(struct vm_mgr *m, const char *name, const struct machine_config *cfg,
                  char id_out[65], struct isola_err *err);
/* Starts the VMM; returns once the guest runs (or with the VMM's error,
 * and then nothing is left running). */
int vm_mgr_start(struct vm_mgr *m, const char *ref, struct isola_err *err);
/* ACPI power button; after timeout_s a clean stop of the VMM (SIGTERM),
 * then SIGKILL. A stopped VM is not an error. */
int vm_mgr_stop(struct vm_mgr *m, const char *ref, unsigned timeout_s, struct isola_err *err);
/* Sends signo (SIGKILL when 0) to the VMM process; for SIGKILL and
 * SIGTERM (a clean stop) returns once the monitor recorded the end. */
int vm_mgr_kill(struct vm_mgr *m, const char *ref, int signo, struct isola_err *err);
int vm_mgr_pause(struct vm_mgr *m, const char *ref, struct isola_err *err);
int vm_mgr_resume(struct vm_mgr *m, const char *ref, struct isola_err *err);
/* Refuses a running VM unless force (then it is killed first). */
int vm_mgr_rm(struct vm_mgr *m, const char *ref, bool force, struct isola_err *err);

/* An array of {id, name, state, cpus, memory_mib, pv, created, started,
 * finished, exit_code, exit_reason, vmm_pid}. */
int vm_mgr_list(struct vm_mgr *m, struct json_object **out, struct isola_err *err);
/* The list's object plus "config" (machine JSON), "paths" and, while the
 * VM runs, "stats" (the VMM's GET /stats). */
int vm_mgr_inspect(struct vm_mgr *m, const char *ref, struct json_object **out,
                   struct isola_err *err);

/* Paths of a VM (running or not). which: "ctl", "console", "go" (an
 * incoming migration's go socket), "log". */
int vm_mgr_path(struct vm_mgr *m, const char *ref, const char *which, char *buf, size_t len,
                struct isola_err *err);
/* The control socket of a running VM; ENOTCONN (with a message naming the
 * VM) when it is not running. */
int vm_mgr_ctl_path(struct vm_mgr *m, const char *ref, char *buf, size_t len,
                    struct isola_err *err);

/* The monitor process's body (`isola vm _monitor ID FD`, which
 * vm_mgr_start runs): reports "ok" or "error: ..." on ready_fd. Does not
 * return once the VMM is forked. */
int vm_mgr_monitor(const char *id, int ready_fd);

#endif
