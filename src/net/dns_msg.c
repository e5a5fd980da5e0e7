/* DNS query parsing and reply building for the per-network responder. */
#include "net/dns.h"

#include <string.h>
#include <sys/socket.h>

static uint16_t rd16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

/* The question's name: labels only (a compression pointer has nothing to
 * point back to in the first name of a query). */
static int parse_name(const uint8_t *msg, size_t len, size_t *off, char *out)
{
        size_t o = *off, n = 0;
        for (;;) {
                if (o >= len)
                        return -1;
                uint8_t l = msg[o++];
                if (l == 0)
                        break;
                if (l > 63 || l > len - o)
                        return -1;
                if (n + (n ? 1 : 0) + l > NET_DNS_NAME_MAX)
                        return -1;
                if (n)
                        out[n++] = '.';
                for (uint8_t i = 0; i < l; i++) {
                        uint8_t ch = msg[o + i];
                        /* Printable, no dot inside a label: names we serve
                         * are plain host names, and anything else must not
                         * reach the database or a log line. */
                        if (ch <= 0x20 || ch >= 0x7f || ch == '.')
                                return -1;
                        out[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
                }
                o += l;
        }
        out[n] = 0;
        *off = o;
        return 0;
}

int net_dns_parse_query(const uint8_t *msg, size_t len, struct net_dns_question *q)
{
        memset(q, 0, sizeof(*q));
        if (len >= 2)
                q->id = rd16(msg);
        if (len < NET_DNS_HDR)
                return -1;
        q->flags = rd16(msg + 2);
        /* QR must be 0 (a query), opcode 0 (QUERY). */
        if (q->flags & 0x8000 || (q->flags >> 11 & 0xf) != 0)
                return -1;
        if (rd16(msg + 4) != 1 || rd16(msg + 6) != 0 || rd16(msg + 8) != 0)
                return -1;
        size_t off = NET_DNS_HDR;
        if (parse_name(msg, len, &off, q->name) < 0 || len - off < 4)
                return -1;
        q->qtype = rd16(msg + off);
        q->qclass = rd16(msg + off + 2);
        q->end = off + 4;
        return 0;
}

size_t net_dns_build_reply(const uint8_t *msg, const struct net_dns_question *q, uint8_t rcode,
                           const struct net_addr *answers, size_t n, uint32_t ttl, uint8_t *out,
                           size_t cap)
{
        size_t len = q->end;
        if (len < NET_DNS_HDR || len > cap)
                return 0;
        memcpy(out, msg, len);
        /* QR=1, opcode and RD copied, AA=1, RA=1. */
        uint16_t flags = (uint16_t)(0x8000 | (q->flags & 0x7900) | 0x0400 | 0x0080 | (rcode & 0xf));
        wr16(out + 2, flags);
        wr16(out + 4, 1);
        wr16(out + 8, 0);
        wr16(out + 10, 0);
        uint16_t an = 0;
        for (size_t i = 0; i < n; i++) {
                const struct net_addr *a = &answers[i];
                uint16_t type = a->family == AF_INET6 ? NET_DNS_TYPE_AAAA : NET_DNS_TYPE_A;
                size_t alen = net_addr_len(a->family);
                if (type != q->qtype)
                        continue;
                if (cap - len < 12 + alen)
                        return 0;
                uint8_t *p = out + len;
                wr16(p, 0xc000 | NET_DNS_HDR); /* the question's name */
                wr16(p + 2, type);
                wr16(p + 4, NET_DNS_CLASS_IN);
                wr16(p + 6, (uint16_t)(ttl >> 16));
                wr16(p + 8, (uint16_t)ttl);
                wr16(p + 10, (uint16_t)alen);
                memcpy(p + 12, a->b, alen);
                len += 12 + alen;
                an++;
        }
        wr16(out + 6, an);
        return len;
}

size_t net_dns_build_error(const uint8_t *msg, size_t len, uint8_t rcode, uint8_t *out, size_t cap)
{
        if (len < 2 || cap < NET_DNS_HDR)
                return 0;
        memset(out, 0, NET_DNS_HDR);
        memcpy(out, msg, 2);
        uint16_t rd = len >= 4 ? (uint16_t)(rd16(msg + 2) & 0x0100) : 0;
        wr16(out + 2, (uint16_t)(0x8000 | rd | 0x0080 | (rcode & 0xf)));
        return NET_DNS_HDR;
}
