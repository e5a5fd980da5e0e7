/* /isola/v1/functions: the deployed functions' rows (src/fn), their
 * metered use priced under both models, and the instances alive now
 * (each one is a cgroup isola-fn-NAME-PID-N, made by src/fn/fn_ctr.c). */
#include "api/v1.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fn/fn.h"

static const char *cgroup_base(void)
{
        /* v1 hybrid: the memory controller's tree names the instances */
        return access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "/sys/fs/cgroup"
                                                                      : "/sys/fs/cgroup/memory";
}

/* "PID-N" exactly */
static bool pid_serial(const char *s)
{
        size_t a = strspn(s, "0123456789");

        if (a == 0 || s[a] != '-')
                return false;
        s += a + 1;
        a = strspn(s, "0123456789");
        return a > 0 && s[a] == '\0';
}

void v1_fn_live(const char *name, size_t *instances, struct v1_usage *sum)
{
        char prefix[FN_NAME_MAX + 16];
        DIR *d = opendir(cgroup_base());
        const struct dirent *de;
        size_t plen;

        *instances = 0;
        memset(sum, 0, sizeof(*sum));
        snprintf(prefix, sizeof(prefix), "isola-fn-%s%s", name ? name : "", name ? "-" : "");
        plen = strlen(prefix);
        if (!d)
                return;
        while ((de = readdir(d))) {
                struct v1_usage u;
                if (strncmp(de->d_name, prefix, plen) != 0)
                        continue;
                /* NAME may contain '-': "a" must not count "a-b"'s instances */
                if (name && !pid_serial(de->d_name + plen))
                        continue;
                v1_cgroup_usage(de->d_name, &u);
                if (u.pids == 0)
                        continue; /* a cgroup left behind, not a live instance */
                (*instances)++;
                sum->cpu_s += u.cpu_s;
                sum->mem += u.mem;
                sum->pids += u.pids;
        }
        closedir(d);
}

static void add_time_s(json_object *o, const char *key, int64_t unix_s)
{
        char buf[64];

        api_time(unix_s * 1000000000, buf, sizeof(buf));
        json_object_object_add(o, key, json_object_new_string(buf));
}

static json_object *fn_json(const struct fn_config *f)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(f->name));
        json_object_object_add(o, "image", json_object_new_string(f->image));
        json_object_object_add(o, "image_id", json_object_new_string(f->image_id));
        json_object_object_add(o, "mode",
                               json_object_new_string(f->mode == FN_MODE_HTTP ? "http" : "stdio"));
        json_object_object_add(o, "port", json_object_new_int(f->port));
        json_object_object_add(o, "memory_mib", json_object_new_int(f->memory_mib));
        json_object_object_add(o, "cpus", json_object_new_double(f->cpus));
        json_object_object_add(o, "timeout_s", json_object_new_int(f->timeout_s));
        json_object_object_add(o, "concurrency", json_object_new_int(f->concurrency));
        json_object_object_add(o, "min", json_object_new_int(f->min));
        json_object_object_add(o, "max", json_object_new_int(f->max));
        json_object_object_add(o, "idle_s", json_object_new_int(f->idle_s));
        json_object_object_add(o, "queue", json_object_new_int(f->queue));
        add_time_s(o, "created", f->created);
        return o;
}

int v1_fn_totals(struct eng_ctx *e, struct v1_fn_totals *out, json_object *workloads,
                 struct isola_err *err)
{
        struct fn_config *l = NULL;
        struct fn_usage *u = NULL;
        size_t n = 0, nu = 0;

        memset(out, 0, sizeof(*out));
        if (fn_list(e->db, &l, &n, err) < 0)
                return -1;
        if (fn_usage_query(e->db, NULL, 0, &u, &nu, err) < 0) {
                fn_list_free(l, n);
                return -1;
        }
        out->count = n;
        for (size_t i = 0; i < nu; i++) {
                out->invocations += u[i].invocations;
                out->cpu_s += u[i].cpu_s;
        }
        for (size_t i = 0; i < n; i++) {
                size_t inst = 0;
                struct v1_usage live;
                v1_fn_live(l[i].name, &inst, &live);
                out->running += inst > 0;
                out->mem += live.mem;
                if (!workloads)
                        continue;
                json_object *w = json_object_new_object();
                json_object_object_add(w, "kind", json_object_new_string("function"));
                json_object_object_add(w, "id", json_object_new_string(l[i].name));
                json_object_object_add(w, "name", json_object_new_string(l[i].name));
                json_object_object_add(w, "state",
                                       json_object_new_string(inst ? "running" : "idle"));
                json_object_object_add(w, "cpu_seconds", json_object_new_double(live.cpu_s));
                json_object_object_add(w, "memory_bytes", json_object_new_int64((int64_t)live.mem));
                json_object_object_add(w, "instances", json_object_new_int64((int64_t)inst));
                json_object_array_add(workloads, w);
        }
        free(u);
        fn_list_free(l, n);
        return 0;
}

static int list_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        struct fn_config *l = NULL;
        size_t n = 0;
        json_object *a;
        (void)arg;

        if (fn_list(e->db, &l, &n, err) < 0)
                return -1;
        a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, fn_json(&l[i]));
        fn_list_free(l, n);
        return v1_emit(out, a);
}

static int get_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        struct fn_config f;

        if (fn_get(e->db, arg, &f, err) < 0)
                return -1;
        v1_emit(out, fn_json(&f));
        fn_config_free(&f);
        return 0;
}

struct usage_arg {
        const char *name;
        int64_t since_ms;
};

static int usage_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct usage_arg *a = arg;
        struct fn_config f;
        struct fn_usage *u = NULL, z = {0};
        struct fn_prices pr;
        size_t n = 0;
        json_object *o;

        if (fn_get(e->db, a->name, &f, err) < 0)
                return -1;
        fn_config_free(&f);
        if (fn_prices_load(&pr, err) < 0 ||
            fn_usage_query(e->db, a->name, a->since_ms, &u, &n, err) < 0)
                return -1;
        const struct fn_usage *x = n ? &u[0] : &z;
        double req = (double)x->invocations * pr.per_request;
        o = json_object_new_object();
        json_object_object_add(o, "function", json_object_new_string(a->name));
        json_object_object_add(o, "invocations", json_object_new_int64(x->invocations));
        json_object_object_add(o, "errors", json_object_new_int64(x->errors));
        json_object_object_add(o, "cold_starts", json_object_new_int64(x->cold_starts));
        json_object_object_add(o, "billed_ms", json_object_new_int64(x->billed_ms));
        json_object_object_add(o, "wall_us", json_object_new_int64(x->wall_us));
        json_object_object_add(o, "billed_gb_s", json_object_new_double(x->billed_gb_s));
        json_object_object_add(o, "cpu_s", json_object_new_double(x->cpu_s));
        json_object_object_add(o, "used_gb_s", json_object_new_double(x->used_gb_s));
        json_object_object_add(o, "cost_lambda_usd",
                               json_object_new_double(req + x->billed_gb_s * pr.per_gb_second));
        json_object_object_add(o, "cost_usage_usd",
                               json_object_new_double(req + x->cpu_s * pr.per_cpu_second +
                                                      x->used_gb_s * pr.per_used_gb_second));
        free(u);
        return v1_emit(out, o);
}

enum MHD_Result api_v1_fn_list(struct api_call *c)
{
        return v1_reply_work(c, list_work, NULL);
}

enum MHD_Result api_v1_fn_get(struct api_call *c)
{
        return v1_reply_work(c, get_work, c->m.params[0]);
}

enum MHD_Result api_v1_fn_usage(struct api_call *c)
{
        struct usage_arg a = {.name = c->m.params[0]};
        const char *since = api_query(c, "since");
        char *end = NULL;

        if (since) {
                errno = 0;
                long long v = strtoll(since, &end, 10);
                if (errno || end == since || *end || v < 0)
                        return api_reply_error(c, MHD_HTTP_BAD_REQUEST,
                                               "since: want unix milliseconds (an integer >= 0)");
                a.since_ms = v;
        }
        return v1_reply_work(c, usage_work, &a);
}
