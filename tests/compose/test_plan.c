/* Unit tests of the compose planner and executor against a fake engine:
 * dependency order, idempotent up, recreation of changed services, scale,
 * depends_on conditions, down, and what a failing up leaves behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/plan.h"
#include "mem_files.h"
#include "tap.h"

#define MAXC 32

/* The fake engine: containers in an array, a log of calls. Health and exit
 * of a container turn to the scripted value after `ready_after` inspects. */
struct fake {
        struct cmp_ctr c[MAXC];
        int inspects[MAXC];
        size_t n;
        char log[8192];
        const char *fail_start; /* start of this container fails */
        const char *unhealthy;  /* this container turns unhealthy */
        const char *no_health;  /* this container has no healthcheck */
        int ready_after;
        int exit_code; /* for service_completed_successfully */
        long slept_ms;
};

static void logf_(struct fake *f, const char *what, const char *name)
{
        size_t used = strlen(f->log);

        snprintf(f->log + used, sizeof(f->log) - used, "%s%s %s", used ? "," : "", what, name);
}

static struct cmp_ctr *fake_find(struct fake *f, const char *name)
{
        for (size_t i = 0; i < f->n; i++)
                if (!strcmp(f->c[i].name, name))
                        return &f->c[i];
        return NULL;
}

static int f_list(void *ctx, const char *project, struct cmp_ctr **out, size_t *n,
                  struct isola_err *err)
{
        struct fake *f = ctx;

        (void)project;
        (void)err;
        *out = malloc((f->n + 1) * sizeof(**out));
        memcpy(*out, f->c, f->n * sizeof(**out));
        *n = f->n;
        return 0;
}

static int f_create(void *ctx, const struct cmp_project *p, const struct cmp_service *s,
                    const char *name, int number, const char *hash, struct isola_err *err)
{
        struct fake *f = ctx;
        struct cmp_ctr *c = &f->c[f->n];

        (void)p;
        (void)err;
        f->inspects[f->n++] = 0;
        memset(c, 0, sizeof(*c));
        snprintf(c->name, sizeof(c->name), "%s", name);
        snprintf(c->service, sizeof(c->service), "%s", s->name);
        snprintf(c->hash, sizeof(c->hash), "%s", hash);
        c->number = number;
        c->state = CMP_CTR_CREATED;
        logf_(f, "create", name);
        return 0;
}

static int f_start(void *ctx, const char *name, struct isola_err *err)
{
        struct fake *f = ctx;

        if (f->fail_start && !strcmp(name, f->fail_start))
                return err_set(err, EIO, "bind: address already in use");
        fake_find(f, name)->state = CMP_CTR_RUNNING;
        logf_(f, "start", name);
        return 0;
}

static int f_stop(void *ctx, const char *name, int t, struct isola_err *err)
{
        struct fake *f = ctx;

        (void)t;
        (void)err;
        fake_find(f, name)->state = CMP_CTR_EXITED;
        logf_(f, "stop", name);
        return 0;
}

static int f_remove(void *ctx, const char *name, bool v, struct isola_err *err)
{
        struct fake *f = ctx;
        struct cmp_ctr *c = fake_find(f, name);
        size_t i = (size_t)(c - f->c);

        (void)v;
        (void)err;
        memmove(&f->c[i], &f->c[i + 1], (f->n - i - 1) * sizeof(*c));
        memmove(&f->inspects[i], &f->inspects[i + 1], (f->n - i - 1) * sizeof(int));
        f->n--;
        logf_(f, "rm", name);
        return 0;
}

static int f_inspect(void *ctx, const char *name, struct cmp_ctr *out, struct isola_err *err)
{
        struct fake *f = ctx;
        struct cmp_ctr *c = fake_find(f, name);

        if (!c)
                return err_set(err, ENOENT, "no such container %s", name);
        if (f->no_health && !strcmp(f->no_health, name)) {
                c->health = CMP_HEALTH_NONE;
        } else if (++f->inspects[c - f->c] > f->ready_after) {
                bool bad = f->unhealthy && !strcmp(f->unhealthy, name);

                c->health = bad ? CMP_HEALTH_UNHEALTHY : CMP_HEALTH_HEALTHY;
                if (strstr(name, "-init-")) {
                        c->state = CMP_CTR_EXITED;
                        c->exit_code = f->exit_code;
                }
        } else {
                c->health = CMP_HEALTH_STARTING;
        }
        *out = *c;
        return 0;
}

static int f_net(void *ctx, const struct cmp_project *p, const struct cmp_network *n,
                 struct isola_err *err)
{
        (void)p;
        (void)err;
        logf_(ctx, "net", n->name);
        return 1;
}

static int f_vol(void *ctx, const struct cmp_project *p, const struct cmp_volume *v,
                 struct isola_err *err)
{
        (void)p;
        (void)err;
        logf_(ctx, "vol", v->name);
        return 1;
}

static int f_rm_named(void *ctx, const char *name, struct isola_err *err)
{
        (void)err;
        logf_(ctx, "rmres", name);
        return 0;
}

static void f_sleep(void *ctx, int ms)
{
        ((struct fake *)ctx)->slept_ms += ms;
}

static const struct cmp_engine_ops ops = {
    .list = f_list,
    .create = f_create,
    .start = f_start,
    .stop = f_stop,
    .remove = f_remove,
    .inspect = f_inspect,
    .network_ensure = f_net,
    .network_remove = f_rm_named,
    .volume_ensure = f_vol,
    .volume_remove = f_rm_named,
    .image_remove = f_rm_named,
    .sleep_ms = f_sleep,
};

static struct cmp_project *load(const char *yaml)
{
        const struct mem_file files[] = {{"/t/compose.yaml", yaml, 0}, {NULL, NULL, 0}};
        char *env[] = {NULL};
        struct cmp_load_opts o = {
            .environ = env, .cwd = "/t", .read = mem_read, .read_ctx = (void *)files};
        struct cmp_project *p = NULL;
        struct isola_err err = {0};

        if (cmp_project_load(&o, &p, &err) < 0)
                printf("# load: %s\n", err.msg);
        return p;
}

/* up: plan against the fake's containers, then apply; returns apply's rc. */
static int up(struct cmp_project *p, struct fake *f, const struct cmp_up_opts *o,
              struct isola_err *err)
{
        struct cmp_plan pl;
        struct cmp_ctr *ex;
        size_t n;
        struct cmp_apply_opts ao = {.timeout_s = 5, .stop_timeout_s = -1};
        int rc;

        f->log[0] = '\0';
        f_list(f, p->name, &ex, &n, err);
        rc = cmp_plan_up(p, ex, n, o, &pl, err);
        free(ex);
        if (rc == 0)
                rc = cmp_apply(p, &pl, &ops, f, &ao, err);
        cmp_plan_free(&pl);
        return rc;
}

static int down(struct cmp_project *p, struct fake *f, const struct cmp_down_opts *o,
                struct isola_err *err)
{
        struct cmp_plan pl;
        struct cmp_ctr *ex;
        size_t n;
        struct cmp_apply_opts ao = {.stop_timeout_s = -1};
        int rc;

        f->log[0] = '\0';
        f_list(f, p->name, &ex, &n, err);
        rc = cmp_plan_down(p, ex, n, o, &pl, err);
        free(ex);
        if (rc == 0)
                rc = cmp_apply(p, &pl, &ops, f, &ao, err);
        cmp_plan_free(&pl);
        return rc;
}

static const char *app = "name: t\n"
                         "services:\n"
                         "  web:\n"
                         "    image: busybox\n"
                         "    depends_on: {api: {condition: service_started}}\n"
                         "  api:\n"
                         "    image: busybox\n"
                         "    depends_on:\n"
                         "      db: {condition: service_healthy}\n"
                         "      init: {condition: service_completed_successfully}\n"
                         "    volumes: [data:/d]\n"
                         "  db:\n"
                         "    image: busybox\n"
                         "    healthcheck: {test: [CMD, 'true']}\n"
                         "  init:\n"
                         "    image: busybox\n"
                         "volumes: {data: {}, ext: {external: true}}\n";

static void test_up_idempotent(void)
{
        struct cmp_project *p = load(app);
        struct fake f = {.ready_after = 3};
        struct isola_err err = {0};

        if (!p)
                return tap_ok(0, "app loads");
        TAP_EQ_INT(up(p, &f, NULL, &err), 0, "first up succeeds");
        TAP_EQ_STR(f.log,
                   "net t_default,vol t_data,create t-db-1,start t-db-1,create t-init-1,"
                   "start t-init-1,create t-api-1,start t-api-1,create t-web-1,start t-web-1",
                   "dependencies first, each started after its conditions");
        tap_ok(f.slept_ms > 0, "api waited for db healthy and init completed");
        TAP_EQ_INT(up(p, &f, NULL, &err), 0, "second up succeeds");
        /* as Compose: running containers are left alone, an exited one-shot is run again */
        TAP_EQ_STR(f.log, "net t_default,vol t_data,start t-init-1",
                   "second up leaves every running container alone");
        cmp_project_free(p);

        /* api's config changes: only api is recreated */
        char *changed = strdup(app);
        memcpy(strstr(changed, "data:/d"), "data:/e", 7);
        p = load(changed);
        free(changed);
        TAP_EQ_INT(up(p, &f, NULL, &err), 0, "up after a change succeeds");
        TAP_EQ_STR(f.log,
                   "net t_default,vol t_data,stop t-api-1,rm t-api-1,create t-api-1,"
                   "start t-api-1",
                   "only the changed service is recreated");
        /* a stopped container is started again, not recreated */
        f_stop(&f, "t-web-1", 0, &err);
        up(p, &f, NULL, &err);
        TAP_EQ_STR(f.log, "net t_default,vol t_data,start t-init-1,start t-web-1",
                   "stopped container started, not recreated");
        struct cmp_up_opts force = {
            .force_recreate = true, .services = (const char *[]){"db"}, .n_services = 1};
        up(p, &f, &force, &err);
        TAP_EQ_STR(f.log, "net t_default,stop t-db-1,rm t-db-1,create t-db-1,start t-db-1",
                   "--force-recreate of one service (no dependencies)");

        struct cmp_down_opts dn = {.volumes = true, .rmi = CMP_RMI_ALL};
        TAP_EQ_INT(down(p, &f, &dn, &err), 0, "down succeeds");
        TAP_EQ_STR(f.log,
                   "stop t-web-1,rm t-web-1,stop t-api-1,rm t-api-1,stop t-init-1,rm t-init-1,"
                   "stop t-db-1,rm t-db-1,rmres t_default,rmres t_data,rmres busybox",
                   "down: dependants first, own network and volume, not the external one");
        TAP_EQ_INT(f.n, 0, "no container left");
        cmp_project_free(p);
}

static void test_scale_and_orphans(void)
{
        struct cmp_project *p =
            load("name: s\nservices:\n  w: {image: x, deploy: {replicas: 3}}\n");
        struct fake f = {0};
        struct isola_err err = {0};
        struct cmp_scale sc = {"w", 1};
        struct cmp_up_opts o = {.scales = &sc, .n_scales = 1, .remove_orphans = true};

        if (!p)
                return tap_ok(0, "scale file loads");
        up(p, &f, NULL, &err);
        TAP_EQ_STR(f.log,
                   "net s_default,create s-w-1,start s-w-1,create s-w-2,start s-w-2,"
                   "create s-w-3,start s-w-3",
                   "deploy.replicas: three containers named <project>-<service>-<n>");
        up(p, &f, &o, &err);
        TAP_EQ_STR(f.log, "net s_default,stop s-w-3,rm s-w-3,stop s-w-2,rm s-w-2",
                   "--scale w=1 removes the highest replicas");
        /* a container of a service that left the file */
        f_create(&f, p, &p->services[0], "s-gone-1", 1, "h", &err);
        snprintf(f.c[f.n - 1].service, sizeof(f.c[0].service), "gone");
        up(p, &f, &o, &err);
        TAP_EQ_STR(f.log, "net s_default,rm s-gone-1", "--remove-orphans");
        cmp_project_free(p);
}

static void test_failures(void)
{
        struct cmp_project *p = load(app);
        struct fake f = {.ready_after = 1, .unhealthy = "t-db-1"};
        struct isola_err err = {0};

        if (!p)
                return tap_ok(0, "app loads");
        tap_ok(up(p, &f, NULL, &err) < 0 && strstr(err.msg, "dependency db (t-db-1) is unhealthy"),
               "an unhealthy dependency fails up naming it");
        printf("# %s\n", err.msg);
        tap_ok(fake_find(&f, "t-db-1") && fake_find(&f, "t-db-1")->state == CMP_CTR_RUNNING,
               "what was started is left running (as Compose)");
        tap_ok(!fake_find(&f, "t-web-1"), "nothing after the failure was created");
        down(p, &f, NULL, &err);

        struct fake g = {.ready_after = 1, .exit_code = 3};
        tap_ok(up(p, &g, NULL, &err) < 0 && strstr(err.msg, "init (t-init-1) exited with code 3"),
               "service_completed_successfully: a non-zero exit fails up");
        down(p, &g, NULL, &err);

        struct fake h = {.ready_after = 0, .fail_start = "t-api-1"};
        tap_ok(up(p, &h, NULL, &err) < 0 && strstr(err.msg, "Container t-api-1") &&
                   strstr(err.msg, "address already in use"),
               "a start failure names the container and the cause");
        down(p, &h, NULL, &err);

        struct fake slow = {.ready_after = 1000000};
        tap_ok(up(p, &slow, NULL, &err) < 0 && strstr(err.msg, "timed out waiting for t-db-1"),
               "a dependency never healthy times out naming it");
        down(p, &slow, NULL, &err);
        cmp_project_free(p);

        p = load("services:\n  a: {image: x, depends_on: {b: {condition: service_healthy}}}\n"
                 "  b: {image: x}\n");
        struct fake k = {.no_health = "t-b-1"};
        tap_ok(p && up(p, &k, NULL, &err) < 0 && strstr(err.msg, "has no healthcheck"),
               "service_healthy on a service without a healthcheck is refused");
        cmp_project_free(p);
}

int main(void)
{
        test_up_idempotent();
        test_scale_and_orphans();
        test_failures();
        return tap_done();
}
