/* The nftables table `inet isola`, owned by the engine (one per state root:
 * a root other than /var/lib/isola, as the tests use, gets isola_<hash>, so
 * two roots never rebuild each other's rules). It is rebuilt from
 * the rows as a whole (delete + add in one nft transaction, so a reader never
 * sees half a table) whenever the set of active networks or published ports
 * changes; with nothing active the table is gone. Because it is a function
 * of the rows only, net_gc fixes a crashed engine's rules by rebuilding.
 *
 *   forward     established/related and DNATed connections pass; traffic
 *               inside a bridge passes; anything else new *into* a network
 *               is dropped (isolation between networks, no unsolicited
 *               inbound); an --internal network's traffic never leaves it.
 *   prerouting  packets to a local address jump to `ports` (DNAT)
 *   output      the same for connections made on the host (127.0.0.1 too:
 *               the bridge has route_localnet=1 and postrouting masquerades
 *               the loopback source to the gateway address)
 *   postrouting masquerade a subnet's traffic leaving its bridge (not for
 *               --internal), and DNATed traffic from loopback or hairpin. */
#include <errno.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_internal.h"

struct buf {
        char *s;
        size_t len, cap;
        bool oom;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
        va_list ap;
        for (;;) {
                va_start(ap, fmt);
                int n = b->oom ? 0 : vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
                va_end(ap);
                if (b->oom || (size_t)n < b->cap - b->len) {
                        b->len += (size_t)n;
                        return;
                }
                size_t cap = (b->cap + (size_t)n + 1) * 2;
                char *s = realloc(b->s, cap);
                if (!s) {
                        b->oom = true;
                        return;
                }
                b->s = s;
                b->cap = cap;
        }
}

struct active {
        char bridge[IFNAMSIZ];
        char subnet[NET_CIDR_STRLEN], subnet6[NET_CIDR_STRLEN];
        bool internal;
};

static int load_active(struct net_ctx *c, struct active **out, size_t *n_out, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        struct active *v = NULL;
        size_t n = 0;
        if (sqlite3_prepare_v2(c->db,
                               "SELECT bridge, subnet, subnet6, internal FROM networks"
                               " WHERE up = 1 ORDER BY bridge",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "reading networks", err);
        while (sqlite3_step(st) == SQLITE_ROW) {
                struct active *nv = realloc(v, (n + 1) * sizeof(*v));
                if (!nv) {
                        free(v);
                        sqlite3_finalize(st);
                        return err_set(err, ENOMEM, "out of memory");
                }
                v = nv;
                snprintf(v[n].bridge, sizeof(v[n].bridge), "%s", sqlite3_column_text(st, 0));
                snprintf(v[n].subnet, sizeof(v[n].subnet), "%s", sqlite3_column_text(st, 1));
                snprintf(v[n].subnet6, sizeof(v[n].subnet6), "%s", sqlite3_column_text(st, 2));
                v[n].internal = sqlite3_column_int(st, 3);
                n++;
        }
        sqlite3_finalize(st);
        *out = v;
        *n_out = n;
        return 0;
}

static void put_filter(struct buf *b, const struct active *v, size_t n)
{
        put(b, "  chain forward {\n"
               "    type filter hook forward priority filter; policy accept;\n"
               "    ct state established,related accept\n"
               "    ct status dnat accept\n");
        for (size_t i = 0; i < n; i++)
                put(b, "    iifname \"%s\" oifname \"%s\" accept\n", v[i].bridge, v[i].bridge);
        for (size_t i = 0; i < n; i++)
                put(b, "    oifname \"%s\" drop\n", v[i].bridge);
        for (size_t i = 0; i < n; i++) {
                if (v[i].internal)
                        put(b, "    iifname \"%s\" drop\n", v[i].bridge);
        }
        put(b, "  }\n");
}

static void put_postrouting(struct buf *b, const struct active *v, size_t n)
{
        put(b, "  chain postrouting {\n"
               "    type nat hook postrouting priority srcnat; policy accept;\n");
        for (size_t i = 0; i < n; i++) {
                const struct active *a = &v[i];
                put(b,
                    "    oifname \"%s\" ct status dnat ip saddr { 127.0.0.0/8, %s } masquerade\n",
                    a->bridge, a->subnet);
                if (a->internal)
                        continue;
                put(b, "    ip saddr %s oifname != \"%s\" masquerade\n", a->subnet, a->bridge);
                if (a->subnet6[0])
                        put(b, "    ip6 saddr %s oifname != \"%s\" masquerade\n", a->subnet6,
                            a->bridge);
        }
        put(b, "  }\n");
}

/* 1 when some port was written. */
static int put_ports(struct net_ctx *c, struct buf *b, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int any = 0;
        if (sqlite3_prepare_v2(c->db,
                               "SELECT proto, host_ip, host_port, ctr_ip, ctr_port FROM net_ports"
                               " ORDER BY host_port, proto",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "reading published ports", err);
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *proto = (const char *)sqlite3_column_text(st, 0);
                const char *hip = (const char *)sqlite3_column_text(st, 1);
                struct net_addr a;
                if (!any)
                        put(b, "  chain ports {\n");
                any = 1;
                put(b, "    ");
                if (hip[0] && net_addr_parse(hip, &a) == 0)
                        put(b, "%s daddr %s ", a.family == AF_INET ? "ip" : "ip6", hip);
                else
                        put(b, "meta nfproto ipv4 ");
                put(b, "%s dport %d dnat ip to %s:%d\n", !strcmp(proto, "udp") ? "udp" : "tcp",
                    sqlite3_column_int(st, 2), sqlite3_column_text(st, 3),
                    sqlite3_column_int(st, 4));
        }
        sqlite3_finalize(st);
        if (!any)
                return 0;
        put(b, "  }\n"
               "  chain prerouting {\n"
               "    type nat hook prerouting priority -100; policy accept;\n"
               "    fib daddr type local jump ports\n"
               "  }\n"
               "  chain output {\n"
               "    type nat hook output priority -100; policy accept;\n"
               "    fib daddr type local jump ports\n"
               "  }\n");
        return 1;
}

static int nft_apply(const char *text, struct isola_err *err)
{
        struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!nft)
                return err_set(err, ENOMEM, "nftables: cannot create a context");
        nft_ctx_buffer_output(nft);
        nft_ctx_buffer_error(nft);
        int r = nft_run_cmd_from_buffer(nft, text);
        if (r != 0) {
                const char *e = nft_ctx_get_error_buffer(nft);
                char first[512] = "";
                /* The first line names the problem; the rest echoes the rule. */
                snprintf(first, sizeof(first), "%s", e ? e : "");
                first[strcspn(first, "\n")] = 0;
                nft_ctx_free(nft);
                return err_set(err, EIO, "nftables: %s", first[0] ? first : "command failed");
        }
        nft_ctx_free(nft);
        return 0;
}

void net_nft_table(const struct net_ctx *c, char out[32])
{
        uint64_t h = 0xcbf29ce484222325ULL;
        if (!strcmp(c->paths.root, "/var/lib/isola")) {
                snprintf(out, 32, "isola");
                return;
        }
        for (const char *p = c->paths.root; *p; p++) {
                h ^= (unsigned char)*p;
                h *= 0x100000001b3ULL;
        }
        snprintf(out, 32, "isola_%08llx", (unsigned long long)(h & 0xffffffffULL));
}

int net_nft_sync(struct net_ctx *c, struct isola_err *err)
{
        struct active *v = NULL;
        size_t n = 0;
        struct buf b = {0};
        char t[32];
        if (load_active(c, &v, &n, err) < 0)
                return -1;
        net_nft_table(c, t);
        /* "table" first makes the delete valid when the table is absent. */
        put(&b, "table inet %s\ndelete table inet %s\n", t, t);
        int ports = 0;
        if (n) {
                put(&b, "table inet %s {\n", t);
                put_filter(&b, v, n);
                put_postrouting(&b, v, n);
                ports = put_ports(c, &b, err);
                put(&b, "}\n");
        }
        free(v);
        if (ports < 0 || b.oom) {
                free(b.s);
                return ports < 0 ? -1 : err_set(err, ENOMEM, "out of memory");
        }
        int rc = nft_apply(b.s, err);
        free(b.s);
        return rc < 0 ? err_prefix(err, "updating table inet %s", t) : 0;
}
