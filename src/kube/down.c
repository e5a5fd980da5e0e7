/* kube down (and play's --replace and rollback): a pod is found by its
 * infra container <pod>-infra; its members are the containers joined to the
 * infra's network namespace (container:<id or name>) plus, for host-network
 * pods and half-made pods, the container names the manifest gives. Claims'
 * volumes go too unless kept. */
#define _XOPEN_SOURCE 700
#include "kube/kube_int.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void kube_pod_dir(const struct eng_ctx *c, const char *pod, char *buf, size_t len)
{
        snprintf(buf, len, "%s/kube/pods/%s", c->paths.root, pod);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
        (void)sb;
        (void)ftw;
        return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int kube_rmtree(const char *path, struct isola_err *err)
{
        if (access(path, F_OK) < 0 && errno == ENOENT)
                return 0;
        if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
                return err_sys(err, "remove %s", path);
        return 0;
}

bool kube_is_member(const struct eng_config *cfg, const char *infra_id, const char *infra_name)
{
        const char *ref;

        if (!cfg->network || strncmp(cfg->network, "container:", 10) != 0)
                return false;
        ref = cfg->network + 10;
        return !strcmp(ref, infra_name) ||
               (strlen(ref) >= 12 && !strncmp(infra_id, ref, strlen(ref)));
}

static int rm_ctr(struct eng_ctx *c, const char *ref, bool *found, struct isola_err *err)
{
        char id[ENG_ID_LEN + 1];
        struct isola_err ignore = {0};

        if (eng_resolve(c, ref, id, &ignore) < 0)
                return 0;
        *found = true;
        return eng_remove(c, id, true, true, err);
}

int kube_pod_remove(struct eng_ctx *c, const char *pod, const char *const *names, size_t n_names,
                    bool *found, struct isola_err *err)
{
        struct eng_container **l = NULL;
        char infra[ENG_NAME_MAX + 8], infra_id[ENG_ID_LEN + 1] = "", buf[ENG_NAME_MAX * 2];
        struct isola_err ignore = {0};
        size_t n = 0;
        int rc = 0;

        *found = false;
        snprintf(infra, sizeof(infra), "%s%s", pod, KUBE_INFRA_SUFFIX);
        if (eng_resolve(c, infra, infra_id, &ignore) == 0 && eng_list(c, &l, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n && rc == 0; i++) {
                struct eng_config cfg = {0};

                if (eng_container_config(l[i], &cfg, &ignore) < 0)
                        continue;
                if (kube_is_member(&cfg, infra_id, infra))
                        rc = rm_ctr(c, l[i]->id, found, err);
                eng_config_free(&cfg);
        }
        eng_container_list_free(l, n);
        for (size_t i = 0; i < n_names && rc == 0; i++) {
                snprintf(buf, sizeof(buf), "%s-%s", pod, names[i]);
                rc = rm_ctr(c, buf, found, err);
        }
        if (rc == 0)
                rc = rm_ctr(c, infra, found, err);
        if (rc == 0) {
                kube_pod_dir(c, pod, buf, sizeof(buf));
                if (access(buf, F_OK) == 0)
                        *found = true;
                rc = kube_rmtree(buf, err);
        }
        return rc < 0 ? err_prefix(err, "pod %s", pod) : 0;
}

static int down_pod(struct eng_ctx *c, const struct kube_pod *p, FILE *out, struct isola_err *err)
{
        const char **names = calloc(p->n_ctrs + 1, sizeof(*names));
        char pod[ENG_NAME_MAX];
        int rc = 0;

        if (!names)
                return err_set(err, ENOMEM, "out of memory");
        for (size_t k = 0; k < p->n_ctrs; k++)
                names[k] = p->ctrs[k].name;
        /* a Deployment may have been played with more replicas than it has now */
        int last = p->deployment ? KUBE_REPLICAS_MAX : 1;

        for (int r = 0; r < last && rc == 0; r++) {
                bool found = false;

                kube_pod_name(p, r, pod, sizeof(pod));
                rc = kube_pod_remove(c, pod, names, p->n_ctrs, &found, err);
                if (rc == 0 && found)
                        fprintf(out, "Pod %s removed\n", pod);
        }
        free(names);
        return rc;
}

int kube_down(const char *root, const struct kube_manifest *m, bool keep_volumes, FILE *out,
              struct isola_err *err)
{
        struct eng_ctx c;
        int rc = 0;

        if (eng_open(root, &c, err) < 0)
                return -1;
        for (size_t i = 0; i < m->n_pods && rc == 0; i++)
                rc = down_pod(&c, &m->pods[i], out, err);
        for (size_t i = 0; i < m->n_claims && rc == 0 && !keep_volumes; i++) {
                struct eng_volume v = {0};
                struct isola_err ignore = {0};

                if (eng_volume_get(&c, m->claims[i], &v, &ignore) < 0)
                        continue;
                rc = eng_volume_remove(&c, m->claims[i], false, err);
                if (rc == 0)
                        fprintf(out, "Volume %s removed\n", m->claims[i]);
        }
        eng_close(&c);
        return rc;
}
