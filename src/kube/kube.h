/* Kubernetes manifests on the container engine: `isola kube play`, `down`
 * and `generate` (docs/kubernetes.md). Prefix kube_.
 *
 * A manifest file holds one or more YAML documents (Pod, Deployment,
 * ConfigMap, Secret, PersistentVolumeClaim, Service). kube_parse turns it
 * into the typed model below; everything of a model lives in one bounded
 * arena freed by kube_manifest_free. A pod is an infra container holding the
 * network namespace (<pod>-infra, running isola-pause) and one container per
 * spec.containers entry named <pod>-<container>, joined to it with
 * --network container:<infra id>. A Deployment of N replicas makes the pods
 * <deployment>-pod-0 .. <deployment>-pod-<N-1>. */
#ifndef ISOLA_KUBE_KUBE_H
#define ISOLA_KUBE_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

/* Hostile-input bounds: a real manifest is a few KiB and a few hundred nodes. */
#define KUBE_FILE_MAX     (4u << 20)
#define KUBE_ARENA_MAX    (64u << 20)
#define KUBE_NODES_MAX    100000 /* aliases count their whole subtree per use */
#define KUBE_DEPTH_MAX    64
#define KUBE_DOCS_MAX     256
#define KUBE_REPLICAS_MAX 64
#define KUBE_NAME_MAX     63 /* DNS-1123 label */

struct kube_arena;

struct kube_kv {
        const char *key, *val;
};

/* env: value, or valueFrom configMapKeyRef / secretKeyRef */
struct kube_env {
        const char *name, *value;
        const char *ref_name, *ref_key; /* set for valueFrom */
        bool ref_secret, optional;
};

struct kube_env_from {
        const char *name, *prefix;
        bool secret, optional;
};

struct kube_port {
        const char *name;
        int container_port, host_port; /* host_port 0: not published */
        const char *proto;             /* "tcp" | "udp" */
};

struct kube_mount {
        const char *name, *path;
        bool read_only;
};

struct kube_container {
        const char *name, *image, *workdir, *user;
        const char **command, **args; /* NULL-terminated or NULL */
        struct kube_env *env;
        size_t n_env;
        struct kube_env_from *env_from;
        size_t n_env_from;
        struct kube_port *ports;
        size_t n_ports;
        struct kube_mount *mounts;
        size_t n_mounts;
        int64_t memory; /* bytes, 0 = no limit */
        double cpus;    /* 0 = no limit */
        bool read_only_root, no_new_privs, tty, stdin_open;
        const char **cap_add, **cap_drop;
};

enum kube_vol_type {
        KUBE_VOL_EMPTYDIR,
        KUBE_VOL_TMPFS, /* emptyDir with medium: Memory */
        KUBE_VOL_HOSTPATH,
        KUBE_VOL_PVC,
        KUBE_VOL_CONFIGMAP,
        KUBE_VOL_SECRET,
};

struct kube_volume {
        const char *name;
        enum kube_vol_type type;
        const char *source;    /* path, claim, ConfigMap or Secret name */
        struct kube_kv *items; /* key -> relative path; none = every key */
        size_t n_items;
        bool optional, read_only;
};

struct kube_pod {
        const char *name; /* the pod's, or the Deployment's */
        bool deployment;
        int replicas;
        unsigned doc; /* 1-based document number */
        struct kube_kv *labels;
        size_t n_labels;
        struct kube_container *ctrs;
        size_t n_ctrs;
        struct kube_volume *vols;
        size_t n_vols;
        const char *restart, *hostname; /* restart: Always | OnFailure | Never */
        bool host_network;
};

/* ConfigMap or Secret: data already decoded (Secret data is base64). */
struct kube_data {
        const char *name;
        bool secret;
        unsigned doc;
        struct kube_kv *items;
        size_t n_items;
};

struct kube_svc_port {
        const char *name, *target_name, *proto;
        int port, target_port, node_port;
};

struct kube_service {
        const char *name;
        unsigned doc;
        struct kube_kv *selector;
        size_t n_selector;
        struct kube_svc_port *ports;
        size_t n_ports;
};

struct kube_manifest {
        struct kube_arena *arena;
        struct kube_pod *pods;
        size_t n_pods;
        struct kube_data *data;
        size_t n_data;
        struct kube_service *services;
        size_t n_services;
        const char **claims; /* PersistentVolumeClaim names */
        size_t n_claims;
        const char **warnings; /* unsupported fields that were ignored */
        size_t n_warnings;
};

/* Parses a manifest file's text. Errors read
 * "FILE: document N (Kind name): path: problem" or "FILE:line:col: problem". */
int kube_parse(const char *file, const char *data, size_t len, struct kube_manifest **out,
               struct isola_err *err);
void kube_manifest_free(struct kube_manifest *m);

const struct kube_data *kube_data_find(const struct kube_manifest *m, const char *name,
                                       bool secret);
/* The name of replica i of a pod (the pod's own name when not a Deployment). */
void kube_pod_name(const struct kube_pod *p, int i, char *buf, size_t len);

/* play / down / generate on the engine (root as --root / ISOLA_ROOT, NULL =
 * default). Progress lines go to out. */
struct kube_play_opts {
        bool replace; /* take down pods of the same name first */
};
int kube_play(const char *root, const struct kube_manifest *m, const struct kube_play_opts *o,
              FILE *out, struct isola_err *err);
int kube_down(const char *root, const struct kube_manifest *m, bool keep_volumes, FILE *out,
              struct isola_err *err);

struct kube_gen_opts {
        bool service;    /* also a Service for the published ports */
        bool deployment; /* a Deployment instead of a Pod */
};
/* YAML for pods (made by play: NAME is the pod) or containers. */
int kube_generate(const char *root, char *const *names, size_t n, const struct kube_gen_opts *o,
                  FILE *out, struct isola_err *err);

#endif
