/* isola compose: the Compose Specification application model. Prefix cmp_.
 *
 * Loading runs as separate passes (like compose-go): YAML → tree per file
 * (yaml_load.c), interpolation (interp.c), short syntax → long syntax
 * (normalize.c), extends (extends.c), merge of the -f files (merge.c),
 * profiles, then binding to the typed structs below with warnings for
 * unknown keys (bind*.c) and validation (project.c). `config` prints the
 * result (emit.c). The planner and executor are in plan.h. */
#ifndef ISOLA_COMPOSE_COMPOSE_H
#define ISOLA_COMPOSE_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "compose/interp.h"
#include "compose/tree.h"

struct cmp_kv {
        const char *key;
        const char *val; /* NULL: declared without a value */
};

struct cmp_strv {
        const char **v;
        size_t n;
};

struct cmp_kvs {
        struct cmp_kv *v;
        size_t n;
};

struct cmp_build {
        const char *context; /* absolute */
        const char *dockerfile;
        const char *target;
        struct cmp_kvs args;
};

struct cmp_port {
        const char *host_ip;  /* NULL = all addresses */
        uint16_t target;      /* container port */
        uint16_t published;   /* 0 = not published (or an ephemeral port) */
        const char *protocol; /* tcp | udp */
        const char *mode;     /* ingress | host */
};

enum cmp_vol_type { CMP_VOL_VOLUME, CMP_VOL_BIND, CMP_VOL_TMPFS };

struct cmp_mount {
        enum cmp_vol_type type;
        const char *source; /* volume name (project key), absolute host path, or NULL */
        const char *target;
        bool read_only;
        bool create_host_path; /* bind: create a missing source (short syntax does) */
        bool nocopy;           /* volume: do not copy image content */
        int64_t tmpfs_size;    /* bytes, 0 = default */
};

struct cmp_svc_net {
        const char *name; /* key in the project's networks */
        struct cmp_strv aliases;
        const char *ipv4_address;
};

enum cmp_condition {
        CMP_COND_STARTED,
        CMP_COND_HEALTHY,
        CMP_COND_COMPLETED,
};

struct cmp_dep {
        const char *service;
        enum cmp_condition condition;
        bool required;
        bool restart;
};

struct cmp_healthcheck {
        bool present;
        bool disable;         /* test: ["NONE"] or disable: true */
        struct cmp_strv test; /* ["CMD", ...] or ["CMD-SHELL", "..."] */
        int64_t interval_ms, timeout_ms, start_period_ms, start_interval_ms;
        int retries; /* -1 = default (3) */
};

struct cmp_limits {
        double cpus;    /* 0 = unset */
        int64_t memory; /* bytes, 0 = unset */
        int64_t pids;   /* 0 = unset */
};

struct cmp_file_ref { /* a service's secrets / configs entry */
        const char *source;
        const char *target;
        const char *uid, *gid;
        int mode; /* -1 = default */
};

struct cmp_service {
        const char *name;
        const struct cmp_node *node; /* where it was defined, for messages */
        const char *image;
        bool has_build;
        struct cmp_build build;
        bool has_command, has_entrypoint; /* distinguishes [] from absent */
        struct cmp_strv command, entrypoint;
        struct cmp_kvs environment; /* env_file entries merged below environment */
        struct cmp_port *ports;
        size_t n_ports;
        struct cmp_strv expose;
        struct cmp_mount *volumes;
        size_t n_volumes;
        struct cmp_svc_net *networks;
        size_t n_networks;
        bool network_mode_set;
        const char *network_mode; /* none | host | service:X (then networks empty) */
        struct cmp_dep *depends_on;
        size_t n_depends_on;
        struct cmp_healthcheck healthcheck;
        const char *restart; /* no | always | on-failure[:N] | unless-stopped */
        int replicas;        /* deploy.replicas, -1 = unset (1) */
        struct cmp_limits limits;
        const char *user, *working_dir, *hostname, *container_name;
        struct cmp_kvs labels;
        struct cmp_strv cap_add, cap_drop;
        bool read_only, init, tty, stdin_open, privileged;
        const char *stop_signal;
        int64_t stop_grace_period_ms; /* -1 = unset (10 s) */
        struct cmp_strv profiles;
        struct cmp_file_ref *secrets, *configs;
        size_t n_secrets, n_configs;
        struct cmp_strv dns;
        struct cmp_strv extra_hosts;
        const char *pull_policy;
};

struct cmp_network {
        const char *key;  /* name in the file */
        const char *name; /* actual: <project>_<key>, or name:, or the key if external */
        bool external, internal;
        const char *driver;
        const char *subnet, *gateway;
        struct cmp_kvs labels;
};

struct cmp_volume {
        const char *key;
        const char *name; /* <project>_<key> unless name: or external */
        bool external;
        const char *driver;
        struct cmp_kvs labels;
};

struct cmp_filedef { /* top-level secrets / configs */
        const char *key;
        const char *name;
        const char *file;        /* absolute */
        const char *environment; /* variable name */
        const char *content;     /* configs only */
        bool external;
};

struct cmp_project {
        struct cmp_arena arena;
        const char *name;
        const char *workdir; /* absolute project directory */
        struct cmp_strv files;
        struct cmp_service *services; /* enabled services, sorted by name */
        size_t n_services;
        struct cmp_strv disabled; /* services left out by profiles */
        struct cmp_network *networks;
        size_t n_networks;
        struct cmp_volume *volumes;
        size_t n_volumes;
        struct cmp_filedef *secrets, *configs;
        size_t n_secrets, n_configs;
        struct cmp_env env; /* interpolation variables */
        struct cmp_warns warns;
};

/* Reads a file for the loader; tests and the fuzzer substitute their own. */
typedef int (*cmp_read_fn)(void *ctx, const char *path, char **buf_out, size_t *len_out,
                           struct isola_err *err);

struct cmp_load_opts {
        const char *const *files; /* -f, in order; NULL/0 = discovery */
        size_t n_files;
        const char *project_name;      /* -p */
        const char *project_directory; /* --project-directory; default: first file's dir */
        const char *const *profiles;   /* --profile (plus COMPOSE_PROFILES) */
        size_t n_profiles;
        const char *env_file; /* --env-file; default <project dir>/.env if present */
        char *const *environ; /* process environment; NULL = none */
        const char *cwd;      /* for discovery and relative -f; NULL = getcwd */
        cmp_read_fn read;     /* NULL = read from disk (bounded) */
        void *read_ctx;
};

int cmp_project_load(const struct cmp_load_opts *o, struct cmp_project **out,
                     struct isola_err *err);
void cmp_project_free(struct cmp_project *p);

const struct cmp_service *cmp_service_find(const struct cmp_project *p, const char *name);
const struct cmp_network *cmp_network_find(const struct cmp_project *p, const char *key);
const struct cmp_volume *cmp_volume_find(const struct cmp_project *p, const char *key);

/* Services in dependency order (dependencies first, ties by name) as
 * indices into p->services; errors name a cycle "a -> b -> a". */
int cmp_project_order(const struct cmp_project *p, size_t *order_out, struct isola_err *err);

/* `config` output: the merged, interpolated model as YAML. */
int cmp_emit_project(const struct cmp_project *p, FILE *f);
/* One service as canonical YAML (also the input of its config hash). */
int cmp_emit_service(const struct cmp_project *p, const struct cmp_service *s, FILE *f, int indent,
                     bool for_hash);
/* sha256 hex of the service's canonical form, without scale/replicas. */
int cmp_service_hash(const struct cmp_project *p, const struct cmp_service *s, char out[65],
                     struct isola_err *err);

/* Parses durations ("1m30s", "500ms", "10") into milliseconds. */
int cmp_parse_duration(const char *s, int64_t *ms_out);
/* Parses byte sizes ("512m", "1g", "100kb", "1024") into bytes. */
int cmp_parse_bytes(const char *s, int64_t *out);
/* Shell-like word splitting of a command string (quotes, backslashes). */
int cmp_split_words(struct cmp_arena *a, const char *s, struct cmp_strv *out);

#endif
