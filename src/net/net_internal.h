/* Shared between the files of src/net/ only. */
#ifndef ISOLA_NET_NET_INTERNAL_H
#define ISOLA_NET_NET_INTERNAL_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/cidr.h"
#include "net/net.h"

#define NET_DEFAULT_NAME   "isola"
#define NET_DEFAULT_BRIDGE "isola0"
#define NET_BRIDGE_PREFIX  "isola"
#define NET_VETH_PREFIX    "isv"
#define NET_DNS_DOMAIN     "dns.isola"
#define NET_NAME_MAX       64

struct net_network {
        char name[NET_NAME_MAX + 1];
        char id[65];
        char bridge[IFNAMSIZ];
        struct net_cidr subnet;
        struct net_addr gateway;
        bool has_v6;
        struct net_cidr subnet6;
        struct net_addr gateway6;
        bool internal, dns;
        bool up; /* bridge, rules and responder were made */
        int mtu;
        int64_t created;
};

/* netdb.c: network rows */
int net_network_get(struct net_ctx *c, const char *name, struct net_network *out,
                    struct isola_err *err);
int net_default_ensure(struct net_ctx *c, struct isola_err *err);
int net_network_set_up(struct net_ctx *c, const char *name, bool up, struct isola_err *err);
/* Stops the responder, deletes the bridge, marks the row down (the caller
 * rebuilds the rules). */
int net_network_down(struct net_ctx *c, const char *name, struct isola_err *err);
int net_network_count_attached(struct net_ctx *c, const char *name, int *n_out,
                               struct isola_err *err);
/* Host routes/addresses (netlink) overlapping cidr, other than our bridges'. */
int net_host_overlap(struct net_ctx *c, const struct net_cidr *cidr, char *what, size_t what_len,
                     struct isola_err *err);
int net_random_hex(char *out, size_t n_hex, struct isola_err *err);

/* ipam.c: leases (inside the caller's transaction) */
int net_ipam_lease(struct net_ctx *c, const struct net_network *n, bool v6, const char *id,
                   const char *static_ip, struct net_addr *out, struct isola_err *err);

/* link.c: netlink */
struct net_nl; /* an rtnetlink socket in the caller's network namespace */
int net_nl_open(struct net_nl **out, struct isola_err *err);
void net_nl_close(struct net_nl *nl);
int net_link_index(struct net_nl *nl, const char *name); /* 0 when absent */
/* The name of the bridge name is enslaved to; -1 when none. */
int net_link_master(struct net_nl *nl, const char *name, char out[IFNAMSIZ]);
int net_bridge_up(struct net_nl *nl, const struct net_network *n, struct isola_err *err);
/* Brings up lo of the caller's (thread's) network namespace. */
int net_lo_up(struct isola_err *err);
int net_link_delete(struct net_nl *nl, const char *name, struct isola_err *err);
struct net_veth_req {
        const char *host_ifname, *ifname, *bridge, *netns_path;
        uint8_t mac[6];
        int mtu;
        const struct net_addr *ip, *ip6; /* ip6 may be NULL */
        unsigned prefix, prefix6;
        const struct net_addr *gateway, *gateway6;
        bool default_route; /* false on --internal networks */
};
int net_veth_add(struct net_nl *nl, const struct net_veth_req *r, struct isola_err *err);
/* Calls fn for every link whose name starts with prefix. */
int net_links_each(struct net_nl *nl, const char *prefix, void (*fn)(const char *name, void *arg),
                   void *arg, struct isola_err *err);
/* Runs fn(arg) on a short-lived thread that has joined the network namespace
 * at path (the caller's namespace never changes); path NULL: no join, for
 * a thread that unshares. */
int net_in_netns(const char *path, int (*fn)(void *arg, struct isola_err *err), void *arg,
                 struct isola_err *err);
/* Calls fn for every IPv4/IPv6 route and local address prefix of the host. */
int net_host_prefixes(struct net_nl *nl,
                      void (*fn)(const struct net_cidr *p, const char *dev, void *arg), void *arg,
                      struct isola_err *err);

/* nft.c: the `isola` table, rebuilt from the rows */
int net_nft_sync(struct net_ctx *c, struct isola_err *err);

/* dns_server.c: one responder per active network */
int net_dns_start(struct net_ctx *c, const struct net_network *n, struct isola_err *err);
void net_dns_stop(struct net_ctx *c, const char *network);
/* Stops responders whose network is gone or down, restarts dead ones. */
void net_dns_gc(struct net_ctx *c);

/* lock.c: one lock around every change to links, rules and rows */
int net_lock(struct net_ctx *c, struct isola_err *err);
void net_unlock(int fd);
int net_run_path(struct net_ctx *c, const char *sub, const char *name, char out[PATH_MAX],
                 struct isola_err *err);
/* Host veth name: a hash of container id and network, so a crashed engine's
 * links are found again from the row (or its absence). */
void net_host_ifname(const char *container_id, const char *network, char out[IFNAMSIZ]);
void net_mac_from_ip(const struct net_addr *ip, uint8_t mac[6]);
void net_mac_fmt(const uint8_t mac[6], char out[18]);
/* Binds a socket briefly to see whether proto host_ip:port is taken on the host. */
int net_port_free(const char *proto, const char *host_ip, uint16_t port, struct isola_err *err);

/* rootless.c / pasta.c: the user-space back ends. Files under <runroot>/net/
 * are BACKEND-<id>.EXT. */
#define NET_ROOTLESS_MAX_PORTS 64
#define NET_PASTA_DNS          "169.254.1.1"
int net_rootless_file(struct net_ctx *c, const char *backend, const char *id, const char *ext,
                      char out[PATH_MAX], struct isola_err *err);
void net_rootless_last_log_line(const char *log, char *out, size_t len);
/* Rewrites a pid file holding "pid" as "pid starttime"; -1 if it is gone. */
int net_rootless_pidfile_fix(const char *pidfile);
bool net_pasta_available(void);
int net_pasta_spawn(struct net_ctx *c, const char *id, const char *netns_path,
                    const char *userns_path, const struct net_port *ports, size_t n,
                    struct isola_err *err);
/* The rootless ports file (empty when none); *out is heap. */
int net_rootless_ports(struct net_ctx *c, const char *id, struct net_port **out, size_t *n_out);
/* The DNS address a rootless back end serves the container, NULL if none. */
const char *net_rootless_dns(struct net_ctx *c, const char *container_id);
int net_port_random(const char *proto, const char *host_ip, uint16_t *out, struct isola_err *err);

#endif
