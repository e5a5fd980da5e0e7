/* /volumes and /networks in Docker's shapes. */
#include "api/api_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/labels.h"
#include "net/net.h"

enum obj_kind { VOL_LIST, VOL_CREATE, VOL_GET, VOL_RM, NET_LIST, NET_GET, NET_CREATE, NET_RM };

struct obj_op {
        enum obj_kind kind;
        const char *name;
        bool force;
        const char *subnet, *gateway;
        bool internal;
        const char *labels;   /* create: Docker's Labels as JSON, or NULL */
        json_object *filters; /* list: label (all), name */
};

static json_object *vol_json(sqlite3 *db, const struct eng_volume *v)
{
        json_object *o = json_object_new_object();
        char t[64];

        api_time(v->created, t, sizeof(t));
        json_object_object_add(o, "Name", json_object_new_string(v->name));
        json_object_object_add(o, "Driver", json_object_new_string("local"));
        json_object_object_add(o, "Mountpoint", json_object_new_string(v->mountpoint));
        json_object_object_add(o, "CreatedAt", json_object_new_string(t));
        json_object_object_add(o, "Scope", json_object_new_string("local"));
        json_object_object_add(o, "Labels", api_obj_labels_get(db, "volume", v->name));
        json_object_object_add(o, "Options", json_object_new_object());
        return o;
}

/* isola's network JSON (netjson.c) -> Docker's */
static json_object *net_docker(sqlite3 *db, json_object *n)
{
        json_object *o = json_object_new_object(), *v, *ipam = json_object_new_object();
        json_object *cfgs = json_object_new_array();
        const char *name = "";

        if (json_object_object_get_ex(n, "name", &v))
                name = json_object_get_string(v);
        json_object_object_add(
            o, "Name", json_object_new_string(strcmp(name, "isola") == 0 ? "bridge" : name));
        json_object_object_add(o, "Id",
                               json_object_object_get_ex(n, "id", &v)
                                   ? json_object_get(v)
                                   : json_object_new_string(name));
        json_object_object_add(o, "Driver", json_object_new_string("bridge"));
        json_object_object_add(o, "Scope", json_object_new_string("local"));
        json_object_object_add(o, "Internal",
                               json_object_object_get_ex(n, "internal", &v)
                                   ? json_object_get(v)
                                   : json_object_new_boolean(false));
        if (json_object_object_get_ex(n, "subnets", &v) && json_object_is_type(v, json_type_array))
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        json_object *s = json_object_array_get_idx(v, i), *x, *c;
                        c = json_object_new_object();
                        if (json_object_object_get_ex(s, "subnet", &x))
                                json_object_object_add(c, "Subnet", json_object_get(x));
                        if (json_object_object_get_ex(s, "gateway", &x))
                                json_object_object_add(c, "Gateway", json_object_get(x));
                        json_object_array_add(cfgs, c);
                }
        json_object_object_add(ipam, "Driver", json_object_new_string("default"));
        json_object_object_add(ipam, "Config", cfgs);
        json_object_object_add(o, "IPAM", ipam);
        json_object_object_add(o, "Containers", json_object_new_object());
        json_object_object_add(o, "Options", json_object_new_object());
        json_object_object_add(o, "Labels", api_obj_labels_get(db, "network", name));
        return o;
}

/* list filters: every label, any name */
static bool keep(const struct obj_op *op, json_object *o)
{
        json_object *name = NULL, *labels = NULL;

        json_object_object_get_ex(o, "Name", &name);
        json_object_object_get_ex(o, "Labels", &labels);
        return api_ctr_filter_match(op->filters, json_object_get_string(name),
                                    json_object_get_string(name), "", labels);
}

static int emit(FILE *out, json_object *o)
{
        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), out);
        json_object_put(o);
        return 0;
}

static int vol_work(struct eng_ctx *e, const struct obj_op *op, FILE *out, struct isola_err *err)
{
        struct eng_volume v = {0}, *l = NULL;
        size_t n = 0;

        switch (op->kind) {
        case VOL_LIST: {
                json_object *o = json_object_new_object(), *a = json_object_new_array();
                if (eng_volume_list(e, &l, &n, err) < 0) {
                        json_object_put(o);
                        json_object_put(a);
                        return -1;
                }
                for (size_t i = 0; i < n; i++) {
                        json_object *v = vol_json(e->db, &l[i]);
                        if (keep(op, v))
                                json_object_array_add(a, v);
                        else
                                json_object_put(v);
                }
                free(l);
                json_object_object_add(o, "Volumes", a);
                json_object_object_add(o, "Warnings", json_object_new_array());
                return emit(out, o);
        }
        case VOL_CREATE:
                if (eng_volume_create(e, op->name, !op->name, &v, err) < 0 ||
                    api_obj_labels_set(e->db, "volume", v.name, op->labels, err) < 0)
                        return -1;
                return emit(out, vol_json(e->db, &v));
        case VOL_GET:
                if (eng_volume_get(e, op->name, &v, err) < 0)
                        return -1;
                return emit(out, vol_json(e->db, &v));
        default:
                if (eng_volume_remove(e, op->name, op->force, err) < 0)
                        return -1;
                api_obj_labels_set(e->db, "volume", op->name, NULL, err);
                return 0;
        }
}

static int net_work(struct eng_ctx *e, const struct obj_op *op, FILE *out, struct isola_err *err)
{
        struct net_ctx nc = {.paths = e->paths, .db = e->db};
        _cleanup_free_ char *text = NULL;
        const char *name = op->name && strcmp(op->name, "bridge") == 0 ? "isola" : op->name;

        switch (op->kind) {
        case NET_CREATE: {
                struct net_create_opts o = {.name = op->name,
                                            .subnet = op->subnet,
                                            .gateway = op->gateway,
                                            .internal = op->internal};
                if (net_network_create(&nc, &o, err) < 0 ||
                    api_obj_labels_set(e->db, "network", op->name, op->labels, err) < 0)
                        return -1;
                text = NULL;
                if (net_network_json(&nc, op->name, &text, err) < 0)
                        return -1;
                break;
        }
        case NET_RM:
                if (net_network_remove(&nc, name, err) < 0)
                        return -1;
                api_obj_labels_set(e->db, "network", name, NULL, err);
                return 0;
        default:
                if (net_network_json(&nc, op->kind == NET_GET ? name : NULL, &text, err) < 0)
                        return -1;
        }
        json_object *a = json_tokener_parse(text), *r;
        if (!a || !json_object_is_type(a, json_type_array)) {
                json_object_put(a);
                return err_set(err, EIO, "network JSON: not an array");
        }
        if (op->kind == NET_LIST) {
                r = json_object_new_array();
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        json_object *x = net_docker(e->db, json_object_array_get_idx(a, i));
                        if (keep(op, x))
                                json_object_array_add(r, x);
                        else
                                json_object_put(x);
                }
        } else {
                if (json_object_array_length(a) == 0) {
                        json_object_put(a);
                        return err_set(err, ENOENT, "network %s not found", op->name);
                }
                r = net_docker(e->db, json_object_array_get_idx(a, 0));
                if (op->kind == NET_CREATE) {
                        json_object *id = json_object_new_object(), *v;
                        json_object_object_get_ex(r, "Id", &v);
                        json_object_object_add(id, "Id", json_object_get(v));
                        json_object_object_add(id, "Warning", json_object_new_string(""));
                        json_object_put(r);
                        r = id;
                }
        }
        json_object_put(a);
        return emit(out, r);
}

static int obj_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct obj_op *op = arg;
        return op->kind < NET_LIST ? vol_work(e, op, out, err) : net_work(e, op, out, err);
}

static enum MHD_Result run(struct api_call *c, struct obj_op *op, unsigned status, bool body)
{
        struct isola_err err = {0};
        _cleanup_free_ char *out = NULL;
        size_t len;

        if (api_work(c->srv, obj_work, op, &out, &len, &err) < 0)
                return api_reply_err(c, &err);
        if (!body)
                return api_reply_empty(c, status);
        return api_reply_text(c, status, "application/json", out, len);
}

static enum MHD_Result list(struct api_call *c, enum obj_kind kind)
{
        struct obj_op op = {.kind = kind};
        struct isola_err err = {0};

        if (api_ctr_filter_parse(api_query(c, "filters"), &op.filters, &err) < 0)
                return api_reply_err(c, &err);
        enum MHD_Result r = run(c, &op, MHD_HTTP_OK, true);
        json_object_put(op.filters);
        return r;
}

enum MHD_Result api_h_vol_list(struct api_call *c)
{
        return list(c, VOL_LIST);
}

/* Labels of a create body as JSON (NULL when none); false after a 400. */
static bool body_labels(json_object *o, char **out, struct isola_err *err)
{
        json_object *v = NULL;

        *out = NULL;
        if (!json_object_object_get_ex(o, "Labels", &v))
                v = NULL;
        if (api_labels_check(v, err) < 0)
                return false;
        if (v && json_object_is_type(v, json_type_object) && json_object_object_length(v) > 0)
                *out = strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        return true;
}

enum MHD_Result api_h_vol_inspect(struct api_call *c)
{
        return run(c, &(struct obj_op){.kind = VOL_GET, .name = c->m.params[0]}, MHD_HTTP_OK, true);
}

enum MHD_Result api_h_vol_delete(struct api_call *c)
{
        struct obj_op op = {
            .kind = VOL_RM, .name = c->m.params[0], .force = api_query_bool(c, "force")};
        return run(c, &op, MHD_HTTP_NO_CONTENT, false);
}

static const char *body_str(json_object *o, const char *key, bool *bad)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return NULL;
        if (!json_object_is_type(v, json_type_string)) {
                *bad = true;
                return NULL;
        }
        return json_object_get_string(v);
}

enum MHD_Result api_h_vol_create(struct api_call *c)
{
        enum MHD_Result r = MHD_NO;
        json_object *o = api_body_json(c, &r);
        bool bad = false;

        if (!o)
                return r;
        struct obj_op op = {.kind = VOL_CREATE, .name = body_str(o, "Name", &bad)};
        struct isola_err err = {0};
        char *labels = NULL;
        if (op.name && !*op.name)
                op.name = NULL;
        if (!body_labels(o, &labels, &err))
                r = api_reply_err(c, &err);
        else if (bad)
                r = api_reply_error(c, MHD_HTTP_BAD_REQUEST, "Name: wrong type (want string)");
        else {
                op.labels = labels;
                r = run(c, &op, MHD_HTTP_CREATED, true);
        }
        free(labels);
        json_object_put(o);
        return r;
}

enum MHD_Result api_h_net_list(struct api_call *c)
{
        return list(c, NET_LIST);
}

enum MHD_Result api_h_net_inspect(struct api_call *c)
{
        return run(c, &(struct obj_op){.kind = NET_GET, .name = c->m.params[0]}, MHD_HTTP_OK, true);
}

enum MHD_Result api_h_net_delete(struct api_call *c)
{
        return run(c, &(struct obj_op){.kind = NET_RM, .name = c->m.params[0]}, MHD_HTTP_NO_CONTENT,
                   false);
}

/* {"Name": ..., "Internal": bool, "IPAM": {"Config": [{"Subnet", "Gateway"}]}} */
enum MHD_Result api_h_net_create(struct api_call *c)
{
        enum MHD_Result r = MHD_NO;
        json_object *o = api_body_json(c, &r), *v, *ipam, *cfgs;
        bool bad = false;

        if (!o)
                return r;
        struct obj_op op = {.kind = NET_CREATE, .name = body_str(o, "Name", &bad)};
        if (json_object_object_get_ex(o, "Internal", &v) &&
            json_object_is_type(v, json_type_boolean))
                op.internal = json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "IPAM", &ipam) &&
            json_object_object_get_ex(ipam, "Config", &cfgs) &&
            json_object_is_type(cfgs, json_type_array) && json_object_array_length(cfgs) > 0) {
                json_object *c0 = json_object_array_get_idx(cfgs, 0);
                if (json_object_is_type(c0, json_type_object)) {
                        op.subnet = body_str(c0, "Subnet", &bad);
                        op.gateway = body_str(c0, "Gateway", &bad);
                }
        }
        struct isola_err err = {0};
        char *labels = NULL;
        if (!body_labels(o, &labels, &err)) {
                r = api_reply_err(c, &err);
        } else if (bad || !op.name || !*op.name) {
                r = api_reply_error(c, MHD_HTTP_BAD_REQUEST, "network create: Name is required");
        } else {
                op.labels = labels;
                r = run(c, &op, MHD_HTTP_CREATED, true);
        }
        free(labels);
        json_object_put(o);
        return r;
}
