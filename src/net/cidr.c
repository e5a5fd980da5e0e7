/* Address and prefix arithmetic for both families. */
#include "net/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

size_t net_addr_len(int family)
{
        return family == AF_INET6 ? 16 : 4;
}

int net_addr_parse(const char *s, struct net_addr *out)
{
        memset(out, 0, sizeof(*out));
        if (inet_pton(AF_INET, s, out->b) == 1) {
                out->family = AF_INET;
                return 0;
        }
        if (inet_pton(AF_INET6, s, out->b) == 1) {
                out->family = AF_INET6;
                return 0;
        }
        return -1;
}

bool net_addr_eq(const struct net_addr *a, const struct net_addr *b)
{
        return a->family == b->family && !memcmp(a->b, b->b, net_addr_len(a->family));
}

void net_addr_fmt(const struct net_addr *a, char buf[NET_ADDR_STRLEN])
{
        if (!inet_ntop(a->family, a->b, buf, NET_ADDR_STRLEN))
                snprintf(buf, NET_ADDR_STRLEN, "?");
}

void net_cidr_fmt(const struct net_cidr *c, char buf[NET_CIDR_STRLEN])
{
        char a[NET_ADDR_STRLEN];
        net_addr_fmt(&c->addr, a);
        snprintf(buf, NET_CIDR_STRLEN, "%s/%u", a, c->prefix);
}

/* True when the first `prefix` bits of x and y agree. */
static bool same_prefix(const uint8_t *x, const uint8_t *y, unsigned prefix)
{
        unsigned full = prefix / 8, rest = prefix % 8;
        if (memcmp(x, y, full) != 0)
                return false;
        if (!rest)
                return true;
        uint8_t mask = (uint8_t)(0xff << (8 - rest));
        return (x[full] & mask) == (y[full] & mask);
}

int net_cidr_parse(const char *s, struct net_cidr *out, struct isola_err *err)
{
        char buf[NET_CIDR_STRLEN];
        const char *slash = strchr(s, '/');
        char *end;

        if (!slash || (size_t)(slash - s) >= sizeof(buf))
                return err_set(err, EINVAL, "subnet '%s': expected ADDRESS/LENGTH", s);
        memcpy(buf, s, (size_t)(slash - s));
        buf[slash - s] = 0;
        if (net_addr_parse(buf, &out->addr) < 0)
                return err_set(err, EINVAL, "subnet '%s': '%s' is not an IP address", s, buf);
        errno = 0;
        unsigned long len = strtoul(slash + 1, &end, 10);
        unsigned bits = (unsigned)net_addr_len(out->addr.family) * 8;
        if (!slash[1] || *end || errno || len > bits || slash[1] == '-' || slash[1] == '+')
                return err_set(err, EINVAL, "subnet '%s': prefix length must be 0..%u", s, bits);
        out->prefix = (unsigned)len;
        /* The IPAM needs room for a gateway and at least one container. */
        if (out->prefix > bits - 2)
                return err_set(err, EINVAL, "subnet '%s': too small (at most /%u)", s, bits - 2);
        struct net_cidr host = *out;
        for (unsigned i = out->prefix; i < bits; i++)
                host.addr.b[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
        if (!same_prefix(host.addr.b, out->addr.b, bits)) {
                char n[NET_CIDR_STRLEN];
                net_cidr_fmt(&host, n);
                return err_set(err, EINVAL, "subnet '%s': host bits set (did you mean %s?)", s, n);
        }
        return 0;
}

bool net_cidr_contains(const struct net_cidr *c, const struct net_addr *a)
{
        return c->addr.family == a->family && same_prefix(c->addr.b, a->b, c->prefix);
}

bool net_cidr_overlap(const struct net_cidr *a, const struct net_cidr *b)
{
        if (a->addr.family != b->addr.family)
                return false;
        unsigned p = a->prefix < b->prefix ? a->prefix : b->prefix;
        return same_prefix(a->addr.b, b->addr.b, p);
}

uint64_t net_cidr_span(const struct net_cidr *c)
{
        unsigned host_bits = (unsigned)net_addr_len(c->addr.family) * 8 - c->prefix;
        return host_bits >= 32 ? (uint64_t)1 << 32 : (uint64_t)1 << host_bits;
}

int net_cidr_nth(const struct net_cidr *c, uint64_t off, struct net_addr *out)
{
        if (off >= net_cidr_span(c))
                return -1;
        *out = c->addr;
        size_t len = net_addr_len(c->addr.family);
        /* Add the offset to the low 32 bits, byte by byte with carry; the
         * span check keeps the carry inside the host part. */
        uint64_t carry = off;
        for (size_t i = len; i-- > 0 && carry;) {
                uint64_t v = out->b[i] + (carry & 0xff);
                out->b[i] = (uint8_t)v;
                carry = (carry >> 8) + (v >> 8);
        }
        return 0;
}

int64_t net_cidr_offset(const struct net_cidr *c, const struct net_addr *a)
{
        if (!net_cidr_contains(c, a))
                return -1;
        size_t len = net_addr_len(a->family);
        /* Bytes above the low four must equal the network's (span cap). */
        for (size_t i = 0; i + 4 < len; i++) {
                if (a->b[i] != c->addr.b[i])
                        return -1;
        }
        uint64_t hi = 0, lo = 0;
        for (size_t i = len - 4; i < len; i++) {
                hi = hi << 8 | a->b[i];
                lo = lo << 8 | c->addr.b[i];
        }
        uint64_t off = hi - lo;
        return off < net_cidr_span(c) ? (int64_t)off : -1;
}
