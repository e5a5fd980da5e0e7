/* `isola compose` verbs share the loaded project and the engine handle. */
#ifndef ISOLA_CLI_COMPOSE_CLI_H
#define ISOLA_CLI_COMPOSE_CLI_H

#include "compose/engine_ops.h"

struct compose_cli {
        struct cmp_project *p;
        struct cmp_real r; /* opened by verbs that need the engine */
        bool engine_open;
        int lock_fd;
};

/* Opens the engine (once); prints the error. */
int compose_engine(struct compose_cli *c);
/* Project containers from the engine, sorted by service and number;
 * services (argv, may be empty) filters. */
int compose_list(struct compose_cli *c, char **services, int n_services, struct cmp_ctr **out,
                 size_t *n_out);
int compose_fail(const struct isola_err *err);
/* Serialises the verbs that change a project (two `up`s would race): an
 * exclusive flock on <runroot>/compose/<project>.lock, held until exit. */
int compose_lock(struct compose_cli *c);

int compose_up(struct compose_cli *c, int argc, char **argv);
int compose_down(struct compose_cli *c, int argc, char **argv);
int compose_start_stop(struct compose_cli *c, int argc, char **argv);
int compose_pull_build(struct compose_cli *c, int argc, char **argv);
int compose_ps(struct compose_cli *c, int argc, char **argv);
int compose_logs(struct compose_cli *c, int argc, char **argv);
int compose_top_images(struct compose_cli *c, int argc, char **argv);
int compose_exec(struct compose_cli *c, int argc, char **argv);
int compose_run(struct compose_cli *c, int argc, char **argv);

#endif
