/* Unit tests: networks and the IPAM against a database in a temp root (no
 * links are made: leases only). */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net_internal.h"
#include "tap.h"

static int lease(struct net_ctx *c, struct net_network *n, const char *id, const char *ip,
                 char out[NET_ADDR_STRLEN], struct isola_err *err)
{
        struct net_addr a;
        if (net_ipam_lease(c, n, false, id, ip, &a, err) < 0)
                return -1;
        net_addr_fmt(&a, out);
        return 0;
}

static void release(struct net_ctx *c, const char *ip)
{
        char sql[256];
        snprintf(sql, sizeof(sql), "DELETE FROM net_leases WHERE ip = '%s'", ip);
        struct isola_err e;
        db_exec(c->db, sql, &e);
}

int main(void)
{
        char tmpl[] = "/tmp/isola-net-ipam-XXXXXX";
        struct net_ctx c = {0};
        struct isola_err err = {0};
        struct net_network n;
        char ip[NET_ADDR_STRLEN], first[NET_ADDR_STRLEN];

        if (!mkdtemp(tmpl) || db_paths_resolve(tmpl, &c.paths, &err) < 0 ||
            db_open(&c.paths, &c.db, &err) < 0) {
                printf("1..0 # SKIP no database: %s\n", err.msg);
                return 0;
        }
        struct net_create_opts o = {.name = "nt-ipam", .subnet = "10.199.77.0/29"};
        tap_ok(net_network_create(&c, &o, &err) == 0, "network with a /29 created");
        tap_ok(net_network_create(&c, &o, &err) < 0 && strstr(err.msg, "already exists"),
               "same name again refused");
        struct net_create_opts o2 = {.name = "nt-ipam2", .subnet = "10.199.77.0/24"};
        tap_ok(net_network_create(&c, &o2, &err) < 0 && strstr(err.msg, "overlaps") &&
                   strstr(err.msg, "nt-ipam"),
               "overlapping subnet refused, names the other network");
        struct net_create_opts o3 = {.name = "bad name"};
        tap_ok(net_network_create(&c, &o3, &err) < 0 && strstr(err.msg, "bad name"),
               "bad network name refused");
        struct net_create_opts o4 = {
            .name = "nt-gw", .subnet = "10.199.78.0/24", .gateway = "10.199.79.1"};
        tap_ok(net_network_create(&c, &o4, &err) < 0 && strstr(err.msg, "not a host address"),
               "gateway outside the subnet refused");
        /* isola0 is the system root's; a test root's default has its own bridge */
        tap_ok(net_network_get(&c, "isola", &n, &err) == 0 && !strncmp(n.bridge, "isola", 5) &&
                   strcmp(n.bridge, "isola0") != 0 && n.subnet.prefix == 24,
               "default network exists without being created (own bridge and /24 in a test root)");
        tap_ok(net_network_get(&c, "nt-nope", &n, &err) < 0 && strstr(err.msg, "nt-nope"),
               "unknown network named in the error");

        net_network_get(&c, "nt-ipam", &n, &err);
        /* /29: .0 network, .1 gateway, .2-.6 hosts, .7 broadcast */
        tap_ok(lease(&c, &n, "a", NULL, first, &err) == 0, "first lease");
        TAP_EQ_STR(first, "10.199.77.2", "first lease skips the gateway");
        lease(&c, &n, "b", NULL, ip, &err);
        TAP_EQ_STR(ip, "10.199.77.3", "second lease is the next address");
        release(&c, "10.199.77.2");
        lease(&c, &n, "c", NULL, ip, &err);
        TAP_EQ_STR(ip, "10.199.77.4", "a freed address is not handed out again at once");
        tap_ok(lease(&c, &n, "d", "10.199.77.3", ip, &err) < 0 && strstr(err.msg, "in use"),
               "static address in use refused");
        tap_ok(lease(&c, &n, "d", "10.199.77.7", ip, &err) < 0 &&
                   strstr(err.msg, "not a free host address"),
               "broadcast address refused as static");
        tap_ok(lease(&c, &n, "d", "10.199.77.1", ip, &err) < 0, "gateway refused as static");
        lease(&c, &n, "e", NULL, ip, &err);
        lease(&c, &n, "f", NULL, ip, &err);
        TAP_EQ_STR(ip, "10.199.77.6", "up to the last host address");
        lease(&c, &n, "g", NULL, ip, &err);
        TAP_EQ_STR(ip, "10.199.77.2", "wraps to the freed address");
        tap_ok(lease(&c, &n, "h", NULL, ip, &err) < 0 && strstr(err.msg, "no free address") &&
                   strstr(err.msg, "nt-ipam") && strstr(err.msg, "10.199.77.0/29"),
               "exhausted subnet: clear error naming network and subnet");
        sqlite3_stmt *st = NULL;
        sqlite3_prepare_v2(c.db, "SELECT count(*), count(DISTINCT ip) FROM net_leases", -1, &st,
                           NULL);
        sqlite3_step(st);
        tap_ok(sqlite3_column_int(st, 0) == 5 && sqlite3_column_int(st, 1) == 5,
               "5 leases, 5 distinct addresses");
        sqlite3_finalize(st);

        struct net_create_opts o6 = {.name = "nt-v6", .subnet = "10.199.80.0/24", .ipv6 = true};
        tap_ok(net_network_create(&c, &o6, &err) == 0 &&
                   net_network_get(&c, "nt-v6", &n, &err) == 0 && n.has_v6 &&
                   n.subnet6.prefix == 64,
               "--ipv6 gets a ULA /64");
        struct net_addr a6;
        tap_ok(net_ipam_lease(&c, &n, true, "x", NULL, &a6, &err) == 0 && a6.family == AF_INET6 &&
                   net_cidr_contains(&n.subnet6, &a6),
               "IPv6 lease inside the /64");
        tap_ok(net_network_remove(&c, "isola", &err) < 0 && strstr(err.msg, "default"),
               "the default network cannot be removed");
        char a6s[NET_ADDR_STRLEN];
        net_addr_fmt(&a6, a6s);
        release(&c, a6s);
        tap_ok(net_network_remove(&c, "nt-v6", &err) == 0 &&
                   net_network_get(&c, "nt-v6", &n, &err) < 0,
               "an unused network is removed");
        db_close(c.db);
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
        if (system(cmd) != 0)
                printf("# could not remove %s\n", tmpl);
        return tap_done();
}
