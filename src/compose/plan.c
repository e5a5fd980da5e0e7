/* The planner (see plan.h): model + the project's containers → actions. */
#include "compose/plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void cmp_plan_free(struct cmp_plan *pl)
{
        free(pl->v);
        memset(pl, 0, sizeof(*pl));
}

static struct cmp_action *push(struct cmp_plan *pl, enum cmp_act_kind kind, const char *name,
                               const char *why)
{
        struct cmp_action *a;

        if (pl->n == pl->cap) {
                size_t cap = pl->cap ? pl->cap * 2 : 16;
                struct cmp_action *v = realloc(pl->v, cap * sizeof(*v));

                if (!v)
                        return NULL;
                pl->v = v;
                pl->cap = cap;
        }
        a = &pl->v[pl->n++];
        memset(a, 0, sizeof(*a));
        a->kind = kind;
        snprintf(a->name, sizeof(a->name), "%s", name);
        a->why = why;
        return a;
}

void cmp_ctr_name(const struct cmp_project *p, const struct cmp_service *s, int number,
                  char out[CMP_CTR_NAME_MAX])
{
        if (s->container_name)
                snprintf(out, CMP_CTR_NAME_MAX, "%s", s->container_name);
        else
                snprintf(out, CMP_CTR_NAME_MAX, "%s-%s-%d", p->name, s->name, number);
}

void cmp_service_image(const struct cmp_project *p, const struct cmp_service *s, char *out,
                       size_t len)
{
        if (s->image)
                snprintf(out, len, "%s", s->image);
        else
                snprintf(out, len, "%s-%s", p->name, s->name);
}

static int replicas_of(const struct cmp_service *s, const struct cmp_up_opts *o)
{
        for (size_t i = 0; o && i < o->n_scales; i++)
                if (!strcmp(o->scales[i].service, s->name))
                        return o->scales[i].replicas;
        return s->replicas >= 0 ? s->replicas : 1;
}

/* Marks the named services and (unless no_deps) what they depend on. */
static int select_services(const struct cmp_project *p, const struct cmp_up_opts *o, bool *sel,
                           struct isola_err *err)
{
        bool changed = true;

        if (!o || !o->n_services) {
                for (size_t i = 0; i < p->n_services; i++)
                        sel[i] = true;
                return 0;
        }
        for (size_t i = 0; i < o->n_services; i++) {
                const struct cmp_service *s = cmp_service_find(p, o->services[i]);

                if (!s)
                        return err_set(err, ENOENT, "no such service: %s", o->services[i]);
                sel[s - p->services] = true;
        }
        while (changed && !o->no_deps) {
                changed = false;
                for (size_t i = 0; i < p->n_services; i++) {
                        for (size_t d = 0; sel[i] && d < p->services[i].n_depends_on; d++) {
                                const struct cmp_service *t =
                                    cmp_service_find(p, p->services[i].depends_on[d].service);

                                if (t && !sel[t - p->services]) {
                                        sel[t - p->services] = true;
                                        changed = true;
                                }
                        }
                }
        }
        return 0;
}

static bool uses_network(const struct cmp_service *s, const char *key)
{
        for (size_t i = 0; i < s->n_networks; i++)
                if (!strcmp(s->networks[i].name, key))
                        return true;
        return false;
}

static bool uses_volume(const struct cmp_service *s, const char *key)
{
        for (size_t i = 0; i < s->n_volumes; i++)
                if (s->volumes[i].type == CMP_VOL_VOLUME && s->volumes[i].source &&
                    !strcmp(s->volumes[i].source, key))
                        return true;
        return false;
}

static int resources(const struct cmp_project *p, const bool *sel, struct cmp_plan *out)
{
        for (size_t i = 0; i < p->n_networks; i++) {
                bool used = false;

                for (size_t s = 0; s < p->n_services && !used; s++)
                        used = sel[s] && uses_network(&p->services[s], p->networks[i].key);
                if (used) {
                        struct cmp_action *a =
                            push(out, CMP_ACT_NETWORK, p->networks[i].name, "network");

                        if (!a)
                                return -1;
                        a->net = &p->networks[i];
                }
        }
        for (size_t i = 0; i < p->n_volumes; i++) {
                bool used = false;

                for (size_t s = 0; s < p->n_services && !used; s++)
                        used = sel[s] && uses_volume(&p->services[s], p->volumes[i].key);
                if (used) {
                        struct cmp_action *a =
                            push(out, CMP_ACT_VOLUME, p->volumes[i].name, "volume");

                        if (!a)
                                return -1;
                        a->vol = &p->volumes[i];
                }
        }
        return 0;
}

static const struct cmp_ctr *find_ctr(const struct cmp_ctr *ex, size_t n, const char *svc,
                                      int number)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(ex[i].service, svc) && ex[i].number == number)
                        return &ex[i];
        return NULL;
}

static struct cmp_action *ctr_act(struct cmp_plan *out, enum cmp_act_kind k,
                                  const struct cmp_service *s, const char *name, int number,
                                  const char *hash, const char *why)
{
        struct cmp_action *a = push(out, k, name, why);

        if (a) {
                a->svc = s;
                a->number = number;
                snprintf(a->hash, sizeof(a->hash), "%s", hash);
        }
        return a;
}

static int plan_service(const struct cmp_project *p, const struct cmp_service *s,
                        const struct cmp_ctr *ex, size_t n_ex, const struct cmp_up_opts *o,
                        struct cmp_plan *out, struct isola_err *err)
{
        int want = replicas_of(s, o);
        char hash[65], name[CMP_CTR_NAME_MAX];
        bool ok = true;

        if (cmp_service_hash(p, s, hash, err) < 0)
                return -1;
        for (int n = 1; n <= want && ok; n++) {
                const struct cmp_ctr *c = find_ctr(ex, n_ex, s->name, n);

                cmp_ctr_name(p, s, n, name);
                if (!c) {
                        ok = ctr_act(out, CMP_ACT_CREATE, s, name, n, hash, "created") &&
                             ctr_act(out, CMP_ACT_START, s, name, n, hash, "started");
                } else if ((o && o->force_recreate) ||
                           (strcmp(c->hash, hash) != 0 && !(o && o->no_recreate))) {
                        const char *why = strcmp(c->hash, hash) ? "config changed" : "forced";

                        ok = (c->state != CMP_CTR_RUNNING ||
                              ctr_act(out, CMP_ACT_STOP, s, c->name, n, hash, why)) &&
                             ctr_act(out, CMP_ACT_REMOVE, s, c->name, n, hash, why) &&
                             ctr_act(out, CMP_ACT_CREATE, s, name, n, hash, "recreated") &&
                             ctr_act(out, CMP_ACT_START, s, name, n, hash, "started");
                } else if (c->state != CMP_CTR_RUNNING) {
                        ok = ctr_act(out, CMP_ACT_START, s, c->name, n, hash, "started");
                } else {
                        ok = ctr_act(out, CMP_ACT_KEEP, s, c->name, n, hash, "running");
                }
        }
        /* replicas above the wanted count, highest first */
        for (size_t i = n_ex; ok && i-- > 0;) {
                if (strcmp(ex[i].service, s->name) != 0 || ex[i].number <= want)
                        continue;
                ok = (ex[i].state != CMP_CTR_RUNNING ||
                      ctr_act(out, CMP_ACT_STOP, s, ex[i].name, ex[i].number, hash,
                              "scaled down")) &&
                     ctr_act(out, CMP_ACT_REMOVE, s, ex[i].name, ex[i].number, hash, "scaled down");
        }
        return ok ? 0 : err_set(err, ENOMEM, "out of memory");
}

int cmp_plan_up(const struct cmp_project *p, const struct cmp_ctr *existing, size_t n_existing,
                const struct cmp_up_opts *o, struct cmp_plan *out, struct isola_err *err)
{
        bool *sel = calloc(p->n_services + 1, sizeof(*sel));
        size_t *order = calloc(p->n_services + 1, sizeof(*order));
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (!sel || !order) {
                err_set(err, ENOMEM, "out of memory");
                goto done;
        }
        if (select_services(p, o, sel, err) < 0 || cmp_project_order(p, order, err) < 0)
                goto done;
        if (resources(p, sel, out) < 0) {
                err_set(err, ENOMEM, "out of memory");
                goto done;
        }
        for (size_t i = 0; i < p->n_services; i++)
                if (sel[order[i]] &&
                    plan_service(p, &p->services[order[i]], existing, n_existing, o, out, err) < 0)
                        goto done;
        /* containers of services no longer in the model */
        for (size_t i = 0; o && o->remove_orphans && i < n_existing; i++) {
                if (cmp_service_find(p, existing[i].service))
                        continue;
                if ((existing[i].state == CMP_CTR_RUNNING &&
                     !push(out, CMP_ACT_STOP, existing[i].name, "orphan")) ||
                    !push(out, CMP_ACT_REMOVE, existing[i].name, "orphan")) {
                        err_set(err, ENOMEM, "out of memory");
                        goto done;
                }
        }
        rc = 0;
done:
        if (rc < 0)
                cmp_plan_free(out);
        free(sel);
        free(order);
        return rc;
}

static int down_images(const struct cmp_project *p, const struct cmp_down_opts *o,
                       struct cmp_plan *out)
{
        for (size_t i = 0; o->rmi != CMP_RMI_NONE && i < p->n_services; i++) {
                const struct cmp_service *s = &p->services[i];
                char img[CMP_CTR_NAME_MAX];
                bool dup = false;

                /* local: only images the project built without naming them */
                if (o->rmi == CMP_RMI_LOCAL && (s->image || !s->has_build))
                        continue;
                cmp_service_image(p, s, img, sizeof(img));
                for (size_t j = 0; j < out->n && !dup; j++)
                        dup = out->v[j].kind == CMP_ACT_IMAGE_RM && !strcmp(out->v[j].name, img);
                if (!dup && !push(out, CMP_ACT_IMAGE_RM, img, "image"))
                        return -1;
        }
        return 0;
}

int cmp_plan_down(const struct cmp_project *p, const struct cmp_ctr *existing, size_t n_existing,
                  const struct cmp_down_opts *o, struct cmp_plan *out, struct isola_err *err)
{
        size_t *order = calloc(p->n_services + 1, sizeof(*order));
        bool *done = calloc(n_existing + 1, sizeof(*done));
        bool ok = true;

        memset(out, 0, sizeof(*out));
        if (!order || !done) {
                free(order);
                free(done);
                return err_set(err, ENOMEM, "out of memory");
        }
        if (cmp_project_order(p, order, err) < 0) {
                free(order);
                free(done);
                return -1;
        }
        /* orphans first, then dependants before their dependencies */
        for (size_t k = 0; k <= p->n_services && ok; k++) {
                const char *svc = k == 0 ? NULL : p->services[order[p->n_services - k]].name;

                for (size_t i = 0; i < n_existing && ok; i++) {
                        const struct cmp_ctr *c = &existing[i];

                        if (done[i] || (svc ? strcmp(c->service, svc) != 0
                                            : cmp_service_find(p, c->service) != NULL))
                                continue;
                        size_t first = out->n;

                        done[i] = true;
                        ok = (c->state != CMP_CTR_RUNNING ||
                              push(out, CMP_ACT_STOP, c->name, "stopped")) &&
                             push(out, CMP_ACT_REMOVE, c->name, "removed");
                        for (size_t j = first; ok && svc && j < out->n; j++)
                                out->v[j].svc = cmp_service_find(p, svc);
                }
        }
        for (size_t i = 0; i < p->n_networks && ok; i++)
                if (!p->networks[i].external)
                        ok = push(out, CMP_ACT_NET_RM, p->networks[i].name, "removed") != NULL;
        for (size_t i = 0; o && o->volumes && i < p->n_volumes && ok; i++)
                if (!p->volumes[i].external)
                        ok = push(out, CMP_ACT_VOL_RM, p->volumes[i].name, "removed") != NULL;
        if (ok && o)
                ok = down_images(p, o, out) == 0;
        free(order);
        free(done);
        if (!ok) {
                cmp_plan_free(out);
                return err_set(err, ENOMEM, "out of memory");
        }
        return 0;
}
