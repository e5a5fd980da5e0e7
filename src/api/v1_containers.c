/* /isola/v1/containers: the engine's rows with each live container's
 * usage from its cgroup, in one request (the Docker API needs a stats
 * stream per container for the same). */
#include "api/v1.h"

#include <string.h>

static void add_time(json_object *o, const char *key, int64_t ns)
{
        char buf[64];

        if (ns <= 0)
                return;
        api_time(ns, buf, sizeof(buf));
        json_object_object_add(o, key, json_object_new_string(buf));
}

static json_object *summary(const struct eng_container *ct)
{
        json_object *o = json_object_new_object();
        struct v1_usage u = {0};
        char rel[ENG_ID_LEN + 8];
        char created[64];

        if (strcmp(ct->state, "running") == 0 || strcmp(ct->state, "paused") == 0) {
                snprintf(rel, sizeof(rel), "isola/%s", ct->id);
                v1_cgroup_usage(rel, &u);
        }
        api_time(ct->created, created, sizeof(created));
        json_object_object_add(o, "id", json_object_new_string(ct->id));
        json_object_object_add(o, "name", json_object_new_string(ct->name));
        json_object_object_add(o, "image",
                               json_object_new_string(ct->image_name ? ct->image_name
                                                      : ct->image_id ? ct->image_id
                                                                     : ""));
        json_object_object_add(o, "state", json_object_new_string(ct->state));
        json_object_object_add(o, "created", json_object_new_string(created));
        add_time(o, "started", ct->started);
        add_time(o, "finished", ct->finished);
        if (ct->pid > 0)
                json_object_object_add(o, "pid", json_object_new_int(ct->pid));
        if (strcmp(ct->state, "exited") == 0)
                json_object_object_add(o, "exit_code", json_object_new_int(ct->exit_code));
        json_object_object_add(o, "restart_count", json_object_new_int(ct->restart_count));
        json_object_object_add(o, "cpu_seconds", json_object_new_double(u.cpu_s));
        json_object_object_add(o, "memory_bytes", json_object_new_int64((int64_t)u.mem));
        json_object_object_add(o, "pids", json_object_new_int64((int64_t)u.pids));
        return o;
}

static int list_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        struct eng_container **l = NULL;
        size_t n = 0;
        json_object *a;
        (void)arg;

        if (eng_list(e, &l, &n, err) < 0)
                return -1;
        a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, summary(l[i]));
        eng_container_list_free(l, n);
        return v1_emit(out, a);
}

static int get_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        struct eng_container *ct = NULL;

        if (eng_get(e, arg, &ct, err) < 0)
                return -1;
        v1_emit(out, summary(ct));
        eng_container_free(ct);
        return 0;
}

enum MHD_Result api_v1_ctr_list(struct api_call *c)
{
        return v1_reply_work(c, list_work, NULL);
}

enum MHD_Result api_v1_ctr_get(struct api_call *c)
{
        return v1_reply_work(c, get_work, c->m.params[0]);
}
