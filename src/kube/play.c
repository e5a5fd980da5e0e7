/* kube play: plan every pod (configs, ports, images) first, so a bad
 * reference or a missing image fails before anything exists; then per pod
 * its directory, the infra container and the containers joined to its
 * network namespace. A failure takes down what this run made (pods and the
 * claims' volumes it created), so nothing is left. */
#include "kube/play.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "image/registry.h"
#include "util/fs.h"

static void plan_free(struct kube_plan_pod *pods, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                eng_config_free(&pods[i].infra);
                for (size_t k = 0; pods[i].ctrs && k < pods[i].src->n_ctrs; k++)
                        eng_config_free(&pods[i].ctrs[k]);
                free(pods[i].ctrs);
                for (size_t k = 0; k < pods[i].n_ports; k++)
                        free(pods[i].ports[k]);
                free(pods[i].ports);
        }
        free(pods);
}

static int plan_pod(const struct kube_play_ctx *x, const struct kube_pod *p, int replica,
                    struct kube_plan_pod *pp, struct isola_err *err)
{
        pp->src = p;
        kube_pod_name(p, replica, pp->name, sizeof(pp->name));
        pp->ctrs = calloc(p->n_ctrs, sizeof(*pp->ctrs));
        if (!pp->ctrs)
                return err_set(err, ENOMEM, "out of memory");
        if (kube_infra_config(x, p, pp->name, &pp->infra, err) < 0)
                return -1;
        for (size_t k = 0; k < p->n_ctrs; k++) {
                if (kube_ctr_config(x, p, pp->name, &p->ctrs[k], &pp->ctrs[k], err) < 0)
                        return -1;
                if (strlen(pp->ctrs[k].name) >= ENG_NAME_MAX)
                        return err_set(err, ENAMETOOLONG,
                                       "container name '%s' is longer than %d characters",
                                       pp->ctrs[k].name, ENG_NAME_MAX - 1);
                pp->ctrs[k].network = strdup(p->host_network ? "host" : "container:");
                if (!pp->ctrs[k].network)
                        return err_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

static int plan(const struct kube_play_ctx *x, struct kube_plan_pod **out, size_t *n_out,
                struct isola_err *err)
{
        const struct kube_manifest *m = x->m;
        struct kube_plan_pod *pods;
        size_t n = 0, total = 0;

        for (size_t i = 0; i < m->n_pods; i++)
                total += (size_t)m->pods[i].replicas;
        pods = calloc(total + 1, sizeof(*pods));
        if (!pods)
                return err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < m->n_pods; i++)
                for (int r = 0; r < m->pods[i].replicas; r++) {
                        if (plan_pod(x, &m->pods[i], r, &pods[n++], err) < 0) {
                                err_prefix(err, "%s %s",
                                           m->pods[i].deployment ? "Deployment" : "Pod",
                                           m->pods[i].name);
                                goto fail;
                        }
                }
        if (kube_plan_ports(x, pods, n, err) < 0)
                goto fail;
        *out = pods;
        *n_out = n;
        return 0;
fail:
        plan_free(pods, n);
        return -1;
}

/* Images are pulled before anything is created, as podman does. */
static int images(const struct kube_play_ctx *x, struct isola_err *err)
{
        struct img_store s;

        img_store_init(&s, &x->eng.paths, x->eng.db);
        for (size_t i = 0; i < x->m->n_pods; i++)
                for (size_t k = 0; k < x->m->pods[i].n_ctrs; k++) {
                        const char *ref = x->m->pods[i].ctrs[k].image;
                        struct reg_opts o = {.root = x->eng.paths.root};
                        struct img_image *img = NULL;
                        struct isola_err ignore = {0};
                        char id[IMG_DIGEST_MAX];

                        if (img_lookup(&s, ref, &img, &ignore) == 0) {
                                img_image_free(img);
                                continue;
                        }
                        fprintf(x->out, "Pulling %s\n", ref);
                        if (reg_pull(&s, ref, &o, id, err) < 0)
                                return err_prefix(err, "pod %s: container '%s': image '%s'",
                                                  x->m->pods[i].name, x->m->pods[i].ctrs[k].name,
                                                  ref);
                }
        return 0;
}

static bool exists(struct eng_ctx *c, const char *name)
{
        char id[ENG_ID_LEN + 1];
        struct isola_err ignore = {0};

        return eng_resolve(c, name, id, &ignore) == 0;
}

/* A pod of the same name is replaced (--replace) or an error. */
static int existing(struct kube_play_ctx *x, const struct kube_plan_pod *pods, size_t n,
                    bool replace, struct isola_err *err)
{
        for (size_t i = 0; i < n; i++) {
                const struct kube_pod *p = pods[i].src;
                bool there = exists(&x->eng, pods[i].infra.name), found;
                const char **names = calloc(p->n_ctrs + 1, sizeof(*names));

                for (size_t k = 0; !there && k < p->n_ctrs; k++)
                        there = exists(&x->eng, pods[i].ctrs[k].name);
                if (!there) {
                        free(names);
                        continue;
                }
                if (!replace) {
                        free(names);
                        return err_set(err, EEXIST,
                                       "pod %s already exists (kube down FILE, or play --replace)",
                                       pods[i].name);
                }
                for (size_t k = 0; names && k < p->n_ctrs; k++)
                        names[k] = p->ctrs[k].name;
                int rc = names
                             ? kube_pod_remove(&x->eng, pods[i].name, names, p->n_ctrs, &found, err)
                             : err_set(err, ENOMEM, "out of memory");
                free(names);
                if (rc < 0)
                        return -1;
        }
        return 0;
}

static int infra_root(const struct kube_play_ctx *x, struct isola_err *err)
{
        static const char *const dirs[] = {"proc", "sys", "dev", "etc", "tmp", "run"};
        char path[4096];

        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                snprintf(path, sizeof(path), "%s/kube/infra/%s", x->eng.paths.root, dirs[i]);
                if (fs_mkdir_p(path, 0755, err) < 0)
                        return -1;
        }
        snprintf(path, sizeof(path), "%s/kube/infra/pause", x->eng.paths.root);
        if (access(path, F_OK) < 0 && fs_write_file(path, "", 0, O_CREAT, 0755, err) < 0)
                return -1;
        return 0;
}

static int create_start(struct kube_play_ctx *x, const struct eng_config *cfg,
                        char id[ENG_ID_LEN + 1], struct isola_err *err)
{
        if (eng_create(&x->eng, cfg, id, err) < 0)
                return -1;
        if (eng_start(&x->eng, id, &(struct eng_start_opts){0}, err) < 0)
                return err_prefix(err, "start %s", cfg->name);
        return 0;
}

static int run_pod(struct kube_play_ctx *x, struct kube_plan_pod *pp, struct isola_err *err)
{
        char infra[ENG_ID_LEN + 1], id[ENG_ID_LEN + 1];

        if (kube_pod_files(x, pp, err) < 0)
                return -1;
        pp->infra.ports = pp->ports; /* lent: plan_free frees them */
        int rc = create_start(x, &pp->infra, infra, err);

        pp->infra.ports = NULL;
        if (rc < 0)
                return -1;
        fprintf(x->out, "Pod %s\n", pp->name);
        for (size_t k = 0; k < pp->src->n_ctrs; k++) {
                struct eng_config *cfg = &pp->ctrs[k];

                if (!strcmp(cfg->network, "container:")) {
                        char *net = kube_fmt("container:%s", infra);

                        if (!net)
                                return err_set(err, ENOMEM, "out of memory");
                        free(cfg->network);
                        cfg->network = net;
                }
                if (create_start(x, cfg, id, err) < 0)
                        return err_prefix(err, "container '%s'", pp->src->ctrs[k].name);
                fprintf(x->out, "  Container %s %.12s\n", cfg->name, id);
        }
        return 0;
}

/* Claims become named volumes; the ones made here are listed in made. */
static int claims(struct kube_play_ctx *x, char ***made, size_t *n_made, struct isola_err *err)
{
        for (size_t i = 0; i < x->m->n_claims; i++) {
                struct eng_volume v = {0};
                struct isola_err ignore = {0};

                if (eng_volume_get(&x->eng, x->m->claims[i], &v, &ignore) == 0)
                        continue;
                if (eng_volume_create(&x->eng, x->m->claims[i], false, &v, err) < 0)
                        return err_prefix(err, "PersistentVolumeClaim %s", x->m->claims[i]);
                kube_vec_add(made, n_made, strdup(x->m->claims[i]));
                fprintf(x->out, "Volume %s\n", x->m->claims[i]);
        }
        return 0;
}

static void rollback(struct kube_play_ctx *x, struct kube_plan_pod *pods, size_t n, char **vols,
                     size_t n_vols)
{
        for (size_t i = 0; i < n; i++) {
                struct isola_err ignore = {0};
                const char *names[1] = {NULL};
                bool found;

                kube_pod_remove(&x->eng, pods[i].name, names, 0, &found, &ignore);
        }
        for (size_t i = 0; i < n_vols; i++) {
                struct isola_err ignore = {0};

                eng_volume_remove(&x->eng, vols[i], true, &ignore);
        }
}

int kube_play(const char *root, const struct kube_manifest *m, const struct kube_play_opts *o,
              FILE *out, struct isola_err *err)
{
        struct kube_play_ctx x = {.m = m, .out = out};
        struct kube_plan_pod *pods = NULL;
        char **vols = NULL;
        size_t n = 0, n_vols = 0, done = 0;
        int rc = -1;

        if (eng_open(root, &x.eng, err) < 0)
                return -1;
        if (plan(&x, &pods, &n, err) < 0 || images(&x, err) < 0 ||
            existing(&x, pods, n, o && o->replace, err) < 0 || (n && infra_root(&x, err) < 0))
                goto out;
        if (claims(&x, &vols, &n_vols, err) < 0)
                goto undo;
        for (done = 0; done < n; done++)
                if (run_pod(&x, &pods[done], err) < 0) {
                        err_prefix(err, "pod %s", pods[done].name);
                        done++;
                        goto undo;
                }
        rc = 0;
        goto out;
undo:
        rollback(&x, pods, done, vols, n_vols);
out:
        for (size_t i = 0; i < n_vols; i++)
                free(vols[i]);
        free(vols);
        plan_free(pods, n);
        eng_close(&x.eng);
        return rc;
}
