/* Walking one document of the tree into the typed model: the context that
 * names the document, kind and path in errors and warnings. Internal. */
#ifndef ISOLA_KUBE_MODEL_H
#define ISOLA_KUBE_MODEL_H

#include "kube/tree.h"

#define KUBE_PATH_MAX     512
#define KUBE_WARNINGS_MAX 100

struct kube_mctx {
        struct kube_arena *a;
        struct kube_manifest *m;
        const char *file, *kind, *name;
        unsigned doc;
        char path[KUBE_PATH_MAX];
        size_t path_len;
        struct isola_err *err;
        const struct kube_node *pod_sc; /* the pod's securityContext, for its containers */
};

/* path: ".key" or "[i]" appended; returns the length to restore. */
size_t kube_path_key(struct kube_mctx *c, const char *key);
size_t kube_path_idx(struct kube_mctx *c, size_t i);
void kube_path_pop(struct kube_mctx *c, size_t len);

/* "FILE: document N (Kind name): path: message (line L)"; returns -1. */
int kube_fail(struct kube_mctx *c, const struct kube_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same text as a warning of the manifest. */
void kube_warn(struct kube_mctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Warns about each key of map that is in neither list (NULL-terminated);
 * the ignored list holds keys that are fine to drop silently. Fails when
 * map is not a mapping. */
int kube_keys(struct kube_mctx *c, const struct kube_node *map, const char *const *known,
              const char *const *ignored);

/* Typed getters of map[key]; absent or null leaves *out alone (0). */
int kube_get_str(struct kube_mctx *c, const struct kube_node *map, const char *key,
                 const char **out);
int kube_get_int(struct kube_mctx *c, const struct kube_node *map, const char *key, long min,
                 long max, int *out);
int kube_get_bool(struct kube_mctx *c, const struct kube_node *map, const char *key, bool *out);
int kube_get_strv(struct kube_mctx *c, const struct kube_node *map, const char *key,
                  const char ***out);
/* A map of strings (labels, data, selector). */
int kube_get_kvs(struct kube_mctx *c, const struct kube_node *map, const char *key,
                 struct kube_kv **out, size_t *n_out);
/* The sequence (or NULL when absent) at map[key]. */
int kube_get_seq(struct kube_mctx *c, const struct kube_node *map, const char *key,
                 const struct kube_node **out);
int kube_get_map(struct kube_mctx *c, const struct kube_node *map, const char *key,
                 const struct kube_node **out);

/* DNS-1123 label (pods, containers, ports) or subdomain (other objects). */
bool kube_name_ok(const char *s, bool subdomain);

/* Pod spec (model_pod.c) into p's containers, volumes and options. */
int kube_model_podspec(struct kube_mctx *c, const struct kube_node *spec, struct kube_pod *p);

/* Quantities: "128Mi", "1G", "1.5Gi", "134217728"; "500m", "0.5", "2". */
int kube_parse_memory(const char *s, int64_t *out);
int kube_parse_cpu(const char *s, double *out);

#endif
