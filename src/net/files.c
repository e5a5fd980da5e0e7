/* /etc/resolv.conf and /etc/hosts contents for a container. Names resolve
 * through the network's DNS responder (live), and /etc/hosts carries a
 * snapshot of the same names for programs that read only the file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_internal.h"
#include "util/fs.h"

struct sbuf {
        char *s;
        size_t len, cap;
        bool oom;
};

static void sb_put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_put(struct sbuf *b, const char *fmt, ...)
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

static int sb_finish(struct sbuf *b, char **out, struct isola_err *err)
{
        if (b->oom || !b->s) {
                free(b->s);
                if (b->oom)
                        return err_set(err, ENOMEM, "out of memory");
                b->s = strdup("");
                if (!b->s)
                        return err_set(err, ENOMEM, "out of memory");
        }
        *out = b->s;
        return 0;
}

/* The host's resolvers a container can reach (loopback ones it cannot). */
static void host_nameservers(struct sbuf *b)
{
        FILE *f = fopen("/etc/resolv.conf", "re");
        char line[512];
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                char addr[NET_ADDR_STRLEN + 1];
                struct net_addr a;
                if (sscanf(line, "nameserver %46s", addr) == 1 && net_addr_parse(addr, &a) == 0) {
                        bool loop = (a.family == AF_INET && a.b[0] == 127) ||
                                    (a.family == AF_INET6 && !memcmp(a.b,
                                                                     "\0\0\0\0\0\0\0\0\0\0\0\0\0"
                                                                     "\0\0\1",
                                                                     16));
                        if (!loop)
                                sb_put(b, "nameserver %s\n", addr);
                } else if (!strncmp(line, "search ", 7) || !strncmp(line, "options ", 8)) {
                        sb_put(b, "%s", line);
                }
        }
        fclose(f);
}

int net_resolv_conf(struct net_ctx *c, const char *container_id, const char *const *dns_servers,
                    char **out, struct isola_err *err)
{
        struct sbuf b = {0};
        sqlite3_stmt *st = NULL;
        bool responder = false;
        if (dns_servers && dns_servers[0]) {
                for (const char *const *s = dns_servers; *s; s++) {
                        struct net_addr a;
                        if (net_addr_parse(*s, &a) < 0) {
                                free(b.s);
                                return err_set(err, EINVAL, "--dns '%s': not an IP address", *s);
                        }
                        sb_put(&b, "nameserver %s\n", *s);
                }
                return sb_finish(&b, out, err);
        }
        if (sqlite3_prepare_v2(c->db,
                               "SELECT DISTINCT n.gateway FROM net_attachments a JOIN networks n"
                               " ON n.name = a.network WHERE a.container_id = ? AND n.dns = 1"
                               " ORDER BY a.ifname",
                               -1, &st, NULL) != SQLITE_OK) {
                free(b.s);
                return db_fail(c->db, "reading attachments", err);
        }
        sqlite3_bind_text(st, 1, container_id, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                if (!responder)
                        sb_put(&b, "search " NET_DNS_DOMAIN "\n");
                responder = true;
                sb_put(&b, "nameserver %s\n", sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        const char *rl = responder ? NULL : net_rootless_dns(c, container_id);
        if (rl)
                sb_put(&b, "nameserver %s\n", rl); /* pasta's or slirp4netns's forwarder */
        else if (!responder)
                host_nameservers(&b);
        return sb_finish(&b, out, err);
}

static int add_host_line(struct sbuf *b, struct net_ctx *c, const char *container_id,
                         const char *spec, struct isola_err *err)
{
        /* NAME:IP (IPv6 addresses contain ':' too: split at the first). */
        const char *colon = strchr(spec, ':');
        struct net_addr a;
        char ip[NET_ADDR_STRLEN + 1];
        if (!colon || colon == spec || (size_t)(colon - spec) > 253)
                return err_set(err, EINVAL, "--add-host '%s': expected NAME:IP", spec);
        const char *val = colon + 1;
        if (!strcmp(val, "host-gateway")) {
                sqlite3_stmt *st = NULL;
                ip[0] = 0;
                if (sqlite3_prepare_v2(c->db,
                                       "SELECT n.gateway FROM net_attachments a JOIN networks n"
                                       " ON n.name = a.network WHERE a.container_id = ?"
                                       " ORDER BY a.ifname LIMIT 1",
                                       -1, &st, NULL) == SQLITE_OK) {
                        sqlite3_bind_text(st, 1, container_id, -1, SQLITE_STATIC);
                        if (sqlite3_step(st) == SQLITE_ROW)
                                snprintf(ip, sizeof(ip), "%s", sqlite3_column_text(st, 0));
                        sqlite3_finalize(st);
                }
                if (!ip[0])
                        return err_set(err, EINVAL, "--add-host '%s': no network gateway", spec);
                val = ip;
        } else if (net_addr_parse(val, &a) < 0) {
                return err_set(err, EINVAL, "--add-host '%s': '%s' is not an IP address", spec,
                               val);
        }
        for (const char *p = spec; p < colon; p++) {
                if (*p <= ' ' || *p == '#' || *p >= 0x7f)
                        return err_set(err, EINVAL, "--add-host '%s': bad host name", spec);
        }
        sb_put(b, "%s\t%.*s\n", val, (int)(colon - spec), spec);
        return 0;
}

int net_hosts(struct net_ctx *c, const char *container_id, const char *hostname,
              const char *const *add_hosts, char **out, struct isola_err *err)
{
        struct sbuf b = {0};
        sqlite3_stmt *st = NULL;
        if (hostname && hostname[strcspn(hostname, " \t\r\n#")])
                return err_set(err, EINVAL, "hostname '%s': no spaces or '#'", hostname);
        sb_put(&b, "# generated by isola\n127.0.0.1\tlocalhost\n"
                   "::1\tlocalhost ip6-localhost ip6-loopback\n");
        for (const char *const *h = add_hosts; h && *h; h++) {
                if (add_host_line(&b, c, container_id, *h, err) < 0) {
                        free(b.s);
                        return -1;
                }
        }
        /* Every container on a shared network, this one first, with its
         * aliases on that network. */
        if (sqlite3_prepare_v2(
                c->db,
                "SELECT a.ip, a.container_id = ?1, a.name,"
                " (SELECT group_concat(d.name, ' ') FROM net_dns_names d WHERE d.network ="
                " a.network AND d.container_id = a.container_id AND d.name != a.name)"
                " FROM net_attachments a WHERE a.network IN"
                " (SELECT network FROM net_attachments WHERE container_id = ?1)"
                " ORDER BY a.container_id != ?1, a.network, a.ip",
                -1, &st, NULL) != SQLITE_OK) {
                free(b.s);
                return db_fail(c->db, "reading attachments", err);
        }
        sqlite3_bind_text(st, 1, container_id, -1, SQLITE_STATIC);
        bool seen_self = false;
        while (sqlite3_step(st) == SQLITE_ROW) {
                char ip[NET_CIDR_STRLEN];
                const char *aliases = (const char *)sqlite3_column_text(st, 3);
                bool self = sqlite3_column_int(st, 1);
                seen_self |= self;
                snprintf(ip, sizeof(ip), "%s", sqlite3_column_text(st, 0));
                ip[strcspn(ip, "/")] = 0;
                sb_put(&b, "%s\t", ip);
                if (self && hostname && hostname[0] &&
                    strcmp(hostname, (const char *)sqlite3_column_text(st, 2)) != 0)
                        sb_put(&b, "%s ", hostname);
                sb_put(&b, "%s%s%s\n", sqlite3_column_text(st, 2), aliases ? " " : "",
                       aliases ? aliases : "");
        }
        sqlite3_finalize(st);
        /* No network of its own (none, host): the name still resolves. */
        if (!seen_self && hostname && hostname[0])
                sb_put(&b, "127.0.1.1\t%s\n", hostname);
        return sb_finish(&b, out, err);
}
