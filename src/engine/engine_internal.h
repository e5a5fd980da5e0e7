/* Engine internals shared by the src/engine files (not a public API). */
#ifndef ISOLA_ENGINE_INTERNAL_H
#define ISOLA_ENGINE_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engine/monitor_proto.h"

/* Wall clock in ns. */
int64_t eng_now_ns(void);

/* <root>/containers/<id>[/name] */
void eng_ctr_path(const struct eng_ctx *c, const char *id, const char *name, char *buf, size_t len);

bool eng_monitor_alive(pid_t pid, int64_t start);
/* The container init the runtime library just made: our only child. */
int eng_only_child(pid_t *pid, struct isola_err *err);

/* Connects to the container's monitor and sends cmd (MON_CMD_*); -1 with
 * ENOENT/ECONNREFUSED when no monitor listens. */
int eng_mon_connect(const struct eng_ctx *c, const char *id, char cmd, struct isola_err *err);
/* Reads the exit code line, then waits for EOF (the monitor and its cleanup
 * are gone); timeout_ms < 0 waits forever. Returns 1 on timeout. */
int eng_mon_wait(int fd, int timeout_ms, int *code_out);

/* Config <-> JSON. */
json_object *eng_config_to_json(const struct eng_config *cfg);
int eng_config_from_json(const char *text, struct eng_config *out, struct isola_err *err);

/* Root file system: overlay of lower dirs (bottom first) + upper/work. */
int eng_rootfs_mount(struct eng_ctx *c, const char *id, struct isola_err *err);
/* With the lower dirs already known (create); volatile_upper for --rm. */
int eng_rootfs_mount_lowers(struct eng_ctx *c, const char *id, char **lowers, size_t n,
                            bool volatile_upper, struct isola_err *err);
int eng_rootfs_umount(struct eng_ctx *c, const char *id, struct isola_err *err);
bool eng_rootfs_mounted(const struct eng_ctx *c, const char *id);
/* The container's lower dirs (image layers or --rootfs), bottom first. */
int eng_rootfs_lowers(struct eng_ctx *c, const struct eng_container *ct, char ***out, size_t *n_out,
                      struct isola_err *err);

/* OCI config.json in the container dir from image config + run flags. */
struct eng_image_info {
        char **env, **entrypoint, **cmd, **volumes;
        char **exposed; /* ExposedPorts, "80/tcp" (for -P) */
        char *working_dir, *user, *stop_signal;
        char **layer_dirs; /* bottom first */
        size_t n_layers;
        struct eng_healthcheck health; /* config.Healthcheck (health_config.c) */
};
int eng_spec_write(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                   const struct eng_image_info *img, char **anon_volumes, struct isola_err *err);
/* Adds podman's default seccomp profile to spec.linux. */
json_object *eng_seccomp_default(void);
/* Resolves user[:group] against passwd/group file contents (either may be
 * NULL): hostile image data, bounded by the callers' reads. */
int eng_user_lookup(const char *passwd, const char *group, const char *spec, uid_t *uid, gid_t *gid,
                    char home[PATH_MAX], gid_t *groups, size_t *n_groups, struct isola_err *err);
/* Resolves user[:group] (names via the container's /etc/passwd and
 * /etc/group, opened inside the root). */
int eng_user_resolve(const char *rootfs, const char *spec, uid_t *uid, gid_t *gid,
                     char home[PATH_MAX], gid_t *groups, size_t *n_groups, struct isola_err *err);

/* openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) below rootfd. */
int eng_open_in_root(int rootfd, const char *path, int flags);

/* Images (gated on the image store being built). */
int eng_image_resolve(struct eng_ctx *c, const char *name, char **image_id, char **image_name,
                      struct eng_image_info *info, struct isola_err *err);
int eng_image_layers(struct eng_ctx *c, const char *image_id, char ***dirs, size_t *n,
                     struct isola_err *err);
void eng_image_info_free(struct eng_image_info *i);

/* Volumes: resolves -v entries into mounts; creates named ones. */
int eng_volume_use(struct eng_ctx *c, const char *id, const char *name, bool anonymous,
                   char path_out[PATH_MAX], struct isola_err *err);
/* Drops the container's volume links (removing its anonymous volumes when
 * remove_anon). Runs inside the caller's transaction. */
int eng_volume_release(struct eng_ctx *c, const char *id, bool remove_anon, struct isola_err *err);

/* Network hook: fills spec namespaces/files for the container's network. */
int eng_net_prepare(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                    json_object *spec, struct isola_err *err);
/* After the row exists (the network component keeps its own rows): netns,
 * veth, lease, ports, and resolv.conf/hosts from the network. */
int eng_net_attach(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                   const char *hostname, char **exposed, struct isola_err *err);
int eng_net_release(struct eng_ctx *c, const char *id, struct isola_err *err);
/* The network create settles: NULL becomes the default bridge network. */
const char *eng_net_default(void);
/* At eng_open: runs the network component's clean-up when a row says a
 * crash left something behind (cheap when nothing is stale). */
void eng_net_startup(struct eng_ctx *c);
/* inspect/port: NetworkSettings JSON (Networks, Ports) and the port lines. */
json_object *eng_net_settings_json(struct eng_ctx *c, const char *id);
int eng_net_ports_text(struct eng_ctx *c, const char *id, char **text_out, struct isola_err *err);
/* Writes hosts, hostname and resolv.conf into the container dir. */
int eng_net_files(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                  const char *hostname, struct isola_err *err);

/* rm -rf without following symlinks or crossing mounts. */
int eng_rmtree(const char *path, struct isola_err *err);
/* Renames path into <root>/tmp and removes it there in a detached process
 * (deleting files costs milliseconds each on some file systems); falls back
 * to eng_rmtree. Leftovers are removed by system prune. */
int eng_rmtree_async(struct eng_ctx *c, const char *path, const char *tag, struct isola_err *err);
/* du: bytes of regular files (st_blocks) below path. */
uint64_t eng_du(const char *path);

/* Removes a stopped container completely (dirs, runtime state, row). */
int eng_destroy(struct eng_ctx *c, const char *id, bool volumes, struct isola_err *err);

/* Row helpers. */
int eng_row_set_state(struct eng_ctx *c, const char *id, const char *state, struct isola_err *err);
int eng_ctr_opts_init(const struct eng_ctx *c, void *opts);

#endif
