/* The compose planner and executor. The planner compares the model with the
 * project's containers (as the engine reports them) and returns the actions
 * that converge them; the executor runs them through an engine interface,
 * waiting for depends_on conditions. Both are unit-tested with a fake engine.
 *
 * Idempotency: each container carries its service's config hash
 * (cmp_service_hash); an `up` leaves a running container with the same hash
 * alone, recreates one whose hash changed, starts a stopped one.
 * Failure midway: like Compose, what `up` already started is left running
 * (an `up` again converges; `down` removes it). */
#ifndef ISOLA_COMPOSE_PLAN_H
#define ISOLA_COMPOSE_PLAN_H

#include "compose/compose.h"

#define CMP_CTR_NAME_MAX 256

enum cmp_ctr_state { CMP_CTR_CREATED, CMP_CTR_RUNNING, CMP_CTR_EXITED };
enum cmp_health { CMP_HEALTH_NONE, CMP_HEALTH_STARTING, CMP_HEALTH_HEALTHY, CMP_HEALTH_UNHEALTHY };

/* A container of the project as the engine knows it. */
struct cmp_ctr {
        char name[CMP_CTR_NAME_MAX];
        char service[CMP_CTR_NAME_MAX];
        int number; /* replica number, from 1 */
        char hash[65];
        enum cmp_ctr_state state;
        int exit_code;
        enum cmp_health health;
};

/* What the executor needs from the engine (the real one, or a fake). */
struct cmp_engine_ops {
        /* Containers of the project; *out is malloc'ed (free()). */
        int (*list)(void *ctx, const char *project, struct cmp_ctr **out, size_t *n_out,
                    struct isola_err *err);
        int (*create)(void *ctx, const struct cmp_project *p, const struct cmp_service *s,
                      const char *name, int number, const char *hash, struct isola_err *err);
        int (*start)(void *ctx, const char *name, struct isola_err *err);
        int (*stop)(void *ctx, const char *name, int timeout_s, struct isola_err *err);
        int (*remove)(void *ctx, const char *name, bool volumes, struct isola_err *err);
        int (*inspect)(void *ctx, const char *name, struct cmp_ctr *out, struct isola_err *err);
        /* Creates the network/volume unless it exists (then 1; 0 when it
         * existed); external ones must exist. */
        int (*network_ensure)(void *ctx, const struct cmp_project *p, const struct cmp_network *n,
                              struct isola_err *err);
        int (*network_remove)(void *ctx, const char *name, struct isola_err *err);
        int (*volume_ensure)(void *ctx, const struct cmp_project *p, const struct cmp_volume *v,
                             struct isola_err *err);
        int (*volume_remove)(void *ctx, const char *name, struct isola_err *err);
        int (*image_remove)(void *ctx, const char *image, struct isola_err *err);
        void (*sleep_ms)(void *ctx, int ms);
};

enum cmp_act_kind {
        CMP_ACT_NETWORK, /* ensure a project network */
        CMP_ACT_VOLUME,  /* ensure a project volume */
        CMP_ACT_CREATE,  /* create container `name` */
        CMP_ACT_START,   /* start it (after its dependencies' conditions) */
        CMP_ACT_STOP,
        CMP_ACT_REMOVE,
        CMP_ACT_KEEP, /* up to date: nothing to do */
        CMP_ACT_NET_RM,
        CMP_ACT_VOL_RM,
        CMP_ACT_IMAGE_RM,
};

struct cmp_action {
        enum cmp_act_kind kind;
        const struct cmp_service *svc; /* NULL for networks, volumes, orphans */
        const struct cmp_network *net;
        const struct cmp_volume *vol;
        char name[CMP_CTR_NAME_MAX]; /* container, network, volume or image */
        int number;
        char hash[65];
        const char *why; /* "created", "config changed", "scaled down", ... */
};

struct cmp_plan {
        struct cmp_action *v;
        size_t n, cap;
};
void cmp_plan_free(struct cmp_plan *pl);

struct cmp_scale {
        const char *service;
        int replicas;
};

struct cmp_up_opts {
        const char *const *services; /* NULL/0 = all */
        size_t n_services;
        bool no_deps, force_recreate, no_recreate;
        const struct cmp_scale *scales; /* --scale SVC=N */
        size_t n_scales;
        bool remove_orphans;
};

/* Container name of a replica: container_name, or <project>-<service>-<n>. */
void cmp_ctr_name(const struct cmp_project *p, const struct cmp_service *s, int number,
                  char out[CMP_CTR_NAME_MAX]);
/* The image a service runs: image:, or <project>-<service> when only built. */
void cmp_service_image(const struct cmp_project *p, const struct cmp_service *s, char *out,
                       size_t len);

int cmp_plan_up(const struct cmp_project *p, const struct cmp_ctr *existing, size_t n_existing,
                const struct cmp_up_opts *o, struct cmp_plan *out, struct isola_err *err);

enum cmp_rmi { CMP_RMI_NONE, CMP_RMI_LOCAL, CMP_RMI_ALL };
struct cmp_down_opts {
        bool volumes;
        enum cmp_rmi rmi;
};
/* Every container of the project (orphans too), then the project's own
 * networks, with -v its own volumes, with --rmi its images. */
int cmp_plan_down(const struct cmp_project *p, const struct cmp_ctr *existing, size_t n_existing,
                  const struct cmp_down_opts *o, struct cmp_plan *out, struct isola_err *err);

struct cmp_apply_opts {
        int timeout_s;      /* for one dependency condition / --wait; 0 = 300 */
        bool wait;          /* --wait: every service running (healthy where declared) */
        int stop_timeout_s; /* -1 = the service's stop_grace_period */
        FILE *progress;     /* "Container x  Started" lines, may be NULL */
};

int cmp_apply(const struct cmp_project *p, const struct cmp_plan *pl,
              const struct cmp_engine_ops *ops, void *ctx, const struct cmp_apply_opts *o,
              struct isola_err *err);

#endif
