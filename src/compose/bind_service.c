/* Binding one service's keys to struct cmp_service: a table of handlers,
 * one per key; keys Compose knows but isola does not implement are warned
 * about as "not supported", any other key as "unknown" (never silently). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "compose/load.h"

typedef int (*key_fn)(struct cmp_bctx *c, const struct cmp_node *v);

void *cmp_bctx_alloc(struct cmp_bctx *c, size_t n, size_t size)
{
        return cmp_alloc(c->l->a, (n + 1) * size);
}

static int k_image(struct cmp_bctx *c, const struct cmp_node *v)
{
        return cmp_get_str(c->l, v, c->path, &c->s->image);
}

static int k_build(struct cmp_bctx *c, const struct cmp_node *v)
{
        struct cmp_build *b = &c->s->build;

        if (cmp_want(c->l, v, c->path, CMP_MAP) < 0)
                return -1;
        c->s->has_build = true;
        for (size_t i = 0; i < cmp_map_len(v); i++) {
                const struct cmp_node *k = cmp_map_key(v, i), *x = cmp_map_val(v, i);
                size_t old = cmp_path_key(c->path, k->str);
                int rc = 0;

                if (!strcmp(k->str, "context"))
                        rc = cmp_get_str(c->l, x, c->path, &b->context);
                else if (!strcmp(k->str, "dockerfile"))
                        rc = cmp_get_str(c->l, x, c->path, &b->dockerfile);
                else if (!strcmp(k->str, "target"))
                        rc = cmp_get_str(c->l, x, c->path, &b->target);
                else if (!strcmp(k->str, "args"))
                        rc = cmp_get_kvs(c->l, x, c->path, &b->args);
                else if (strncmp(k->str, "x-", 2) != 0) {
                        cmp_path_pop(c->path, old);
                        cmp_warn_key(c->l, k, c->path, "not supported by isola, ignored");
                        continue;
                }
                cmp_path_pop(c->path, old);
                if (rc < 0)
                        return -1;
        }
        if (!b->context)
                b->context = c->l->project_dir;
        return 0;
}

static int words(struct cmp_bctx *c, const struct cmp_node *v, bool *has, struct cmp_strv *out)
{
        if (cmp_is_null(v))
                return 0;
        *has = true;
        if (v->kind == CMP_SCALAR) {
                if (cmp_split_words(c->l->a, v->str, out) < 0)
                        return cmp_fail(c->l->err, v, c->path, "unbalanced quotes in \"%.60s\"",
                                        v->str);
                return 0;
        }
        return cmp_get_strv(c->l, v, c->path, false, out);
}

static int k_command(struct cmp_bctx *c, const struct cmp_node *v)
{
        return words(c, v, &c->s->has_command, &c->s->command);
}

static int k_entrypoint(struct cmp_bctx *c, const struct cmp_node *v)
{
        return words(c, v, &c->s->has_entrypoint, &c->s->entrypoint);
}

static int k_environment(struct cmp_bctx *c, const struct cmp_node *v)
{
        struct cmp_kvs *e = &c->s->environment;

        if (cmp_get_kvs(c->l, v, c->path, e) < 0)
                return -1;
        /* "FOO" / "FOO:" without a value: taken from the project environment */
        for (size_t i = 0; i < e->n; i++)
                if (!e->v[i].val)
                        e->v[i].val = cmp_env_get(&c->l->p->env, e->v[i].key);
        return 0;
}

static int k_env_file(struct cmp_bctx *c, const struct cmp_node *v)
{
        if (cmp_is_null(v))
                return 0;
        if (cmp_want(c->l, v, c->path, CMP_SEQ) < 0)
                return -1;
        c->env_file = v;
        return 0;
}

/* env_file entries, later files winning, below the environment key. */
static int apply_env_files(struct cmp_bctx *c)
{
        struct cmp_env env = {0};
        struct cmp_kvs *e = &c->s->environment;
        struct cmp_kv *merged;
        size_t n = 0;

        for (size_t i = 0; c->env_file && i < c->env_file->n; i++) {
                const struct cmp_node *it = c->env_file->kids[i], *p, *req;
                bool required = true;
                char *buf;
                size_t len;
                int rc;

                p = cmp_map_get(it, "path");
                req = cmp_map_get(it, "required");
                if (it->kind != CMP_MAP || !p || p->kind != CMP_SCALAR)
                        return cmp_fail(c->l->err, it, c->path, "env_file[%zu]: expected a path",
                                        i);
                if (req && cmp_get_bool(c->l, req, c->path, &required) < 0)
                        return -1;
                if (cmp_read(c->l, p->str, &buf, &len) < 0) {
                        if (!required)
                                continue;
                        return err_prefix(c->l->err, "%s: env_file", c->path->buf);
                }
                rc = cmp_dotenv_parse(c->l->a, p->str, buf, len, &c->l->p->env, &env, true,
                                      &c->l->p->warns, c->l->err);
                free(buf);
                if (rc < 0)
                        return err_prefix(c->l->err, "%s: env_file", c->path->buf);
        }
        if (env.n == 0)
                return 0;
        merged = cmp_bctx_alloc(c, env.n + e->n, sizeof(*merged));
        if (!merged)
                return cmp_oom(c->l);
        for (size_t i = 0; i < env.n; i++) {
                bool shadowed = false;

                for (size_t j = 0; j < e->n && !shadowed; j++)
                        shadowed = !strcmp(e->v[j].key, env.names[i]);
                if (!shadowed)
                        merged[n++] = (struct cmp_kv){env.names[i], env.vals[i]};
        }
        for (size_t j = 0; j < e->n; j++)
                merged[n++] = e->v[j];
        e->v = merged;
        e->n = n;
        return 0;
}

static int port_long(struct cmp_bctx *c, const struct cmp_node *it, struct cmp_port *p)
{
        long v;

        p->protocol = "tcp";
        p->mode = "ingress";
        if (cmp_want(c->l, it, c->path, CMP_MAP) < 0)
                return -1;
        for (size_t i = 0; i < cmp_map_len(it); i++) {
                const struct cmp_node *k = cmp_map_key(it, i), *x = cmp_map_val(it, i);
                size_t old = cmp_path_key(c->path, k->str);
                int rc = 0;

                if (!strcmp(k->str, "target")) {
                        rc = cmp_get_int(c->l, x, c->path, 1, 65535, &v);
                        p->target = (uint16_t)v;
                } else if (!strcmp(k->str, "published")) {
                        if (!cmp_is_null(x) && !(x->kind == CMP_SCALAR && !x->len)) {
                                rc = cmp_get_int(c->l, x, c->path, 1, 65535, &v);
                                p->published = (uint16_t)v;
                        }
                } else if (!strcmp(k->str, "host_ip")) {
                        rc = cmp_get_str(c->l, x, c->path, &p->host_ip);
                } else if (!strcmp(k->str, "protocol")) {
                        rc = cmp_get_str(c->l, x, c->path, &p->protocol);
                        if (rc == 0 && (!p->protocol || (strcmp(p->protocol, "tcp") != 0 &&
                                                         strcmp(p->protocol, "udp") != 0)))
                                rc = cmp_fail(c->l->err, x, c->path, "expected tcp or udp");
                } else if (!strcmp(k->str, "mode")) {
                        rc = cmp_get_str(c->l, x, c->path, &p->mode);
                        if (rc == 0 && (!p->mode || (strcmp(p->mode, "ingress") != 0 &&
                                                     strcmp(p->mode, "host") != 0)))
                                rc = cmp_fail(c->l->err, x, c->path, "expected ingress or host");
                } else if (strncmp(k->str, "x-", 2) != 0) {
                        cmp_path_pop(c->path, old);
                        cmp_warn_key(c->l, k, c->path, "not supported by isola, ignored");
                        continue;
                }
                cmp_path_pop(c->path, old);
                if (rc < 0)
                        return -1;
        }
        if (!p->target)
                return cmp_fail(c->l->err, it, c->path, "target port missing");
        return 0;
}

static int k_ports(struct cmp_bctx *c, const struct cmp_node *v)
{
        if (cmp_is_null(v))
                return 0;
        if (cmp_want(c->l, v, c->path, CMP_SEQ) < 0)
                return -1;
        c->s->ports = cmp_bctx_alloc(c, v->n, sizeof(*c->s->ports));
        if (!c->s->ports)
                return cmp_oom(c->l);
        for (size_t i = 0; i < v->n; i++) {
                size_t old = cmp_path_idx(c->path, i);
                int rc = port_long(c, v->kids[i], &c->s->ports[i]);

                cmp_path_pop(c->path, old);
                if (rc < 0)
                        return -1;
                c->s->n_ports++;
        }
        return 0;
}

static int k_expose(struct cmp_bctx *c, const struct cmp_node *v)
{
        return cmp_get_strv(c->l, v, c->path, false, &c->s->expose);
}

static int mount_sub(struct cmp_bctx *c, const struct cmp_node *x, const char *opt, bool *b,
                     int64_t *size)
{
        if (cmp_want(c->l, x, c->path, CMP_MAP) < 0)
                return -1;
        for (size_t i = 0; i < cmp_map_len(x); i++) {
                const struct cmp_node *k = cmp_map_key(x, i), *y = cmp_map_val(x, i);
                size_t old = cmp_path_key(c->path, k->str);
                int rc = 0;

                if (b && !strcmp(k->str, opt)) {
                        rc = cmp_get_bool(c->l, y, c->path, b);
                } else if (size && !strcmp(k->str, "size")) {
                        if (y->kind != CMP_SCALAR || cmp_parse_bytes(y->str, size) < 0)
                                rc = cmp_fail(c->l->err, y, c->path, "invalid size");
                } else {
                        cmp_path_pop(c->path, old);
                        cmp_warn_key(c->l, k, c->path, "not supported by isola, ignored");
                        continue;
                }
                cmp_path_pop(c->path, old);
                if (rc < 0)
                        return -1;
        }
        return 0;
}

static int mount_long(struct cmp_bctx *c, const struct cmp_node *it, struct cmp_mount *m)
{
        const char *type = NULL;

        if (cmp_want(c->l, it, c->path, CMP_MAP) < 0)
                return -1;
        for (size_t i = 0; i < cmp_map_len(it); i++) {
                const struct cmp_node *k = cmp_map_key(it, i), *x = cmp_map_val(it, i);
                size_t old = cmp_path_key(c->path, k->str);
                int rc = 0;

                if (!strcmp(k->str, "type"))
                        rc = cmp_get_str(c->l, x, c->path, &type);
                else if (!strcmp(k->str, "source"))
                        rc = cmp_get_str(c->l, x, c->path, &m->source);
                else if (!strcmp(k->str, "target"))
                        rc = cmp_get_str(c->l, x, c->path, &m->target);
                else if (!strcmp(k->str, "read_only"))
                        rc = cmp_get_bool(c->l, x, c->path, &m->read_only);
                else if (!strcmp(k->str, "bind"))
                        rc = mount_sub(c, x, "create_host_path", &m->create_host_path, NULL);
                else if (!strcmp(k->str, "volume"))
                        rc = mount_sub(c, x, "nocopy", &m->nocopy, NULL);
                else if (!strcmp(k->str, "tmpfs"))
                        rc = mount_sub(c, x, "", NULL, &m->tmpfs_size);
                else if (strncmp(k->str, "x-", 2) != 0) {
                        cmp_path_pop(c->path, old);
                        cmp_warn_key(c->l, k, c->path, "not supported by isola, ignored");
                        continue;
                }
                cmp_path_pop(c->path, old);
                if (rc < 0)
                        return -1;
        }
        if (!type || !strcmp(type, "volume"))
                m->type = CMP_VOL_VOLUME;
        else if (!strcmp(type, "bind"))
                m->type = CMP_VOL_BIND;
        else if (!strcmp(type, "tmpfs"))
                m->type = CMP_VOL_TMPFS;
        else
                return cmp_fail(c->l->err, it, c->path,
                                "volume type \"%s\" is not supported (volume, bind, tmpfs)", type);
        if (!m->target || m->target[0] != '/')
                return cmp_fail(c->l->err, it, c->path, "target must be an absolute path");
        if (m->type == CMP_VOL_BIND && (!m->source || m->source[0] != '/'))
                return cmp_fail(c->l->err, it, c->path, "bind mount needs a source path");
        return 0;
}

static int k_volumes(struct cmp_bctx *c, const struct cmp_node *v)
{
        if (cmp_is_null(v))
                return 0;
        if (cmp_want(c->l, v, c->path, CMP_SEQ) < 0)
                return -1;
        c->s->volumes = cmp_bctx_alloc(c, v->n + 8, sizeof(*c->s->volumes)); /* + tmpfs: entries */
        if (!c->s->volumes)
                return cmp_oom(c->l);
        for (size_t i = 0; i < v->n; i++) {
                size_t old = cmp_path_idx(c->path, i);
                int rc = mount_long(c, v->kids[i], &c->s->volumes[c->s->n_volumes]);

                cmp_path_pop(c->path, old);
                if (rc < 0)
                        return -1;
                c->s->n_volumes++;
        }
        return 0;
}

static int k_tmpfs(struct cmp_bctx *c, const struct cmp_node *v)
{
        struct cmp_strv t;
        struct cmp_mount *m;

        if (cmp_get_strv(c->l, v, c->path, true, &t) < 0)
                return -1;
        m = cmp_bctx_alloc(c, c->s->n_volumes + t.n, sizeof(*m));
        if (!m)
                return cmp_oom(c->l);
        if (c->s->n_volumes)
                memcpy(m, c->s->volumes, c->s->n_volumes * sizeof(*m));
        c->s->volumes = m;
        for (size_t i = 0; i < t.n; i++) {
                if (t.v[i][0] != '/')
                        return cmp_fail(c->l->err, v, c->path, "\"%s\" is not an absolute path",
                                        t.v[i]);
                m[c->s->n_volumes++] = (struct cmp_mount){.type = CMP_VOL_TMPFS, .target = t.v[i]};
        }
        return 0;
}

static int k_networks(struct cmp_bctx *c, const struct cmp_node *v)
{
        if (cmp_is_null(v))
                return 0;
        if (cmp_want(c->l, v, c->path, CMP_MAP) < 0)
                return -1;
        c->s->networks = cmp_bctx_alloc(c, cmp_map_len(v), sizeof(*c->s->networks));
        if (!c->s->networks)
                return cmp_oom(c->l);
        for (size_t i = 0; i < cmp_map_len(v); i++) {
                const struct cmp_node *x = cmp_map_val(v, i);
                struct cmp_svc_net *n = &c->s->networks[c->s->n_networks++];
                size_t old = cmp_path_key(c->path, cmp_map_key(v, i)->str);

                n->name = cmp_map_key(v, i)->str;
                if (!cmp_is_null(x) && cmp_want(c->l, x, c->path, CMP_MAP) < 0)
                        return -1;
                for (size_t j = 0; !cmp_is_null(x) && j < cmp_map_len(x); j++) {
                        const struct cmp_node *k = cmp_map_key(x, j), *y = cmp_map_val(x, j);
                        size_t o2 = cmp_path_key(c->path, k->str);
                        int rc = 0;

                        if (!strcmp(k->str, "aliases"))
                                rc = cmp_get_strv(c->l, y, c->path, false, &n->aliases);
                        else if (!strcmp(k->str, "ipv4_address"))
                                rc = cmp_get_str(c->l, y, c->path, &n->ipv4_address);
                        else {
                                cmp_path_pop(c->path, o2);
                                cmp_warn_key(c->l, k, c->path, "not supported by isola, ignored");
                                continue;
                        }
                        cmp_path_pop(c->path, o2);
                        if (rc < 0)
                                return -1;
                }
                cmp_path_pop(c->path, old);
        }
        return 0;
}

static int k_network_mode(struct cmp_bctx *c, const struct cmp_node *v)
{
        const char *m;

        if (cmp_get_str(c->l, v, c->path, &m) < 0)
                return -1;
        if (!m || (strcmp(m, "none") != 0 && strcmp(m, "host") != 0 && strcmp(m, "bridge") != 0 &&
                   strncmp(m, "service:", 8) != 0 && strncmp(m, "container:", 10) != 0))
                return cmp_fail(c->l->err, v, c->path,
                                "expected none, host, bridge, service:NAME or container:ID");
        c->s->network_mode_set = true;
        c->s->network_mode = m;
        return 0;
}

static int dep_one(struct cmp_bctx *c, const char *name, const struct cmp_node *x,
                   struct cmp_dep *d)
{
        d->service = name;
        d->condition = CMP_COND_STARTED;
        d->required = true;
        if (cmp_is_null(x))
                return 0;
        if (cmp_want(c->l, x, c->path, CMP_MAP) < 0)
                return -1;
        for (size_t j = 0; j < cmp_map_len(x); j++) {
                const struct cmp_node *k = cmp_map_key(x, j), *y = cmp_map_val(x, j);
                size_t old = cmp_path_key(c->path, k->str);
                const char *cond;
                int rc = 0;

                if (!strcmp(k->str, "condition")) {
                        rc = cmp_get_str(c->l, y, c->path, &cond);
                        if (rc < 0)
                                ;
                        else if (cond && !strcmp(cond, "service_started"))
                                d->condition = CMP_COND_STARTED;
                        else if (cond && !strcmp(cond, "service_healthy"))
                                d->condition = CMP_COND_HEALTHY;
                        else if (cond && !strcmp(cond, "service_completed_successfully"))
                                d->condition = CMP_COND_COMPLETED;
                        else
                                rc = cmp_fail(c->l->err, y, c->path,
                                              "expected service_started, service_healthy or "
                                              "service_completed_successfully");
                } else if (!strcmp(k->str, "required")) {
                        rc = cmp_get_bool(c->l, y, c->path, &d->required);
                } else if (!strcmp(k->str, "restart")) {
                        rc = cmp_get_bool(c->l, y, c->path, &d->restart);
                } else {
                        cmp_path_pop(c->path, old);
                        cmp_warn_key(c->l, k, c->path, "unknown key, ignored");
                        continue;
                }
                cmp_path_pop(c->path, old);
                if (rc < 0)
                        return -1;
        }
        return 0;
}

static int k_depends_on(struct cmp_bctx *c, const struct cmp_node *v)
{
        if (cmp_is_null(v))
                return 0;
        if (cmp_want(c->l, v, c->path, CMP_MAP) < 0)
                return -1;
        c->s->depends_on = cmp_bctx_alloc(c, cmp_map_len(v), sizeof(*c->s->depends_on));
        if (!c->s->depends_on)
                return cmp_oom(c->l);
        for (size_t i = 0; i < cmp_map_len(v); i++) {
                size_t old = cmp_path_key(c->path, cmp_map_key(v, i)->str);
                int rc = dep_one(c, cmp_map_key(v, i)->str, cmp_map_val(v, i),
                                 &c->s->depends_on[c->s->n_depends_on]);

                cmp_path_pop(c->path, old);
                if (rc < 0)
                        return -1;
                c->s->n_depends_on++;
        }
        return 0;
}

static const struct {
        const char *key;
        key_fn fn;
} keys[] = {
    {"image", k_image},
    {"build", k_build},
    {"command", k_command},
    {"entrypoint", k_entrypoint},
    {"environment", k_environment},
    {"env_file", k_env_file},
    {"ports", k_ports},
    {"expose", k_expose},
    {"volumes", k_volumes},
    {"tmpfs", k_tmpfs},
    {"networks", k_networks},
    {"network_mode", k_network_mode},
    {"depends_on", k_depends_on},
    {"healthcheck", cmp_k_healthcheck},
    {"restart", cmp_k_restart},
    {"deploy", cmp_k_deploy},
    {"scale", cmp_k_scale},
    {"mem_limit", cmp_k_mem_limit},
    {"cpus", cmp_k_cpus},
    {"pids_limit", cmp_k_pids_limit},
    {"user", cmp_k_user},
    {"working_dir", cmp_k_working_dir},
    {"hostname", cmp_k_hostname},
    {"container_name", cmp_k_container_name},
    {"labels", cmp_k_labels},
    {"cap_add", cmp_k_cap_add},
    {"cap_drop", cmp_k_cap_drop},
    {"read_only", cmp_k_read_only},
    {"init", cmp_k_init},
    {"tty", cmp_k_tty},
    {"stdin_open", cmp_k_stdin_open},
    {"privileged", cmp_k_privileged},
    {"stop_signal", cmp_k_stop_signal},
    {"stop_grace_period", cmp_k_stop_grace_period},
    {"profiles", cmp_k_profiles},
    {"secrets", cmp_k_secrets},
    {"configs", cmp_k_configs},
    {"dns", cmp_k_dns},
    {"extra_hosts", cmp_k_extra_hosts},
    {"pull_policy", cmp_k_pull_policy},
};

/* Keys of the Compose Specification isola does not implement (yet). */
static const char *const unsupported[] = {
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "cpu_count",
    "cpu_percent",
    "cpu_shares",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_runtime",
    "cpu_rt_period",
    "cpuset",
    "credential_spec",
    "device_cgroup_rules",
    "devices",
    "dns_opt",
    "dns_search",
    "domainname",
    "external_links",
    "group_add",
    "ipc",
    "isolation",
    "links",
    "logging",
    "mac_address",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "platform",
    "runtime",
    "security_opt",
    "shm_size",
    "storage_opt",
    "sysctls",
    "ulimits",
    "userns_mode",
    "uts",
    "volumes_from",
    "develop",
    "post_start",
    "pre_stop",
    "gpus",
    "label_file",
    "models",
    "provider",
    "use_api_socket",
};

static int bind_key(struct cmp_bctx *c, const struct cmp_node *k, const struct cmp_node *v)
{
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                if (!strcmp(keys[i].key, k->str)) {
                        size_t old = cmp_path_key(c->path, k->str);
                        int rc = keys[i].fn(c, v);

                        cmp_path_pop(c->path, old);
                        return rc;
                }
        }
        if (!strncmp(k->str, "x-", 2))
                return 0;
        for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++) {
                if (!strcmp(unsupported[i], k->str)) {
                        cmp_warn_key(c->l, k, c->path, "not supported by isola, ignored");
                        return 0;
                }
        }
        cmp_warn_key(c->l, k, c->path, "unknown key, ignored");
        return 0;
}

int cmp_bind_service(struct cmp_loader *l, const char *name, struct cmp_node *node,
                     struct cmp_service *s, struct cmp_path *path)
{
        struct cmp_bctx c = {.l = l, .s = s, .path = path};

        memset(s, 0, sizeof(*s));
        s->name = name;
        s->node = node;
        s->replicas = -1;
        s->stop_grace_period_ms = -1;
        s->healthcheck.retries = -1;
        if (cmp_want(l, node, path, CMP_MAP) < 0)
                return -1;
        for (size_t i = 0; i < cmp_map_len(node); i++)
                if (bind_key(&c, cmp_map_key(node, i), cmp_map_val(node, i)) < 0)
                        return -1;
        if (apply_env_files(&c) < 0)
                return -1;
        if (!s->image && !s->has_build)
                return cmp_fail(l->err, node, path, "has neither an image nor a build context");
        return 0;
}
