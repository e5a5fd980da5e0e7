/* Links, addresses and routes through rtnetlink (libnl-route-3): the bridge
 * of a network, a container's veth pair, and the set-up inside the
 * container's network namespace, done on a short-lived thread that joins the
 * namespace so the caller never leaves its own. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/net_internal.h"

struct net_nl {
        struct nl_sock *sk;
};

static int nl_err(int nle, struct isola_err *err, const char *fmt, const char *what)
{
        int e = nle == -NLE_EXIST                               ? EEXIST
                : nle == -NLE_OBJ_NOTFOUND || nle == -NLE_NODEV ? ENOENT
                : nle == -NLE_PERM                              ? EPERM
                : nle == -NLE_BUSY                              ? EBUSY
                                                                : EIO;
        char ctx[256];
        snprintf(ctx, sizeof(ctx), fmt, what);
        return err_set(err, e, "%s: %s", ctx, nl_geterror(nle));
}

int net_nl_open(struct net_nl **out, struct isola_err *err)
{
        struct net_nl *nl = calloc(1, sizeof(*nl));
        if (!nl)
                return err_set(err, ENOMEM, "out of memory");
        nl->sk = nl_socket_alloc();
        int r = nl->sk ? nl_connect(nl->sk, NETLINK_ROUTE) : -NLE_NOMEM;
        if (r < 0) {
                net_nl_close(nl);
                nl_err(r, err, "%s", "opening rtnetlink");
                return -1;
        }
        *out = nl;
        return 0;
}

void net_nl_close(struct net_nl *nl)
{
        if (!nl)
                return;
        if (nl->sk)
                nl_socket_free(nl->sk);
        free(nl);
}

int net_link_index(struct net_nl *nl, const char *name)
{
        struct rtnl_link *l = NULL;
        if (rtnl_link_get_kernel(nl->sk, 0, name, &l) < 0)
                return 0;
        int idx = rtnl_link_get_ifindex(l);
        rtnl_link_put(l);
        return idx;
}

int net_link_master(struct net_nl *nl, const char *name, char out[IFNAMSIZ])
{
        struct rtnl_link *l = NULL, *m = NULL;
        out[0] = 0;
        if (rtnl_link_get_kernel(nl->sk, 0, name, &l) < 0)
                return -1;
        int idx = rtnl_link_get_master(l);
        rtnl_link_put(l);
        if (idx <= 0 || rtnl_link_get_kernel(nl->sk, idx, NULL, &m) < 0)
                return -1;
        snprintf(out, IFNAMSIZ, "%s", rtnl_link_get_name(m));
        rtnl_link_put(m);
        return 0;
}

static struct nl_addr *nl_addr_of(const struct net_addr *a, unsigned prefix)
{
        struct nl_addr *n = nl_addr_build(a->family, a->b, net_addr_len(a->family));
        if (n)
                nl_addr_set_prefixlen(n, (int)prefix);
        return n;
}

static int addr_add(struct nl_sock *sk, int ifindex, const struct net_addr *a, unsigned prefix,
                    struct isola_err *err)
{
        struct rtnl_addr *ra = rtnl_addr_alloc();
        struct nl_addr *local = nl_addr_of(a, prefix);
        int r = -NLE_NOMEM;
        if (ra && local) {
                rtnl_addr_set_ifindex(ra, ifindex);
                rtnl_addr_set_family(ra, a->family);
                r = rtnl_addr_set_local(ra, local);
                /* No duplicate address detection: the IPAM already made the
                 * address unique, and DAD would hold it back ~2 s. */
                if (a->family == AF_INET6)
                        rtnl_addr_set_flags(ra, IFA_F_NODAD);
                if (r >= 0)
                        r = rtnl_addr_add(sk, ra, NLM_F_REPLACE);
        }
        if (local)
                nl_addr_put(local);
        if (ra)
                rtnl_addr_put(ra);
        if (r < 0) {
                char s[NET_ADDR_STRLEN];
                net_addr_fmt(a, s);
                return nl_err(r, err, "adding address %s", s);
        }
        return 0;
}

static int link_set_up(struct nl_sock *sk, int ifindex, const char *name, struct isola_err *err)
{
        struct rtnl_link *orig = rtnl_link_alloc(), *chg = rtnl_link_alloc();
        int r = -NLE_NOMEM;
        if (orig && chg) {
                rtnl_link_set_ifindex(orig, ifindex);
                rtnl_link_set_flags(chg, IFF_UP);
                r = rtnl_link_change(sk, orig, chg, 0);
        }
        if (orig)
                rtnl_link_put(orig);
        if (chg)
                rtnl_link_put(chg);
        return r < 0 ? nl_err(r, err, "bringing up '%s'", name) : 0;
}

int net_lo_up(struct isola_err *err)
{
        struct net_nl *nl = NULL;
        if (net_nl_open(&nl, err) < 0)
                return -1;
        int lo = net_link_index(nl, "lo");
        int r = lo ? link_set_up(nl->sk, lo, "lo", err) : 0;
        net_nl_close(nl);
        return r;
}

int net_bridge_up(struct net_nl *nl, const struct net_network *n, struct isola_err *err)
{
        int idx = net_link_index(nl, n->bridge);
        if (!idx) {
                struct rtnl_link *br = rtnl_link_bridge_alloc();
                if (!br)
                        return err_set(err, ENOMEM, "out of memory");
                rtnl_link_set_name(br, n->bridge);
                rtnl_link_set_mtu(br, (unsigned)n->mtu);
                rtnl_link_set_flags(br, IFF_UP);
                int r = rtnl_link_add(nl->sk, br, NLM_F_CREATE | NLM_F_EXCL);
                rtnl_link_put(br);
                if (r < 0 && r != -NLE_EXIST)
                        return nl_err(r, err, "creating bridge '%s'", n->bridge);
                idx = net_link_index(nl, n->bridge);
                if (!idx)
                        return err_set(err, ENOENT, "bridge '%s' vanished", n->bridge);
        }
        /* The gateway's /prefix also installs the connected route. */
        if (addr_add(nl->sk, idx, &n->gateway, n->subnet.prefix, err) < 0 ||
            (n->has_v6 && addr_add(nl->sk, idx, &n->gateway6, n->subnet6.prefix, err) < 0) ||
            link_set_up(nl->sk, idx, n->bridge, err) < 0)
                return err_prefix(err, "bridge '%s'", n->bridge);
        return 0;
}

int net_link_delete(struct net_nl *nl, const char *name, struct isola_err *err)
{
        struct rtnl_link *l = rtnl_link_alloc();
        if (!l)
                return err_set(err, ENOMEM, "out of memory");
        rtnl_link_set_name(l, name);
        int r = rtnl_link_delete(nl->sk, l);
        rtnl_link_put(l);
        if (r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NODEV)
                return nl_err(r, err, "deleting link '%s'", name);
        return 0;
}

static int route_default(struct nl_sock *sk, int ifindex, const struct net_addr *gw,
                         struct isola_err *err)
{
        struct rtnl_route *rt = rtnl_route_alloc();
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        struct nl_addr *dst = NULL, *via = nl_addr_of(gw, gw->family == AF_INET ? 32 : 128);
        int r = -NLE_NOMEM;
        uint8_t zero[16] = {0};
        dst = nl_addr_build(gw->family, zero, net_addr_len(gw->family));
        if (rt && nh && dst && via) {
                nl_addr_set_prefixlen(dst, 0);
                rtnl_route_set_family(rt, (uint8_t)gw->family);
                rtnl_route_set_dst(rt, dst);
                rtnl_route_nh_set_gateway(nh, via);
                rtnl_route_nh_set_ifindex(nh, ifindex);
                rtnl_route_add_nexthop(rt, nh);
                nh = NULL; /* the route owns it now */
                r = rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_EXCL);
        }
        if (nh)
                rtnl_route_nh_free(nh);
        if (dst)
                nl_addr_put(dst);
        if (via)
                nl_addr_put(via);
        if (rt)
                rtnl_route_put(rt);
        /* A second network does not replace the first one's default route. */
        if (r < 0 && r != -NLE_EXIST)
                return nl_err(r, err, "%s", "adding the default route");
        return 0;
}

/* Runs inside the container's namespace: lo and the new interface up,
 * addresses, default route. */
static int veth_inner(void *arg, struct isola_err *err)
{
        const struct net_veth_req *r = arg;
        struct net_nl *nl = NULL;
        int rc = -1;
        if (net_nl_open(&nl, err) < 0)
                return -1;
        /* lo came up with the namespace (net_ns_create). */
        int idx = net_link_index(nl, r->ifname);
        if (!idx) {
                err_set(err, ENOENT, "'%s' not found in the container", r->ifname);
                goto out;
        }
        if (addr_add(nl->sk, idx, r->ip, r->prefix, err) < 0 ||
            (r->ip6 && addr_add(nl->sk, idx, r->ip6, r->prefix6, err) < 0) ||
            link_set_up(nl->sk, idx, r->ifname, err) < 0)
                goto out;
        if (r->default_route && (route_default(nl->sk, idx, r->gateway, err) < 0 ||
                                 (r->ip6 && route_default(nl->sk, idx, r->gateway6, err) < 0)))
                goto out;
        rc = 0;
out:
        net_nl_close(nl);
        return rc;
}

int net_veth_add(struct net_nl *nl, const struct net_veth_req *r, struct isola_err *err)
{
        int br = net_link_index(nl, r->bridge);
        if (!br)
                return err_set(err, ENOENT, "bridge '%s' not found", r->bridge);
        int nsfd = open(r->netns_path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0)
                return err_sys(err, "network namespace '%s'", r->netns_path);
        struct rtnl_link *veth = rtnl_link_veth_alloc();
        struct rtnl_link *peer = veth ? rtnl_link_veth_get_peer(veth) : NULL;
        struct nl_addr *mac = nl_addr_build(AF_LLC, r->mac, 6);
        int rc = -NLE_NOMEM;
        if (veth && peer && mac) {
                /* The peer is made directly inside the container's namespace
                 * under its final name (eth0 cannot clash with the host's). */
                rtnl_link_set_name(veth, r->host_ifname);
                rtnl_link_set_mtu(veth, (unsigned)r->mtu);
                rtnl_link_set_master(veth, br);
                rtnl_link_set_flags(veth, IFF_UP);
                rtnl_link_set_name(peer, r->ifname);
                rtnl_link_set_mtu(peer, (unsigned)r->mtu);
                rtnl_link_set_addr(peer, mac);
                rtnl_link_set_ns_fd(peer, nsfd);
                rc = rtnl_link_add(nl->sk, veth, NLM_F_CREATE | NLM_F_EXCL);
                /* The host name is a hash of container and network: one
                 * that exists is this attachment's, left by a crash. */
                if (rc == -NLE_EXIST) {
                        struct isola_err ignored;
                        net_link_delete(nl, r->host_ifname, &ignored);
                        rc = rtnl_link_add(nl->sk, veth, NLM_F_CREATE | NLM_F_EXCL);
                }
        }
        if (mac)
                nl_addr_put(mac);
        if (peer)
                rtnl_link_put(peer);
        if (veth)
                rtnl_link_put(veth);
        close(nsfd);
        if (rc < 0)
                return nl_err(rc, err, "creating veth '%s'", r->host_ifname);
        if (net_in_netns(r->netns_path, veth_inner, (void *)r, err) < 0) {
                struct isola_err ignored;
                net_link_delete(nl, r->host_ifname, &ignored);
                return -1;
        }
        return 0;
}

struct each_arg {
        const char *prefix;
        void (*fn)(const char *name, void *arg);
        void *arg;
};

static void each_link(struct nl_object *o, void *arg)
{
        struct each_arg *a = arg;
        const char *name = rtnl_link_get_name((struct rtnl_link *)o);
        if (name && !strncmp(name, a->prefix, strlen(a->prefix)))
                a->fn(name, a->arg);
}

int net_links_each(struct net_nl *nl, const char *prefix, void (*fn)(const char *name, void *arg),
                   void *arg, struct isola_err *err)
{
        struct nl_cache *cache = NULL;
        int r = rtnl_link_alloc_cache(nl->sk, AF_UNSPEC, &cache);
        if (r < 0)
                return nl_err(r, err, "%s", "listing links");
        struct each_arg a = {prefix, fn, arg};
        nl_cache_foreach(cache, each_link, &a);
        nl_cache_free(cache);
        return 0;
}

struct prefix_arg {
        struct nl_cache *links;
        void (*fn)(const struct net_cidr *p, const char *dev, void *arg);
        void *arg;
};

static void prefix_emit(struct prefix_arg *a, struct nl_addr *na, int ifindex)
{
        struct net_cidr c = {0};
        char dev[IFNAMSIZ] = "";
        if (!na || nl_addr_get_len(na) != net_addr_len(nl_addr_get_family(na)) ||
            nl_addr_get_prefixlen(na) == 0)
                return;
        c.addr.family = nl_addr_get_family(na);
        if (c.addr.family != AF_INET && c.addr.family != AF_INET6)
                return;
        memcpy(c.addr.b, nl_addr_get_binary_addr(na), nl_addr_get_len(na));
        c.prefix = nl_addr_get_prefixlen(na);
        if (ifindex > 0)
                rtnl_link_i2name(a->links, ifindex, dev, sizeof(dev));
        a->fn(&c, dev, a->arg);
}

static void each_route(struct nl_object *o, void *arg)
{
        struct rtnl_route *rt = (struct rtnl_route *)o;
        struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, 0);
        /* Routes of the main table only: local/broadcast entries repeat the
         * addresses, which each_addr reports. */
        if (rtnl_route_get_table(rt) != RT_TABLE_MAIN)
                return;
        prefix_emit(arg, rtnl_route_get_dst(rt), nh ? rtnl_route_nh_get_ifindex(nh) : 0);
}

static void each_addr(struct nl_object *o, void *arg)
{
        struct rtnl_addr *ad = (struct rtnl_addr *)o;
        prefix_emit(arg, rtnl_addr_get_local(ad), rtnl_addr_get_ifindex(ad));
}

int net_host_prefixes(struct net_nl *nl,
                      void (*fn)(const struct net_cidr *p, const char *dev, void *arg), void *arg,
                      struct isola_err *err)
{
        struct nl_cache *links = NULL, *routes = NULL, *addrs = NULL;
        int r = rtnl_link_alloc_cache(nl->sk, AF_UNSPEC, &links);
        if (r >= 0)
                r = rtnl_route_alloc_cache(nl->sk, AF_UNSPEC, 0, &routes);
        if (r >= 0)
                r = rtnl_addr_alloc_cache(nl->sk, &addrs);
        if (r >= 0) {
                struct prefix_arg a = {links, fn, arg};
                nl_cache_foreach(routes, each_route, &a);
                nl_cache_foreach(addrs, each_addr, &a);
        }
        if (addrs)
                nl_cache_free(addrs);
        if (routes)
                nl_cache_free(routes);
        if (links)
                nl_cache_free(links);
        return r < 0 ? nl_err(r, err, "%s", "listing host routes") : 0;
}

struct ns_thread {
        const char *path;
        int (*fn)(void *arg, struct isola_err *err);
        void *arg;
        struct isola_err err;
        int rc;
};

static void *ns_thread_main(void *p)
{
        struct ns_thread *t = p;
        t->rc = -1;
        if (!t->path) {
                t->rc = t->fn(t->arg, &t->err);
                return NULL;
        }
        int fd = open(t->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                err_sys(&t->err, "network namespace '%s'", t->path);
                return NULL;
        }
        /* setns changes only this thread, which ends right after. */
        if (setns(fd, CLONE_NEWNET) < 0) {
                err_sys(&t->err, "joining network namespace '%s'", t->path);
                close(fd);
                return NULL;
        }
        close(fd);
        t->rc = t->fn(t->arg, &t->err);
        return NULL;
}

int net_in_netns(const char *path, int (*fn)(void *arg, struct isola_err *err), void *arg,
                 struct isola_err *err)
{
        struct ns_thread t = {.path = path, .fn = fn, .arg = arg, .rc = -1};
        pthread_t th;
        int e = pthread_create(&th, NULL, ns_thread_main, &t);
        if (e) {
                errno = e;
                return err_sys(err, "starting a thread");
        }
        pthread_join(th, NULL);
        if (t.rc < 0) {
                *err = t.err;
                return -1;
        }
        return 0;
}
