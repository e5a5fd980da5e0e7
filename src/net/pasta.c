/* The pasta back end of rootless networking (Debian's passt package): like
 * slirp4netns it gives a namespace outbound connections from the host's own
 * sockets and forwards published ports from host sockets it holds, but it
 * copies the host's address and routes into the namespace (no NAT inside,
 * the container sees the host's address), splices TCP without a user-space
 * TCP stack, and takes every port on its command line (no API socket).
 * Queries to 169.254.1.1 go to the host's resolver (podman's choice).
 * pasta daemonizes itself once the namespace is configured: when it returns
 * 0 the namespace is ready. Its pid file <runroot>/net/pasta-<id>.pid is
 * rewritten as "pid starttime" like slirp4netns's, so a stop never kills a
 * recycled pid. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/net_internal.h"
#include "util/fs.h"

#define PASTA_BIN      "pasta"
#define PASTA_MAX_ARGS (24 + 4 * NET_ROOTLESS_MAX_PORTS)

bool net_pasta_available(void)
{
        const char *path = getenv("PATH");
        char buf[PATH_MAX];

        if (!path)
                path = "/usr/bin:/bin";
        for (const char *p = path; *p;) {
                size_t len = strcspn(p, ":");
                if (len &&
                    snprintf(buf, sizeof(buf), "%.*s/" PASTA_BIN, (int)len, p) < (int)sizeof(buf) &&
                    access(buf, X_OK) == 0)
                        return true;
                p += len + (p[len] == ':');
        }
        return false;
}

/* "-t [IP/]HOST:CTR" per port, "-t none" when there is none of a protocol. */
static void port_args(const char **argv, int *i, char (*specs)[96], const struct net_port *ports,
                      size_t n)
{
        static const char *const protos[] = {"tcp", "udp"}, *const flags[] = {"-t", "-u"};
        for (size_t k = 0; k < 2; k++) {
                bool any = false;
                for (size_t j = 0; j < n; j++) {
                        if (strcmp(ports[j].proto, protos[k]) != 0)
                                continue;
                        snprintf(specs[j], 96, "%s%s%u:%u", ports[j].host_ip,
                                 ports[j].host_ip[0] ? "/" : "", ports[j].host_port,
                                 ports[j].ctr_port);
                        argv[(*i)++] = flags[k];
                        argv[(*i)++] = specs[j];
                        any = true;
                }
                if (!any) {
                        argv[(*i)++] = flags[k];
                        argv[(*i)++] = "none";
                }
        }
}

static void exec_pasta(const char *netns_path, const char *userns_path, const char *pidfile,
                       const char *log, const struct net_port *ports, size_t n)
{
        const char *argv[PASTA_MAX_ARGS];
        char specs[NET_ROOTLESS_MAX_PORTS][96];
        int i = 0;
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
                _exit(127);
        syscall(SYS_close_range, 3U, ~0U, 0U);
        argv[i++] = PASTA_BIN;
        argv[i++] = "--config-net";
        argv[i++] = "--quiet";
        /* as root it would drop to nobody, which may not enter the namespace */
        if (geteuid() == 0) {
                argv[i++] = "--runas";
                argv[i++] = "0:0";
        }
        argv[i++] = "--no-map-gw"; /* the host's own services stay out of reach */
        argv[i++] = "-T";
        argv[i++] = "none";
        argv[i++] = "-U";
        argv[i++] = "none";
        argv[i++] = "--dns-forward";
        argv[i++] = NET_PASTA_DNS;
        argv[i++] = "--pid";
        argv[i++] = pidfile;
        port_args(argv, &i, specs, ports, n);
        if (userns_path) {
                argv[i++] = "--userns";
                argv[i++] = userns_path;
        }
        argv[i++] = "--netns";
        argv[i++] = netns_path;
        argv[i] = NULL;
        execvp(PASTA_BIN, (char *const *)argv);
        fprintf(stderr, "cannot run " PASTA_BIN ": %s (install the passt package)\n",
                strerror(errno));
        _exit(127);
}

int net_pasta_spawn(struct net_ctx *c, const char *id, const char *netns_path,
                    const char *userns_path, const struct net_port *ports, size_t n,
                    struct isola_err *err)
{
        char pidfile[PATH_MAX], log[PATH_MAX], why[256];
        int st;

        if (n > NET_ROOTLESS_MAX_PORTS)
                return err_set(err, E2BIG, "at most %d published ports with pasta",
                               NET_ROOTLESS_MAX_PORTS);
        if (net_rootless_file(c, "pasta", id, "pid", pidfile, err) < 0 ||
            net_rootless_file(c, "pasta", id, "log", log, err) < 0)
                return -1;
        unlink(pidfile);
        pid_t child = fork();
        if (child < 0)
                return err_sys(err, "fork");
        if (child == 0)
                exec_pasta(netns_path, userns_path, pidfile, log, ports, n);
        while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
        }
        /* the foreground process exits once the daemon has configured the
         * namespace and written its pid */
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && net_rootless_pidfile_fix(pidfile) == 0)
                return 0;
        net_rootless_last_log_line(log, why, sizeof(why));
        return err_set(err, EIO, PASTA_BIN " did not start%s%s", why[0] ? ": " : "", why);
}
