/* The compose executor's engine interface (plan.h) on the real container
 * engine (src/engine), network component (src/net) and image store. */
#ifndef ISOLA_COMPOSE_ENGINE_OPS_H
#define ISOLA_COMPOSE_ENGINE_OPS_H

#include <stdio.h>

#include "compose/plan.h"
#include "engine/engine.h"
#include "net/net.h"

struct cmp_real {
        struct eng_ctx eng;
        struct net_ctx net;
        const struct cmp_project *p;
        const char *root; /* --root / ISOLA_ROOT as given (NULL = default) */
};

int cmp_real_open(const char *root, const struct cmp_project *p, struct cmp_real *out,
                  struct isola_err *err);
void cmp_real_close(struct cmp_real *r);

extern const struct cmp_engine_ops cmp_real_ops;

/* The container's health as the engine recorded it (health.c; the
 * engine runs the checks). */
int cmp_health_update(struct cmp_real *r, const char *id, enum cmp_health *out,
                      struct isola_err *err);
/* The service's healthcheck key into the container's config. */
void cmp_health_config(const struct cmp_healthcheck *h, struct eng_config *cfg);

/* A one-off container of a service (`compose run`): the service's
 * configuration with cmd (NULL: the service's) and extra KEY=VALUE env,
 * recorded as replica `number` (negative, so `up` leaves it and `down`
 * removes it). */
int cmp_real_create_oneoff(struct cmp_real *r, const struct cmp_service *s, const char *name,
                           char *const *cmd, char *const *env, int number,
                           char id_out[ENG_ID_LEN + 1], struct isola_err *err);

/* Images: present in the store? pull (image:) or build (build:) one. */
bool cmp_real_image_present(struct cmp_real *r, const char *image);
int cmp_real_pull(struct cmp_real *r, const char *image, FILE *progress, struct isola_err *err);
int cmp_real_build(struct cmp_real *r, const struct cmp_service *s, FILE *log,
                   struct isola_err *err);

#endif
