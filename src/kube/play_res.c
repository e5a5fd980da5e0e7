/* Resources of a planned pod: the ports its infra container publishes
 * (containers' hostPorts and the Services that select it) and the files of
 * its directory (ConfigMap and Secret volumes, emptyDir). */
#include "kube/play.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/fs.h"

/* Adds HOST:CTR/PROTO unless the host port is taken: same target is fine
 * (a Service over a hostPort), another is an error. */
static int port_add(struct kube_plan_pod *pp, int host, int ctr, const char *proto,
                    struct isola_err *err)
{
        char want[64], prefix[32];

        snprintf(want, sizeof(want), "%d:%d/%s", host, ctr, proto);
        snprintf(prefix, sizeof(prefix), "%d:", host);
        for (size_t i = 0; i < pp->n_ports; i++) {
                const char *slash = strrchr(pp->ports[i], '/');

                if (strncmp(pp->ports[i], prefix, strlen(prefix)) != 0 ||
                    strcmp(slash + 1, proto) != 0)
                        continue;
                if (!strcmp(pp->ports[i], want))
                        return 0;
                return err_set(err, EEXIST, "pod '%s': host port %d/%s is published twice",
                               pp->name, host, proto);
        }
        kube_vec_add(&pp->ports, &pp->n_ports, strdup(want));
        return 0;
}

static bool selects(const struct kube_service *s, const struct kube_pod *p)
{
        if (!s->n_selector)
                return false;
        for (size_t i = 0; i < s->n_selector; i++) {
                bool hit = false;

                for (size_t j = 0; j < p->n_labels && !hit; j++)
                        hit = !strcmp(p->labels[j].key, s->selector[i].key) &&
                              !strcmp(p->labels[j].val, s->selector[i].val);
                if (!hit)
                        return false;
        }
        return true;
}

static int target_of(const struct kube_pod *p, const struct kube_svc_port *sp)
{
        if (!sp->target_name)
                return sp->target_port;
        for (size_t i = 0; i < p->n_ctrs; i++)
                for (size_t j = 0; j < p->ctrs[i].n_ports; j++)
                        if (p->ctrs[i].ports[j].name &&
                            !strcmp(p->ctrs[i].ports[j].name, sp->target_name))
                                return p->ctrs[i].ports[j].container_port;
        return 0;
}

static int service(const struct kube_play_ctx *x, const struct kube_service *s,
                   struct kube_plan_pod *pods, size_t n, struct isola_err *err)
{
        struct kube_plan_pod *first = NULL;

        for (size_t i = 0; i < n; i++) {
                if (!selects(s, pods[i].src))
                        continue;
                if (first) {
                        fprintf(x->out,
                                "warning: Service %s: ports published on pod %s only, "
                                "not on %s\n",
                                s->name, first->name, pods[i].name);
                        continue;
                }
                first = &pods[i];
        }
        if (!first) {
                fprintf(x->out, "warning: Service %s selects no pod of the file\n", s->name);
                return 0;
        }
        for (size_t i = 0; i < s->n_ports; i++) {
                const struct kube_svc_port *sp = &s->ports[i];
                int target = target_of(first->src, sp);

                if (!target)
                        return err_set(err, ENOENT,
                                       "Service %s: targetPort '%s' is no container port of "
                                       "pod %s",
                                       s->name, sp->target_name, first->name);
                if (port_add(first, sp->node_port ? sp->node_port : sp->port, target, sp->proto,
                             err) < 0)
                        return err_prefix(err, "Service %s", s->name);
        }
        return 0;
}

int kube_plan_ports(const struct kube_play_ctx *x, struct kube_plan_pod *pods, size_t n,
                    struct isola_err *err)
{
        for (size_t i = 0; i < n; i++) {
                const struct kube_pod *p = pods[i].src;
                bool first = i == 0 || pods[i - 1].src != p;

                for (size_t c = 0; c < p->n_ctrs; c++)
                        for (size_t k = 0; k < p->ctrs[c].n_ports; k++) {
                                const struct kube_port *pt = &p->ctrs[c].ports[k];

                                if (!pt->host_port)
                                        continue;
                                if (!first) {
                                        fprintf(x->out,
                                                "warning: pod %s: hostPort %d is published by "
                                                "the first replica only\n",
                                                pods[i].name, pt->host_port);
                                        continue;
                                }
                                if (port_add(&pods[i], pt->host_port, pt->container_port, pt->proto,
                                             err) < 0)
                                        return -1;
                        }
        }
        for (size_t i = 0; i < x->m->n_services; i++)
                if (service(x, &x->m->services[i], pods, n, err) < 0)
                        return -1;
        return 0;
}

static int write_item(const char *dir, const char *name, const char *val, struct isola_err *err)
{
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return fs_write_file(path, val, strlen(val), O_CREAT | O_TRUNC | O_NOFOLLOW, 0644, err);
}

static int data_files(const struct kube_manifest *m, const struct kube_volume *v, const char *dir,
                      struct isola_err *err)
{
        const struct kube_data *d = kube_data_find(m, v->source, v->type == KUBE_VOL_SECRET);

        if (!d)
                return 0; /* optional and absent: an empty directory */
        if (!v->n_items) {
                for (size_t i = 0; i < d->n_items; i++)
                        if (write_item(dir, d->items[i].key, d->items[i].val, err) < 0)
                                return -1;
                return 0;
        }
        for (size_t i = 0; i < v->n_items; i++) {
                const char *val = NULL;

                for (size_t j = 0; j < d->n_items && !val; j++)
                        if (!strcmp(d->items[j].key, v->items[i].key))
                                val = d->items[j].val;
                if (!val && !v->optional)
                        return err_set(err, ENOENT, "%s '%s' has no key '%s'",
                                       d->secret ? "Secret" : "ConfigMap", d->name,
                                       v->items[i].key);
                if (val && write_item(dir, v->items[i].val, val, err) < 0)
                        return -1;
        }
        return 0;
}

int kube_pod_files(const struct kube_play_ctx *x, const struct kube_plan_pod *pp,
                   struct isola_err *err)
{
        const struct kube_pod *p = pp->src;
        char dir[4096], vdir[4200];

        kube_pod_dir(&x->eng, pp->name, dir, sizeof(dir));
        if (fs_mkdir_p(dir, 0755, err) < 0)
                return -1;
        for (size_t i = 0; i < p->n_vols; i++) {
                const struct kube_volume *v = &p->vols[i];

                if (v->type != KUBE_VOL_EMPTYDIR && v->type != KUBE_VOL_CONFIGMAP &&
                    v->type != KUBE_VOL_SECRET)
                        continue;
                snprintf(vdir, sizeof(vdir), "%s/%s", dir, v->name);
                if (mkdir(vdir, 0755) < 0 && errno != EEXIST)
                        return err_sys(err, "volume '%s': mkdir %s", v->name, vdir);
                if (v->type == KUBE_VOL_EMPTYDIR) {
                        if (chmod(vdir, 0777) < 0) /* as in Kubernetes: any user of the pod */
                                return err_sys(err, "volume '%s': chmod", v->name);
                } else if (data_files(x->m, v, vdir, err) < 0) {
                        return err_prefix(err, "volume '%s'", v->name);
                }
        }
        return 0;
}
