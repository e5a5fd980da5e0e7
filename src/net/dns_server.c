/* The per-network DNS responder (the role aardvark-dns plays for podman): a
 * small process listening on the bridge's gateway address, UDP port 53. It
 * answers A/AAAA for container names and aliases of its network (NAME or
 * NAME.dns.isola) from the database, read per query so a container started
 * later resolves at once, and forwards every other question to the host's
 * resolvers from /etc/resolv.conf (not for an --internal network). Only
 * addresses of the network are answered. Started by the first attach of a network
 * (double fork: it is nobody's child and survives the CLI), stopped by the
 * last detach; its pid file <runroot>/net/dns-<network>.pid holds the pid
 * and the process start time, so a recycled pid is never signalled. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/dns.h"
#include "net/net_internal.h"
#include "util/fs.h"

#define DNS_PROC_NAME    "isola-dns"
#define DNS_UPSTREAM_MAX 3
#define DNS_FORWARD_MS   2000
#define DNS_TTL          1 /* names come and go with containers */

struct dns_srv {
        sqlite3 *db;
        const char *network;
        const struct net_network *net;
        int fds[2];
        size_t n_fds;
        struct sockaddr_storage up[DNS_UPSTREAM_MAX];
        socklen_t up_len[DNS_UPSTREAM_MAX];
        size_t n_up;
};

/* Process start time (clock ticks since boot), field 22 of /proc/PID/stat. */
static unsigned long long proc_start(pid_t pid)
{
        char path[64], *buf = NULL;
        size_t len;
        struct isola_err e;
        unsigned long long t = 0;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (fs_read_file(path, &buf, &len, &e) < 0)
                return 0;
        char *p = strrchr(buf, ')'); /* comm may hold spaces */
        int field = 2;
        /* A zombie (its reaper may be slow) is as good as gone. */
        if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X')) {
                free(buf);
                return 0;
        }
        for (; p && *p && field < 22; p++) {
                if (*p == ' ')
                        field++;
        }
        if (p && field == 22)
                t = strtoull(p, NULL, 10);
        free(buf);
        return t;
}

static int pid_path(struct net_ctx *c, const char *network, char out[PATH_MAX],
                    struct isola_err *err)
{
        char name[NET_NAME_MAX + 16];
        snprintf(name, sizeof(name), "dns-%s.pid", network);
        return net_run_path(c, "net", name, out, err);
}

/* The pid of the network's live responder, or 0. */
static pid_t running(const char *path)
{
        char *buf = NULL;
        size_t len;
        struct isola_err e;
        int pid = 0;
        unsigned long long start = 0;
        if (fs_read_file(path, &buf, &len, &e) < 0)
                return 0;
        if (sscanf(buf, "%d %llu", &pid, &start) != 2 || pid <= 1)
                pid = 0;
        free(buf);
        return pid && proc_start(pid) == start ? pid : 0;
}

static void load_upstreams(struct dns_srv *s)
{
        FILE *f = fopen("/etc/resolv.conf", "re");
        char line[256];
        if (!f)
                return;
        while (s->n_up < DNS_UPSTREAM_MAX && fgets(line, sizeof(line), f)) {
                char addr[NET_ADDR_STRLEN + 1];
                struct net_addr a;
                if (sscanf(line, "nameserver %46s", addr) != 1 || net_addr_parse(addr, &a) < 0)
                        continue;
                struct sockaddr_storage *ss = &s->up[s->n_up];
                memset(ss, 0, sizeof(*ss));
                if (a.family == AF_INET) {
                        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
                        s4->sin_family = AF_INET;
                        s4->sin_port = htons(53);
                        memcpy(&s4->sin_addr, a.b, 4);
                        s->up_len[s->n_up++] = sizeof(*s4);
                } else {
                        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
                        s6->sin6_family = AF_INET6;
                        s6->sin6_port = htons(53);
                        memcpy(&s6->sin6_addr, a.b, 16);
                        s->up_len[s->n_up++] = sizeof(*s6);
                }
        }
        fclose(f);
}

static int bind_udp(const struct net_addr *a, struct isola_err *err)
{
        struct sockaddr_storage ss = {0};
        socklen_t len;
        int one = 1;
        int fd = socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return err_sys(err, "socket");
        /* A responder that is just exiting may still hold the port. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        if (a->family == AF_INET) {
                struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
                s4->sin_family = AF_INET;
                s4->sin_port = htons(53);
                memcpy(&s4->sin_addr, a->b, 4);
                len = sizeof(*s4);
        } else {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons(53);
                memcpy(&s6->sin6_addr, a->b, 16);
                len = sizeof(*s6);
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
                /* The address may still be tentative for a moment. */
                setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
        }
        if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
                char s[NET_ADDR_STRLEN];
                net_addr_fmt(a, s);
                err_sys(err,
                        "DNS responder: binding %s port 53 (another DNS server on the "
                        "host? create the network with --disable-dns)",
                        s);
                close(fd);
                return -1;
        }
        return fd;
}

/* Addresses of name (or name.dns.isola) for the asker at address `asker`:
 * a name of this network, else (as Docker's resolver) a name of any other
 * network the asking container is also on, so a container on several
 * networks resolves all of its peers through its first nameserver. */
static size_t lookup(struct dns_srv *s, const char *qname, const char *asker, struct net_addr *out,
                     size_t cap, bool *ours)
{
        char name[NET_DNS_NAME_MAX + 1];
        size_t n = 0, ql = strlen(qname), dl = strlen(NET_DNS_DOMAIN);
        snprintf(name, sizeof(name), "%s", qname);
        *ours = false;
        if (ql > dl + 1 && name[ql - dl - 1] == '.' && !strcmp(name + ql - dl, NET_DNS_DOMAIN)) {
                name[ql - dl - 1] = 0;
                *ours = true; /* the search domain: NXDOMAIN, never forwarded */
        }
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(
                s->db,
                "SELECT a.ip, a.ip6, d.network = ?1 FROM net_dns_names d JOIN net_attachments a"
                " ON a.container_id = d.container_id AND a.network = d.network"
                " WHERE d.name = ?2 AND (d.network = ?1 OR d.network IN"
                " (SELECT o.network FROM net_attachments o JOIN net_attachments me"
                " ON o.container_id = me.container_id WHERE me.network = ?1 AND"
                " (substr(me.ip, 1, instr(me.ip, '/') - 1) = ?3 OR"
                " substr(me.ip6, 1, instr(me.ip6, '/') - 1) = ?3)))"
                " ORDER BY d.network != ?1, d.network",
                -1, &st, NULL) != SQLITE_OK)
                return 0;
        sqlite3_bind_text(st, 1, s->network, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, asker, -1, SQLITE_STATIC);
        int first_here = -1;
        while (sqlite3_step(st) == SQLITE_ROW) {
                int here = sqlite3_column_int(st, 2);
                if (first_here >= 0 && here != first_here)
                        break; /* names of this network win over the others' */
                first_here = here;
                *ours = true;
                for (int col = 0; col < 2 && n < cap; col++) {
                        char ip[NET_CIDR_STRLEN];
                        snprintf(ip, sizeof(ip), "%s", sqlite3_column_text(st, col));
                        ip[strcspn(ip, "/")] = 0;
                        if (ip[0] && net_addr_parse(ip, &out[n]) == 0)
                                n++;
                }
        }
        sqlite3_finalize(st);
        return n;
}

/* Relays a question to the first upstream that answers; 0 when none did. */
static size_t forward(struct dns_srv *s, const uint8_t *q, size_t qlen, uint8_t *out, size_t cap)
{
        for (size_t i = 0; i < s->n_up; i++) {
                int fd = socket(s->up[i].ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        continue;
                ssize_t r = -1;
                if (connect(fd, (struct sockaddr *)&s->up[i], s->up_len[i]) == 0 &&
                    send(fd, q, qlen, 0) == (ssize_t)qlen) {
                        struct pollfd p = {.fd = fd, .events = POLLIN};
                        if (poll(&p, 1, DNS_FORWARD_MS) == 1)
                                r = recv(fd, out, cap, 0);
                }
                close(fd);
                /* Same id as asked: a connected socket only hears that server. */
                if (r >= NET_DNS_HDR && !memcmp(out, q, 2))
                        return (size_t)r;
        }
        return 0;
}

/* Only the network's own containers are answered: the gateway address is a
 * host address, so a container of another network (or a neighbour host)
 * could otherwise list this network's names. */
static bool from_network(const struct dns_srv *s, const struct sockaddr_storage *from,
                         char asker[NET_ADDR_STRLEN])
{
        struct net_addr a = {.family = from->ss_family};
        if (from->ss_family == AF_INET)
                memcpy(a.b, &((const struct sockaddr_in *)from)->sin_addr, 4);
        else if (from->ss_family == AF_INET6)
                memcpy(a.b, &((const struct sockaddr_in6 *)from)->sin6_addr, 16);
        else
                return false;
        net_addr_fmt(&a, asker);
        return net_cidr_contains(&s->net->subnet, &a) ||
               (s->net->has_v6 && net_cidr_contains(&s->net->subnet6, &a));
}

static void serve_one(struct dns_srv *s, int fd)
{
        uint8_t in[4096], out[4096];
        struct sockaddr_storage from = {0};
        socklen_t flen = sizeof(from);
        char asker[NET_ADDR_STRLEN];
        ssize_t len = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from, &flen);
        if (len <= 0 || !from_network(s, &from, asker))
                return;
        struct net_dns_question q;
        size_t olen = 0;
        if (net_dns_parse_query(in, (size_t)len, &q) < 0) {
                olen = net_dns_build_error(in, (size_t)len, NET_DNS_FORMERR, out, sizeof(out));
        } else {
                struct net_addr addrs[16];
                bool ours = false;
                size_t n =
                    q.qclass == NET_DNS_CLASS_IN
                        ? lookup(s, q.name, asker, addrs, sizeof(addrs) / sizeof(addrs[0]), &ours)
                        : 0;
                if (ours)
                        olen = net_dns_build_reply(in, &q, n ? NET_DNS_NOERROR : NET_DNS_NXDOMAIN,
                                                   addrs, n, DNS_TTL, out, 512);
                /* An --internal network has no way out, DNS included. */
                else if (s->net->internal ||
                         !(olen = forward(s, in, (size_t)len, out, sizeof(out))))
                        olen = net_dns_build_reply(in, &q, NET_DNS_SERVFAIL, NULL, 0, 0, out,
                                                   sizeof(out));
        }
        if (olen)
                sendto(fd, out, olen, 0, (struct sockaddr *)&from, flen);
}

static void serve(struct dns_srv *s)
{
        struct pollfd p[2];
        for (size_t i = 0; i < s->n_fds; i++)
                p[i] = (struct pollfd){.fd = s->fds[i], .events = POLLIN};
        for (;;) {
                if (poll(p, s->n_fds, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                for (size_t i = 0; i < s->n_fds; i++) {
                        if (p[i].revents & POLLIN)
                                serve_one(s, p[i].fd);
                }
        }
}

/* In the grandchild: set up, report to the parent through fd `ready`, serve. */
static void responder_main(struct net_ctx *c, const struct net_network *n, const char *pidfile,
                           int ready)
{
        struct dns_srv s = {.network = n->name, .net = n};
        struct isola_err e = {0};
        char dbpath[PATH_MAX + 16];
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_IGN);
        prctl(PR_SET_NAME, DNS_PROC_NAME);
        if (chdir("/") < 0) {
                /* stays where it was; nothing depends on the cwd */
        }
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
        }
        snprintf(dbpath, sizeof(dbpath), "%s/isola.db", c->paths.root);
        if (sqlite3_open_v2(dbpath, &s.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
                err_set(&e, EIO, "DNS responder: opening '%s'", dbpath);
                goto fail;
        }
        sqlite3_busy_timeout(s.db, 2000);
        int fd = bind_udp(&n->gateway, &e);
        if (fd < 0)
                goto fail;
        s.fds[s.n_fds++] = fd;
        if (n->has_v6 && (fd = bind_udp(&n->gateway6, &e)) >= 0)
                s.fds[s.n_fds++] = fd;
        load_upstreams(&s);
        char line[64];
        snprintf(line, sizeof(line), "%d %llu\n", (int)getpid(), proc_start(getpid()));
        if (fs_write_file(pidfile, line, strlen(line), O_CREAT | O_WRONLY | O_TRUNC, 0600, &e) < 0)
                goto fail;
        if (write(ready, "R", 1) != 1)
                _exit(1);
        close(ready);
        serve(&s);
        _exit(0);
fail:
        if (write(ready, e.msg, strlen(e.msg)) < 0)
                _exit(1);
        _exit(1);
}

int net_dns_start(struct net_ctx *c, const struct net_network *n, struct isola_err *err)
{
        char pidfile[PATH_MAX];
        int p[2];
        if (pid_path(c, n->name, pidfile, err) < 0)
                return -1;
        if (running(pidfile))
                return 0;
        if (pipe2(p, O_CLOEXEC) < 0)
                return err_sys(err, "pipe");
        pid_t child = fork();
        if (child < 0) {
                close(p[0]);
                close(p[1]);
                return err_sys(err, "fork");
        }
        if (child == 0) {
                close(p[0]);
                setsid();
                pid_t gc = fork();
                if (gc == 0) {
                        /* Only the report pipe (and stdio, redirected) stays. */
                        if (p[1] != 3) {
                                dup2(p[1], 3);
                                p[1] = 3;
                        }
                        syscall(SYS_close_range, 4U, ~0U, 0U);
                        responder_main(c, n, pidfile, p[1]);
                }
                _exit(gc < 0);
        }
        close(p[1]);
        int st;
        while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
        }
        char msg[ISOLA_ERR_MSG_MAX] = "";
        ssize_t r;
        while ((r = read(p[0], msg, sizeof(msg) - 1)) < 0 && errno == EINTR) {
        }
        close(p[0]);
        if (r == 1 && msg[0] == 'R')
                return 0;
        if (r > 0) {
                msg[r] = 0;
                return err_set(err, EIO, "%s", msg);
        }
        return err_set(err, EIO, "DNS responder for network '%s' did not start", n->name);
}

void net_dns_stop(struct net_ctx *c, const char *network)
{
        char pidfile[PATH_MAX];
        struct isola_err e;
        if (pid_path(c, network, pidfile, &e) < 0)
                return;
        pid_t pid = running(pidfile);
        if (pid) {
                /* Wait for it to go, so a responder started right after
                 * (the next container) finds the port free. */
                int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
                kill(pid, SIGTERM);
                if (pfd >= 0) {
                        struct pollfd p = {.fd = pfd, .events = POLLIN};
                        poll(&p, 1, 1000);
                        close(pfd);
                }
        }
        unlink(pidfile);
}

/* Responders of up networks that died (killed, OOM) are started again. */
static void restart_dead(struct net_ctx *c)
{
        sqlite3_stmt *st = NULL;
        char names[64][NET_NAME_MAX + 1];
        size_t n = 0;
        if (sqlite3_prepare_v2(c->db, "SELECT name FROM networks WHERE up = 1 AND dns = 1", -1, &st,
                               NULL) != SQLITE_OK)
                return;
        while (n < 64 && sqlite3_step(st) == SQLITE_ROW)
                snprintf(names[n++], sizeof(names[0]), "%s", sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        for (size_t i = 0; i < n; i++) {
                struct net_network nw;
                struct isola_err e;
                if (net_network_get(c, names[i], &nw, &e) == 0)
                        net_dns_start(c, &nw, &e);
        }
}

void net_dns_gc(struct net_ctx *c)
{
        char dir[PATH_MAX];
        struct isola_err e;
        if (snprintf(dir, sizeof(dir), "%s/net", c->paths.runroot) >= (int)sizeof(dir))
                return;
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *de;
        char names[64][NET_NAME_MAX + 1];
        size_t n = 0;
        while ((de = readdir(d)) && n < 64) {
                size_t len = strlen(de->d_name);
                if (strncmp(de->d_name, "dns-", 4) != 0 || len < 9 ||
                    strcmp(de->d_name + len - 4, ".pid") != 0 || len - 8 > NET_NAME_MAX)
                        continue;
                memcpy(names[n], de->d_name + 4, len - 8);
                names[n++][len - 8] = 0;
        }
        closedir(d);
        for (size_t i = 0; i < n; i++) {
                struct net_network n;
                if (net_network_get(c, names[i], &n, &e) < 0 ? e.errnum == ENOENT : !n.up)
                        net_dns_stop(c, names[i]);
        }
        restart_dead(c);
}
