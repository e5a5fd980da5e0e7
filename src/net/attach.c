/* Attaching containers to networks: rows first (lease, attachment, DNS
 * names, ports) in one transaction, then the kernel objects (bridge on first
 * use, veth, addresses, routes, rules). A failure undoes both, so nothing is
 * left half made; the last container to leave a network takes its bridge,
 * responder and rules with it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/net_internal.h"
#include "util/fs.h"

static int stmt(struct net_ctx *c, const char *sql, sqlite3_stmt **st, struct isola_err *err)
{
        if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK)
                return db_fail(c->db, "database", err);
        return 0;
}

/* Runs sql with up to three text parameters; returns the number of rows changed. */
static int exec3(struct net_ctx *c, const char *sql, const char *a, const char *b, const char *d,
                 struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        if (stmt(c, sql, &st, err) < 0)
                return -1;
        const char *p[3] = {a, b, d};
        for (int i = 0; i < 3 && p[i]; i++)
                sqlite3_bind_text(st, i + 1, p[i], -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        sqlite3_finalize(st);
        if (r != SQLITE_DONE)
                return db_fail(c->db, "database", err);
        return sqlite3_changes(c->db);
}

static bool attached(struct net_ctx *c, const char *id, const char *network, char *host_ifname)
{
        sqlite3_stmt *st = NULL;
        struct isola_err e;
        if (stmt(c,
                 "SELECT host_ifname FROM net_attachments WHERE container_id = ? AND network = ?",
                 &st, &e) < 0)
                return false;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, network, -1, SQLITE_STATIC);
        bool found = sqlite3_step(st) == SQLITE_ROW;
        if (found && host_ifname)
                snprintf(host_ifname, IFNAMSIZ, "%s", sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return found;
}

/* eth<N> with the smallest N the container does not use yet. */
static int pick_ifname(struct net_ctx *c, const char *id, char out[IFNAMSIZ], struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        if (stmt(c, "SELECT 1 FROM net_attachments WHERE container_id = ? AND ifname = ?", &st,
                 err) < 0)
                return -1;
        for (int i = 0; i < 64; i++) {
                snprintf(out, IFNAMSIZ, "eth%d", i);
                sqlite3_reset(st);
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, out, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(st) == SQLITE_DONE) {
                        sqlite3_finalize(st);
                        return 0;
                }
        }
        sqlite3_finalize(st);
        return err_set(err, ENOSPC, "container has 64 networks already");
}

/* Who publishes proto port on an overlapping host address ('' = all). */
static int port_owner(struct net_ctx *c, const struct net_port *p, char *who, size_t len,
                      struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        if (stmt(c,
                 "SELECT p.container_id, a.name FROM net_ports p LEFT JOIN net_attachments a ON"
                 " a.container_id = p.container_id AND a.network = p.network WHERE p.proto = ?"
                 " AND p.host_port = ? AND (p.host_ip = ? OR p.host_ip = '' OR ? = '')",
                 &st, err) < 0)
                return -1;
        sqlite3_bind_text(st, 1, p->proto, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, p->host_port);
        sqlite3_bind_text(st, 3, p->host_ip, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, p->host_ip, -1, SQLITE_STATIC);
        int found = sqlite3_step(st) == SQLITE_ROW;
        if (found) {
                const char *name = (const char *)sqlite3_column_text(st, 1);
                snprintf(who, len, "%s", name ? name : (const char *)sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        return found;
}

static int resolve_ports(struct net_ctx *c, const struct net_port *in, size_t n,
                         struct net_port *out, struct isola_err *err)
{
        for (size_t i = 0; i < n; i++) {
                out[i] = in[i];
                struct net_port *p = &out[i];
                char who[160];
                if (strcmp(p->proto, "tcp") != 0 && strcmp(p->proto, "udp") != 0)
                        return err_set(err, EINVAL, "port %u: protocol '%s' is not tcp or udp",
                                       p->ctr_port, p->proto);
                if (!p->ctr_port)
                        return err_set(err, EINVAL, "port: container port 0");
                if (p->host_ip[0]) {
                        struct net_addr a;
                        if (net_addr_parse(p->host_ip, &a) < 0 || a.family != AF_INET)
                                return err_set(err, EINVAL,
                                               "port %s:%u: only IPv4 host addresses can be "
                                               "published",
                                               p->host_ip, p->host_port);
                }
                if (!p->host_port && net_port_random(p->proto, p->host_ip, &p->host_port, err) < 0)
                        return -1;
                for (size_t j = 0; j < i; j++) {
                        if (out[j].host_port == p->host_port && !strcmp(out[j].proto, p->proto) &&
                            (!out[j].host_ip[0] || !p->host_ip[0] ||
                             !strcmp(out[j].host_ip, p->host_ip)))
                                return err_set(err, EADDRINUSE, "port %u/%s is published twice",
                                               p->host_port, p->proto);
                }
                int o = port_owner(c, p, who, sizeof(who), err);
                if (o < 0)
                        return -1;
                if (o)
                        return err_set(err, EADDRINUSE,
                                       "port %u/%s is already published by container '%s'",
                                       p->host_port, p->proto, who);
                if (net_port_free(p->proto, p->host_ip, p->host_port, err) < 0)
                        return -1;
        }
        return 0;
}

static int count_ports(struct net_ctx *c, const char *id, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        if (stmt(c, "SELECT count(*) FROM net_ports WHERE container_id = ?", &st, err) < 0)
                return -1;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_finalize(st);
        return n;
}

struct plan {
        struct net_network n;
        char ifname[IFNAMSIZ], host_ifname[IFNAMSIZ], mac_s[18];
        uint8_t mac[6];
        struct net_addr ip, ip6;
        struct net_port *ports;
        size_t n_ports;
};

static int insert_rows(struct net_ctx *c, const char *id, const char *name,
                       const struct net_attach_req *req, struct plan *p, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        char ip[NET_CIDR_STRLEN] = "", ip6[NET_CIDR_STRLEN] = "", a[NET_ADDR_STRLEN];
        if (net_ipam_lease(c, &p->n, false, id, req ? req->static_ip : NULL, &p->ip, err) < 0 ||
            (p->n.has_v6 && net_ipam_lease(c, &p->n, true, id, NULL, &p->ip6, err) < 0) ||
            pick_ifname(c, id, p->ifname, err) < 0)
                return -1;
        net_addr_fmt(&p->ip, a);
        snprintf(ip, sizeof(ip), "%s/%u", a, p->n.subnet.prefix);
        if (p->n.has_v6) {
                net_addr_fmt(&p->ip6, a);
                snprintf(ip6, sizeof(ip6), "%s/%u", a, p->n.subnet6.prefix);
        }
        net_host_ifname(id, p->n.name, p->host_ifname);
        net_mac_from_ip(&p->ip, p->mac);
        net_mac_fmt(p->mac, p->mac_s);
        if (stmt(c,
                 "INSERT INTO net_attachments (container_id, network, name, ifname, host_ifname,"
                 " mac, ip, ip6, created) VALUES (?,?,?,?,?,?,?,?,?)",
                 &st, err) < 0)
                return -1;
        const char *v[] = {id, p->n.name, name, p->ifname, p->host_ifname, p->mac_s, ip, ip6};
        for (int i = 0; i < 8; i++)
                sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 9, (sqlite3_int64)time(NULL));
        int r = sqlite3_step(st);
        sqlite3_finalize(st);
        if (r != SQLITE_DONE)
                return db_fail(c->db, "adding the attachment", err);
        const char *ins = "INSERT OR IGNORE INTO net_dns_names (network, name, container_id)"
                          " VALUES (?,?,?)";
        if (exec3(c, ins, p->n.name, name, id, err) < 0)
                return -1;
        for (const char *const *al = req ? req->aliases : NULL; al && *al; al++) {
                if (exec3(c, ins, p->n.name, *al, id, err) < 0)
                        return -1;
        }
        net_addr_fmt(&p->ip, a);
        for (size_t i = 0; i < p->n_ports; i++) {
                const struct net_port *pp = &p->ports[i];
                if (stmt(c,
                         "INSERT INTO net_ports (container_id, network, proto, host_ip, host_port,"
                         " ctr_ip, ctr_port) VALUES (?,?,?,?,?,?,?)",
                         &st, err) < 0)
                        return -1;
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, p->n.name, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, pp->proto, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 4, pp->host_ip, -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 5, pp->host_port);
                sqlite3_bind_text(st, 6, a, -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 7, pp->ctr_port);
                r = sqlite3_step(st);
                sqlite3_finalize(st);
                if (r != SQLITE_DONE)
                        return db_fail(c->db, "publishing a port", err);
        }
        return 0;
}

static void sysctl_set(const char *path, const char *val)
{
        struct isola_err ignored;
        char *cur = NULL;
        size_t len;
        /* Only written when different: a write takes a lock in the kernel. */
        if (fs_read_file(path, &cur, &len, &ignored) == 0 && cur[0] == val[0]) {
                free(cur);
                return;
        }
        free(cur);
        fs_write_str(path, val, &ignored);
}

/* Kernel side of a new attachment. *bridge_new tells whether the network
 * became active (its rules must be rebuilt). */
static int kernel_attach(struct net_ctx *c, const char *netns_path, struct plan *p,
                         bool *bridge_new, struct isola_err *err)
{
        struct net_nl *nl = NULL;
        int rc = -1;
        if (net_nl_open(&nl, err) < 0)
                return -1;
        *bridge_new = !net_link_index(nl, p->n.bridge);
        if (*bridge_new) {
                char path[128];
                if (net_bridge_up(nl, &p->n, err) < 0)
                        goto out;
                /* Forwarding is turned on for the first network and left on
                 * (other software may rely on it; see docs/networking.md). */
                sysctl_set("/proc/sys/net/ipv4/ip_forward", "1");
                if (p->n.has_v6)
                        sysctl_set("/proc/sys/net/ipv6/conf/all/forwarding", "1");
                snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet",
                         p->n.bridge);
                sysctl_set(path, "1");
        }
        if (p->n.dns && net_dns_start(c, &p->n, err) < 0)
                goto out;
        struct net_veth_req r = {
            .host_ifname = p->host_ifname,
            .ifname = p->ifname,
            .bridge = p->n.bridge,
            .netns_path = netns_path,
            .mtu = p->n.mtu,
            .ip = &p->ip,
            .prefix = p->n.subnet.prefix,
            .ip6 = p->n.has_v6 ? &p->ip6 : NULL,
            .prefix6 = p->n.subnet6.prefix,
            .gateway = &p->n.gateway,
            .gateway6 = &p->n.gateway6,
            .default_route = !p->n.internal,
        };
        memcpy(r.mac, p->mac, 6);
        rc = net_veth_add(nl, &r, err);
out:
        net_nl_close(nl);
        return rc;
}

static int detach_locked(struct net_ctx *c, const char *id, const char *network, bool del_link,
                         struct isola_err *err);

/* Names end up in DNS answers and /etc/hosts lines: letters, digits, _.-
 * only (what container names allow), so none can smuggle in a hosts entry. */
static int valid_dns_name(const char *what, const char *name, struct isola_err *err)
{
        size_t len = strlen(name);
        if (!len || len > 253 ||
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_.-") != len ||
            name[0] == '.' || name[0] == '-')
                return err_set(err, EINVAL,
                               "%s '%s': use 1-253 letters, digits, '_', '.', '-' (not first)",
                               what, name);
        return 0;
}

int net_attach(struct net_ctx *c, const char *container_id, const char *name,
               const char *netns_path, const struct net_attach_req *req,
               const struct net_port *ports, size_t n_ports, struct net_attachment *out,
               struct isola_err *err)
{
        const char *network = req && req->network ? req->network : NET_DEFAULT_NAME;
        struct plan p = {0};
        bool bridge_new = false;
        int rc = -1;
        if (!container_id[0])
                return err_set(err, EINVAL, "net_attach: empty container id");
        if (valid_dns_name("container name", name, err) < 0)
                return -1;
        for (const char *const *al = req ? req->aliases : NULL; al && *al; al++) {
                if (valid_dns_name("network alias", *al, err) < 0)
                        return -1;
        }
        int lk = net_lock(c, err);
        if (lk < 0)
                return -1;
        if (net_network_get(c, network, &p.n, err) < 0)
                goto out;
        if (attached(c, container_id, network, NULL)) {
                rc = err_set(err, EEXIST, "container '%s' is already connected to network '%s'",
                             name, network);
                goto out;
        }
        /* Ports are published once per container (on its first network). */
        int have = n_ports ? count_ports(c, container_id, err) : 0;
        if (have < 0)
                goto out;
        if (n_ports && !have) {
                p.ports = calloc(n_ports, sizeof(*p.ports));
                if (!p.ports) {
                        rc = err_set(err, ENOMEM, "out of memory");
                        goto out;
                }
                if (resolve_ports(c, ports, n_ports, p.ports, err) < 0)
                        goto out;
                p.n_ports = n_ports;
        }
        if (db_begin(c->db, err) < 0)
                goto out;
        if (insert_rows(c, container_id, name, req, &p, err) < 0) {
                db_rollback(c->db);
                goto out;
        }
        if (db_commit(c->db, err) < 0)
                goto out;
        if (kernel_attach(c, netns_path, &p, &bridge_new, err) < 0 ||
            (bridge_new && net_network_set_up(c, network, true, err) < 0) ||
            ((bridge_new || p.n_ports) && net_nft_sync(c, err) < 0)) {
                struct isola_err undo;
                detach_locked(c, container_id, network, true, &undo);
                /* A bridge this attach made goes too (the default network's
                 * already went with its last container). */
                if (bridge_new && strcmp(network, NET_DEFAULT_NAME) != 0 &&
                    net_network_down(c, network, &undo) == 0)
                        net_nft_sync(c, &undo);
                goto out;
        }
        if (out) {
                memset(out, 0, sizeof(*out));
                snprintf(out->network, sizeof(out->network), "%s", network);
                snprintf(out->ifname, sizeof(out->ifname), "%s", p.ifname);
                char a[NET_ADDR_STRLEN];
                net_addr_fmt(&p.ip, a);
                snprintf(out->ip, sizeof(out->ip), "%s/%u", a, p.n.subnet.prefix);
                net_addr_fmt(&p.n.gateway, out->gateway);
                snprintf(out->mac, sizeof(out->mac), "%s", p.mac_s);
        }
        rc = 0;
out:
        if (rc < 0 && p.n.name[0])
                err_prefix(err, "network '%s'", network);
        free(p.ports);
        net_unlock(lk);
        return rc;
}

/* The default network's bridge, responder and (via the caller) rules go
 * with its last container. A user network keeps them until `network rm`
 * (as docker keeps its bridges): deleting a bridge waits for an RCU grace
 * period (~30 ms), which would otherwise be paid by every short-lived
 * container alone on its network. */
static int network_idle(struct net_ctx *c, const char *network, bool *idle, struct isola_err *err)
{
        int left = 0;
        *idle = false;
        if (strcmp(network, NET_DEFAULT_NAME) != 0)
                return 0;
        if (net_network_count_attached(c, network, &left, err) < 0)
                return -1;
        if (left)
                return 0;
        *idle = true;
        return net_network_down(c, network, err);
}

/* del_link false: the container's namespace is about to be removed
 * (net_detach_all + net_ns_remove), and the kernel destroys the veth pair
 * with it, off the caller's path; an explicit delete would wait ~20 ms for an
 * RCU grace period. */
static int detach_locked(struct net_ctx *c, const char *id, const char *network, bool del_link,
                         struct isola_err *err)
{
        char host_ifname[IFNAMSIZ];
        struct net_nl *nl = NULL;
        if (!attached(c, id, network, host_ifname))
                return err_set(err, ENOENT, "container is not connected to network '%s'", network);
        /* Removing the host end takes the container's end with it. */
        if (del_link) {
                if (net_nl_open(&nl, err) < 0)
                        return -1;
                int r = net_link_delete(nl, host_ifname, err);
                net_nl_close(nl);
                if (r < 0)
                        return -1;
        }
        int ports;
        if (db_begin(c->db, err) < 0)
                return -1;
        if (exec3(c, "DELETE FROM net_leases WHERE network = ? AND container_id = ?", network, id,
                  NULL, err) < 0 ||
            exec3(c, "DELETE FROM net_dns_names WHERE network = ? AND container_id = ?", network,
                  id, NULL, err) < 0 ||
            (ports = exec3(c, "DELETE FROM net_ports WHERE network = ? AND container_id = ?",
                           network, id, NULL, err)) < 0 ||
            exec3(c, "DELETE FROM net_attachments WHERE network = ? AND container_id = ?", network,
                  id, NULL, err) < 0) {
                db_rollback(c->db);
                return -1;
        }
        if (db_commit(c->db, err) < 0)
                return -1;
        bool idle;
        if (network_idle(c, network, &idle, err) < 0)
                return -1;
        return idle || ports ? net_nft_sync(c, err) : 0;
}

int net_detach(struct net_ctx *c, const char *container_id, const char *network,
               struct isola_err *err)
{
        int lk = net_lock(c, err);
        if (lk < 0)
                return -1;
        int rc = detach_locked(c, container_id, network, true, err);
        net_unlock(lk);
        return rc < 0 ? err_prefix(err, "network '%s'", network) : 0;
}

/* Names of the networks a container is on (heap array of fixed strings). */
static int container_networks(struct net_ctx *c, const char *id, char (**out)[NET_NAME_MAX + 1],
                              size_t *n_out, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        char(*v)[NET_NAME_MAX + 1] = NULL;
        size_t n = 0;
        if (stmt(c, "SELECT network FROM net_attachments WHERE container_id = ? ORDER BY ifname",
                 &st, err) < 0)
                return -1;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                char(*nv)[NET_NAME_MAX + 1] = realloc(v, (n + 1) * sizeof(*v));
                if (!nv) {
                        free(v);
                        sqlite3_finalize(st);
                        return err_set(err, ENOMEM, "out of memory");
                }
                v = nv;
                snprintf(v[n++], sizeof(v[0]), "%s", sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        *out = v;
        *n_out = n;
        return 0;
}

int net_detach_all(struct net_ctx *c, const char *container_id, struct isola_err *err)
{
        char(*nets)[NET_NAME_MAX + 1] = NULL;
        size_t n = 0;
        /* The container's veths die with its namespace (net_ns_remove comes
         * next, see net.h): no explicit delete on this path. */
        const bool del_links = false;
        int lk = net_lock(c, err), rc = 0;
        if (lk < 0)
                return -1;
        if (container_networks(c, container_id, &nets, &n, err) < 0) {
                net_unlock(lk);
                return -1;
        }
        /* Go on after a failure so one broken network does not keep the
         * others; the first error is reported. */
        for (size_t i = 0; i < n; i++) {
                struct isola_err e;
                if (detach_locked(c, container_id, nets[i], del_links, &e) < 0 && rc == 0) {
                        *err = e;
                        err_prefix(err, "network '%s'", nets[i]);
                        rc = -1;
                }
        }
        free(nets);
        net_unlock(lk);
        return rc;
}

int net_attachments_get(struct net_ctx *c, const char *container_id, struct net_attachment **out,
                        size_t *n_out, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        struct net_attachment *v = NULL;
        size_t n = 0;
        if (stmt(c,
                 "SELECT a.network, a.ifname, a.ip, n.gateway, a.mac FROM net_attachments a JOIN"
                 " networks n ON n.name = a.network WHERE a.container_id = ? ORDER BY a.ifname",
                 &st, err) < 0)
                return -1;
        sqlite3_bind_text(st, 1, container_id, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                struct net_attachment *nv = realloc(v, (n + 1) * sizeof(*v));
                if (!nv) {
                        free(v);
                        sqlite3_finalize(st);
                        return err_set(err, ENOMEM, "out of memory");
                }
                v = nv;
                memset(&v[n], 0, sizeof(v[n]));
                snprintf(v[n].network, sizeof(v[n].network), "%s", sqlite3_column_text(st, 0));
                snprintf(v[n].ifname, sizeof(v[n].ifname), "%s", sqlite3_column_text(st, 1));
                snprintf(v[n].ip, sizeof(v[n].ip), "%s", sqlite3_column_text(st, 2));
                snprintf(v[n].gateway, sizeof(v[n].gateway), "%s", sqlite3_column_text(st, 3));
                snprintf(v[n].mac, sizeof(v[n].mac), "%s", sqlite3_column_text(st, 4));
                n++;
        }
        sqlite3_finalize(st);
        *out = v;
        *n_out = n;
        return 0;
}

int net_ports_get(struct net_ctx *c, const char *container_id, struct net_port **out, size_t *n_out,
                  struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        struct net_port *v = NULL;
        size_t n = 0;
        if (stmt(c,
                 "SELECT proto, host_ip, host_port, ctr_port FROM net_ports WHERE container_id = ?"
                 " ORDER BY ctr_port, proto",
                 &st, err) < 0)
                return -1;
        sqlite3_bind_text(st, 1, container_id, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                struct net_port *nv = realloc(v, (n + 1) * sizeof(*v));
                if (!nv) {
                        free(v);
                        sqlite3_finalize(st);
                        return err_set(err, ENOMEM, "out of memory");
                }
                v = nv;
                memset(&v[n], 0, sizeof(v[n]));
                snprintf(v[n].proto, sizeof(v[n].proto), "%s", sqlite3_column_text(st, 0));
                snprintf(v[n].host_ip, sizeof(v[n].host_ip), "%s", sqlite3_column_text(st, 1));
                v[n].host_port = (uint16_t)sqlite3_column_int(st, 2);
                v[n].ctr_port = (uint16_t)sqlite3_column_int(st, 3);
                n++;
        }
        sqlite3_finalize(st);
        if (!n) { /* a rootless container's ports have no rows */
                free(v);
                return net_rootless_ports(c, container_id, out, n_out);
        }
        *out = v;
        *n_out = n;
        return 0;
}
