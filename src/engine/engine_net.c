/* The one place the engine calls the network component (src/net/net.h).
 * none: a private, empty network namespace; host: the host's; any other name
 * is a bridge network of the network component, which this build may lack
 * (ENGINE_HAVE_NET unset): then a clear error. Also the per-container
 * /etc/hosts, /etc/hostname and /etc/resolv.conf. */
#include "engine/engine_internal.h"

#include "engine_build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"
#ifdef ENGINE_HAVE_NET
#include <unistd.h>

#include "net/net.h"
#endif

static const char *mode(const struct eng_config *cfg)
{
        return cfg->network ? cfg->network : "none";
}

static bool is_bridge(const struct eng_config *cfg)
{
        return strcmp(mode(cfg), "none") != 0 && strcmp(mode(cfg), "host") != 0;
}

#ifdef ENGINE_HAVE_NET
static void net_ctx_of(struct eng_ctx *c, struct net_ctx *n)
{
        n->paths = c->paths;
        n->db = c->db;
}
#endif

int eng_net_prepare(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                    json_object *spec, struct isola_err *err)
{
        json_object *l, *ns, *n;

        if (!strcmp(mode(cfg), "host"))
                return 0;
        if (!json_object_object_get_ex(spec, "linux", &l) ||
            !json_object_object_get_ex(l, "namespaces", &ns))
                return err_set(err, EINVAL, "spec has no linux.namespaces");
        n = json_object_new_object();
        json_object_object_add(n, "type", json_object_new_string("network"));
        json_object_array_add(ns, n);
        if (is_bridge(cfg)) {
#ifdef ENGINE_HAVE_NET
                /* no database work here (we are inside create's
                 * transaction): the attachment follows in eng_net_attach */
                struct net_ctx nc;
                char path[PATH_MAX];
                net_ctx_of(c, &nc);
                if (net_ns_create(&nc, id, path, err) < 0)
                        return -1;
                json_object_object_add(n, "path", json_object_new_string(path));
#else
                (void)c;
                (void)id;
                return err_set(err, ENOTSUP, "network '%s': bridge networking not available",
                               mode(cfg));
#endif
        }
        /* as podman: ping without CAP_NET_RAW inside a private netns */
        json_object *sysctl = json_object_new_object();
        json_object_object_add(sysctl, "net.ipv4.ping_group_range", json_object_new_string("0 0"));
        json_object_object_add(l, "sysctl", sysctl);
        return 0;
}

static int write_ctr_file(struct eng_ctx *c, const char *id, const char *name, const char *text,
                          struct isola_err *err)
{
        char path[PATH_MAX];

        eng_ctr_path(c, id, name, path, sizeof(path));
        return fs_write_file(path, text, strlen(text), O_CREAT | O_TRUNC, 0644, err);
}

static FILE *open_ctr_file(struct eng_ctx *c, const char *id, const char *name,
                           struct isola_err *err)
{
        char path[PATH_MAX];
        FILE *f;

        eng_ctr_path(c, id, name, path, sizeof(path));
        f = fopen(path, "we");
        if (!f)
                err_sys(err, "'%s'", path);
        return f;
}

static int close_ctr_file(FILE *f, const char *name, struct isola_err *err)
{
        int bad = ferror(f);
        if (fclose(f) != 0 || bad)
                return err_sys(err, "writing '%s'", name);
        return 0;
}

static int hosts_file(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                      const char *hostname, struct isola_err *err)
{
        for (char **h = cfg->add_hosts; h && *h; h++) {
                const char *sep = strchr(*h, ':');
                if (!sep || sep == *h || !sep[1])
                        return err_set(err, EINVAL, "--add-host '%s': expected HOST:IP", *h);
        }
        FILE *f = open_ctr_file(c, id, "hosts", err);
        if (!f)
                return -1;
        fputs("127.0.0.1\tlocalhost localhost.localdomain\n"
              "::1\tlocalhost localhost.localdomain ip6-localhost\n",
              f);
        for (char **h = cfg->add_hosts; h && *h; h++) {
                const char *sep = strchr(*h, ':');
                fprintf(f, "%s\t%.*s\n", sep + 1, (int)(sep - *h), *h);
        }
        fprintf(f, "127.0.1.1\t%s\n", hostname);
        return close_ctr_file(f, "hosts", err);
}

static int resolv_file(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                       struct isola_err *err)
{
        struct isola_err ignore = {0};
        char *host = NULL, *save = NULL;
        size_t hl;
        FILE *f = open_ctr_file(c, id, "resolv.conf", err);

        if (!f)
                return -1;
        if (cfg->dns) {
                for (char **d = cfg->dns; *d; d++)
                        fprintf(f, "nameserver %s\n", *d);
        } else if (fs_read_file("/etc/resolv.conf", &host, &hl, &ignore) == 0) {
                /* a loopback resolver of the host is unreachable from a netns */
                for (char *l = strtok_r(host, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        if (!strncmp(l, "nameserver 127.", 15) && strcmp(mode(cfg), "host") != 0)
                                continue;
                        fprintf(f, "%s\n", l);
                }
        }
        free(host);
        return close_ctr_file(f, "resolv.conf", err);
}

int eng_net_files(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                  const char *hostname, struct isola_err *err)
{
        char line[300];

        snprintf(line, sizeof(line), "%s\n", hostname);
        if (write_ctr_file(c, id, "hostname", line, err) < 0 ||
            hosts_file(c, id, cfg, hostname, err) < 0 || resolv_file(c, id, cfg, err) < 0)
                return -1;
        return 0;
}

#ifdef ENGINE_HAVE_NET
int eng_net_attach(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                   const char *hostname, struct isola_err *err)
{
        struct net_ctx nc;
        struct net_port ports[64];
        struct net_attachment att;
        char path[PATH_MAX];
        size_t n = 0;
        _cleanup_free_ char *resolv = NULL;
        _cleanup_free_ char *hosts = NULL;

        if (!is_bridge(cfg))
                return 0;
        net_ctx_of(c, &nc);
        for (char **p = cfg->ports; p && *p; p++) {
                if (n == ARRAY_SIZE(ports))
                        return err_set(err, E2BIG, "-p: at most %zu ports", ARRAY_SIZE(ports));
                if (net_port_parse(*p, &ports[n++], err) < 0)
                        return err_prefix(err, "-p '%s'", *p);
        }
        struct net_attach_req req = {.network = mode(cfg),
                                     .aliases = (const char *const *)cfg->aliases};
        if (net_ns_path(&nc, id, path, err) < 0 ||
            net_attach(&nc, id, cfg->name, path, &req, ports, n, &att, err) < 0 ||
            net_resolv_conf(&nc, id, (const char *const *)cfg->dns, &resolv, err) < 0 ||
            net_hosts(&nc, id, hostname, (const char *const *)cfg->add_hosts, &hosts, err) < 0)
                return -1;
        if (write_ctr_file(c, id, "resolv.conf", resolv, err) < 0 ||
            write_ctr_file(c, id, "hosts", hosts, err) < 0)
                return -1;
        return 0;
}

int eng_net_release(struct eng_ctx *c, const char *id, struct isola_err *err)
{
        struct net_ctx nc;
        char path[PATH_MAX];

        net_ctx_of(c, &nc);
        /* only containers on a bridge network have a netns file */
        if (net_ns_path(&nc, id, path, err) < 0 || access(path, F_OK) < 0) {
                err_clear(err);
                return 0;
        }
        if (net_detach_all(&nc, id, err) < 0)
                return -1;
        return net_ns_remove(&nc, id, err);
}
#else
int eng_net_attach(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                   const char *hostname, struct isola_err *err)
{
        (void)c;
        (void)id;
        (void)cfg;
        (void)hostname;
        (void)err;
        return 0;
}

int eng_net_release(struct eng_ctx *c, const char *id, struct isola_err *err)
{
        (void)c;
        (void)id;
        (void)err;
        return 0;
}
#endif
