/* The read side of a container's networks (inspect's NetworkSettings,
 * `isola port`) and the clean-up at engine start-up of what a crashed engine
 * left (links, nft rules, leases of containers whose namespace is gone). */
#include "engine/engine_internal.h"

#include "engine_build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_net.h"
#include "util/cleanup.h"
#ifdef ENGINE_HAVE_NET
#include "net/net.h"

void eng_net_startup(struct eng_ctx *c)
{
        struct net_ctx nc;
        struct isola_err ignore = {0};

        eng_net_ctx(c, &nc);
        /* best effort: a failure here must not stop the command the user
         * asked for; the next one tries again */
        net_gc_if_stale(&nc, &ignore);
}

static json_object *network_json(const struct net_attachment *a)
{
        json_object *o = json_object_new_object();
        char ip[64];
        const char *slash = strchr(a->ip, '/');

        snprintf(ip, sizeof(ip), "%.*s", slash ? (int)(slash - a->ip) : (int)strlen(a->ip), a->ip);
        json_object_object_add(o, "IPAddress", json_object_new_string(ip));
        json_object_object_add(o, "IPPrefixLen", json_object_new_int(slash ? atoi(slash + 1) : 0));
        json_object_object_add(o, "Gateway", json_object_new_string(a->gateway));
        json_object_object_add(o, "MacAddress", json_object_new_string(a->mac));
        json_object_object_add(o, "InterfaceName", json_object_new_string(a->ifname));
        return o;
}

static json_object *ports_json(const struct net_port *p, size_t n)
{
        json_object *o = json_object_new_object();

        for (size_t i = 0; i < n; i++) {
                char key[16], hp[8];
                json_object *arr, *b = json_object_new_object();
                snprintf(key, sizeof(key), "%u/%s", p[i].ctr_port, p[i].proto);
                snprintf(hp, sizeof(hp), "%u", p[i].host_port);
                if (!json_object_object_get_ex(o, key, &arr)) {
                        arr = json_object_new_array();
                        json_object_object_add(o, key, arr);
                }
                json_object_object_add(
                    b, "HostIp",
                    json_object_new_string(p[i].host_ip[0] ? p[i].host_ip : "0.0.0.0"));
                json_object_object_add(b, "HostPort", json_object_new_string(hp));
                json_object_array_add(arr, b);
        }
        return o;
}

json_object *eng_net_settings_json(struct eng_ctx *c, const char *id)
{
        json_object *s = json_object_new_object(), *nets = json_object_new_object();
        struct net_ctx nc;
        struct isola_err ignore = {0};
        _cleanup_free_ struct net_attachment *att = NULL;
        _cleanup_free_ struct net_port *ports = NULL;
        size_t n_att = 0, n_ports = 0;

        eng_net_ctx(c, &nc);
        if (net_attachments_get(&nc, id, &att, &n_att, &ignore) < 0)
                n_att = 0;
        if (net_ports_get(&nc, id, &ports, &n_ports, &ignore) < 0)
                n_ports = 0;
        for (size_t i = 0; i < n_att; i++)
                json_object_object_add(nets, att[i].network, network_json(&att[i]));
        json_object_object_add(s, "Networks", nets);
        json_object_object_add(s, "Ports", ports_json(ports, n_ports));
        return s;
}

int eng_net_ports_text(struct eng_ctx *c, const char *id, char **text_out, struct isola_err *err)
{
        struct net_ctx nc;
        _cleanup_free_ struct net_port *p = NULL;
        size_t n = 0, len = 0;
        char *out;

        eng_net_ctx(c, &nc);
        if (net_ports_get(&nc, id, &p, &n, err) < 0)
                return -1;
        out = calloc(n + 1, 96);
        if (!out)
                return err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                len +=
                    (size_t)snprintf(out + len, 96, "%u/%s -> %s:%u\n", p[i].ctr_port, p[i].proto,
                                     p[i].host_ip[0] ? p[i].host_ip : "0.0.0.0", p[i].host_port);
        *text_out = out;
        return 0;
}
#else
void eng_net_startup(struct eng_ctx *c)
{
        (void)c;
}

json_object *eng_net_settings_json(struct eng_ctx *c, const char *id)
{
        (void)c;
        (void)id;
        return json_object_new_object();
}

int eng_net_ports_text(struct eng_ctx *c, const char *id, char **text_out, struct isola_err *err)
{
        (void)c;
        (void)id;
        *text_out = strdup("");
        return *text_out ? 0 : err_set(err, ENOMEM, "out of memory");
}
#endif
