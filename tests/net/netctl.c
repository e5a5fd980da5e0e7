/* Test driver for the network component: the engine's calls (net_ns_create,
 * net_attach, ..., net_gc) from the command line, so the integration tests
 * work on their own network namespaces without `isola run`.
 *   netctl ns-create ID | ns-remove ID | gc | table
 *   netctl attach ID NAME NETWORK [--alias A]... [--ip IP] [-p SPEC]...
 *   netctl detach ID NETWORK | detach-all ID | ports ID
 *   netctl rootless-attach ID NETNS USERNS|- [-b pasta|slirp4netns] [-p SPEC]...
 *   netctl rootless-detach ID
 *   netctl resolv ID [DNS]... | hosts ID HOSTNAME [NAME:IP]...
 *   netctl bench N NETWORK [ID_PREFIX]
 *            (median µs of ns-create+attach / detach-all+ns-remove; ids differ
 *            per call, as container ids do) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/net.h"

static int fail(const char *what, const struct isola_err *err)
{
        fprintf(stderr, "netctl %s: %s\n", what, err->msg);
        return 1;
}

static int attach(struct net_ctx *c, int argc, char **argv, struct isola_err *err)
{
        const char *aliases[16] = {NULL};
        struct net_port ports[16];
        size_t na = 0, np = 0;
        struct net_attach_req req = {.network = argv[4], .aliases = aliases};
        struct net_attachment out;
        char ns[PATH_MAX];
        for (int i = 5; i + 1 < argc; i += 2) {
                if (!strcmp(argv[i], "--alias") && na < 15)
                        aliases[na++] = argv[i + 1];
                else if (!strcmp(argv[i], "--ip"))
                        req.static_ip = argv[i + 1];
                else if (!strcmp(argv[i], "-p") && np < 16) {
                        if (net_port_parse(argv[i + 1], &ports[np++], err) < 0)
                                return -1;
                }
        }
        if (net_ns_path(c, argv[2], ns, err) < 0 ||
            net_attach(c, argv[2], argv[3], ns, &req, ports, np, &out, err) < 0)
                return -1;
        printf("%s %s %s %s\n", out.ifname, out.ip, out.gateway, out.mac);
        return 0;
}

/* rootless-attach ID NETNS USERNS|- [-b BACKEND] [-p SPEC]... */
static int rootless(struct net_ctx *c, int argc, char **argv, struct isola_err *err)
{
        struct net_port ports[16];
        struct net_attachment out;
        const char *backend = NULL;
        size_t np = 0;
        for (int i = 5; i + 1 < argc && np < 16; i += 2) {
                if (!strcmp(argv[i], "-b"))
                        backend = argv[i + 1];
                else if (!strcmp(argv[i], "-p") &&
                         net_port_parse(argv[i + 1], &ports[np++], err) < 0)
                        return -1;
        }
        if (net_rootless_attach_backend(c, backend, argv[2], argv[3],
                                        strcmp(argv[4], "-") ? argv[4] : NULL, ports, np, &out,
                                        err) < 0)
                return -1;
        printf("%s %s %s\n", out.ifname, out.ip, out.gateway);
        return 0;
}

static int print_ports(struct net_ctx *c, const char *id, struct isola_err *err)
{
        struct net_port *p = NULL;
        size_t n = 0;
        if (net_ports_get(c, id, &p, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                printf("%u/%s %s:%u\n", p[i].ctr_port, p[i].proto,
                       p[i].host_ip[0] ? p[i].host_ip : "0.0.0.0", p[i].host_port);
        free(p);
        return 0;
}

static int text(struct net_ctx *c, int argc, char **argv, bool hosts, struct isola_err *err)
{
        char *out = NULL;
        int r = hosts
                    ? net_hosts(c, argv[2], argc > 3 ? argv[3] : NULL,
                                (const char *const *)(argc > 4 ? argv + 4 : NULL), &out, err)
                    : net_resolv_conf(c, argv[2], (const char *const *)(argc > 3 ? argv + 3 : NULL),
                                      &out, err);
        if (r < 0)
                return -1;
        fputs(out, stdout);
        free(out);
        return 0;
}

static double now_us(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static int bench(struct net_ctx *c, int n, const char *network, const char *prefix,
                 struct isola_err *err)
{
        double *up = calloc((size_t)n, sizeof(double)), *down = calloc((size_t)n, sizeof(double));
        double *nsc = calloc((size_t)n, sizeof(double));
        struct net_attach_req req = {.network = network};
        char ns[PATH_MAX], id[32];
        int rc = -1;
        if (!up || !down || !nsc)
                goto out;
        for (int i = 0; i < n; i++) {
                snprintf(id, sizeof(id), "%.20s%d", prefix, i);
                double t0 = now_us();
                if (net_ns_create(c, id, ns, err) < 0)
                        goto out;
                double tn = now_us();
                if (net_attach(c, id, id, ns, &req, NULL, 0, NULL, err) < 0)
                        goto out;
                double t1 = now_us();
                nsc[i] = tn - t0;
                if (net_detach_all(c, id, err) < 0 || net_ns_remove(c, id, err) < 0)
                        goto out;
                up[i] = t1 - t0;
                down[i] = now_us() - t1;
        }
        qsort(up, (size_t)n, sizeof(double), cmp_d);
        qsort(down, (size_t)n, sizeof(double), cmp_d);
        qsort(nsc, (size_t)n, sizeof(double), cmp_d);
        printf("setup_us %.0f teardown_us %.0f total_us %.0f netns_create_us %.0f\n", up[n / 2],
               down[n / 2], up[n / 2] + down[n / 2], nsc[n / 2]);
        rc = 0;
out:
        free(up);
        free(down);
        free(nsc);
        return rc;
}

int main(int argc, char **argv)
{
        struct net_ctx c = {0};
        struct isola_err err = {0};
        char path[PATH_MAX];
        int rc = -1;
        if (argc < 2) {
                fprintf(stderr, "usage: netctl COMMAND ARGS (see the source)\n");
                return 2;
        }
        if (db_paths_resolve(NULL, &c.paths, &err) < 0 || db_open(&c.paths, &c.db, &err) < 0)
                return fail("open", &err);
        const char *cmd = argv[1];
        if (!strcmp(cmd, "ns-create") && argc == 3) {
                rc = net_ns_create(&c, argv[2], path, &err);
                if (rc == 0)
                        printf("%s\n", path);
        } else if (!strcmp(cmd, "ns-remove") && argc == 3) {
                rc = net_ns_remove(&c, argv[2], &err);
        } else if (!strcmp(cmd, "table") && argc == 2) {
                net_nft_table(&c, path);
                printf("%s\n", path);
                rc = 0;
        } else if (!strcmp(cmd, "gc") && argc == 2) {
                rc = net_gc(&c, &err);
        } else if (!strcmp(cmd, "attach") && argc >= 5) {
                rc = attach(&c, argc, argv, &err);
        } else if (!strcmp(cmd, "rootless-attach") && argc >= 5) {
                rc = rootless(&c, argc, argv, &err);
        } else if (!strcmp(cmd, "rootless-detach") && argc == 3) {
                rc = net_rootless_detach(&c, argv[2], &err);
        } else if (!strcmp(cmd, "detach") && argc == 4) {
                rc = net_detach(&c, argv[2], argv[3], &err);
        } else if (!strcmp(cmd, "detach-all") && argc == 3) {
                rc = net_detach_all(&c, argv[2], &err);
        } else if (!strcmp(cmd, "ports") && argc == 3) {
                rc = print_ports(&c, argv[2], &err);
        } else if (!strcmp(cmd, "resolv") && argc >= 3) {
                rc = text(&c, argc, argv, false, &err);
        } else if (!strcmp(cmd, "hosts") && argc >= 3) {
                rc = text(&c, argc, argv, true, &err);
        } else if (!strcmp(cmd, "bench") && (argc == 4 || argc == 5)) {
                rc = bench(&c, atoi(argv[2]) > 0 ? atoi(argv[2]) : 1, argv[3],
                           argc == 5 ? argv[4] : "ntbench", &err);
        } else {
                fprintf(stderr, "netctl: bad command or arguments\n");
                db_close(c.db);
                return 2;
        }
        db_close(c.db);
        return rc < 0 ? fail(cmd, &err) : 0;
}
