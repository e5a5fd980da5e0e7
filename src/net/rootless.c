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

static int slirp_path(struct net_ctx *c, const char *id, const char *ext, char out[PATH_MAX],
                      struct isola_err *err)
{
        char name[200];
        if (snprintf(name, sizeof(name), "slirp-%.128s.%s", id, ext) >= (int)sizeof(name))
                return err_set(err, ENAMETOOLONG, "container id too long");
        return net_run_path(c, "net", name, out, err);
}

/* The last line slirp4netns wrote, for an error message. */
static void last_log_line(const char *log, char *out, size_t len)
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
        last_log_line(log, why, sizeof(why));
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

int net_rootless_attach(struct net_ctx *c, const char *container_id, const char *netns_path,
                        const char *userns_path, const struct net_port *ports, size_t n_ports,
                        struct net_attachment *out, struct isola_err *err)
{
        char sock[PATH_MAX];
        struct net_port p;
        if (!container_id[0] || strchr(container_id, '/'))
                return err_set(err, EINVAL, "container id '%s' is not valid", container_id);
        /* Ports first: a clear refusal before anything runs. */
        for (size_t i = 0; i < n_ports; i++) {
                if (ports[i].host_port &&
                    net_port_free(ports[i].proto, ports[i].host_ip, ports[i].host_port, err) < 0)
                        return -1;
        }
        if (spawn(c, container_id, netns_path, userns_path, err) < 0 ||
            slirp_path(c, container_id, "sock", sock, err) < 0)
                goto fail;
        for (size_t i = 0; i < n_ports; i++) {
                p = ports[i];
                if (!p.host_port && net_port_random(p.proto, p.host_ip, &p.host_port, err) < 0)
                        goto fail;
                if (forward_port(sock, &p, err) < 0)
                        goto fail;
        }
        if (out) {
                memset(out, 0, sizeof(*out));
                snprintf(out->network, sizeof(out->network), "slirp4netns");
                snprintf(out->ifname, sizeof(out->ifname), SLIRP_IFNAME);
                snprintf(out->ip, sizeof(out->ip), SLIRP_IP);
                snprintf(out->gateway, sizeof(out->gateway), SLIRP_GATEWAY);
        }
        return 0;
fail : {
        struct isola_err ignored;
        net_rootless_detach(c, container_id, &ignored);
        return -1;
}
}

int net_rootless_detach(struct net_ctx *c, const char *container_id, struct isola_err *err)
{
        char pidfile[PATH_MAX], path[PATH_MAX], *buf = NULL;
        size_t len;
        struct isola_err e;
        int pid = 0;
        unsigned long long start = 0;
        if (slirp_path(c, container_id, "pid", pidfile, err) < 0)
                return -1;
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
        if (slirp_path(c, container_id, "sock", path, &e) == 0)
                unlink(path);
        if (slirp_path(c, container_id, "log", path, &e) == 0)
                unlink(path);
        return 0;
}

bool net_rootless_active(struct net_ctx *c, const char *container_id)
{
        char pidfile[PATH_MAX];
        struct isola_err e;
        return slirp_path(c, container_id, "pid", pidfile, &e) == 0 && access(pidfile, F_OK) == 0;
}
