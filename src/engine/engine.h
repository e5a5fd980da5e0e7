/* The container engine: containers and volumes as managed objects on top of
 * the image store (src/image) and the runtime library (src/ctr). Prefix eng_.
 *
 * State (see docs/engine.md):
 *   <root>/isola.db                      rows: containers, volumes, container_volumes
 *   <root>/containers/<id>/              config.json (the OCI bundle), upper/, work/,
 *                                        merged/ (overlay mount point), hosts,
 *                                        hostname, resolv.conf, ctr.log[.1], exit
 *   <root>/volumes/<name>/_data          named and anonymous volumes
 *   <runroot>/ctr/<id>/                  the runtime library's state
 *   <runroot>/mon/<id>                   the monitor's unix socket (wait, stop)
 *
 * Every running container has an isola-monitor process (src/engine/monitor.c)
 * holding its stdio and log; when the container exits for good the monitor
 * execs `isola _cleanup`, which records the exit in the database. */
#ifndef ISOLA_ENGINE_ENGINE_H
#define ISOLA_ENGINE_ENGINE_H

#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "db/db.h"
#include "util/err.h"

#define ENG_ID_LEN       64
#define ENG_NAME_MAX     128
#define ENG_LOG_MAX_SIZE (8u << 20) /* bytes per log file before rotation */

struct eng_ctx {
        struct db_paths paths;
        sqlite3 *db;
        char ctr_root[PATH_MAX]; /* runtime library state: <runroot>/ctr */
        char mon_dir[PATH_MAX];  /* monitor sockets: <runroot>/mon */
        char self_exe[PATH_MAX]; /* the isola binary (the monitor execs it) */
        /* eng_destroy only renames the container dir to <root>/tmp/rm-<id>:
         * the attached monitor deletes it after our answer */
        bool trash_by_monitor;
};

int eng_open(const char *cli_root, struct eng_ctx *out, struct isola_err *err);
void eng_close(struct eng_ctx *c);

/* What `create`/`run` were asked for; stored as JSON in the row. Arrays are
 * NULL-terminated (or NULL). */
enum eng_restart { ENG_RESTART_NO, ENG_RESTART_ON_FAILURE, ENG_RESTART_ALWAYS };

/* A healthcheck (Docker's config.Healthcheck; see health.h). test NULL:
 * the image's; ["NONE"]: disabled. Durations in ns, 0 = the image's or
 * Docker's default. */
struct eng_healthcheck {
        char **test; /* ["CMD", arg...] | ["CMD-SHELL", "cmd"] | ["NONE"] */
        int64_t interval, timeout, start_period, start_interval;
        int retries;
};

struct eng_config {
        char *name;          /* NULL: generated */
        char *image;         /* as given; NULL with rootfs */
        char *rootfs;        /* --rootfs DIR: a directory as the only lower layer */
        char **cmd;          /* after the image; NULL: the image's Cmd */
        char **entrypoint;   /* --entrypoint (split on nothing: one word) */
        bool entrypoint_set; /* --entrypoint "" clears the image's */
        char **env;          /* KEY=VALUE (env files already expanded) */
        char *workdir, *user, *hostname;
        char **volumes;     /* -v SRC:DST[:ro] | DST */
        char **tmpfs;       /* --tmpfs DST[:opts] */
        int64_t memory;     /* bytes, 0 = none */
        double cpus;        /* 0 = none */
        int64_t pids_limit; /* 0 = podman's default (2048), -1 = unlimited */
        bool read_only, no_new_privs, init, tty, interactive, auto_remove;
        char **cap_add, **cap_drop;
        char *seccomp;  /* NULL = default profile, "unconfined", or a JSON file */
        char **ulimits; /* name=soft[:hard] */
        enum eng_restart restart;
        int restart_max; /* on-failure:N, 0 = unlimited */
        /* none | host | container:REF | pasta | slirp4netns | NAME[:alias=A,ip=IP]; NULL: the
         * default bridge network "isola" (settled by create) */
        char *network;
        char **networks; /* further bridge networks, NAME[:alias=A,...,ip=IP] */
        char *ip;        /* --ip on the first network */
        char **ports;    /* -p [IP:]HOST:CTR[/proto] */
        bool publish_all;
        char **dns, **add_hosts, **aliases; /* aliases: on the first network */
        char *stop_signal;                  /* NULL = the image's, else SIGTERM */
        int stop_timeout;                   /* seconds, default 10 */
        /* healthcheck: settled with the image's by create (health.h) */
        struct eng_healthcheck health;
};
void eng_config_free(struct eng_config *cfg);

/* Creates the container (file system ready, row in state 'created'); id_out
 * gets its id. */
int eng_create(struct eng_ctx *c, const struct eng_config *cfg, char id_out[ENG_ID_LEN + 1],
               struct isola_err *err);

/* Start. With attach, the monitor relays the container's stdio to ours
 * (stdin only when the container is interactive) and writes the exit code to
 * *notify_fd_out; then call eng_attach_finish. */
struct eng_start_opts {
        bool attach;
        int *notify_fd_out; /* attach only */
        pid_t *pid_out;     /* the container's init, may be NULL */
};
int eng_start(struct eng_ctx *c, const char *ref, const struct eng_start_opts *o,
              struct isola_err *err);
/* After an attached start: the exit code came on the notify fd; records it
 * (removing an --rm container) in our process and tells the monitor, which
 * then exits without its own cleanup. */
int eng_attach_finish(struct eng_ctx *c, const char *id, int notify_fd, int code,
                      struct isola_err *err);

/* Resolves a name, full id or unique id prefix to the id. */
int eng_resolve(struct eng_ctx *c, const char *ref, char id_out[ENG_ID_LEN + 1],
                struct isola_err *err);

/* A container row, its state brought up to date (see eng_sync). */
struct eng_container {
        char id[ENG_ID_LEN + 1];
        char name[ENG_NAME_MAX];
        char *image_id, *image_name, *config_json;
        char state[16]; /* created|running|paused|exited */
        pid_t pid, monitor_pid;
        int exit_code;
        int64_t created, started, finished; /* unix ns */
        int restart_count;
};
int eng_get(struct eng_ctx *c, const char *ref, struct eng_container **out, struct isola_err *err);
/* All containers, newest first. */
int eng_list(struct eng_ctx *c, struct eng_container ***out, size_t *n_out, struct isola_err *err);
void eng_container_free(struct eng_container *ct);
void eng_container_list_free(struct eng_container **l, size_t n);
/* The parsed config of a row. */
int eng_container_config(const struct eng_container *ct, struct eng_config *out,
                         struct isola_err *err);

int eng_stop(struct eng_ctx *c, const char *ref, int timeout, struct isola_err *err);
int eng_kill(struct eng_ctx *c, const char *ref, const char *signal, struct isola_err *err);
/* force stops a running container first; volumes removes its anonymous volumes. */
int eng_remove(struct eng_ctx *c, const char *ref, bool force, bool volumes, struct isola_err *err);
/* Waits until the container is not running; *code_out gets its exit code. */
int eng_wait(struct eng_ctx *c, const char *ref, int *code_out, struct isola_err *err);
int eng_pause(struct eng_ctx *c, const char *ref, bool pause, struct isola_err *err);
int eng_rename(struct eng_ctx *c, const char *ref, const char *new_name, struct isola_err *err);

/* Logs: writes the log to our stdout/stderr by stream. tail < 0 = all. */
struct eng_logs_opts {
        bool follow, timestamps;
        long tail;
};
int eng_logs(struct eng_ctx *c, const char *ref, const struct eng_logs_opts *o,
             struct isola_err *err);

struct eng_exec_opts {
        char **args, **env;
        const char *user, *workdir;
        bool tty, interactive, detach;
};
int eng_exec(struct eng_ctx *c, const char *ref, const struct eng_exec_opts *o, int *code_out,
             struct isola_err *err);

/* Process list: pid, user, command line per process (heap strings). */
int eng_top(struct eng_ctx *c, const char *ref, char **text_out, struct isola_err *err);

struct eng_stats {
        char id[ENG_ID_LEN + 1];
        char name[ENG_NAME_MAX];
        double cpu_percent;
        uint64_t mem_usage, mem_limit, pids;
};
/* Samples CPU over interval_ms. */
int eng_stats(struct eng_ctx *c, const char *ref, int interval_ms, struct eng_stats *out,
              struct isola_err *err);

/* cp: exactly one of src/dst is "CONTAINER:PATH". */
int eng_cp(struct eng_ctx *c, const char *src, const char *dst, struct isola_err *err);
/* commit: the container's changes as a new layer on its image; id_out gets
 * the image id. */
int eng_commit(struct eng_ctx *c, const char *ref, const char *image_name, char *id_out,
               size_t id_len, struct isola_err *err);

/* inspect: a JSON object (heap). */
int eng_inspect(struct eng_ctx *c, const char *ref, char **json_out, struct isola_err *err);
/* port: "80/tcp -> 0.0.0.0:8080" lines (heap). */
int eng_port(struct eng_ctx *c, const char *ref, char **text_out, struct isola_err *err);

/* Volumes. */
struct eng_volume {
        char name[256];
        char mountpoint[PATH_MAX];
        int64_t created;
        bool anonymous;
        int users; /* containers using it */
};
int eng_volume_create(struct eng_ctx *c, const char *name, bool anonymous, struct eng_volume *out,
                      struct isola_err *err);
int eng_volume_get(struct eng_ctx *c, const char *name, struct eng_volume *out,
                   struct isola_err *err);
int eng_volume_list(struct eng_ctx *c, struct eng_volume **out, size_t *n_out,
                    struct isola_err *err);
int eng_volume_remove(struct eng_ctx *c, const char *name, bool force, struct isola_err *err);
/* Removes unused volumes; names_out (may be NULL) gets a heap list. */
int eng_volume_prune(struct eng_ctx *c, char ***names_out, size_t *n_out, struct isola_err *err);

/* system */
struct eng_df {
        size_t images, images_active, containers, containers_running, volumes, volumes_active;
        uint64_t images_size, containers_size, volumes_size;
};
int eng_system_df(struct eng_ctx *c, struct eng_df *out, struct isola_err *err);
struct eng_prune_report {
        size_t containers, volumes;
        uint64_t bytes;
};
int eng_system_prune(struct eng_ctx *c, bool volumes, struct eng_prune_report *out,
                     struct isola_err *err);

/* Internal entry points of `isola _cleanup` / `isola _restart` (run by the
 * monitor): record an exit (and remove an --rm container), restart one. */
int eng_cleanup(struct eng_ctx *c, const char *id, int code, int64_t finished,
                struct isola_err *err);
int eng_restart_in_monitor(struct eng_ctx *c, const char *id, int report_fd, struct isola_err *err);

#endif
