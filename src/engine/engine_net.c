/* The one place the engine calls the network component (src/net/net.h).
 * none: a private, empty network namespace; host: the host's;
 * container:REF: REF's namespace file (REF must be on a bridge network); any
 * other name is a bridge network of the network component (the default is
 * "isola"), with further ones in cfg->networks. A build may lack the network
 * component (ENGINE_HAVE_NET unset): then bridge networks give a clear error.
 * Also the per-container /etc/hosts, /etc/hostname and /etc/resolv.conf.
 * engine_net_info.c has the read side (inspect, port) and the start-up
 * clean-up. */
#include "engine/engine_internal.h"

#include "engine_build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine_net.h"
#include "util/cleanup.h"
#include "util/fs.h"
#ifdef ENGINE_HAVE_NET
#include "net/net.h"
#endif

#define CONTAINER_PREFIX "container:"

const char *eng_net_default(void)
{
#ifdef ENGINE_HAVE_NET
        /* as podman: a user without root cannot have a veth on a bridge */
        if (geteuid() != 0)
                return net_rootless_default();
#endif
        return "isola";
}

bool eng_net_is_rootless(const struct eng_config *cfg)
{
        const char *m = eng_net_mode(cfg);
        return !strcmp(m, "pasta") || !strcmp(m, "slirp4netns");
}

const char *eng_net_mode(const struct eng_config *cfg)
{
        return cfg->network ? cfg->network : eng_net_default();
}

bool eng_net_is_bridge(const struct eng_config *cfg)
{
        const char *m = eng_net_mode(cfg);
        return strcmp(m, "none") != 0 && strcmp(m, "host") != 0 && !eng_net_is_rootless(cfg) &&
               strncmp(m, CONTAINER_PREFIX, strlen(CONTAINER_PREFIX)) != 0;
}

static const char *joined_ref(const struct eng_config *cfg)
{
        const char *m = eng_net_mode(cfg);
        return strncmp(m, CONTAINER_PREFIX, strlen(CONTAINER_PREFIX)) == 0
                   ? m + strlen(CONTAINER_PREFIX)
                   : NULL;
}

/* NAME[:alias=A,alias=B,ip=IP] (podman's --network syntax) into e; text is
 * copied into e->buf. */
int eng_net_entry_parse(const char *text, struct eng_net_entry *e, struct isola_err *err)
{
        char *save = NULL;

        memset(e, 0, sizeof(*e));
        if (strlen(text) >= sizeof(e->buf))
                return err_set(err, EINVAL, "--network '%.40s...': too long", text);
        snprintf(e->buf, sizeof(e->buf), "%s", text);
        e->name = e->buf;
        char *opts = strchr(e->buf, ':');
        if (opts)
                *opts++ = '\0';
        if (!e->name[0])
                return err_set(err, EINVAL, "--network '%s': no network name", text);
        if (!strcmp(e->name, "bridge")) /* docker's and podman's name for the default */
                e->name = "isola";
        for (char *o = opts ? strtok_r(opts, ",", &save) : NULL; o;
             o = strtok_r(NULL, ",", &save)) {
                if (!strncmp(o, "alias=", 6) && o[6]) {
                        if (e->n_aliases == ARRAY_SIZE(e->aliases) - 1)
                                return err_set(err, E2BIG, "--network '%s': too many aliases",
                                               text);
                        e->aliases[e->n_aliases++] = o + 6;
                } else if (!strncmp(o, "ip=", 3) && o[3]) {
                        e->ip = o + 3;
                } else {
                        return err_set(err, EINVAL,
                                       "--network '%s': unknown option '%s' (alias=, ip=)", text,
                                       o);
                }
        }
        return 0;
}

/* Options that make no sense with the chosen mode, refused before anything
 * is made. */
static int check_options(const struct eng_config *cfg, struct isola_err *err)
{
        const char *m = eng_net_mode(cfg);
        bool extra = cfg->networks && cfg->networks[0];

        if (eng_net_is_bridge(cfg))
                return 0;
        if (extra)
                return err_set(err, EINVAL, "--network %s cannot be combined with other networks",
                               m);
        /* none/host ignore -p as docker does; a joiner has no ports of its own */
        if (joined_ref(cfg) && ((cfg->ports && cfg->ports[0]) || cfg->publish_all))
                return err_set(err, EINVAL,
                               "--network %s: publish ports on the container whose network is "
                               "joined",
                               m);
        if (cfg->ip || (cfg->aliases && cfg->aliases[0]))
                return err_set(err, EINVAL,
                               "--network %s: --ip and --network-alias need a bridge network", m);
        if (joined_ref(cfg) && !joined_ref(cfg)[0])
                return err_set(err, EINVAL, "--network container: needs a container name or id");
        return 0;
}

#ifdef ENGINE_HAVE_NET
void eng_net_ctx(struct eng_ctx *c, struct net_ctx *n)
{
        n->paths = c->paths;
        n->db = c->db;
}

/* The joined container's id and namespace file; refused when it has none. */
static int joined_ns(struct eng_ctx *c, const char *ref, char id[ENG_ID_LEN + 1],
                     char path[PATH_MAX], struct isola_err *err)
{
        struct net_ctx nc;

        eng_net_ctx(c, &nc);
        if (eng_resolve(c, ref, id, err) < 0)
                return err_prefix(err, "--network container:%s", ref);
        if (net_ns_path(&nc, id, path, err) < 0 || access(path, F_OK) < 0) {
                err_clear(err);
                return err_set(err, ENOENT,
                               "--network container:%s: container '%s' has no network namespace "
                               "to join (it is not on a bridge network)",
                               ref, ref);
        }
        return 0;
}
#endif

int eng_net_prepare(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                    json_object *spec, struct isola_err *err)
{
        json_object *l, *ns, *n;

        if (check_options(cfg, err) < 0)
                return -1;
        if (!strcmp(eng_net_mode(cfg), "host"))
                return 0;
        if (!json_object_object_get_ex(spec, "linux", &l) ||
            !json_object_object_get_ex(l, "namespaces", &ns))
                return err_set(err, EINVAL, "spec has no linux.namespaces");
        n = json_object_new_object();
        json_object_object_add(n, "type", json_object_new_string("network"));
        json_object_array_add(ns, n);
        if (eng_net_is_bridge(cfg) || eng_net_is_rootless(cfg) || joined_ref(cfg)) {
#ifdef ENGINE_HAVE_NET
                /* no database writes here (we are inside create's
                 * transaction): the attachment follows in eng_net_attach */
                struct net_ctx nc;
                char path[PATH_MAX], other[ENG_ID_LEN + 1];
                eng_net_ctx(c, &nc);
                if (joined_ref(cfg) ? joined_ns(c, joined_ref(cfg), other, path, err)
                                    : net_ns_create(&nc, id, path, err))
                        return -1;
                json_object_object_add(n, "path", json_object_new_string(path));
                if (joined_ref(cfg))
                        return 0; /* its sysctls are the joined container's */
#else
                (void)c;
                (void)id;
                return err_set(err, ENOTSUP, "network '%s': bridge networking not available",
                               eng_net_mode(cfg));
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
                bool host_net = !strcmp(eng_net_mode(cfg), "host");
                for (char *l = strtok_r(host, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        if (!strncmp(l, "nameserver 127.", 15) && !host_net)
                                continue;
                        fprintf(f, "%s\n", l);
                }
        }
        free(host);
        return close_ctr_file(f, "resolv.conf", err);
}

/* container:REF: the joined container's hosts and resolv.conf (its names and
 * resolver are the namespace's). */
static int copy_joined_files(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                             struct isola_err *err)
{
#ifdef ENGINE_HAVE_NET
        static const char *const names[] = {"hosts", "resolv.conf"};
        char other[ENG_ID_LEN + 1], path[PATH_MAX];

        if (joined_ns(c, joined_ref(cfg), other, path, err) < 0)
                return -1;
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                _cleanup_free_ char *text = NULL;
                size_t len;
                eng_ctr_path(c, other, names[i], path, sizeof(path));
                if (fs_read_file(path, &text, &len, err) < 0 ||
                    write_ctr_file(c, id, names[i], text, err) < 0)
                        return -1;
        }
        return 0;
#else
        (void)c;
        (void)id;
        (void)cfg;
        return err_set(err, ENOTSUP, "--network container: not available");
#endif
}

int eng_net_files(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                  const char *hostname, struct isola_err *err)
{
        char line[300];

        snprintf(line, sizeof(line), "%s\n", hostname);
        if (write_ctr_file(c, id, "hostname", line, err) < 0)
                return -1;
        if (joined_ref(cfg))
                return copy_joined_files(c, id, cfg, err);
        if (hosts_file(c, id, cfg, hostname, err) < 0 || resolv_file(c, id, cfg, err) < 0)
                return -1;
        return 0;
}

#ifdef ENGINE_HAVE_NET
/* -p plus, with -P, one random host port per ExposedPort that -p does not
 * already publish. Heap array in *out. */
static int port_list(const struct eng_config *cfg, char **exposed, struct net_port **out,
                     size_t *n_out, struct isola_err *err)
{
        size_t cap = 0, n = 0;
        struct net_port *v;

        for (char **p = cfg->ports; p && *p; p++)
                cap++;
        for (char **p = exposed; cfg->publish_all && p && *p; p++)
                cap++;
        v = calloc(cap + 1, sizeof(*v));
        if (!v)
                return err_set(err, ENOMEM, "out of memory");
        for (char **p = cfg->ports; p && *p; p++) {
                if (net_port_parse(*p, &v[n++], err) < 0) {
                        free(v);
                        return err_prefix(err, "-p '%s'", *p);
                }
        }
        for (char **p = exposed; cfg->publish_all && p && *p; p++) {
                struct net_port np;
                bool dup = false;
                if (net_port_parse(*p, &np, err) < 0) {
                        free(v);
                        return err_prefix(err, "-P: the image's ExposedPorts '%s'", *p);
                }
                np.host_port = 0;
                for (size_t i = 0; i < n; i++)
                        dup |= v[i].ctr_port == np.ctr_port && !strcmp(v[i].proto, np.proto);
                if (!dup)
                        v[n++] = np;
        }
        *out = v;
        *n_out = n;
        return 0;
}

static int attach_one(struct net_ctx *nc, const char *id, const struct eng_config *cfg,
                      const char *path, const char *entry, bool first, const struct net_port *ports,
                      size_t n_ports, struct isola_err *err)
{
        struct eng_net_entry e;
        struct net_attachment att;

        if (eng_net_entry_parse(entry, &e, err) < 0)
                return -1;
        if (first) {
                for (char **a = cfg->aliases; a && *a; a++) {
                        if (e.n_aliases == ARRAY_SIZE(e.aliases) - 1)
                                return err_set(err, E2BIG, "--network-alias: too many aliases");
                        e.aliases[e.n_aliases++] = *a;
                }
                if (cfg->ip)
                        e.ip = cfg->ip;
        }
        struct net_attach_req req = {
            .network = e.name, .aliases = (const char *const *)e.aliases, .static_ip = e.ip};
        return net_attach(nc, id, cfg->name, path, &req, ports, n_ports, &att, err);
}

/* Bridge networks in order (ports with the first) or a user-space back end. */
static int attach_all(struct net_ctx *nc, const char *id, const struct eng_config *cfg,
                      const char *path, const struct net_port *ports, size_t n,
                      struct isola_err *err)
{
        if (eng_net_is_rootless(cfg))
                return net_rootless_attach_backend(nc, eng_net_mode(cfg), id, path, NULL, ports, n,
                                                   NULL, err);
        if (attach_one(nc, id, cfg, path, eng_net_mode(cfg), true, ports, n, err) < 0)
                return -1;
        for (char **e = cfg->networks; e && *e; e++)
                if (attach_one(nc, id, cfg, path, *e, false, NULL, 0, err) < 0)
                        return -1;
        return 0;
}

int eng_net_attach(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                   const char *hostname, char **exposed, struct isola_err *err)
{
        struct net_ctx nc;
        char path[PATH_MAX];
        size_t n = 0;
        struct net_port *ports = NULL;
        _cleanup_free_ char *resolv = NULL;
        _cleanup_free_ char *hosts = NULL;

        if (!eng_net_is_bridge(cfg) && !eng_net_is_rootless(cfg))
                return 0;
        eng_net_ctx(c, &nc);
        if (port_list(cfg, exposed, &ports, &n, err) < 0)
                return -1;
        int rc = net_ns_path(&nc, id, path, err) < 0
                     ? -1
                     : attach_all(&nc, id, cfg, path, ports, n, err);
        free(ports);
        if (rc < 0 || net_resolv_conf(&nc, id, (const char *const *)cfg->dns, &resolv, err) < 0 ||
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

        eng_net_ctx(c, &nc);
        /* only containers on a bridge network have a netns file */
        if (net_ns_path(&nc, id, path, err) < 0 || access(path, F_OK) < 0) {
                err_clear(err);
                return 0;
        }
        /* pasta/slirp4netns hold the namespace: stop them first */
        if (net_rootless_detach(&nc, id, err) < 0 || net_detach_all(&nc, id, err) < 0)
                return -1;
        return net_ns_remove(&nc, id, err);
}
#else
int eng_net_attach(struct eng_ctx *c, const char *id, const struct eng_config *cfg,
                   const char *hostname, char **exposed, struct isola_err *err)
{
        (void)c;
        (void)id;
        (void)cfg;
        (void)hostname;
        (void)exposed;
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
