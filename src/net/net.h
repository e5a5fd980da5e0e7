/* Container networking: bridges, veth pairs, IPAM, nftables, DNS. Prefix net_.
 * The contract between the engine and the network component (the network
 * component owns everything behind it; see docs/networking.md).
 *
 * Flow: for a container on bridge networks the engine asks net_ns_create for a
 * named network namespace (a bind-mounted nsfs file under the runroot) before
 * it creates the container, puts that path in the OCI spec's network
 * namespace, calls net_attach for every network (veth, lease, routes, DNS
 * names, port DNAT), writes the resolv.conf/hosts the result describes into
 * the container, and on stop/rm calls net_detach_all then net_ns_remove.
 * Every call is idempotent where it can be, so a crashed engine's leftovers
 * are cleaned by net_gc. */
#ifndef ISOLA_NET_NET_H
#define ISOLA_NET_NET_H

#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"
#include "util/err.h"

struct net_ctx {
        struct db_paths paths;
        sqlite3 *db; /* owned by the caller */
};

struct net_port {         /* -p [IP:]HOST:CTR[/proto] */
        char host_ip[64]; /* "" = all */
        uint16_t host_port, ctr_port;
        char proto[4]; /* "tcp" | "udp" */
};

struct net_attach_req {
        const char *network;        /* name; "isola" is the default bridge network */
        const char *const *aliases; /* --network-alias, NULL-terminated or NULL */
        const char *static_ip;      /* NULL = from IPAM */
};

struct net_attachment { /* what net_attach made, for inspect/port */
        char network[128];
        char ifname[16]; /* inside the container: eth0, eth1, ... */
        char ip[64];     /* address/prefix */
        char gateway[64];
        char mac[18];
};

int net_ns_create(struct net_ctx *c, const char *container_id, char path_out[PATH_MAX],
                  struct isola_err *err);
int net_ns_remove(struct net_ctx *c, const char *container_id, struct isola_err *err);

/* Attaches the container (whose netns is at netns_path) to one network and
 * publishes ports on it (ports may be NULL/0; published once per container,
 * on its first network). name/hostname are registered for DNS. Not inside a
 * transaction of the caller's (it opens its own). The first attach of a
 * network forks its DNS responder (fork without exec): call it while no other
 * thread of the process holds a lock (the CLI is single-threaded). */
int net_attach(struct net_ctx *c, const char *container_id, const char *name,
               const char *netns_path, const struct net_attach_req *req,
               const struct net_port *ports, size_t n_ports, struct net_attachment *out,
               struct isola_err *err);
int net_detach(struct net_ctx *c, const char *container_id, const char *network,
               struct isola_err *err);
/* Everything of the container: leases, DNS names, port rules, and the
 * network's bridge when it was the last container. Its veth pairs are not
 * deleted one by one: they go with the namespace at net_ns_remove (the
 * kernel tears them down off the caller's path), so call that right after. */
int net_detach_all(struct net_ctx *c, const char *container_id, struct isola_err *err);

/* The resolv.conf and hosts content for a container (heap strings). */
int net_resolv_conf(struct net_ctx *c, const char *container_id, const char *const *dns_servers,
                    char **out, struct isola_err *err);
int net_hosts(struct net_ctx *c, const char *container_id, const char *hostname,
              const char *const *add_hosts, char **out, struct isola_err *err);

/* Removes what no container or network row explains (after a crash). */
int net_gc(struct net_ctx *c, struct isola_err *err);
/* net_gc only when an attachment's namespace file is gone: cheap enough
 * (one SELECT, a stat per attached container) for every command's start. */
int net_gc_if_stale(struct net_ctx *c, struct isola_err *err);

/* ---- additions beyond the first contract (network verbs, engine helpers) ---- */

/* The nsfs file net_ns_create makes: <runroot>/netns/<container_id>. Fails
 * with ENOENT when the container has none (not running, none/host). */
int net_ns_path(struct net_ctx *c, const char *container_id, char path_out[PATH_MAX],
                struct isola_err *err);

/* Parses -p [IP:]HOST:CTR[/tcp|udp] (also HOST-less "CTR" = random host port,
 * host_port 0). net_attach picks a free port for host_port 0 (that is -P). */
int net_port_parse(const char *spec, struct net_port *out, struct isola_err *err);
/* The container's published ports (after net_attach: random ones resolved). */
int net_ports_get(struct net_ctx *c, const char *container_id, struct net_port **out, size_t *n_out,
                  struct isola_err *err);
int net_attachments_get(struct net_ctx *c, const char *container_id, struct net_attachment **out,
                        size_t *n_out, struct isola_err *err);

struct net_create_opts {
        const char *name;
        const char *subnet, *gateway;   /* NULL = picked (10.89.N.0/24) / first host */
        const char *subnet6, *gateway6; /* NULL = none, or a ULA /64 when ipv6 */
        bool internal, ipv6, no_dns;
        int mtu; /* 0 = 1500 */
};
int net_network_create(struct net_ctx *c, const struct net_create_opts *o, struct isola_err *err);
/* Refused (EBUSY) while a container is attached; "isola" cannot be removed. */
int net_network_remove(struct net_ctx *c, const char *name, struct isola_err *err);
/* Removes every unused user network; calls fn for each. */
int net_network_prune(struct net_ctx *c, void (*fn)(const char *name, void *arg), void *arg,
                      struct isola_err *err);
/* JSON array of networks (name NULL = all, else that one, ENOENT if absent),
 * each with its containers. Returned as a heap string. */
int net_network_json(struct net_ctx *c, const char *name, char **out, struct isola_err *err);
/* Rootless containers (a user's own user + network namespaces, no host
 * bridge): pasta or slirp4netns (see net_rootless_attach_backend); slirp4netns gives the namespace
 * tap0 10.0.2.100/24 with outbound NAT in user space, DNS at 10.0.2.3, and forwards the ports from
 * host sockets it holds. userns_path may be NULL (a namespace of the caller's user namespace).
 * net_rootless_detach stops it (also idempotent). */
int net_rootless_attach(struct net_ctx *c, const char *container_id, const char *netns_path,
                        const char *userns_path, const struct net_port *ports, size_t n_ports,
                        struct net_attachment *out, struct isola_err *err);
/* The same with the back end named: "pasta" (Debian's passt package: the
 * host's address and routes copied in, DNS at 169.254.1.1), "slirp4netns",
 * or NULL = pasta when installed, else slirp4netns. */
int net_rootless_attach_backend(struct net_ctx *c, const char *backend, const char *container_id,
                                const char *netns_path, const char *userns_path,
                                const struct net_port *ports, size_t n_ports,
                                struct net_attachment *out, struct isola_err *err);
int net_rootless_detach(struct net_ctx *c, const char *container_id, struct isola_err *err);
/* "pasta" when it is installed, else "slirp4netns". */
const char *net_rootless_default(void);
bool net_rootless_active(struct net_ctx *c, const char *container_id);

/* The nftables table (family inet) of this state root: "isola" for the
 * default root, isola_<hash> for another (tests). */
void net_nft_table(const struct net_ctx *c, char out[32]);
/* A container of the engine's containers table by name, id or id prefix. */
int net_container_lookup(struct net_ctx *c, const char *ref, char id_out[128], char name_out[256],
                         struct isola_err *err);

#endif
