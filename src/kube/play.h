/* kube play internals: the plan (every engine config of every pod, built
 * before anything is created) and its helpers. Internal. */
#ifndef ISOLA_KUBE_PLAY_H
#define ISOLA_KUBE_PLAY_H

#include "kube/kube_int.h"

struct kube_play_ctx {
        struct eng_ctx eng;
        const struct kube_manifest *m;
        FILE *out;
};

struct kube_plan_pod {
        char name[ENG_NAME_MAX];
        const struct kube_pod *src;
        struct eng_config infra;
        struct eng_config *ctrs; /* src->n_ctrs */
        char **ports;            /* on the infra: hostPorts (replica 0) and Services */
        size_t n_ports;
};

void kube_vec_add(char ***v, size_t *n, char *s); /* takes s; NULL s is skipped */
char *kube_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

int kube_ctr_config(const struct kube_play_ctx *x, const struct kube_pod *p, const char *pod,
                    const struct kube_container *k, struct eng_config *cfg, struct isola_err *err);
int kube_infra_config(const struct kube_play_ctx *x, const struct kube_pod *p, const char *pod,
                      struct eng_config *cfg, struct isola_err *err);

/* Service ports onto the pods they select (play_ports.c). */
int kube_plan_ports(const struct kube_play_ctx *x, struct kube_plan_pod *pods, size_t n,
                    struct isola_err *err);
/* The pod's directory: ConfigMap and Secret files, emptyDir directories. */
int kube_pod_files(const struct kube_play_ctx *x, const struct kube_plan_pod *pp,
                   struct isola_err *err);

#endif
