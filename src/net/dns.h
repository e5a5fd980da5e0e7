/* DNS messages (RFC 1035) as the per-network responder sees them: a parser
 * for queries from containers (hostile input: bounded, no compression in the
 * question, one question only) and a reply builder. */
#ifndef ISOLA_NET_DNS_H
#define ISOLA_NET_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "net/cidr.h"

#define NET_DNS_HDR       12
#define NET_DNS_NAME_MAX  253
#define NET_DNS_TYPE_A    1
#define NET_DNS_TYPE_AAAA 28
#define NET_DNS_CLASS_IN  1
#define NET_DNS_NOERROR   0
#define NET_DNS_FORMERR   1
#define NET_DNS_SERVFAIL  2
#define NET_DNS_NXDOMAIN  3
#define NET_DNS_NOTIMP    4

struct net_dns_question {
        uint16_t id, flags;
        char name[NET_DNS_NAME_MAX + 1]; /* lower case, no trailing dot; "" = root */
        uint16_t qtype, qclass;
        size_t end; /* offset just past the question */
};

/* 0: a standard query with one question in q. -1: not one (q->id is still
 * set when len >= 2, so the caller may answer FORMERR). */
int net_dns_parse_query(const uint8_t *msg, size_t len, struct net_dns_question *q);

/* Writes a reply to the query msg (its question copied) with n answers of
 * the question's type; returns its length, 0 when cap is too small. */
size_t net_dns_build_reply(const uint8_t *msg, const struct net_dns_question *q, uint8_t rcode,
                           const struct net_addr *answers, size_t n, uint32_t ttl, uint8_t *out,
                           size_t cap);

/* A bare error reply (FORMERR/SERVFAIL) to a message whose question cannot
 * be trusted: header only. 0 when len < 2. */
size_t net_dns_build_error(const uint8_t *msg, size_t len, uint8_t rcode, uint8_t *out, size_t cap);

#endif
