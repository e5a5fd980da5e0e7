/* Shared by play, down and generate: the engine side of pods. Internal. */
#ifndef ISOLA_KUBE_KUBE_INT_H
#define ISOLA_KUBE_KUBE_INT_H

#include "engine/engine.h"
#include "kube/kube.h"

#define KUBE_INFRA_SUFFIX "-infra"

/* <root>/kube/pods/<pod>: ConfigMap, Secret and emptyDir contents of a pod. */
void kube_pod_dir(const struct eng_ctx *c, const char *pod, char *buf, size_t len);
/* rm -rf that does not follow symlinks; a missing path is fine. */
int kube_rmtree(const char *path, struct isola_err *err);

/* Removes a pod: the containers joined to <pod>-infra's network namespace,
 * those named <pod>-<name> for names (may be NULL), the infra container and
 * the pod's directory. *found tells whether anything was there. */
int kube_pod_remove(struct eng_ctx *c, const char *pod, const char *const *names, size_t n_names,
                    bool *found, struct isola_err *err);
/* Whether container `ct` (config cfg) belongs to the pod whose infra has id. */
bool kube_is_member(const struct eng_config *cfg, const char *infra_id, const char *infra_name);

#endif
