/* Unit tests: CIDR parsing and arithmetic, -p parsing. */
#include <sys/socket.h>

#include "net/cidr.h"
#include "net/net.h"
#include "tap.h"

static void test_parse(void)
{
        struct net_cidr c;
        struct isola_err err = {0};
        char s[NET_CIDR_STRLEN];

        tap_ok(net_cidr_parse("10.199.0.0/16", &c, &err) == 0 && c.prefix == 16 &&
                   c.addr.family == AF_INET,
               "10.199.0.0/16 parses");
        net_cidr_fmt(&c, s);
        TAP_EQ_STR(s, "10.199.0.0/16", "formats back");
        tap_ok(net_cidr_parse("10.199.0.1/16", &c, &err) < 0 && strstr(err.msg, "host bits") &&
                   strstr(err.msg, "10.199.0.0/16"),
               "host bits set: refused, names the network");
        static const char *const bad[] = {
            "10.0.0.0",    "10.0.0.0/",   "10.0.0.0/33", "10.0.0/8", "x/8",          "10.0.0.0/-1",
            "10.0.0.0/+8", "10.0.0.0/8x", "10.0.0.0/31", "::/129",   "1.2.3.4.5/24", ""};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                tap_ok(net_cidr_parse(bad[i], &c, &err) < 0 && strstr(err.msg, "subnet"),
                       "'%s' refused", bad[i]);
        tap_ok(net_cidr_parse("fd00:1:2:3::/64", &c, &err) == 0 && c.addr.family == AF_INET6 &&
                   c.prefix == 64,
               "IPv6 /64 parses");
        net_cidr_fmt(&c, s);
        TAP_EQ_STR(s, "fd00:1:2:3::/64", "IPv6 formats back");
}

static void test_arith(void)
{
        struct net_cidr a, b;
        struct net_addr x;
        struct isola_err err = {0};
        char s[NET_ADDR_STRLEN];

        net_cidr_parse("10.199.0.0/16", &a, &err);
        net_cidr_parse("10.199.128.0/24", &b, &err);
        tap_ok(net_cidr_overlap(&a, &b) && net_cidr_overlap(&b, &a), "overlap both ways");
        net_cidr_parse("10.198.0.0/16", &b, &err);
        tap_ok(!net_cidr_overlap(&a, &b), "neighbours do not overlap");
        TAP_EQ_INT(net_cidr_span(&a), 65536, "span of a /16");
        tap_ok(net_cidr_nth(&a, 258, &x) == 0, "nth inside");
        net_addr_fmt(&x, s);
        TAP_EQ_STR(s, "10.199.1.2", "offset 258 is .1.2 (carry)");
        TAP_EQ_INT(net_cidr_offset(&a, &x), 258, "offset back");
        tap_ok(net_cidr_nth(&a, 65536, &x) < 0, "nth past the end refused");
        net_addr_parse("10.200.0.1", &x);
        TAP_EQ_INT(net_cidr_offset(&a, &x), -1, "offset of an outside address is -1");
        net_cidr_parse("fd00::/64", &b, &err);
        TAP_EQ_INT(net_cidr_span(&b), 1ULL << 32, "IPv6 span capped at 2^32");
        net_cidr_nth(&b, 0x1ffff, &x);
        net_addr_fmt(&x, s);
        TAP_EQ_STR(s, "fd00::1:ffff", "IPv6 nth");
        tap_ok(!net_cidr_overlap(&a, &b), "families never overlap");
}

static void test_ports(void)
{
        struct net_port p;
        struct isola_err err = {0};
        tap_ok(net_port_parse("8080:80", &p, &err) == 0 && p.host_port == 8080 &&
                   p.ctr_port == 80 && !strcmp(p.proto, "tcp") && !p.host_ip[0],
               "HOST:CTR");
        tap_ok(net_port_parse("127.0.0.1:8080:80/udp", &p, &err) == 0 &&
                   !strcmp(p.host_ip, "127.0.0.1") && !strcmp(p.proto, "udp"),
               "IP:HOST:CTR/udp");
        tap_ok(net_port_parse("80", &p, &err) == 0 && p.host_port == 0 && p.ctr_port == 80,
               "CTR alone: random host port");
        tap_ok(net_port_parse("127.0.0.1::80", &p, &err) == 0 && p.host_port == 0,
               "IP::CTR: random host port on that address");
        tap_ok(net_port_parse("[::1]:8080:80", &p, &err) == 0 && !strcmp(p.host_ip, "::1"),
               "bracketed IPv6 host address");
        static const char *const bad[] = {"0:80",      "8080:0",    "8080:65536", "a:80",
                                          "8080:80/x", "1.2.3:1:2", ":",          "8080:"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                tap_ok(net_port_parse(bad[i], &p, &err) < 0 && strstr(err.msg, bad[i]),
                       "-p '%s' refused, named", bad[i]);
}

int main(void)
{
        test_parse();
        test_arith();
        test_ports();
        return tap_done();
}
