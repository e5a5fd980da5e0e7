/* Network rows: create (with subnet checks against other networks and the
 * host's routes), look-up, the default network, remove, prune. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/events.h" /* api: network create/destroy events */
#include "net/net_internal.h"
#include "util/cleanup.h"

static int valid_name(const char *name, struct isola_err *err)
{
        size_t len = strlen(name);
        if (!len || len > NET_NAME_MAX)
                return err_set(err, EINVAL, "network name '%s': must be 1..%d characters", name,
                               NET_NAME_MAX);
        for (size_t i = 0; i < len; i++) {
                char ch = name[i];
                bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                          (ch >= '0' && ch <= '9') || (i > 0 && strchr("_.-", ch));
                if (!ok)
                        return err_set(err, EINVAL,
                                       "network name '%s': only letters, digits and _.- "
                                       "(not first) are allowed",
                                       name);
        }
        return 0;
}

static int row_to_network(sqlite3_stmt *st, struct net_network *n, struct isola_err *err)
{
        /* name, id, bridge, subnet, gateway, subnet6, gateway6, internal, dns, mtu, created */
        const char *s6 = (const char *)sqlite3_column_text(st, 5);
        memset(n, 0, sizeof(*n));
        snprintf(n->name, sizeof(n->name), "%s", sqlite3_column_text(st, 0));
        snprintf(n->id, sizeof(n->id), "%s", sqlite3_column_text(st, 1));
        snprintf(n->bridge, sizeof(n->bridge), "%s", sqlite3_column_text(st, 2));
        if (net_cidr_parse((const char *)sqlite3_column_text(st, 3), &n->subnet, err) < 0 ||
            net_addr_parse((const char *)sqlite3_column_text(st, 4), &n->gateway) < 0)
                return err_set(err, EIO, "network '%s': corrupt subnet row", n->name);
        if (s6 && s6[0]) {
                n->has_v6 = true;
                if (net_cidr_parse(s6, &n->subnet6, err) < 0 ||
                    net_addr_parse((const char *)sqlite3_column_text(st, 6), &n->gateway6) < 0)
                        return err_set(err, EIO, "network '%s': corrupt subnet6 row", n->name);
        }
        n->internal = sqlite3_column_int(st, 7);
        n->dns = sqlite3_column_int(st, 8);
        n->mtu = sqlite3_column_int(st, 9);
        n->created = sqlite3_column_int64(st, 10);
        n->up = sqlite3_column_int(st, 11);
        return 0;
}

#define NETWORK_COLS                                                                               \
        "name, id, bridge, subnet, gateway, subnet6, gateway6, internal, dns, mtu, created, up"

int net_network_get(struct net_ctx *c, const char *name, struct net_network *out,
                    struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        if (!strcmp(name, NET_DEFAULT_NAME) && net_default_ensure(c, err) < 0)
                return -1;
        if (sqlite3_prepare_v2(c->db, "SELECT " NETWORK_COLS " FROM networks WHERE name = ?", -1,
                               &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "reading networks", err);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int r = sqlite3_step(st), rc;
        if (r == SQLITE_ROW)
                rc = row_to_network(st, out, err);
        else if (r == SQLITE_DONE)
                rc = err_set(err, ENOENT, "network '%s' not found", name);
        else
                rc = db_fail(c->db, "reading networks", err);
        sqlite3_finalize(st);
        return rc;
}

int net_network_count_attached(struct net_ctx *c, const char *name, int *n_out,
                               struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(c->db, "SELECT count(*) FROM net_attachments WHERE network = ?", -1,
                               &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "reading attachments", err);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        *n_out = r == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_finalize(st);
        return r == SQLITE_ROW ? 0 : db_fail(c->db, "reading attachments", err);
}

struct overlap_arg {
        struct net_ctx *c;
        const struct net_cidr *want;
        char *what;
        size_t what_len;
        bool hit;
};

static bool our_bridge(struct net_ctx *c, const char *dev)
{
        sqlite3_stmt *st = NULL;
        bool found = false;
        if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM networks WHERE bridge = ?", -1, &st, NULL) ==
            SQLITE_OK) {
                sqlite3_bind_text(st, 1, dev, -1, SQLITE_STATIC);
                found = sqlite3_step(st) == SQLITE_ROW;
        }
        sqlite3_finalize(st);
        return found;
}

static void overlap_cb(const struct net_cidr *p, const char *dev, void *arg)
{
        struct overlap_arg *a = arg;
        /* Our own bridges carry networks the database already checks. */
        if (a->hit || !strcmp(dev, "lo") || (dev[0] && our_bridge(a->c, dev)))
                return;
        if (net_cidr_overlap(a->want, p)) {
                char s[NET_CIDR_STRLEN];
                net_cidr_fmt(p, s);
                snprintf(a->what, a->what_len, "host route %s%s%s", s, dev[0] ? " dev " : "", dev);
                a->hit = true;
        }
}

int net_host_overlap(struct net_ctx *c, const struct net_cidr *cidr, char *what, size_t what_len,
                     struct isola_err *err)
{
        struct net_nl *nl = NULL;
        struct overlap_arg a = {c, cidr, what, what_len, false};
        if (net_nl_open(&nl, err) < 0)
                return -1;
        int r = net_host_prefixes(nl, overlap_cb, &a, err);
        net_nl_close(nl);
        return r < 0 ? -1 : a.hit;
}

/* 1 when cidr overlaps another network's subnet (name in what), 0 if not. */
static int db_overlap(struct net_ctx *c, const struct net_cidr *cidr, char *what, size_t what_len,
                      struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int hit = 0;
        if (sqlite3_prepare_v2(c->db, "SELECT name, subnet, subnet6 FROM networks", -1, &st,
                               NULL) != SQLITE_OK)
                return db_fail(c->db, "reading networks", err);
        while (!hit && sqlite3_step(st) == SQLITE_ROW) {
                for (int col = 1; col <= 2 && !hit; col++) {
                        struct net_cidr other;
                        struct isola_err ignored;
                        const char *s = (const char *)sqlite3_column_text(st, col);
                        if (s && s[0] && net_cidr_parse(s, &other, &ignored) == 0 &&
                            net_cidr_overlap(cidr, &other)) {
                                snprintf(what, what_len, "network '%s' (%s)",
                                         sqlite3_column_text(st, 0), s);
                                hit = 1;
                        }
                }
        }
        sqlite3_finalize(st);
        return hit;
}

static int subnet_taken(struct net_ctx *c, const struct net_cidr *cidr, char *what, size_t what_len,
                        struct isola_err *err)
{
        int r = db_overlap(c, cidr, what, what_len, err);
        return r ? r : net_host_overlap(c, cidr, what, what_len, err);
}

/* The first free 10.89.N.0/24 (podman picks the same range). */
static int pick_subnet(struct net_ctx *c, struct net_cidr *out, struct isola_err *err)
{
        for (int n = 0; n < 256; n++) {
                char s[32], what[160];
                snprintf(s, sizeof(s), "10.89.%d.0/24", n);
                if (net_cidr_parse(s, out, err) < 0)
                        return -1;
                int r = subnet_taken(c, out, what, sizeof(what), err);
                if (r < 0)
                        return -1;
                if (!r)
                        return 0;
        }
        return err_set(err, ENOSPC, "no free subnet in 10.89.0.0/16: pass --subnet");
}

static bool link_exists(const char *name)
{
        return if_nametoindex(name) != 0;
}

/* The hash of a state root other than the system's (0 for the system's). */
static unsigned long root_hash(struct net_ctx *c)
{
        char t[32];
        net_nft_table(c, t);
        return strcmp(t, "isola") != 0 ? strtoul(t + strlen("isola_"), NULL, 16) : 0;
}

/* isola1, isola2, ... for the system root. Names are free per database and
 * on the host at this moment only, so another root (tests) starts at a
 * place of its own (isola<1000000 + 10 * (hash mod 800000)>) and two roots
 * rarely pick the same name while their networks are down. */
static int pick_bridge(struct net_ctx *c, char out[IFNAMSIZ], struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        unsigned long h = root_hash(c);
        unsigned long base = h ? 1000000UL + 10UL * (h % 800000UL) : 1;
        if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM networks WHERE bridge = ?", -1, &st, NULL) !=
            SQLITE_OK)
                return db_fail(c->db, "reading networks", err);
        for (unsigned long n = base; n < base + 10000; n++) {
                snprintf(out, IFNAMSIZ, NET_BRIDGE_PREFIX "%lu", n);
                sqlite3_reset(st);
                sqlite3_bind_text(st, 1, out, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(st) == SQLITE_DONE && !link_exists(out)) {
                        sqlite3_finalize(st);
                        return 0;
                }
        }
        sqlite3_finalize(st);
        return err_set(err, ENOSPC, "no free bridge name");
}

static int check_gateway(const char *what, const struct net_cidr *sub, const char *gw_s,
                         struct net_addr *gw, struct isola_err *err)
{
        char s[NET_CIDR_STRLEN];
        net_cidr_fmt(sub, s);
        if (!gw_s) {
                net_cidr_nth(sub, 1, gw);
                return 0;
        }
        if (net_addr_parse(gw_s, gw) < 0)
                return err_set(err, EINVAL, "%s '%s': not an IP address", what, gw_s);
        int64_t off = net_cidr_offset(sub, gw);
        if (off <= 0 || (sub->addr.family == AF_INET && (uint64_t)off == net_cidr_span(sub) - 1))
                return err_set(err, EINVAL, "%s '%s': not a host address of subnet %s", what, gw_s,
                               s);
        return 0;
}

struct new_net {
        char bridge[IFNAMSIZ], id[65];
        struct net_cidr sub, sub6;
        struct net_addr gw, gw6;
        bool v6;
};

static int insert_network(struct net_ctx *c, const struct net_create_opts *o,
                          const struct new_net *nn, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        char sub[NET_CIDR_STRLEN], gw[NET_ADDR_STRLEN], sub6[NET_CIDR_STRLEN] = "",
                                                        gw6[NET_ADDR_STRLEN] = "";
        net_cidr_fmt(&nn->sub, sub);
        net_addr_fmt(&nn->gw, gw);
        if (nn->v6) {
                net_cidr_fmt(&nn->sub6, sub6);
                net_addr_fmt(&nn->gw6, gw6);
        }
        if (sqlite3_prepare_v2(c->db,
                               "INSERT INTO networks (name, id, bridge, subnet, gateway, subnet6,"
                               " gateway6, internal, dns, mtu, created)"
                               " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "adding the network", err);
        sqlite3_bind_text(st, 1, o->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, nn->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, nn->bridge, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, sub, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, gw, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, sub6, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, gw6, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 8, o->internal);
        sqlite3_bind_int(st, 9, !o->no_dns);
        sqlite3_bind_int(st, 10, o->mtu ? o->mtu : 1500);
        sqlite3_bind_int64(st, 11, (sqlite3_int64)time(NULL));
        int r = sqlite3_step(st);
        sqlite3_finalize(st);
        if (r == SQLITE_CONSTRAINT || (r & 0xff) == SQLITE_CONSTRAINT)
                return err_set(err, EEXIST, "network '%s' already exists", o->name);
        return r == SQLITE_DONE ? 0 : db_fail(c->db, "adding the network", err);
}

static int make_subnets(struct net_ctx *c, const struct net_create_opts *o, struct new_net *nn,
                        struct isola_err *err)
{
        char what[200];
        if (o->subnet) {
                if (net_cidr_parse(o->subnet, &nn->sub, err) < 0)
                        return -1;
                if (nn->sub.addr.family != AF_INET)
                        return err_set(err, EINVAL, "subnet '%s': use --subnet6 for IPv6",
                                       o->subnet);
                int r = subnet_taken(c, &nn->sub, what, sizeof(what), err);
                if (r)
                        return r < 0 ? -1
                                     : err_set(err, EEXIST, "subnet '%s' overlaps %s", o->subnet,
                                               what);
        } else if (pick_subnet(c, &nn->sub, err) < 0) {
                return -1;
        }
        if (check_gateway("gateway", &nn->sub, o->gateway, &nn->gw, err) < 0)
                return -1;
        nn->v6 = o->ipv6 || o->subnet6;
        if (!nn->v6)
                return 0;
        if (o->subnet6) {
                if (net_cidr_parse(o->subnet6, &nn->sub6, err) < 0)
                        return -1;
                if (nn->sub6.addr.family != AF_INET6)
                        return err_set(err, EINVAL, "subnet6 '%s': not an IPv6 prefix", o->subnet6);
        } else {
                /* A unique local /64 from the network id (RFC 4193 style). */
                char s[64];
                snprintf(s, sizeof(s), "fd%.2s:%.4s:%.4s::/64", nn->id, nn->id + 2, nn->id + 6);
                if (net_cidr_parse(s, &nn->sub6, err) < 0)
                        return -1;
        }
        int r = subnet_taken(c, &nn->sub6, what, sizeof(what), err);
        if (r) {
                char s[NET_CIDR_STRLEN];
                net_cidr_fmt(&nn->sub6, s);
                return r < 0 ? -1 : err_set(err, EEXIST, "subnet6 '%s' overlaps %s", s, what);
        }
        return check_gateway("gateway6", &nn->sub6, o->gateway6, &nn->gw6, err);
}

int net_network_create(struct net_ctx *c, const struct net_create_opts *o, struct isola_err *err)
{
        struct new_net nn = {0};
        struct net_network existing;
        if (valid_name(o->name, err) < 0)
                return -1;
        if (o->mtu && (o->mtu < 576 || o->mtu > 65535))
                return err_set(err, EINVAL, "mtu %d: must be 576..65535", o->mtu);
        if (!strcmp(o->name, NET_DEFAULT_NAME) || !strcmp(o->name, "none") ||
            !strcmp(o->name, "host") || !strcmp(o->name, "bridge"))
                return err_set(err, EEXIST, "network name '%s' is reserved", o->name);
        /* The default network claims its subnet first. */
        if (net_default_ensure(c, err) < 0)
                return -1;
        int lk = net_lock(c, err);
        if (lk < 0)
                return -1;
        int rc = -1;
        if (net_network_get(c, o->name, &existing, err) == 0) {
                rc = err_set(err, EEXIST, "network '%s' already exists", o->name);
                goto out;
        }
        if (net_random_hex(nn.id, 64, err) < 0 || make_subnets(c, o, &nn, err) < 0 ||
            pick_bridge(c, nn.bridge, err) < 0)
                goto out;
        rc = insert_network(c, o, &nn, err);
        if (rc == 0)
                eng_event(c->db, "network", "create", nn.id, "name", o->name, "type", "bridge");
out:
        net_unlock(lk);
        return rc;
}

/* Another state root than the system's (tests, a user's own root) must not
 * take isola0 and 10.88.0.0/16 from it or from each other: its default
 * network gets the bridge isola<hash of the root> and a /24 picked from the
 * same hash (10.90-99.x.0/24), so concurrent roots rarely even probe the same
 * subnet. */
static int default_subnet(struct net_ctx *c, struct new_net *nn, char s[32], struct isola_err *err)
{
        char what[200];
        unsigned long h = root_hash(c);
        bool system_root = h == 0;

        for (int k = 0; k < (system_root ? 12 : 256); k++) {
                if (system_root && k == 1) /* 10.89 is where user networks go */
                        continue;
                if (system_root) {
                        snprintf(s, 32, "10.%d.0.0/16", 88 + k);
                } else {
                        unsigned long v = h + (unsigned long)k * 2654435761UL;
                        snprintf(s, 32, "10.%lu.%lu.0/24", 90 + v % 10, (v / 10) % 256);
                }
                if (net_cidr_parse(s, &nn->sub, err) < 0)
                        return -1;
                int taken = subnet_taken(c, &nn->sub, what, sizeof(what), err);
                if (taken < 0)
                        return -1;
                if (taken)
                        continue;
                net_cidr_nth(&nn->sub, 1, &nn->gw);
                /* isolaN names are picked per database: two roots would pick
                 * the same free one while both are down, then delete each
                 * other's. The root's own hash in decimal cannot collide. */
                if (system_root)
                        snprintf(nn->bridge, sizeof(nn->bridge), NET_DEFAULT_BRIDGE);
                else
                        snprintf(nn->bridge, sizeof(nn->bridge), NET_BRIDGE_PREFIX "%lu",
                                 1000000000UL + h % 1000000000UL);
                return 0;
        }
        return err_set(err, ENOSPC, "no free subnet for the default network (10.88-99.0.0/16)");
}

int net_default_ensure(struct net_ctx *c, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM networks WHERE name = ?", -1, &st, NULL) !=
            SQLITE_OK)
                return db_fail(c->db, "reading networks", err);
        sqlite3_bind_text(st, 1, NET_DEFAULT_NAME, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        sqlite3_finalize(st);
        if (r == SQLITE_ROW)
                return 0;
        /* 10.88.0.0/16 as podman's, unless the host already uses it: then
         * the first free of 10.90..10.99. */
        struct net_create_opts o = {.name = NET_DEFAULT_NAME};
        struct new_net nn = {0};
        char s[32];
        if (net_random_hex(nn.id, 64, err) < 0 || default_subnet(c, &nn, s, err) < 0)
                return -1;
        o.subnet = s;
        int ins = insert_network(c, &o, &nn, err);
        /* Another process made it first: fine. */
        return ins < 0 && err->errnum == EEXIST ? 0 : ins;
}

int net_network_set_up(struct net_ctx *c, const char *name, bool up, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(c->db, "UPDATE networks SET up = ? WHERE name = ?", -1, &st, NULL) !=
            SQLITE_OK)
                return db_fail(c->db, "updating the network", err);
        sqlite3_bind_int(st, 1, up);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        sqlite3_finalize(st);
        return r == SQLITE_DONE ? 0 : db_fail(c->db, "updating the network", err);
}

int net_network_down(struct net_ctx *c, const char *name, struct isola_err *err)
{
        struct net_network n;
        struct net_nl *nl = NULL;
        net_dns_stop(c, name);
        if (net_network_get(c, name, &n, err) < 0)
                return err->errnum == ENOENT ? 0 : -1;
        if (net_nl_open(&nl, err) < 0)
                return -1;
        int r = net_link_delete(nl, n.bridge, err);
        net_nl_close(nl);
        if (r < 0 || net_network_set_up(c, name, false, err) < 0)
                return -1;
        return 0;
}

int net_network_remove(struct net_ctx *c, const char *name, struct isola_err *err)
{
        struct net_network n = {0};
        int attached = 0, rc = -1;
        if (!strcmp(name, NET_DEFAULT_NAME))
                return err_set(err, EPERM,
                               "network '%s' is the default network and cannot be "
                               "removed",
                               name);
        int lk = net_lock(c, err);
        if (lk < 0)
                return -1;
        if (net_network_get(c, name, &n, err) < 0 ||
            net_network_count_attached(c, name, &attached, err) < 0)
                goto out;
        if (attached) {
                rc = err_set(err, EBUSY, "network '%s' is in use by %d container%s", name, attached,
                             attached == 1 ? "" : "s");
                goto out;
        }
        if (n.up && net_network_down(c, name, err) < 0)
                goto out;
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(c->db, "DELETE FROM networks WHERE name = ?", -1, &st, NULL) !=
            SQLITE_OK) {
                rc = db_fail(c->db, "removing the network", err);
                goto out;
        }
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(c->db, "removing the network", err);
        sqlite3_finalize(st);
        if (rc == 0)
                eng_event(c->db, "network", "destroy", n.id, "name", name, "type", "bridge");
        /* Marked down before: the rebuilt table no longer has its rules. */
        if (rc == 0 && n.up)
                rc = net_nft_sync(c, err);
out:
        net_unlock(lk);
        return rc;
}

int net_network_prune(struct net_ctx *c, void (*fn)(const char *name, void *arg), void *arg,
                      struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        char names[256][NET_NAME_MAX + 1];
        size_t n = 0;
        if (sqlite3_prepare_v2(c->db,
                               "SELECT name FROM networks WHERE name != ? AND name NOT IN"
                               " (SELECT network FROM net_attachments) ORDER BY name",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "reading networks", err);
        sqlite3_bind_text(st, 1, NET_DEFAULT_NAME, -1, SQLITE_STATIC);
        while (n < ARRAY_SIZE(names) && sqlite3_step(st) == SQLITE_ROW)
                snprintf(names[n++], sizeof(names[0]), "%s", sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        for (size_t i = 0; i < n; i++) {
                if (net_network_remove(c, names[i], err) < 0) {
                        if (err->errnum == EBUSY) /* attached meanwhile */
                                continue;
                        return -1;
                }
                if (fn)
                        fn(names[i], arg);
        }
        return 0;
}
