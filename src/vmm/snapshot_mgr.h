/* Snapshots of managed VMs (vmm/mgr.h), for `isola vm snapshot|restore|
 * revert` and `isola serve`'s /isola/v1/vms/{name}/snapshots routes: one
 * implementation, errors with errno (ENOENT no such VM or snapshot, EEXIST
 * the name is taken, EINVAL a bad name, "is not running" when the VM must
 * run, EBUSY a snapshot still in use). Snapshots live in
 * <root>/vms/<id12>/snapshots/<SNAP> (docs/snapshots.md). */
#ifndef ISOLA_VMM_SNAPSHOT_MGR_H
#define ISOLA_VMM_SNAPSHOT_MGR_H

#include <json-c/json.h>
#include <stdbool.h>

#include "util/err.h"

struct vm_mgr;
struct machine_config;

/* Letters, digits, '-', '_', '.', not starting with '.', 1-64 chars. */
bool vm_snap_name_ok(const char *snap);
/* Takes SNAP of the running VM ref (pause, save, resume; live: memory
 * copied while the guest runs, paused only for the last dirty pages and
 * the state). out: {"name", "paused_ms", "save_ms", "memory_bytes",
 * "memory_written", "live", and when live "rounds", "last_dirty_pages"}. */
int vm_snap_create(struct vm_mgr *m, const char *ref, const char *snap, bool live,
                   json_object **out, struct isola_err *err);
/* An array of {"name", "created" (unix s), "memory_bytes", "path"}, by
 * name; removes what a crashed writer left. */
int vm_snap_list(struct vm_mgr *m, const char *ref, json_object **out, struct isola_err *err);
/* Removes SNAP; what builds on its disk images gets copies (vm_snap_release). */
int vm_snap_rm(struct vm_mgr *m, const char *ref, const char *snap, struct isola_err *err);
/* Before snapshot `snap` (directory snap_dir) of VM ref goes: every image
 * built directly on one of its files (ref's disks, running or not, and its
 * other snapshots' images; other VMs' disks and snapshots) gets a
 * flattened copy of that file beside it and is pointed at the copy, so
 * nothing that stays loses data (snapshot_drop.c). */
int vm_snap_release(struct vm_mgr *m, const char *ref, const char *snap_dir, const char *snap,
                    struct isola_err *err);
/* restore (revert false): starts the stopped VM ref from SNAP, or with
 * clone a new VM of that name (disks copied/overlaid beside the originals).
 * revert: ref (running or not) back to SNAP, disks included. */
int vm_snap_restore(struct vm_mgr *m, const char *ref, const char *snap, const char *clone,
                    bool revert, struct isola_err *err);

/* For `vm rm` of the stopped VM `id` (before its row goes): removes its
 * snapshots and the disk images isola made for it; its own disks that
 * build on a frozen image are flattened in place, other VMs' images that
 * build on one get a flattened copy of it beside them (snapshot_drop.c). */
int vm_snap_drop_all(struct vm_mgr *m, const char *id, struct isola_err *err);
/* Records cfg's writable disks as made by isola for VM ref (a restore
 * under a new name): `vm rm` removes them. */
int vm_snap_own_disks(struct vm_mgr *m, const char *ref, const struct machine_config *cfg,
                      struct isola_err *err);

#endif
