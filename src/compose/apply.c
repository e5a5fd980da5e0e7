/* The executor (see plan.h): runs a plan through the engine interface.
 * Before the first start of a service it waits for the depends_on
 * conditions of its dependencies (started, healthy, completed successfully),
 * polling the engine; a dependency that turns unhealthy or exits non-zero
 * fails the `up` naming it. What was started stays running (as Compose). */
#include "compose/plan.h"

#include <errno.h>
#include <string.h>

#define POLL_MS 100

static const char *const verbs[] = {
    [CMP_ACT_NETWORK] = "Network", [CMP_ACT_VOLUME] = "Volume",  [CMP_ACT_CREATE] = "Container",
    [CMP_ACT_START] = "Container", [CMP_ACT_STOP] = "Container", [CMP_ACT_REMOVE] = "Container",
    [CMP_ACT_KEEP] = "Container",  [CMP_ACT_NET_RM] = "Network", [CMP_ACT_VOL_RM] = "Volume",
    [CMP_ACT_IMAGE_RM] = "Image",
};
static const char *const done_words[] = {
    [CMP_ACT_NETWORK] = "Created",  [CMP_ACT_VOLUME] = "Created", [CMP_ACT_CREATE] = "Created",
    [CMP_ACT_START] = "Started",    [CMP_ACT_STOP] = "Stopped",   [CMP_ACT_REMOVE] = "Removed",
    [CMP_ACT_KEEP] = "Running",     [CMP_ACT_NET_RM] = "Removed", [CMP_ACT_VOL_RM] = "Removed",
    [CMP_ACT_IMAGE_RM] = "Removed",
};

struct run {
        const struct cmp_project *p;
        const struct cmp_plan *pl;
        const struct cmp_engine_ops *ops;
        void *ctx;
        const struct cmp_apply_opts *o;
        struct isola_err *err;
        bool wait_all; /* --wait: a container without a healthcheck is ready running */
};

static int timeout_ms(const struct run *r)
{
        return (r->o && r->o->timeout_s > 0 ? r->o->timeout_s : 300) * 1000;
}

/* Container names of a service: from the plan, else replica 1's name. */
static int dep_ready(struct run *r, const struct cmp_service *d, enum cmp_condition cond,
                     const char *name, bool *ready)
{
        struct cmp_ctr c;

        if (r->ops->inspect(r->ctx, name, &c, r->err) < 0)
                return err_prefix(r->err, "dependency %s", d->name);
        switch (cond) {
        case CMP_COND_STARTED:
                *ready = c.state == CMP_CTR_RUNNING || c.state == CMP_CTR_EXITED;
                return 0;
        case CMP_COND_HEALTHY:
                /* the engine says whether it has one (the image's counts) */
                if (c.state == CMP_CTR_RUNNING && c.health == CMP_HEALTH_NONE) {
                        if (r->wait_all) {
                                *ready = true;
                                return 0;
                        }
                        return err_set(r->err, EINVAL,
                                       "dependency %s (%s) is to be healthy, but has no "
                                       "healthcheck",
                                       d->name, name);
                }
                if (c.health == CMP_HEALTH_UNHEALTHY)
                        return err_set(r->err, EIO, "dependency %s (%s) is unhealthy", d->name,
                                       name);
                if (c.state == CMP_CTR_EXITED)
                        return err_set(r->err, EIO,
                                       "dependency %s (%s) exited with code %d before it was "
                                       "healthy",
                                       d->name, name, c.exit_code);
                *ready = c.health == CMP_HEALTH_HEALTHY;
                return 0;
        default:
                if (c.state == CMP_CTR_EXITED && c.exit_code != 0)
                        return err_set(r->err, EIO, "dependency %s (%s) exited with code %d",
                                       d->name, name, c.exit_code);
                *ready = c.state == CMP_CTR_EXITED;
                return 0;
        }
}

static int wait_one(struct run *r, const struct cmp_service *d, enum cmp_condition cond,
                    const char *name)
{
        static const char *const what[] = {"started", "healthy", "completed"};

        if (cond == CMP_COND_HEALTHY && d->healthcheck.disable && !r->wait_all)
                return err_set(r->err, EINVAL,
                               "service %s waits for %s to be healthy, but %s has no "
                               "healthcheck",
                               "a dependant", d->name, d->name);
        for (int waited = 0;; waited += POLL_MS) {
                bool ready = false;

                if (dep_ready(r, d, cond, name, &ready) < 0)
                        return -1;
                if (ready)
                        return 0;
                if (waited >= timeout_ms(r))
                        return err_set(r->err, ETIMEDOUT, "timed out waiting for %s to be %s", name,
                                       what[cond]);
                r->ops->sleep_ms(r->ctx, POLL_MS);
        }
}

/* Every replica of d in the plan (or replica 1 when the plan left it alone). */
static int wait_service(struct run *r, const struct cmp_service *d, enum cmp_condition cond)
{
        bool any = false;

        for (size_t i = 0; i < r->pl->n; i++) {
                const struct cmp_action *a = &r->pl->v[i];

                if (a->svc != d || (a->kind != CMP_ACT_START && a->kind != CMP_ACT_KEEP))
                        continue;
                any = true;
                if (wait_one(r, d, cond, a->name) < 0)
                        return -1;
        }
        if (!any && d->replicas != 0) {
                char name[CMP_CTR_NAME_MAX];

                cmp_ctr_name(r->p, d, 1, name);
                return wait_one(r, d, cond, name);
        }
        return 0;
}

static int wait_deps(struct run *r, const struct cmp_service *s)
{
        for (size_t i = 0; i < s->n_depends_on; i++) {
                const struct cmp_dep *dep = &s->depends_on[i];
                const struct cmp_service *d = cmp_service_find(r->p, dep->service);

                if (!d)
                        continue; /* optional and disabled */
                if (wait_service(r, d, dep->condition) < 0)
                        return err_prefix(r->err, "service %s", s->name);
        }
        return 0;
}

static int stop_timeout(const struct run *r, const struct cmp_action *a)
{
        if (r->o && r->o->stop_timeout_s >= 0)
                return r->o->stop_timeout_s;
        if (a->svc && a->svc->stop_grace_period_ms >= 0)
                return (int)((a->svc->stop_grace_period_ms + 999) / 1000);
        return 10;
}

static int one(struct run *r, const struct cmp_action *a, const struct cmp_service **started)
{
        const struct cmp_engine_ops *ops = r->ops;

        switch (a->kind) {
        case CMP_ACT_NETWORK:
                return ops->network_ensure(r->ctx, r->p, a->net, r->err);
        case CMP_ACT_VOLUME:
                return ops->volume_ensure(r->ctx, r->p, a->vol, r->err);
        case CMP_ACT_CREATE:
                return ops->create(r->ctx, r->p, a->svc, a->name, a->number, a->hash, r->err);
        case CMP_ACT_START:
                if (*started != a->svc) {
                        if (wait_deps(r, a->svc) < 0)
                                return -1;
                        *started = a->svc;
                }
                return ops->start(r->ctx, a->name, r->err);
        case CMP_ACT_STOP:
                return ops->stop(r->ctx, a->name, stop_timeout(r, a), r->err);
        case CMP_ACT_REMOVE:
                return ops->remove(r->ctx, a->name, false, r->err);
        case CMP_ACT_NET_RM:
                return ops->network_remove(r->ctx, a->name, r->err);
        case CMP_ACT_VOL_RM:
                return ops->volume_remove(r->ctx, a->name, r->err);
        case CMP_ACT_IMAGE_RM:
                return ops->image_remove(r->ctx, a->name, r->err);
        default:
                return 0;
        }
}

/* --wait: every service's containers running, healthy where declared. */
static int wait_all(struct run *r)
{
        r->wait_all = true;
        for (size_t i = 0; i < r->p->n_services; i++) {
                const struct cmp_service *s = &r->p->services[i];
                bool hc = !s->healthcheck.disable;

                for (size_t k = 0; k < r->pl->n; k++) {
                        const struct cmp_action *a = &r->pl->v[k];

                        if (a->svc != s || (a->kind != CMP_ACT_START && a->kind != CMP_ACT_KEEP))
                                continue;
                        if (wait_one(r, s, hc ? CMP_COND_HEALTHY : CMP_COND_STARTED, a->name) < 0)
                                return err_prefix(r->err, "--wait");
                }
        }
        return 0;
}

int cmp_apply(const struct cmp_project *p, const struct cmp_plan *pl,
              const struct cmp_engine_ops *ops, void *ctx, const struct cmp_apply_opts *o,
              struct isola_err *err)
{
        struct run r = {.p = p, .pl = pl, .ops = ops, .ctx = ctx, .o = o, .err = err};
        const struct cmp_service *started = NULL;

        for (size_t i = 0; i < pl->n; i++) {
                const struct cmp_action *a = &pl->v[i];
                int rc = one(&r, a, &started);

                if (rc < 0)
                        return err_prefix(err, "%s %s", verbs[a->kind], a->name);
                /* an existing network or volume is not news */
                if ((a->kind == CMP_ACT_NETWORK || a->kind == CMP_ACT_VOLUME) && rc == 0)
                        continue;
                if (o && o->progress && a->kind != CMP_ACT_CREATE)
                        fprintf(o->progress, " %s %s  %s\n", verbs[a->kind], a->name,
                                done_words[a->kind]);
        }
        if (o && o->wait)
                return wait_all(&r);
        return 0;
}
