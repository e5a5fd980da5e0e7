/* Rootless networking: a container in a user's own user and network
 * namespaces cannot get a veth on a host bridge, so slirp4netns (Debian's)
 * gives it a tap device with outbound NAT done in user space (connections
 * leave from the host's sockets, so peers see the host's address) and
 * forwards published ports from host sockets it holds. One slirp4netns per
 * container, double-forked so it survives the CLI; its pid file
 * <runroot>/net/slirp-<id>.pid holds pid and start time like the DNS
 * responder's, its API socket <runroot>/net/slirp-<id>.sock takes the port
 * forwards, its stderr goes to slirp-<id>.log for error messages. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/net_internal.h"
#include "util/fs.h"

#define SLIRP_BIN      "slirp4netns"
#define SLIRP_IFNAME   "tap0"
#define SLIRP_IP       "10.0.2.100/24"
#define SLIRP_GATEWAY  "10.0.2.2"
#define SLIRP_READY_MS 5000

int net_rootless_file(struct net_ctx *c, const char *backend, const char *id, const char *ext,
                      char out[PATH_MAX], struct isola_err *err)
{
        char name[200];
        if (snprintf(name, sizeof(name), "%s-%.128s.%s", backend, id, ext) >= (int)sizeof(name))
                return err_set(err, ENAMETOOLONG, "container id too long");
        return net_run_path(c, "net", name, out, err);
}

static int slirp_path(struct net_ctx *c, const char *id, const char *ext, char out[PATH_MAX],
                      struct isola_err *err)
{
        /* a unix socket path has 108 bytes: 16 hex digits of the id are
         * enough to tell containers apart */
        char shortid[17];
        if (!strcmp(ext, "sock")) {
                snprintf(shortid, sizeof(shortid), "%s", id);
                id = shortid;
        }
        return net_rootless_file(c, "slirp", id, ext, out, err);
}

/* The last line the helper wrote, for an error message. */
void net_rootless_last_log_line(const char *log, char *out, size_t len)
{
        char *buf = NULL;
        size_t n;
        struct isola_err e;
        out[0] = 0;
        if (fs_read_file(log, &buf, &n, &e) < 0)
                return;
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                buf[--n] = 0;
        char *nl = strrchr(buf, '\n');
        snprintf(out, len, "%s", nl ? nl + 1 : buf);
        free(buf);
}

static unsigned long long start_time(pid_t pid)
{
        char path[64], *buf = NULL;
        size_t len;
        struct isola_err e;
        unsigned long long t = 0;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (fs_read_file(path, &buf, &len, &e) < 0)
                return 0;
        char *p = strrchr(buf, ')');
        int field = 2;
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

int net_rootless_pidfile_fix(const char *pidfile)
{
        char *buf = NULL, line[64];
        size_t len;
        int pid = 0;
        struct isola_err e;
        if (fs_read_file(pidfile, &buf, &len, &e) < 0)
                return -1;
        int ok = sscanf(buf, "%d", &pid) == 1 && pid > 1;
        free(buf);
        unsigned long long t = ok ? start_time(pid) : 0;
        if (!t)
                return -1;
        snprintf(line, sizeof(line), "%d %llu\n", pid, t);
        return fs_write_file(pidfile, line, strlen(line), O_CREAT | O_WRONLY | O_TRUNC, 0600, &e);
}

/* In the grandchild: stdio to the log, the ready pipe as fd 3, exec. */
static void exec_slirp(const char *netns_path, const char *userns_path, const char *sock,
                       const char *log, int ready)
{
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 ||
            dup2(ready, 3) < 0)
                _exit(127);
        syscall(SYS_close_range, 4U, ~0U, 0U);
        const char *argv[16];
        int i = 0;
        argv[i++] = SLIRP_BIN;
        argv[i++] = "--configure";
        argv[i++] = "--mtu=65520";
        argv[i++] = "--disable-host-loopback";
        argv[i++] = "--ready-fd=3";
        argv[i++] = "--api-socket";
        argv[i++] = sock;
        argv[i++] = "--netns-type=path";
        if (userns_path) {
                argv[i++] = "--userns-path";
                argv[i++] = userns_path;
        }
        argv[i++] = netns_path;
        argv[i++] = SLIRP_IFNAME;
        argv[i] = NULL;
        execvp(SLIRP_BIN, (char *const *)argv);
        fprintf(stderr, "cannot run " SLIRP_BIN ": %s (install the slirp4netns package)\n",
                strerror(errno));
        _exit(127);
}

static int spawn(struct net_ctx *c, const char *id, const char *netns_path, const char *userns_path,
                 struct isola_err *err)
{
        char pidfile[PATH_MAX], sock[PATH_MAX], log[PATH_MAX];
        int p[2];
        if (slirp_path(c, id, "pid", pidfile, err) < 0 ||
            slirp_path(c, id, "sock", sock, err) < 0 || slirp_path(c, id, "log", log, err) < 0)
                return -1;
        unlink(sock);
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
                if (gc == 0)
                        exec_slirp(netns_path, userns_path, sock, log, p[1]);
                if (gc > 0) {
                        /* The start time is kept across exec: read it now. */
                        char line[64];
                        struct isola_err e;
                        snprintf(line, sizeof(line), "%d %llu\n", (int)gc, start_time(gc));
                        fs_write_file(pidfile, line, strlen(line), O_CREAT | O_WRONLY | O_TRUNC,
                                      0600, &e);
                }
                _exit(gc < 0);
        }
        close(p[1]);
        int st;
        while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
        }
        /* slirp4netns writes "1" on the ready fd once tap0 is configured;
         * EOF first means it exited. */
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        char b = 0;
        ssize_t r = poll(&pf, 1, SLIRP_READY_MS) == 1 ? read(p[0], &b, 1) : -1;
        close(p[0]);
        if (r == 1)
                return 0;
        char why[256];
        net_rootless_last_log_line(log, why, sizeof(why));
        return err_set(err, EIO, SLIRP_BIN " did not start%s%s", why[0] ? ": " : "", why);
}

/* One request on the API socket; the reply's "error" becomes the error. */
static int api_call(const char *sock, json_object *req, struct isola_err *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        char reply[4096];
        size_t got = 0;
        if (strlen(sock) >= sizeof(sa.sun_path))
                return err_set(err, ENAMETOOLONG, "API socket path '%s' too long", sock);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return err_sys(err, "socket");
        const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            fs_write_all(fd, text, strlen(text)) < 0 || shutdown(fd, SHUT_WR) < 0) {
                err_sys(err, "talking to " SLIRP_BIN " at '%s'", sock);
                close(fd);
                return -1;
        }
        ssize_t r;
        while (got < sizeof(reply) - 1 && (r = read(fd, reply + got, sizeof(reply) - 1 - got)) > 0)
                got += (size_t)r;
        close(fd);
        reply[got] = 0;
        json_object *o = json_tokener_parse(reply), *e = NULL, *desc = NULL;
        int rc = 0;
        if (!o)
                rc = err_set(err, EIO, SLIRP_BIN ": unreadable reply '%.80s'", reply);
        else if (json_object_object_get_ex(o, "error", &e))
                rc = err_set(err, EIO, "%s",
                             json_object_object_get_ex(e, "desc", &desc)
                                 ? json_object_get_string(desc)
                                 : json_object_to_json_string(e));
        json_object_put(o);
        return rc;
}

static int forward_port(const char *sock, const struct net_port *p, struct isola_err *err)
{
        json_object *req = json_object_new_object(), *args = json_object_new_object();
        json_object_object_add(req, "execute", json_object_new_string("add_hostfwd"));
        json_object_object_add(args, "proto", json_object_new_string(p->proto));
        json_object_object_add(args, "host_addr",
                               json_object_new_string(p->host_ip[0] ? p->host_ip : "0.0.0.0"));
        json_object_object_add(args, "host_port", json_object_new_int(p->host_port));
        json_object_object_add(args, "guest_port", json_object_new_int(p->ctr_port));
        json_object_object_add(req, "arguments", args);
        int rc = api_call(sock, req, err);
        json_object_put(req);
        return rc < 0 ? err_prefix(err, "port %u/%s", p->host_port, p->proto) : 0;
}

/* The resolved ports, one "proto host_ip host_port ctr_port" line each, for
 * net_ports_get (rootless ports have no rows: no rules are made for them). */
static int save_ports(struct net_ctx *c, const char *id, const struct net_port *p, size_t n,
                      struct isola_err *err)
{
        char path[PATH_MAX], buf[NET_ROOTLESS_MAX_PORTS * 96];
        size_t len = 0;
        if (net_rootless_file(c, "rl", id, "ports", path, err) < 0)
                return -1;
        for (size_t i = 0; i < n && len < sizeof(buf); i++)
                len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s %s %u %u\n", p[i].proto,
                                        p[i].host_ip[0] ? p[i].host_ip : "-", p[i].host_port,
                                        p[i].ctr_port);
        return fs_write_file(path, buf, len, O_CREAT | O_WRONLY | O_TRUNC, 0600, err);
}

int net_rootless_ports(struct net_ctx *c, const char *id, struct net_port **out, size_t *n_out)
{
        char path[PATH_MAX], *buf = NULL, *save = NULL;
        size_t len, n = 0;
        struct isola_err e;
        struct net_port *v = NULL;
        *out = NULL;
        *n_out = 0;
        if (net_rootless_file(c, "rl", id, "ports", path, &e) < 0 ||
            fs_read_file(path, &buf, &len, &e) < 0)
                return 0;
        v = calloc(NET_ROOTLESS_MAX_PORTS, sizeof(*v));
        for (char *l = v ? strtok_r(buf, "\n", &save) : NULL; l && n < NET_ROOTLESS_MAX_PORTS;
             l = strtok_r(NULL, "\n", &save)) {
                unsigned hp, cp;
                if (sscanf(l, "%3s %63s %u %u", v[n].proto, v[n].host_ip, &hp, &cp) != 4 ||
                    hp > 65535 || cp > 65535)
                        continue;
                if (!strcmp(v[n].host_ip, "-"))
                        v[n].host_ip[0] = 0;
                v[n].host_port = (uint16_t)hp;
                v[n].ctr_port = (uint16_t)cp;
                n++;
        }
        free(buf);
        *out = v;
        *n_out = v ? n : 0;
        return 0;
}

static int slirp_forward_all(struct net_ctx *c, const char *id, const struct net_port *ports,
                             size_t n, struct isola_err *err)
{
        char sock[PATH_MAX];
        if (slirp_path(c, id, "sock", sock, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                if (forward_port(sock, &ports[i], err) < 0)
                        return -1;
        }
        return 0;
}

int net_rootless_attach_backend(struct net_ctx *c, const char *backend, const char *container_id,
                                const char *netns_path, const char *userns_path,
                                const struct net_port *ports, size_t n_ports,
                                struct net_attachment *out, struct isola_err *err)
{
        struct net_port p[NET_ROOTLESS_MAX_PORTS];
        if (!container_id[0] || strchr(container_id, '/'))
                return err_set(err, EINVAL, "container id '%s' is not valid", container_id);
        if (!backend)
                backend = net_rootless_default();
        bool pasta = !strcmp(backend, "pasta");
        if (!pasta && strcmp(backend, "slirp4netns") != 0)
                return err_set(err, EINVAL, "rootless network '%s': pasta or slirp4netns", backend);
        if (n_ports > NET_ROOTLESS_MAX_PORTS)
                return err_set(err, E2BIG, "at most %d published ports", NET_ROOTLESS_MAX_PORTS);
        /* Ports first: a clear refusal before anything runs; random ones
         * picked here so both back ends get fixed numbers. */
        for (size_t i = 0; i < n_ports; i++) {
                p[i] = ports[i];
                if (p[i].host_port
                        ? net_port_free(p[i].proto, p[i].host_ip, p[i].host_port, err) < 0
                        : net_port_random(p[i].proto, p[i].host_ip, &p[i].host_port, err) < 0)
                        return -1;
        }
        int rc = pasta ? net_pasta_spawn(c, container_id, netns_path, userns_path, p, n_ports, err)
                       : spawn(c, container_id, netns_path, userns_path, err);
        if (rc < 0 || (!pasta && slirp_forward_all(c, container_id, p, n_ports, err) < 0) ||
            save_ports(c, container_id, p, n_ports, err) < 0)
                goto fail;
        if (out) {
                memset(out, 0, sizeof(*out));
                snprintf(out->network, sizeof(out->network), "%s", backend);
                if (!pasta) {
                        snprintf(out->ifname, sizeof(out->ifname), SLIRP_IFNAME);
                        snprintf(out->ip, sizeof(out->ip), SLIRP_IP);
                        snprintf(out->gateway, sizeof(out->gateway), SLIRP_GATEWAY);
                }
        }
        return 0;
fail : {
        struct isola_err ignored;
        net_rootless_detach(c, container_id, &ignored);
        return -1;
}
}

const char *net_rootless_default(void)
{
        return net_pasta_available() ? "pasta" : "slirp4netns";
}

int net_rootless_attach(struct net_ctx *c, const char *container_id, const char *netns_path,
                        const char *userns_path, const struct net_port *ports, size_t n_ports,
                        struct net_attachment *out, struct isola_err *err)
{
        return net_rootless_attach_backend(c, NULL, container_id, netns_path, userns_path, ports,
                                           n_ports, out, err);
}

/* SIGTERM to the pid of "pid starttime" when it is still that process. */
static void stop_pidfile(const char *pidfile)
{
        char *buf = NULL;
        size_t len;
        struct isola_err e;
        int pid = 0;
        unsigned long long start = 0;
        if (fs_read_file(pidfile, &buf, &len, &e) == 0 &&
            sscanf(buf, "%d %llu", &pid, &start) == 2 && pid > 1 && start &&
            start_time(pid) == start) {
                int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
                kill(pid, SIGTERM);
                if (pfd >= 0) {
                        struct pollfd pf = {.fd = pfd, .events = POLLIN};
                        poll(&pf, 1, 1000);
                        close(pfd);
                }
        }
        free(buf);
        unlink(pidfile);
}

int net_rootless_detach(struct net_ctx *c, const char *container_id, struct isola_err *err)
{
        static const char *const files[][2] = {{"slirp", "pid"}, {"slirp", "sock"},
                                               {"slirp", "log"}, {"pasta", "pid"},
                                               {"pasta", "log"}, {"rl", "ports"}};
        char path[PATH_MAX];
        struct isola_err e;
        if (net_rootless_file(c, "slirp", container_id, "pid", path, err) < 0)
                return -1;
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                if (net_rootless_file(c, files[i][0], container_id, files[i][1], path, &e) < 0)
                        continue;
                if (!strcmp(files[i][1], "pid"))
                        stop_pidfile(path);
                else
                        unlink(path);
        }
        return 0;
}

const char *net_rootless_dns(struct net_ctx *c, const char *container_id)
{
        char path[PATH_MAX];
        struct isola_err e;
        if (net_rootless_file(c, "pasta", container_id, "pid", path, &e) == 0 &&
            access(path, F_OK) == 0)
                return NET_PASTA_DNS;
        if (slirp_path(c, container_id, "pid", path, &e) == 0 && access(path, F_OK) == 0)
                return "10.0.2.3"; /* slirp4netns's DNS forwarder */
        return NULL;
}

bool net_rootless_active(struct net_ctx *c, const char *container_id)
{
        return net_rootless_dns(c, container_id) != NULL;
}
