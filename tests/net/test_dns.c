/* Unit tests: the DNS query parser and reply builder. */
#include <sys/socket.h>

#include "net/dns.h"
#include "tap.h"

/* A query for name (dotted), type, with RD set. */
static size_t make_query(uint8_t *b, const char *name, uint16_t type)
{
        size_t o = 12;
        memset(b, 0, 12);
        b[0] = 0x12;
        b[1] = 0x34;
        b[2] = 0x01; /* RD */
        b[5] = 1;    /* QDCOUNT */
        while (*name) {
                const char *dot = strchr(name, '.');
                size_t l = dot ? (size_t)(dot - name) : strlen(name);
                b[o++] = (uint8_t)l;
                memcpy(b + o, name, l);
                o += l;
                name += l + (dot ? 1 : 0);
        }
        b[o++] = 0;
        b[o++] = (uint8_t)(type >> 8);
        b[o++] = (uint8_t)type;
        b[o++] = 0;
        b[o++] = 1;
        return o;
}

static void test_parse(void)
{
        uint8_t q[512];
        struct net_dns_question dq;
        size_t len = make_query(q, "Web.dns.isola", NET_DNS_TYPE_A);

        tap_ok(net_dns_parse_query(q, len, &dq) == 0, "a standard query parses");
        TAP_EQ_STR(dq.name, "web.dns.isola", "name lower-cased, dotted");
        TAP_EQ_INT(dq.qtype, NET_DNS_TYPE_A, "qtype");
        TAP_EQ_INT(dq.id, 0x1234, "id");
        TAP_EQ_INT(dq.end, len, "end of the question");
        tap_ok(net_dns_parse_query(q, len - 1, &dq) < 0 && dq.id == 0x1234,
               "truncated question refused, id kept for FORMERR");
        tap_ok(net_dns_parse_query(q, 11, &dq) < 0, "short header refused");
        q[2] |= 0x80;
        tap_ok(net_dns_parse_query(q, len, &dq) < 0, "a response (QR=1) is not a query");
        q[2] = 0x01 | (2 << 3);
        tap_ok(net_dns_parse_query(q, len, &dq) < 0, "opcode STATUS refused");
        q[2] = 0x01;
        q[5] = 2;
        tap_ok(net_dns_parse_query(q, len, &dq) < 0, "two questions refused");
        q[5] = 1;
        q[12] = 0xc0;
        tap_ok(net_dns_parse_query(q, len, &dq) < 0, "compression pointer in the question refused");
        len = make_query(q, "a b", NET_DNS_TYPE_A);
        tap_ok(net_dns_parse_query(q, len, &dq) < 0, "space in a label refused");
        /* 64-byte label */
        char big[80];
        memset(big, 'a', 64);
        big[64] = 0;
        len = make_query(q, big, NET_DNS_TYPE_A);
        tap_ok(net_dns_parse_query(q, len, &dq) < 0, "label over 63 bytes refused");
        /* name over 253 characters: 5 labels of 60 */
        char longname[400] = "";
        for (int i = 0; i < 5; i++) {
                memset(longname + i * 61, 'b', 60);
                longname[i * 61 + 60] = i < 4 ? '.' : 0;
        }
        len = make_query(q, longname, NET_DNS_TYPE_A);
        tap_ok(net_dns_parse_query(q, len, &dq) < 0, "name over 253 characters refused");
        len = make_query(q, "", NET_DNS_TYPE_A);
        tap_ok(net_dns_parse_query(q, len, &dq) == 0 && dq.name[0] == 0, "root name parses");
}

static void test_reply(void)
{
        uint8_t q[512], r[512];
        struct net_dns_question dq;
        struct net_addr a[2];
        size_t len = make_query(q, "web", NET_DNS_TYPE_A);
        net_addr_parse("10.199.0.5", &a[0]);
        net_addr_parse("fd00::5", &a[1]);
        net_dns_parse_query(q, len, &dq);
        size_t n = net_dns_build_reply(q, &dq, NET_DNS_NOERROR, a, 2, 1, r, sizeof(r));
        TAP_EQ_INT(n, len + 16, "one A answer (the AAAA is skipped)");
        tap_ok(r[0] == 0x12 && r[1] == 0x34 && (r[2] & 0x80) && (r[2] & 0x01) && r[7] == 1,
               "id, QR, RD copied, ANCOUNT 1");
        tap_ok(r[len] == 0xc0 && r[len + 1] == 12 && !memcmp(r + len + 12, a[0].b, 4),
               "answer points at the question, carries the address");
        TAP_EQ_INT(r[3] & 0xf, NET_DNS_NOERROR, "rcode NOERROR");
        n = net_dns_build_reply(q, &dq, NET_DNS_NXDOMAIN, NULL, 0, 0, r, sizeof(r));
        tap_ok(n == len && (r[3] & 0xf) == NET_DNS_NXDOMAIN && r[7] == 0, "NXDOMAIN, no answer");
        tap_ok(net_dns_build_reply(q, &dq, 0, a, 1, 1, r, len + 5) == 0, "too small a buffer: 0");
        n = net_dns_build_error(q, 5, NET_DNS_FORMERR, r, sizeof(r));
        tap_ok(n == 12 && r[0] == 0x12 && (r[3] & 0xf) == NET_DNS_FORMERR, "FORMERR header");
        TAP_EQ_INT(net_dns_build_error(q, 1, NET_DNS_FORMERR, r, sizeof(r)), 0, "no id: no reply");
}

int main(void)
{
        test_parse();
        test_reply();
        return tap_done();
}
