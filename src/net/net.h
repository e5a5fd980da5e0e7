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

struct net_port { /* -p [IP:]HOST:CTR[/proto] */
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
        char ifname[16];  /* inside the container: eth0, eth1, ... */
        char ip[64];      /* address/prefix */
        char gateway[64];
        char mac[18];
};

int net_ns_create(struct net_ctx *c, const char *container_id, char path_out[PATH_MAX],
                  struct isola_err *err);
int net_ns_remove(struct net_ctx *c, const char *container_id, struct isola_err *err);

/* Attaches the container (whose netns is at netns_path) to one network and
 * publishes ports on it (ports may be NULL/0; published once per container,
 * on its first network). name/hostname are registered for DNS. */
int net_attach(struct net_ctx *c, const char *container_id, const char *name,
               const char *netns_path, const struct net_attach_req *req,
               const struct net_port *ports, size_t n_ports, struct net_attachment *out,
               struct isola_err *err);
int net_detach(struct net_ctx *c, const char *container_id, const char *network,
               struct isola_err *err);
/* Everything of the container: links, leases, DNS names, port rules. */
int net_detach_all(struct net_ctx *c, const char *container_id, struct isola_err *err);

/* The resolv.conf and hosts content for a container (heap strings). */
int net_resolv_conf(struct net_ctx *c, const char *container_id, const char *const *dns_servers,
                    char **out, struct isola_err *err);
int net_hosts(struct net_ctx *c, const char *container_id, const char *hostname,
              const char *const *add_hosts, char **out, struct isola_err *err);

/* Removes what no container or network row explains (after a crash). */
int net_gc(struct net_ctx *c, struct isola_err *err);

#endif
