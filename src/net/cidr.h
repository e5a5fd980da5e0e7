/* Addresses and prefixes for IPv4 and IPv6 alike (the IPAM works on offsets
 * into a prefix, so one code path serves both families). */
#ifndef ISOLA_NET_CIDR_H
#define ISOLA_NET_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct net_addr {
        int family;    /* AF_INET or AF_INET6 */
        uint8_t b[16]; /* network byte order; IPv4 uses b[0..3] */
};

struct net_cidr {
        struct net_addr addr; /* the network address (host bits zero) */
        unsigned prefix;
};

#define NET_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */
#define NET_CIDR_STRLEN (NET_ADDR_STRLEN + 4)

/* Parses a bare address; 0 or -1 (no message: callers name the input). */
int net_addr_parse(const char *s, struct net_addr *out);
/* Parses "ADDR/LEN"; host bits must be zero. */
int net_cidr_parse(const char *s, struct net_cidr *out, struct isola_err *err);
void net_addr_fmt(const struct net_addr *a, char buf[NET_ADDR_STRLEN]);
void net_cidr_fmt(const struct net_cidr *c, char buf[NET_CIDR_STRLEN]);
size_t net_addr_len(int family);
bool net_addr_eq(const struct net_addr *a, const struct net_addr *b);

bool net_cidr_contains(const struct net_cidr *c, const struct net_addr *a);
bool net_cidr_overlap(const struct net_cidr *a, const struct net_cidr *b);
/* Number of host offsets usable by the IPAM: 2^(bits-prefix), capped at
 * 2^32 so an IPv6 /64 stays countable. */
uint64_t net_cidr_span(const struct net_cidr *c);
/* c.addr + off; -1 when off is outside the prefix. */
int net_cidr_nth(const struct net_cidr *c, uint64_t off, struct net_addr *out);
/* The offset of a inside c; -1 when outside or beyond the span. */
int64_t net_cidr_offset(const struct net_cidr *c, const struct net_addr *a);

#endif
