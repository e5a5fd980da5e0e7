/* /networks/{id}/connect and /disconnect (docker network connect): a
 * running container gets one more interface, address and DNS name (or
 * loses one), through the network component as `isola network connect`. */
#include "api/api_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/events.h"
#include "net/net.h"

#define ALIASES_MAX 32

struct conn_arg {
        bool connect, force;
        char network[API_PARAM_MAX];
        char container[256];
        const char *aliases[ALIASES_MAX + 1];
        const char *ip;
};

/* A network named by name, full id or id prefix -> its name. */
static int net_name(struct net_ctx *nc, const char *ref, char out[256], struct isola_err *err)
{
        _cleanup_free_ char *text = NULL;
        json_object *a;
        size_t len = strlen(ref);
        int found = 0;

        if (strcmp(ref, "bridge") == 0)
                ref = "isola";
        if (net_network_json(nc, NULL, &text, err) < 0)
                return -1;
        a = json_tokener_parse(text);
        for (size_t i = 0; a && i < json_object_array_length(a) && !found; i++) {
                json_object *n = json_object_array_get_idx(a, i), *name = NULL, *id = NULL;
                if (!json_object_object_get_ex(n, "name", &name) &&
                    !json_object_object_get_ex(n, "Name", &name))
                        continue;
                if (!json_object_object_get_ex(n, "id", &id))
                        json_object_object_get_ex(n, "Id", &id);
                if (strcmp(json_object_get_string(name), ref) == 0 ||
                    (id && len >= 6 && strncmp(json_object_get_string(id), ref, len) == 0)) {
                        snprintf(out, 256, "%s", json_object_get_string(name));
                        found = 1;
                }
        }
        json_object_put(a);
        return found ? 0 : err_set(err, ENOENT, "network %s not found", ref);
}

static int conn_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct conn_arg *a = arg;
        struct net_ctx nc = {.paths = e->paths, .db = e->db};
        char id[128], name[256], net[256], ns[PATH_MAX];
        (void)out;

        if (net_name(&nc, a->network, net, err) < 0 ||
            net_container_lookup(&nc, a->container, id, name, err) < 0)
                return -1;
        if (!a->connect) {
                if (net_detach(&nc, id, net, err) < 0)
                        return -1;
                eng_event(e->db, "network", "disconnect", net, "container", id, "name", net);
                return 0;
        }
        if (net_ns_path(&nc, id, ns, err) < 0)
                return err_set(err, EINVAL,
                               "container %s has no network namespace of its own (not running, or"
                               " network none/host)",
                               a->container);
        struct net_attach_req req = {.network = net, .aliases = a->aliases, .static_ip = a->ip};
        if (net_attach(&nc, id, name, ns, &req, NULL, 0, NULL, err) < 0)
                return -1;
        eng_event(e->db, "network", "connect", net, "container", id, "name", net);
        return 0;
}

/* {"Container": "x", "EndpointConfig": {"Aliases": [...], "IPAMConfig":
 * {"IPv4Address": "..."}}} / {"Container": "x", "Force": bool} */
static const char *parse(json_object *o, struct conn_arg *a)
{
        json_object *v, *ep, *al, *ipam;

        if (!json_object_object_get_ex(o, "Container", &v) ||
            !json_object_is_type(v, json_type_string) || !json_object_get_string_len(v))
                return "Container is required";
        if ((size_t)json_object_get_string_len(v) >= sizeof(a->container))
                return "Container: too long";
        snprintf(a->container, sizeof(a->container), "%s", json_object_get_string(v));
        if (json_object_object_get_ex(o, "Force", &v) && json_object_is_type(v, json_type_boolean))
                a->force = json_object_get_boolean(v);
        if (!json_object_object_get_ex(o, "EndpointConfig", &ep) ||
            json_object_is_type(ep, json_type_null))
                return NULL;
        if (!json_object_is_type(ep, json_type_object))
                return "EndpointConfig: want an object";
        if (json_object_object_get_ex(ep, "Aliases", &al) &&
            !json_object_is_type(al, json_type_null)) {
                if (!json_object_is_type(al, json_type_array) ||
                    json_object_array_length(al) > ALIASES_MAX)
                        return "Aliases: want a list of up to 32 strings";
                for (size_t i = 0; i < json_object_array_length(al); i++) {
                        json_object *s = json_object_array_get_idx(al, i);
                        if (!json_object_is_type(s, json_type_string))
                                return "Aliases: want strings";
                        a->aliases[i] = json_object_get_string(s);
                }
        }
        if (json_object_object_get_ex(ep, "IPAMConfig", &ipam) &&
            json_object_is_type(ipam, json_type_object) &&
            json_object_object_get_ex(ipam, "IPv4Address", &v) &&
            json_object_is_type(v, json_type_string) && json_object_get_string_len(v))
                a->ip = json_object_get_string(v);
        return NULL;
}

static enum MHD_Result conn(struct api_call *c, bool connect)
{
        enum MHD_Result r = MHD_NO;
        json_object *o = api_body_json(c, &r);
        struct conn_arg a = {.connect = connect};
        struct isola_err err = {0};
        _cleanup_free_ char *out = NULL;
        size_t len;
        const char *bad;

        if (!o)
                return r;
        snprintf(a.network, sizeof(a.network), "%s", c->m.params[0]);
        bad = parse(o, &a);
        if (bad)
                r = api_reply_error(c, MHD_HTTP_BAD_REQUEST, bad);
        else if (api_work(c->srv, conn_work, &a, &out, &len, &err) < 0)
                r = api_reply_err(c, &err);
        else
                r = api_reply_empty(c, MHD_HTTP_OK);
        json_object_put(o);
        return r;
}

enum MHD_Result api_h_net_connect(struct api_call *c)
{
        return conn(c, true);
}

enum MHD_Result api_h_net_disconnect(struct api_call *c)
{
        return conn(c, false);
}
