/* Fuzz target: the DNS responder's query parser and reply builder over
 * arbitrary datagrams (what any container can send to the gateway). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct net_dns_question q;
        uint8_t out[512];
        struct net_addr a[2] = {{.family = 2, .b = {10, 199, 0, 2}},
                                {.family = 10, .b = {0xfd, 0, [15] = 2}}};
        if (net_dns_parse_query(data, size, &q) == 0) {
                /* The name is bounded and printable. */
                if (strlen(q.name) > NET_DNS_NAME_MAX || q.end > size)
                        __builtin_trap();
                net_dns_build_reply(data, &q, NET_DNS_NOERROR, a, 2, 1, out, sizeof(out));
                net_dns_build_reply(data, &q, NET_DNS_NXDOMAIN, NULL, 0, 0, out, 16);
        } else {
                net_dns_build_error(data, size, NET_DNS_FORMERR, out, sizeof(out));
        }
        return 0;
}
