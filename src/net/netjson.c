/* `network ls/inspect` as JSON (json-c), and the container look-up the
 * network verbs need (the engine's containers table, by name, id or id
 * prefix). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "net/net_internal.h"

static json_object *containers_of(struct net_ctx *c, const char *network)
{
        sqlite3_stmt *st = NULL;
        json_object *o = json_object_new_object();
        if (sqlite3_prepare_v2(c->db,
                               "SELECT container_id, name, ifname, ip, ip6, mac FROM"
                               " net_attachments WHERE network = ? ORDER BY name",
                               -1, &st, NULL) != SQLITE_OK)
                return o;
        sqlite3_bind_text(st, 1, network, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                json_object *e = json_object_new_object();
                static const char *const keys[] = {NULL,   "name", "interface",
                                                   "ipv4", "ipv6", "mac"};
                for (int i = 1; i < 6; i++)
                        json_object_object_add(
                            e, keys[i],
                            json_object_new_string((const char *)sqlite3_column_text(st, i)));
                json_object_object_add(o, (const char *)sqlite3_column_text(st, 0), e);
        }
        sqlite3_finalize(st);
        return o;
}

static json_object *network_obj(struct net_ctx *c, const struct net_network *n)
{
        json_object *o = json_object_new_object(), *subs = json_object_new_array();
        char s[NET_CIDR_STRLEN], g[NET_ADDR_STRLEN], t[32];
        struct tm tm;
        time_t created = (time_t)n->created;
        gmtime_r(&created, &tm);
        strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_object_add(o, "name", json_object_new_string(n->name));
        json_object_object_add(o, "id", json_object_new_string(n->id));
        json_object_object_add(o, "driver", json_object_new_string("bridge"));
        json_object_object_add(o, "network_interface", json_object_new_string(n->bridge));
        json_object_object_add(o, "created", json_object_new_string(t));
        for (int v6 = 0; v6 <= (int)n->has_v6; v6++) {
                json_object *sub = json_object_new_object();
                net_cidr_fmt(v6 ? &n->subnet6 : &n->subnet, s);
                net_addr_fmt(v6 ? &n->gateway6 : &n->gateway, g);
                json_object_object_add(sub, "subnet", json_object_new_string(s));
                json_object_object_add(sub, "gateway", json_object_new_string(g));
                json_object_array_add(subs, sub);
        }
        json_object_object_add(o, "subnets", subs);
        json_object_object_add(o, "ipv6_enabled", json_object_new_boolean(n->has_v6));
        json_object_object_add(o, "internal", json_object_new_boolean(n->internal));
        json_object_object_add(o, "dns_enabled", json_object_new_boolean(n->dns));
        json_object_object_add(o, "mtu", json_object_new_int(n->mtu));
        json_object_object_add(o, "containers", containers_of(c, n->name));
        return o;
}

int net_network_json(struct net_ctx *c, const char *name, char **out, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        json_object *arr = json_object_new_array();
        int rc = 0;
        if (net_default_ensure(c, err) < 0) {
                json_object_put(arr);
                return -1;
        }
        if (sqlite3_prepare_v2(c->db, "SELECT name FROM networks ORDER BY name", -1, &st, NULL) !=
            SQLITE_OK) {
                json_object_put(arr);
                return db_fail(c->db, "reading networks", err);
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
                struct net_network n;
                const char *nm = (const char *)sqlite3_column_text(st, 0);
                if (name && strcmp(name, nm) != 0)
                        continue;
                if (net_network_get(c, nm, &n, err) < 0) {
                        rc = -1;
                        break;
                }
                json_object_array_add(arr, network_obj(c, &n));
        }
        sqlite3_finalize(st);
        if (rc == 0 && name && json_object_array_length(arr) == 0)
                rc = err_set(err, ENOENT, "network '%s' not found", name);
        if (rc == 0) {
                *out = strdup(json_object_to_json_string_ext(
                    arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                if (!*out)
                        rc = err_set(err, ENOMEM, "out of memory");
        }
        json_object_put(arr);
        return rc;
}

int net_container_lookup(struct net_ctx *c, const char *ref, char id_out[128], char name_out[256],
                         struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int n = 0;
        if (sqlite3_prepare_v2(c->db,
                               "SELECT id, name FROM containers WHERE name = ?1 OR id = ?1 OR"
                               " (length(?1) >= 3 AND substr(id, 1, length(?1)) = ?1)"
                               " ORDER BY name = ?1 DESC, id = ?1 DESC LIMIT 2",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "reading containers", err);
        sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                if (n == 0) {
                        snprintf(id_out, 128, "%s", sqlite3_column_text(st, 0));
                        snprintf(name_out, 256, "%s", sqlite3_column_text(st, 1));
                }
                n++;
        }
        sqlite3_finalize(st);
        if (n == 0)
                return err_set(err, ENOENT, "container '%s' not found", ref);
        /* An exact name or id wins; two prefix matches are ambiguous. */
        if (n > 1 && strcmp(ref, name_out) != 0 && strcmp(ref, id_out) != 0)
                return err_set(err, EINVAL, "container '%s' is ambiguous (several ids start so)",
                               ref);
        return 0;
}
