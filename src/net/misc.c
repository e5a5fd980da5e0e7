/* Small helpers of the network component: the lock, run-time paths, link
 * names, MAC addresses, host port probes, -p parsing. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/net_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

int net_run_path(struct net_ctx *c, const char *sub, const char *name, char out[PATH_MAX],
                 struct isola_err *err)
{
        char dir[PATH_MAX];
        struct stat st;
        if (snprintf(dir, sizeof(dir), "%s/%s", c->paths.runroot, sub) >= (int)sizeof(dir))
                return err_set(err, ENAMETOOLONG, "runroot '%s': path too long", c->paths.runroot);
        /* One stat on the hot path instead of a mkdir per path component. */
        if (stat(dir, &st) < 0 && fs_mkdir_p(dir, 0700, err) < 0)
                return -1;
        if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
                return err_set(err, ENAMETOOLONG, "'%s/%s': path too long", dir, name);
        return 0;
}

/* Every change to links, rules, responders and their rows happens under this
 * lock, so two isola processes never rebuild the nft table from different
 * views or race to create and delete one bridge. */
int net_lock(struct net_ctx *c, struct isola_err *err)
{
        char path[PATH_MAX];
        if (net_run_path(c, "net", "lock", path, err) < 0)
                return -1;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return err_sys(err, "opening the network lock '%s'", path);
        while (flock(fd, LOCK_EX) < 0) {
                if (errno != EINTR) {
                        err_sys(err, "locking '%s'", path);
                        close(fd);
                        return -1;
                }
        }
        return fd;
}

void net_unlock(int fd)
{
        if (fd >= 0)
                close(fd);
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 0x100000001b3ULL;
        }
        return h;
}

void net_host_ifname(const char *container_id, const char *network, char out[IFNAMSIZ])
{
        uint64_t h = fnv1a(fnv1a(0xcbf29ce484222325ULL, container_id), "/");
        h = fnv1a(h, network);
        /* "isv" + 10 hex digits = 13 characters, under IFNAMSIZ - 1. */
        snprintf(out, IFNAMSIZ, NET_VETH_PREFIX "%010llx",
                 (unsigned long long)(h & 0xffffffffffULL));
}

/* Locally administered unicast (02:...) with the IPv4 address in the low
 * bytes, so a MAC in a capture names its container; random for IPv6-only. */
void net_mac_from_ip(const struct net_addr *ip, uint8_t mac[6])
{
        mac[0] = 0x02;
        mac[1] = 0x5a;
        if (ip && ip->family == AF_INET) {
                memcpy(mac + 2, ip->b, 4);
        } else if (getrandom(mac + 2, 4, 0) != 4) {
                memset(mac + 2, 0x11, 4);
        }
}

void net_mac_fmt(const uint8_t mac[6], char out[18])
{
        snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                 mac[5]);
}

int net_random_hex(char *out, size_t n_hex, struct isola_err *err)
{
        uint8_t b[64];
        if (n_hex > 2 * sizeof(b) || getrandom(b, (n_hex + 1) / 2, 0) != (ssize_t)((n_hex + 1) / 2))
                return err_sys(err, "getrandom");
        for (size_t i = 0; i < n_hex; i++)
                out[i] = "0123456789abcdef"[(b[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
        out[n_hex] = 0;
        return 0;
}

static int port_socket(const char *proto, const char *host_ip, uint16_t port, int *fd_out,
                       struct isola_err *err)
{
        struct sockaddr_storage ss = {0};
        socklen_t len;
        struct net_addr a = {.family = AF_INET};
        if (host_ip[0] && net_addr_parse(host_ip, &a) < 0)
                return err_set(err, EINVAL, "host address '%s' is not an IP address", host_ip);
        if (a.family == AF_INET) {
                struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
                s4->sin_family = AF_INET;
                s4->sin_port = htons(port);
                memcpy(&s4->sin_addr, a.b, 4);
                len = sizeof(*s4);
        } else {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons(port);
                memcpy(&s6->sin6_addr, a.b, 16);
                len = sizeof(*s6);
        }
        int type = !strcmp(proto, "udp") ? SOCK_DGRAM : SOCK_STREAM;
        int fd = socket(a.family, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return err_sys(err, "socket");
        int one = 1;
        /* SO_REUSEADDR: a connection in TIME_WAIT does not make the port
         * "bound"; a listening socket still does. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
                int e = errno;
                close(fd);
                if (e == EADDRINUSE)
                        return err_set(err, e, "port %s%s%u/%s is already bound on the host",
                                       host_ip, host_ip[0] ? ":" : "", port, proto);
                if (e == EADDRNOTAVAIL)
                        return err_set(err, e, "host address '%s' is not an address of this host",
                                       host_ip);
                errno = e;
                return err_sys(err, "probing port %u/%s", port, proto);
        }
        *fd_out = fd;
        return 0;
}

int net_port_free(const char *proto, const char *host_ip, uint16_t port, struct isola_err *err)
{
        int fd;
        if (port_socket(proto, host_ip, port, &fd, err) < 0)
                return -1;
        close(fd);
        return 0;
}

int net_port_random(const char *proto, const char *host_ip, uint16_t *out, struct isola_err *err)
{
        _cleanup_close_ int fd = -1;
        struct sockaddr_storage ss = {0};
        socklen_t len = sizeof(ss);
        if (port_socket(proto, host_ip, 0, &fd, err) < 0)
                return -1;
        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
                return err_sys(err, "getsockname");
        uint16_t be = 0;
        size_t off = ss.ss_family == AF_INET ? offsetof(struct sockaddr_in, sin_port)
                                             : offsetof(struct sockaddr_in6, sin6_port);
        memcpy(&be, (const uint8_t *)&ss + off, sizeof(be));
        *out = ntohs(be);
        return 0;
}

static int parse_port(const char *s, size_t len, uint16_t *out)
{
        unsigned v = 0;
        if (!len || len > 5)
                return -1;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (v < 1 || v > 65535)
                return -1;
        *out = (uint16_t)v;
        return 0;
}

int net_port_parse(const char *spec, struct net_port *out, struct isola_err *err)
{
        char buf[128];
        memset(out, 0, sizeof(*out));
        snprintf(out->proto, sizeof(out->proto), "tcp");
        if (strlen(spec) >= sizeof(buf))
                return err_set(err, EINVAL, "port '%.40s...': too long", spec);
        snprintf(buf, sizeof(buf), "%s", spec);
        char *slash = strchr(buf, '/');
        if (slash) {
                *slash = 0;
                if (strcmp(slash + 1, "tcp") != 0 && strcmp(slash + 1, "udp") != 0)
                        return err_set(err, EINVAL, "port '%s': protocol must be tcp or udp", spec);
                snprintf(out->proto, sizeof(out->proto), "%s", slash + 1);
        }
        /* The container port is after the last ':'; an IPv6 host address is
         * written in brackets: [::1]:8080:80. */
        char *last = strrchr(buf, ':');
        const char *ctr = last ? last + 1 : buf;
        if (parse_port(ctr, strlen(ctr), &out->ctr_port) < 0)
                return err_set(err, EINVAL, "port '%s': container port must be 1..65535", spec);
        if (!last)
                return 0;
        *last = 0;
        char *mid = strrchr(buf, ':');
        const char *host = mid ? mid + 1 : buf;
        if (host[0] && parse_port(host, strlen(host), &out->host_port) < 0)
                return err_set(err, EINVAL, "port '%s': host port must be 1..65535", spec);
        if (!mid)
                return 0;
        *mid = 0;
        char *ip = buf;
        size_t iplen = strlen(ip);
        if (iplen >= 2 && ip[0] == '[' && ip[iplen - 1] == ']') {
                ip[iplen - 1] = 0;
                ip++;
        }
        struct net_addr a;
        if (ip[0] && net_addr_parse(ip, &a) < 0)
                return err_set(err, EINVAL, "port '%s': '%s' is not an IP address", spec, ip);
        if (ip[0])
                net_addr_fmt(&a, out->host_ip);
        return 0;
}
