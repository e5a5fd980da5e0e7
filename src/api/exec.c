/* Exec instances: created in memory (a bounded table), started over a
 * hijacked connection (streams.c), inspected for their exit code. */
#include "api/api_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

static char **strv_from(json_object *a)
{
        size_t n = a ? json_object_array_length(a) : 0;
        char **v;

        if (n > 4096)
                return NULL;
        v = calloc(n + 1, sizeof(*v));
        for (size_t i = 0; v && i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                if (!json_object_is_type(e, json_type_string)) {
                        strv_free(v);
                        return NULL;
                }
                v[i] = strdup(json_object_get_string(e));
        }
        return v;
}

static void exec_clear(struct api_exec *x)
{
        strv_free(x->args);
        strv_free(x->env);
        free(x->user);
        free(x->workdir);
        memset(x, 0, sizeof(*x));
}

static json_object *field(json_object *o, const char *k, json_type t, bool *bad)
{
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
                return NULL;
        if (!json_object_is_type(v, t)) {
                *bad = true;
                return NULL;
        }
        return v;
}

/* A free slot, else the oldest finished one. mu held. */
static struct api_exec *slot(struct api_server *s)
{
        for (int i = 0; i < API_EXEC_MAX; i++)
                if (!s->execs[i].used)
                        return &s->execs[i];
        for (int i = 0; i < API_EXEC_MAX; i++)
                if (s->execs[i].started && !s->execs[i].running) {
                        exec_clear(&s->execs[i]);
                        return &s->execs[i];
                }
        return NULL;
}

enum MHD_Result api_h_exec_create(struct api_call *c)
{
        enum MHD_Result r = MHD_NO;
        json_object *o = api_body_json(c, &r), *cmd;
        struct isola_err err = {0};
        char id[ENG_ID_LEN + 1], state[16];
        unsigned char rnd[32];
        bool tty, bad = false;
        struct api_exec *x;

        if (!o)
                return r;
        cmd = field(o, "Cmd", json_type_array, &bad);
        if (bad || !cmd || json_object_array_length(cmd) == 0) {
                json_object_put(o);
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST, "No exec command specified");
        }
        if (api_ctr_state(c->srv, c->m.params[0], id, state, &tty, &err) < 0) {
                json_object_put(o);
                return api_reply_err(c, &err);
        }
        if (strcmp(state, "running") != 0) {
                json_object_put(o);
                snprintf(err.msg, sizeof(err.msg), "Container %s is not running", c->m.params[0]);
                return api_reply_error(c, MHD_HTTP_CONFLICT, err.msg);
        }
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
                json_object_put(o);
                return api_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "getrandom failed");
        }
        pthread_mutex_lock(&c->srv->mu);
        x = slot(c->srv);
        if (x) {
                json_object *v;
                x->used = true;
                for (int i = 0; i < 32; i++)
                        snprintf(x->id + 2 * i, 3, "%02x", rnd[i]);
                snprintf(x->container, sizeof(x->container), "%s", id);
                x->args = strv_from(cmd);
                x->env = strv_from(field(o, "Env", json_type_array, &bad));
                if ((v = field(o, "User", json_type_string, &bad)) && json_object_get_string_len(v))
                        x->user = strdup(json_object_get_string(v));
                if ((v = field(o, "WorkingDir", json_type_string, &bad)) &&
                    json_object_get_string_len(v))
                        x->workdir = strdup(json_object_get_string(v));
                x->tty =
                    (v = field(o, "Tty", json_type_boolean, &bad)) && json_object_get_boolean(v);
                x->attach_stdin = (v = field(o, "AttachStdin", json_type_boolean, &bad)) &&
                                  json_object_get_boolean(v);
                snprintf(id, sizeof(id), "%s", x->id);
                if (bad || !x->args)
                        exec_clear(x);
        }
        pthread_mutex_unlock(&c->srv->mu);
        json_object_put(o);
        if (!x)
                return api_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "too many exec instances");
        if (bad)
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST, "exec config: wrong field type");
        o = json_object_new_object();
        json_object_object_add(o, "Id", json_object_new_string(id));
        return api_reply_json(c, MHD_HTTP_CREATED, o);
}

/* mu held */
static int find(struct api_server *s, const char *id)
{
        for (int i = 0; i < API_EXEC_MAX; i++)
                if (s->execs[i].used && strcmp(s->execs[i].id, id) == 0)
                        return i;
        return -1;
}

enum MHD_Result api_h_exec_inspect(struct api_call *c)
{
        json_object *o;
        int i;

        pthread_mutex_lock(&c->srv->mu);
        i = find(c->srv, c->m.params[0]);
        if (i < 0) {
                pthread_mutex_unlock(&c->srv->mu);
                return api_reply_error(c, MHD_HTTP_NOT_FOUND, "No such exec instance");
        }
        struct api_exec *x = &c->srv->execs[i];
        o = json_object_new_object();
        json_object_object_add(o, "ID", json_object_new_string(x->id));
        json_object_object_add(o, "ContainerID", json_object_new_string(x->container));
        json_object_object_add(o, "Running", json_object_new_boolean(x->running));
        json_object_object_add(
            o, "ExitCode", x->started && !x->running ? json_object_new_int(x->exit_code) : NULL);
        json_object_object_add(o, "OpenStdin", json_object_new_boolean(x->attach_stdin));
        json_object_object_add(o, "Pid", json_object_new_int(0));
        json_object *pc = json_object_new_object();
        json_object_object_add(pc, "tty", json_object_new_boolean(x->tty));
        json_object_object_add(pc, "entrypoint", json_object_new_string(x->args[0]));
        json_object_object_add(o, "ProcessConfig", pc);
        pthread_mutex_unlock(&c->srv->mu);
        return api_reply_json(c, MHD_HTTP_OK, o);
}

enum MHD_Result api_h_exec_start(struct api_call *c)
{
        enum MHD_Result r = MHD_NO;
        json_object *o = api_body_json(c, &r);
        int i;
        bool tty, started;

        if (!o)
                return r;
        json_object_put(o);
        pthread_mutex_lock(&c->srv->mu);
        i = find(c->srv, c->m.params[0]);
        started = i >= 0 && c->srv->execs[i].started;
        tty = i >= 0 && c->srv->execs[i].tty;
        if (i >= 0 && !started)
                c->srv->execs[i].started = true; /* one start per instance */
        pthread_mutex_unlock(&c->srv->mu);
        if (i < 0)
                return api_reply_error(c, MHD_HTTP_NOT_FOUND, "No such exec instance");
        if (started)
                return api_reply_error(c, MHD_HTTP_CONFLICT, "exec instance already started");
        return api_exec_hijack(c, i, tty);
}
