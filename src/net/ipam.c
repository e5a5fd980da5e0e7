/* Address management: leases are rows of net_leases (primary key network +
 * address, so one address has one holder at a time). A cursor per network
 * (networks.last_off) makes the next lease start after the last one, so a
 * freed address is not handed out again before the subnet has wrapped. Runs
 * inside the caller's transaction. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_internal.h"

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* Offsets of the addresses leased in sub (sorted, heap). */
static int leased_offsets(struct net_ctx *c, const char *network, const struct net_cidr *sub,
                          uint64_t **out, size_t *n_out, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        uint64_t *v = NULL;
        size_t n = 0, cap = 0;
        if (sqlite3_prepare_v2(c->db, "SELECT ip FROM net_leases WHERE network = ?", -1, &st,
                               NULL) != SQLITE_OK)
                return db_fail(c->db, "reading leases", err);
        sqlite3_bind_text(st, 1, network, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                struct net_addr a;
                if (net_addr_parse((const char *)sqlite3_column_text(st, 0), &a) < 0)
                        continue;
                int64_t off = net_cidr_offset(sub, &a);
                if (off < 0)
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 64;
                        uint64_t *nv = realloc(v, cap * sizeof(*v));
                        if (!nv) {
                                free(v);
                                sqlite3_finalize(st);
                                return err_set(err, ENOMEM, "out of memory");
                        }
                        v = nv;
                }
                v[n++] = (uint64_t)off;
        }
        sqlite3_finalize(st);
        if (n)
                qsort(v, n, sizeof(*v), cmp_u64);
        *out = v;
        *n_out = n;
        return 0;
}

static int cursor(struct net_ctx *c, const char *network, bool v6, uint64_t *val, bool set,
                  struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        const char *sql = set ? (v6 ? "UPDATE networks SET last_off6 = ? WHERE name = ?"
                                    : "UPDATE networks SET last_off = ? WHERE name = ?")
                              : (v6 ? "SELECT last_off6 FROM networks WHERE name = ?"
                                    : "SELECT last_off FROM networks WHERE name = ?");
        if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "reading the IPAM cursor", err);
        int i = 1;
        if (set)
                sqlite3_bind_int64(st, i++, (sqlite3_int64)*val);
        sqlite3_bind_text(st, i, network, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        if (!set && r == SQLITE_ROW)
                *val = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : db_fail(c->db, "IPAM cursor", err);
}

static int insert_lease(struct net_ctx *c, const char *network, const struct net_addr *a,
                        const char *id, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        char s[NET_ADDR_STRLEN];
        net_addr_fmt(a, s);
        if (sqlite3_prepare_v2(c->db,
                               "INSERT INTO net_leases (network, ip, container_id) VALUES (?,?,?)",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "adding a lease", err);
        sqlite3_bind_text(st, 1, network, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, s, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        sqlite3_finalize(st);
        if ((r & 0xff) == SQLITE_CONSTRAINT)
                return err_set(err, EADDRINUSE, "address %s is already in use on network '%s'", s,
                               network);
        return r == SQLITE_DONE ? 0 : db_fail(c->db, "adding a lease", err);
}

static bool leased(const uint64_t *v, size_t n, uint64_t off)
{
        return n && bsearch(&off, v, n, sizeof(*v), cmp_u64) != NULL;
}

int net_ipam_lease(struct net_ctx *c, const struct net_network *n, bool v6, const char *id,
                   const char *static_ip, struct net_addr *out, struct isola_err *err)
{
        const struct net_cidr *sub = v6 ? &n->subnet6 : &n->subnet;
        const struct net_addr *gw = v6 ? &n->gateway6 : &n->gateway;
        char subs[NET_CIDR_STRLEN];
        uint64_t span = net_cidr_span(sub);
        /* IPv4: neither the network nor the broadcast address. */
        uint64_t first = 1, last = v6 ? span - 1 : span - 2;
        net_cidr_fmt(sub, subs);
        if (static_ip) {
                if (net_addr_parse(static_ip, out) < 0)
                        return err_set(err, EINVAL, "address '%s': not an IP address", static_ip);
                int64_t off = net_cidr_offset(sub, out);
                if (off < (int64_t)first || (uint64_t)off > last || net_addr_eq(out, gw))
                        return err_set(err, EINVAL,
                                       "address '%s': not a free host address of network '%s' "
                                       "(%s)",
                                       static_ip, n->name, subs);
                return insert_lease(c, n->name, out, id, err);
        }
        uint64_t *v = NULL, cur = 0;
        size_t nv = 0;
        if (leased_offsets(c, n->name, sub, &v, &nv, err) < 0 ||
            cursor(c, n->name, v6, &cur, false, err) < 0) {
                free(v);
                return -1;
        }
        int64_t gw_off = net_cidr_offset(sub, gw);
        uint64_t count = last - first + 1, off = cur;
        /* Each leased offset is skipped at most once, so the loop ends after
         * nv + 2 steps at most (or a full wrap on an exhausted subnet). */
        for (uint64_t i = 0; i < count; i++) {
                off = off >= last || off < first ? first : off + 1;
                if ((int64_t)off != gw_off && !leased(v, nv, off)) {
                        free(v);
                        net_cidr_nth(sub, off, out);
                        if (insert_lease(c, n->name, out, id, err) < 0 ||
                            cursor(c, n->name, v6, &off, true, err) < 0)
                                return -1;
                        return 0;
                }
                if (i > nv + 2)
                        break;
        }
        free(v);
        return err_set(err, ENOSPC, "network '%s' (%s): no free address left (%zu in use)", n->name,
                       subs, nv);
}
