/* /containers/...: each operation runs in a worker (api_work) over the
 * engine, so the CLI and the service share one state. */
#include "api/api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/labels.h"
#include "engine/engine_internal.h"
#include "engine/health.h"
#include "util/fs.h"

enum op_kind {
        OP_LIST,
        OP_CREATE,
        OP_INSPECT,
        OP_START,
        OP_STOP,
        OP_RESTART,
        OP_KILL,
        OP_DELETE,
        OP_PAUSE,
        OP_UNPAUSE,
        OP_RENAME,
        OP_TOP,
        OP_STATS,
        OP_STATE,
};

struct op {
        enum op_kind kind;
        const char *ref, *arg;
        int timeout;
        bool all, force, volumes;
        const struct eng_config *cfg;
        const char *labels_json; /* create: Docker's Labels as JSON, or NULL */
        bool stdin_once;         /* create: StdinOnce (attach.c reads the mark) */
        json_object *filters;    /* list: parsed filters, or NULL */
};

static int emit(FILE *out, json_object *o)
{
        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), out);
        json_object_put(o);
        return 0;
}

/* docker ps's "Up 5 seconds (healthy)": the engine's recorded health */
static void health_suffix(struct eng_ctx *e, const struct eng_container *ct, json_object *s)
{
        struct isola_err ignore = {0};
        struct eng_health h;
        json_object *st;
        char buf[1200];

        if (strcmp(ct->state, "running") != 0 || eng_health_get(e, ct, &h, &ignore) < 0)
                return;
        if (h.status != ENG_HEALTH_NONE && json_object_object_get_ex(s, "Status", &st)) {
                snprintf(buf, sizeof(buf), "%s (%s%s)", json_object_get_string(st),
                         h.status == ENG_HEALTH_STARTING ? "health: " : "",
                         eng_health_status_name(h.status));
                json_object_object_add(s, "Status", json_object_new_string(buf));
        }
        eng_health_free(&h);
}

static int list(struct eng_ctx *e, const struct op *op, FILE *out, struct isola_err *err)
{
        struct eng_container **l = NULL;
        size_t n = 0;
        json_object *a;

        if (eng_list(e, &l, &n, err) < 0)
                return -1;
        a = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                if (!op->all && strcmp(l[i]->state, "running") != 0 &&
                    strcmp(l[i]->state, "paused") != 0)
                        continue;
                json_object *labels = api_labels_get(e->db, l[i]->id);
                if (api_ctr_filter_match(op->filters, l[i]->id, l[i]->name, l[i]->state, labels)) {
                        json_object *s = api_ctr_summary(l[i]);
                        health_suffix(e, l[i], s);
                        json_object_object_add(s, "Labels", json_object_get(labels));
                        json_object_array_add(a, s);
                }
                json_object_put(labels);
        }
        eng_container_list_free(l, n);
        return emit(out, a);
}

/* The API's inspect plus what lives beside the row: labels and networks
 * (each with the short id among its aliases, as Docker has it; compose
 * checks that before it reconnects a container). */
static json_object *inspect_json(struct eng_ctx *e, const struct eng_container *ct)
{
        json_object *o = api_ctr_inspect_json(ct), *cfg, *ns, *nets, *st;
        char short_id[13];

        /* State.Health as the engine recorded it (health: engine/health.h) */
        if (json_object_object_get_ex(o, "State", &st))
                eng_health_state_add(e, ct, st);

        snprintf(short_id, sizeof(short_id), "%.12s", ct->id);
        if (json_object_object_get_ex(o, "Config", &cfg) &&
            json_object_is_type(cfg, json_type_object))
                json_object_object_add(cfg, "Labels", api_labels_get(e->db, ct->id));
        ns = eng_net_settings_json(e, ct->id);
        if (ns && json_object_object_get_ex(ns, "Networks", &nets)) {
                json_object_object_foreach(nets, name, n)
                {
                        (void)name;
                        json_object *al = json_object_new_array();
                        json_object_array_add(al, json_object_new_string(short_id));
                        json_object_object_add(n, "Aliases", al);
                }
        }
        if (ns)
                json_object_object_add(o, "NetworkSettings", ns);
        return o;
}

static int one(struct eng_ctx *e, const struct op *op, FILE *out, struct isola_err *err)
{
        struct eng_container *ct = NULL;
        int rc;

        if (eng_get(e, op->ref, &ct, err) < 0)
                return -1;
        if (op->kind == OP_STATE) {
                struct eng_config cfg = {0};
                eng_container_config(ct, &cfg, err);
                fprintf(out, "%s %s %d", ct->id, ct->state, cfg.tty ? 1 : 0);
                eng_config_free(&cfg);
                rc = 0;
        } else {
                rc = emit(out, inspect_json(e, ct));
        }
        eng_container_free(ct);
        return rc;
}

static int stats(struct eng_ctx *e, const struct op *op, FILE *out, struct isola_err *err)
{
        struct eng_stats s;
        json_object *o, *mem, *cpu, *usage, *pids;

        if (eng_stats(e, op->ref, 500, &s, err) < 0)
                return -1;
        o = json_object_new_object();
        mem = json_object_new_object();
        cpu = json_object_new_object();
        usage = json_object_new_object();
        pids = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(s.id));
        json_object_object_add(o, "name", json_object_new_string(s.name));
        json_object_object_add(mem, "usage", json_object_new_int64((int64_t)s.mem_usage));
        json_object_object_add(mem, "limit", json_object_new_int64((int64_t)s.mem_limit));
        json_object_object_add(o, "memory_stats", mem);
        json_object_object_add(pids, "current", json_object_new_int64((int64_t)s.pids));
        json_object_object_add(o, "pids_stats", pids);
        /* Docker clients compute a percentage from two samples; isola
         * samples itself and gives the percentage as well. */
        json_object_object_add(usage, "total_usage", json_object_new_int64(0));
        json_object_object_add(cpu, "cpu_usage", usage);
        json_object_object_add(cpu, "cpu_percent", json_object_new_double(s.cpu_percent));
        json_object_object_add(o, "cpu_stats", cpu);
        return emit(out, o);
}

static int op_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct op *op = arg;
        char id[ENG_ID_LEN + 1];
        _cleanup_free_ char *text = NULL;

        switch (op->kind) {
        case OP_LIST:
                return list(e, op, out, err);
        case OP_INSPECT:
        case OP_STATE:
                return one(e, op, out, err);
        case OP_CREATE:
                if (eng_create(e, op->cfg, id, err) < 0)
                        return -1;
                if (op->labels_json && api_labels_set(e->db, id, op->labels_json, err) < 0) {
                        struct isola_err ignore = {0};
                        eng_remove(e, id, true, true, &ignore);
                        return -1;
                }
                if (op->stdin_once) {
                        char mark[PATH_MAX];
                        struct isola_err ignore = {0};
                        eng_ctr_path(e, id, API_STDIN_ONCE_FILE, mark, sizeof(mark));
                        if (fs_write_file(mark, "1\n", 2, O_CREAT, 0600, err) < 0) {
                                eng_remove(e, id, true, true, &ignore);
                                return -1;
                        }
                }
                fputs(id, out);
                return 0;
        case OP_START:
                return eng_start(e, op->ref, &(struct eng_start_opts){0}, err);
        case OP_STOP:
                return eng_stop(e, op->ref, op->timeout, err);
        case OP_RESTART:
                if (eng_stop(e, op->ref, op->timeout, err) < 0)
                        return -1;
                return eng_start(e, op->ref, &(struct eng_start_opts){0}, err);
        case OP_KILL:
                return eng_kill(e, op->ref, op->arg, err);
        case OP_DELETE:
                return eng_remove(e, op->ref, op->force, op->volumes, err);
        case OP_PAUSE:
        case OP_UNPAUSE:
                return eng_pause(e, op->ref, op->kind == OP_PAUSE, err);
        case OP_RENAME:
                return eng_rename(e, op->ref, op->arg, err);
        case OP_TOP:
                if (eng_top(e, op->ref, &text, err) < 0)
                        return -1;
                fputs(text, out);
                return 0;
        case OP_STATS:
                return stats(e, op, out, err);
        }
        return err_set(err, EINVAL, "unknown operation");
}

/* Runs op; on success replies `status` with the output as JSON (or empty). */
static enum MHD_Result run(struct api_call *c, struct op *op, unsigned status, bool json)
{
        struct isola_err err = {0};
        _cleanup_free_ char *out = NULL;
        size_t len = 0;

        if (c->m.n_params > 0)
                op->ref = c->m.params[0];
        if (api_work(c->srv, op_work, op, &out, &len, &err) < 0)
                return api_reply_err(c, &err);
        if (!json)
                return api_reply_empty(c, status);
        return api_reply_text(c, status, "application/json", out, len);
}

enum MHD_Result api_h_ctr_list(struct api_call *c)
{
        struct op op = {.kind = OP_LIST, .all = api_query_bool(c, "all")};
        struct isola_err err = {0};

        if (api_ctr_filter_parse(api_query(c, "filters"), &op.filters, &err) < 0)
                return api_reply_err(c, &err);
        enum MHD_Result r = run(c, &op, MHD_HTTP_OK, true);
        json_object_put(op.filters);
        return r;
}

/* What api_parse_create leaves: Labels, and whether a client will attach
 * (then AutoRemove waits for wait?condition=removed, see below). */
static int create_extras(struct api_call *c, char **labels_json, bool *attach, bool *stdin_once,
                         struct isola_err *err)
{
        json_object *o = json_tokener_parse(c->body_len ? c->body : "{}"), *v = NULL;
        int rc = -1;

        *labels_json = NULL;
        *attach = *stdin_once = false;
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return err_set(err, EINVAL, "config: not a JSON object");
        }
        if (!json_object_object_get_ex(o, "Labels", &v))
                v = NULL;
        if (api_labels_check(v, err) < 0)
                goto out;
        if (v && json_object_is_type(v, json_type_object) && json_object_object_length(v) > 0 &&
            !(*labels_json = strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)))) {
                err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        static const char *const keys[] = {"AttachStdin", "AttachStdout", "AttachStderr"};
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
                if (json_object_object_get_ex(o, keys[i], &v) && json_object_get_boolean(v))
                        *attach = true;
        *stdin_once = json_object_object_get_ex(o, "StdinOnce", &v) && json_object_get_boolean(v);
        rc = 0;
out:
        json_object_put(o);
        return rc;
}

enum MHD_Result api_h_ctr_inspect(struct api_call *c)
{
        return run(c, &(struct op){.kind = OP_INSPECT}, MHD_HTTP_OK, true);
}

static bool name_ok(const char *name)
{
        if (!name || !*name)
                return true;
        if (*name == '/') /* Docker accepts one leading slash */
                name++;
        for (const char *p = name; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
                            *p))
                        return false;
        return *name && strlen(name) < ENG_NAME_MAX &&
               strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", *name);
}

enum MHD_Result api_h_ctr_create(struct api_call *c)
{
        struct eng_config cfg;
        struct isola_err err = {0};
        const char *name = api_query(c, "name");
        _cleanup_free_ char *out = NULL;
        size_t len;
        struct op op = {.kind = OP_CREATE, .cfg = &cfg};

        if (!name_ok(name))
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST,
                                       "Invalid container name, only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                                       "are allowed");
        if (name && *name == '/')
                name++;
        if (api_parse_create(c->body, c->body_len, name, &cfg, &err) < 0)
                return api_reply_err(c, &err);
        _cleanup_free_ char *labels = NULL;
        bool attach;
        if (create_extras(c, &labels, &attach, &op.stdin_once, &err) < 0) {
                eng_config_free(&cfg);
                return api_reply_err(c, &err);
        }
        op.labels_json = labels;
        /* the engine would remove an AutoRemove container before an attach
         * stream has read its log; wait?condition=removed removes it then.
         * Detached (docker run --rm -d), the engine removes it on exit. */
        if (attach)
                cfg.auto_remove = false;
        pthread_mutex_lock(&c->srv->create_mu);
        int rc = api_work(c->srv, op_work, &op, &out, &len, &err);
        pthread_mutex_unlock(&c->srv->create_mu);
        eng_config_free(&cfg);
        if (rc < 0) {
                /* Docker: 404 "No such image" sends the CLI to pull first */
                if (err.errnum == ENOENT && strstr(err.msg, "image"))
                        return api_reply_error(c, MHD_HTTP_NOT_FOUND, err.msg);
                return api_reply_err(c, &err);
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "Id", json_object_new_string(out));
        json_object_object_add(o, "Warnings", json_object_new_array());
        return api_reply_json(c, MHD_HTTP_CREATED, o);
}

/* Docker answers 304 when the container already is in the wanted state. */
static enum MHD_Result state_op(struct api_call *c, enum op_kind kind, const char *noop_state)
{
        struct isola_err err = {0};
        _cleanup_free_ char *out = NULL;
        size_t len;
        struct op op = {.kind = OP_STATE, .ref = c->m.params[0], .timeout = 10};
        const char *t = api_query(c, "t");

        if (t)
                op.timeout = atoi(t);
        if (noop_state) {
                if (api_work(c->srv, op_work, &op, &out, &len, &err) < 0)
                        return api_reply_err(c, &err);
                char id[ENG_ID_LEN + 1], st[16];
                if (sscanf(out, "%64s %15s", id, st) != 2)
                        return api_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "bad state");
                if (strcmp(st, noop_state) == 0)
                        return api_reply_empty(c, MHD_HTTP_NOT_MODIFIED);
                if (kind == OP_STOP && strcmp(st, "created") == 0)
                        return api_reply_empty(c, MHD_HTTP_NOT_MODIFIED);
        }
        op.kind = kind;
        return run(c, &op, MHD_HTTP_NO_CONTENT, false);
}

int api_ctr_state(struct api_server *s, const char *ref, char id[ENG_ID_LEN + 1], char state[16],
                  bool *tty, struct isola_err *err)
{
        _cleanup_free_ char *out = NULL;
        size_t len;
        struct op op = {.kind = OP_STATE, .ref = ref};
        int t = 0;

        if (api_work(s, op_work, &op, &out, &len, err) < 0)
                return -1;
        if (sscanf(out, "%64s %15s %d", id, state, &t) != 3)
                return err_set(err, EIO, "bad state from the worker");
        *tty = t != 0;
        return 0;
}

enum MHD_Result api_h_ctr_start(struct api_call *c)
{
        return state_op(c, OP_START, "running");
}

enum MHD_Result api_h_ctr_stop(struct api_call *c)
{
        return state_op(c, OP_STOP, "exited");
}

enum MHD_Result api_h_ctr_restart(struct api_call *c)
{
        return state_op(c, OP_RESTART, NULL);
}

enum MHD_Result api_h_ctr_pause(struct api_call *c)
{
        return state_op(c, OP_PAUSE, NULL);
}

enum MHD_Result api_h_ctr_unpause(struct api_call *c)
{
        return state_op(c, OP_UNPAUSE, NULL);
}

enum MHD_Result api_h_ctr_kill(struct api_call *c)
{
        const char *sig = api_query(c, "signal");
        struct op op = {.kind = OP_KILL, .arg = sig && *sig ? sig : "KILL"};
        return run(c, &op, MHD_HTTP_NO_CONTENT, false);
}

enum MHD_Result api_h_ctr_delete(struct api_call *c)
{
        struct op op = {.kind = OP_DELETE,
                        .force = api_query_bool(c, "force"),
                        .volumes = api_query_bool(c, "v")};
        return run(c, &op, MHD_HTTP_NO_CONTENT, false);
}

enum MHD_Result api_h_ctr_rename(struct api_call *c)
{
        const char *name = api_query(c, "name");
        if (!name || !*name || !name_ok(name))
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid container name");
        return run(c, &(struct op){.kind = OP_RENAME, .arg = name}, MHD_HTTP_NO_CONTENT, false);
}

/* "PID USER TIME COMMAND" lines -> {"Titles": [...], "Processes": [[...]]} */
enum MHD_Result api_h_ctr_top(struct api_call *c)
{
        struct isola_err err = {0};
        _cleanup_free_ char *out = NULL;
        size_t len;
        struct op op = {.kind = OP_TOP, .ref = c->m.params[0]};
        json_object *o, *titles, *procs;
        char *save = NULL, *line;

        if (api_work(c->srv, op_work, &op, &out, &len, &err) < 0)
                return api_reply_err(c, &err);
        o = json_object_new_object();
        titles = json_object_new_array();
        procs = json_object_new_array();
        const char *names[] = {"PID", "USER", "TIME", "CMD"};
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                json_object_array_add(titles, json_object_new_string(names[i]));
        line = strtok_r(out, "\n", &save); /* the header */
        while (line && (line = strtok_r(NULL, "\n", &save))) {
                char pid[32], user[64], time[32];
                int off = 0;
                if (sscanf(line, "%31s %63s %31s %n", pid, user, time, &off) < 3)
                        continue;
                json_object *p = json_object_new_array();
                json_object_array_add(p, json_object_new_string(pid));
                json_object_array_add(p, json_object_new_string(user));
                json_object_array_add(p, json_object_new_string(time));
                json_object_array_add(p, json_object_new_string(line + off));
                json_object_array_add(procs, p);
        }
        json_object_object_add(o, "Titles", titles);
        json_object_object_add(o, "Processes", procs);
        return api_reply_json(c, MHD_HTTP_OK, o);
}

/* One sample (stream=false semantics, also for stream=true: one object). */
enum MHD_Result api_h_ctr_stats(struct api_call *c)
{
        return run(c, &(struct op){.kind = OP_STATS}, MHD_HTTP_OK, true);
}

enum MHD_Result api_h_ctr_resize(struct api_call *c)
{
        return api_reply_text(c, MHD_HTTP_OK, "text/plain", "", 0);
}

/* Wait. A created container is first waited for to start (the docker CLI
 * asks for the wait before it starts the container); condition=removed
 * also removes an AutoRemove container the engine kept for the logs. */
struct wait_arg {
        const char *ref;
        bool removed;
};

static int wait_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct wait_arg *w = arg;
        struct eng_container *ct = NULL;
        int code = 0;

        for (int i = 0;; i++) {
                if (eng_get(e, w->ref, &ct, err) < 0)
                        return -1;
                bool created = strcmp(ct->state, "created") == 0;
                eng_container_free(ct);
                if (!created)
                        break;
                usleep(i < 100 ? 20000 : 200000);
        }
        if (eng_wait(e, w->ref, &code, err) < 0)
                return -1;
        fprintf(out, "%d", code);
        return 0;
}

struct wait_reader {
        struct api_server *srv;
        struct wait_arg w;
        char ref[API_PARAM_MAX];
        bool done;
};

/* The body is produced after the headers went out: the docker CLI waits
 * for the headers of its wait request before it starts the container. */
static ssize_t wait_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        struct wait_reader *r = cls;
        struct isola_err err = {0};
        char *out = NULL;
        size_t len;
        json_object *o = json_object_new_object();
        (void)pos;

        if (r->done) {
                json_object_put(o);
                return MHD_CONTENT_READER_END_OF_STREAM;
        }
        r->done = true;
        if (api_work(r->srv, wait_work, &r->w, &out, &len, &err) < 0) {
                if (r->w.removed && err.errnum == ENOENT) { /* already gone */
                        out = strdup("0");
                } else {
                        json_object *e = json_object_new_object();
                        json_object_object_add(e, "Message", json_object_new_string(err.msg));
                        json_object_object_add(o, "Error", e);
                }
        }
        if (r->w.removed && out) {
                for (int i = 0; i < 500 && api_attach_count(r->srv, r->ref) > 0; i++)
                        usleep(20000);
                struct op op = {.kind = OP_DELETE, .ref = r->ref, .force = true};
                _cleanup_free_ char *o2 = NULL;
                api_work(r->srv, op_work, &op, &o2, &len, &err);
        }
        json_object_object_add(o, "StatusCode", json_object_new_int(out ? atoi(out) : 0));
        free(out);
        const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
        if (len + 1 > max)
                len = max - 1;
        memcpy(buf, s, len);
        buf[len++] = '\n';
        json_object_put(o);
        return (ssize_t)len;
}

enum MHD_Result api_h_ctr_wait(struct api_call *c)
{
        struct isola_err err = {0};
        const char *cond = api_query(c, "condition");
        struct wait_reader *r;
        struct MHD_Response *resp;
        char id[ENG_ID_LEN + 1], state[16];
        bool tty;
        enum MHD_Result ret;

        if (api_ctr_state(c->srv, c->m.params[0], id, state, &tty, &err) < 0)
                return api_reply_err(c, &err);
        r = calloc(1, sizeof(*r));
        if (!r)
                return MHD_NO;
        r->srv = c->srv;
        snprintf(r->ref, sizeof(r->ref), "%s", id);
        r->w = (struct wait_arg){.ref = r->ref, .removed = cond && !strcmp(cond, "removed")};
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, wait_read, r, free);
        if (!resp) {
                free(r);
                return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
        ret = MHD_queue_response(c->conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
}
