/* Healthcheck flags of create/run and the healthcheck verbs
 * (src/cli/healthcheck.c). */
#ifndef ISOLA_CLI_HEALTHCHECK_H
#define ISOLA_CLI_HEALTHCHECK_H

#include "engine/engine.h"

/* kind: 0 --health-cmd, 1 --health-interval, 2 --health-timeout,
 * 3 --health-retries, 4 --health-start-period, 5 --health-start-interval,
 * 6 --no-healthcheck. */
int cli_health_flag(struct eng_config *cfg, int kind, const char *arg, struct isola_err *err);

/* " (healthy)", " (health: starting)", " (unhealthy)" or "" for ps. */
void cli_health_suffix(struct eng_ctx *c, const struct eng_container *ct, char *buf, size_t len);

#endif
