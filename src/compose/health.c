/* Health of compose containers: the engine runs the checks (the
 * container's monitor, src/engine/health*.c) and records them; compose
 * only reads what was recorded, for depends_on service_healthy, up --wait
 * and ps. The service's healthcheck key becomes the container's engine
 * healthcheck (cmp_health_config). */
#include "compose/engine_ops.h"

#include <stdlib.h>
#include <string.h>

#include "engine/health.h"

int cmp_health_update(struct cmp_real *r, const char *id, enum cmp_health *out,
                      struct isola_err *err)
{
        struct eng_container *ct = NULL;
        struct eng_health h;

        *out = CMP_HEALTH_NONE;
        if (eng_get(&r->eng, id, &ct, err) < 0)
                return -1;
        if (eng_health_get(&r->eng, ct, &h, err) < 0) {
                eng_container_free(ct);
                return -1;
        }
        switch (h.status) {
        case ENG_HEALTH_STARTING:
                *out = CMP_HEALTH_STARTING;
                break;
        case ENG_HEALTH_HEALTHY:
                *out = CMP_HEALTH_HEALTHY;
                break;
        case ENG_HEALTH_UNHEALTHY:
                *out = CMP_HEALTH_UNHEALTHY;
                break;
        default:
                break;
        }
        eng_health_free(&h);
        eng_container_free(ct);
        return 0;
}

void cmp_health_config(const struct cmp_healthcheck *h, struct eng_config *cfg)
{
        struct eng_healthcheck *e = &cfg->health;

        if (!h->present)
                return; /* the image's, if any */
        if (h->disable) {
                e->test = calloc(2, sizeof(*e->test));
                if (e->test)
                        e->test[0] = strdup("NONE");
                return;
        }
        if (h->test.n) {
                e->test = calloc(h->test.n + 1, sizeof(*e->test));
                for (size_t i = 0; e->test && i < h->test.n; i++)
                        e->test[i] = strdup(h->test.v[i]);
        }
        e->interval = h->interval_ms * 1000000;
        e->timeout = h->timeout_ms * 1000000;
        e->start_period = h->start_period_ms * 1000000;
        e->start_interval = h->start_interval_ms * 1000000;
        e->retries = h->retries > 0 ? h->retries : 0;
}
