/* Service keys, continued from bind_service.c: healthcheck, restart,
 * deploy, the simple scalars and lists, secrets and configs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compose/load.h"

int cmp_k_healthcheck(struct cmp_bctx *c, const struct cmp_node *v)
{
        struct cmp_healthcheck *h = &c->s->healthcheck;

        if (cmp_is_null(v))
                return 0;
        if (cmp_want(c->l, v, c->path, CMP_MAP) < 0)
                return -1;
        h->present = true;
        for (size_t i = 0; i < cmp_map_len(v); i++) {
                const struct cmp_node *k = cmp_map_key(v, i), *x = cmp_map_val(v, i);
                size_t old = cmp_path_key(c->path, k->str);
                long n;
                int rc = 0;

                if (!strcmp(k->str, "test")) {
                        if (x->kind == CMP_SCALAR && !cmp_is_null(x)) {
                                h->test.v = cmp_bctx_alloc(c, 2, sizeof(*h->test.v));
                                if (!h->test.v)
                                        return cmp_oom(c->l);
                                h->test.v[0] = "CMD-SHELL";
                                h->test.v[1] = x->str;
                                h->test.n = 2;
                        } else {
                                rc = cmp_get_strv(c->l, x, c->path, false, &h->test);
                                if (rc == 0 && h->test.n && strcmp(h->test.v[0], "NONE") != 0 &&
                                    strcmp(h->test.v[0], "CMD") != 0 &&
                                    strcmp(h->test.v[0], "CMD-SHELL") != 0)
                                        rc = cmp_fail(c->l->err, x, c->path,
                                                      "must start with NONE, CMD or CMD-SHELL");
                                if (rc == 0 && h->test.n && !strcmp(h->test.v[0], "NONE"))
                                        h->disable = true;
                        }
                } else if (!strcmp(k->str, "interval")) {
                        rc = cmp_get_duration(c->l, x, c->path, &h->interval_ms);
                } else if (!strcmp(k->str, "timeout")) {
                        rc = cmp_get_duration(c->l, x, c->path, &h->timeout_ms);
                } else if (!strcmp(k->str, "start_period")) {
                        rc = cmp_get_duration(c->l, x, c->path, &h->start_period_ms);
                } else if (!strcmp(k->str, "start_interval")) {
                        rc = cmp_get_duration(c->l, x, c->path, &h->start_interval_ms);
                } else if (!strcmp(k->str, "retries")) {
                        rc = cmp_get_int(c->l, x, c->path, 0, 1000000, &n);
                        h->retries = (int)n;
                } else if (!strcmp(k->str, "disable")) {
                        rc = cmp_get_bool(c->l, x, c->path, &h->disable);
                } else if (strncmp(k->str, "x-", 2) != 0) {
                        cmp_path_pop(c->path, old);
                        cmp_warn_key(c->l, k, c->path, "unknown key, ignored");
                        continue;
                }
                cmp_path_pop(c->path, old);
                if (rc < 0)
                        return -1;
        }
        if (!h->disable && h->test.n < 2)
                return cmp_fail(c->l->err, v, c->path, "test: a command is required");
        return 0;
}

int cmp_k_restart(struct cmp_bctx *c, const struct cmp_node *v)
{
        const char *r;

        if (cmp_get_str(c->l, v, c->path, &r) < 0)
                return -1;
        if (r && strcmp(r, "no") != 0 && strcmp(r, "always") != 0 &&
            strcmp(r, "unless-stopped") != 0 && strcmp(r, "on-failure") != 0) {
                char *end;
                long n;

                if (strncmp(r, "on-failure:", 11) != 0)
                        return cmp_fail(c->l->err, v, c->path,
                                        "expected no, always, on-failure[:N] or unless-stopped");
                n = strtol(r + 11, &end, 10);
                if (end == r + 11 || *end || n < 0)
                        return cmp_fail(c->l->err, v, c->path, "invalid retry count in \"%s\"", r);
        }
        c->s->restart = r;
        return 0;
}

static int cpus_of(struct cmp_bctx *c, const struct cmp_node *x)
{
        char *end;
        double d;

        if (x->kind != CMP_SCALAR || cmp_is_null(x))
                return cmp_fail(c->l->err, x, c->path, "expected a number of CPUs");
        d = strtod(x->str, &end);
        if (end == x->str || *end || !(d > 0) || d > 4096)
                return cmp_fail(c->l->err, x, c->path, "invalid number of CPUs \"%.40s\"", x->str);
        c->s->limits.cpus = d;
        return 0;
}

static int memory_of(struct cmp_bctx *c, const struct cmp_node *x)
{
        if (x->kind != CMP_SCALAR || cmp_parse_bytes(x->str, &c->s->limits.memory) < 0 ||
            c->s->limits.memory <= 0)
                return cmp_fail(c->l->err, x, c->path, "invalid memory size (e.g. 512m, 1g)");
        return 0;
}

static int pids_of(struct cmp_bctx *c, const struct cmp_node *x)
{
        long n;

        if (cmp_get_int(c->l, x, c->path, -1, 1L << 30, &n) < 0)
                return -1;
        c->s->limits.pids = n;
        return 0;
}

static int limits(struct cmp_bctx *c, const struct cmp_node *v)
{
        if (cmp_want(c->l, v, c->path, CMP_MAP) < 0)
                return -1;
        for (size_t i = 0; i < cmp_map_len(v); i++) {
                const struct cmp_node *k = cmp_map_key(v, i), *x = cmp_map_val(v, i);
                size_t old = cmp_path_key(c->path, k->str);
                int rc = 0;

                if (!strcmp(k->str, "cpus"))
                        rc = cpus_of(c, x);
                else if (!strcmp(k->str, "memory"))
                        rc = memory_of(c, x);
                else if (!strcmp(k->str, "pids"))
                        rc = pids_of(c, x);
                else {
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

static int resources(struct cmp_bctx *c, const struct cmp_node *v)
{
        if (cmp_want(c->l, v, c->path, CMP_MAP) < 0)
                return -1;
        for (size_t i = 0; i < cmp_map_len(v); i++) {
                const struct cmp_node *k = cmp_map_key(v, i);
                size_t old = cmp_path_key(c->path, k->str);
                int rc = 0;

                if (!strcmp(k->str, "limits")) {
                        rc = limits(c, cmp_map_val(v, i));
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

int cmp_k_deploy(struct cmp_bctx *c, const struct cmp_node *v)
{
        if (cmp_is_null(v))
                return 0;
        if (cmp_want(c->l, v, c->path, CMP_MAP) < 0)
                return -1;
        for (size_t i = 0; i < cmp_map_len(v); i++) {
                const struct cmp_node *k = cmp_map_key(v, i), *x = cmp_map_val(v, i);
                size_t old = cmp_path_key(c->path, k->str);
                long n;
                int rc = 0;

                if (!strcmp(k->str, "replicas")) {
                        rc = cmp_get_int(c->l, x, c->path, 0, 1000, &n);
                        c->s->replicas = (int)n;
                } else if (!strcmp(k->str, "resources")) {
                        rc = resources(c, x);
                } else if (strncmp(k->str, "x-", 2) != 0) {
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

int cmp_k_scale(struct cmp_bctx *c, const struct cmp_node *v)
{
        long n;

        if (cmp_get_int(c->l, v, c->path, 0, 1000, &n) < 0)
                return -1;
        if (c->s->replicas < 0)
                c->s->replicas = (int)n;
        return 0;
}

int cmp_k_mem_limit(struct cmp_bctx *c, const struct cmp_node *v)
{
        return c->s->limits.memory ? 0 : memory_of(c, v);
}

int cmp_k_cpus(struct cmp_bctx *c, const struct cmp_node *v)
{
        return c->s->limits.cpus > 0 ? 0 : cpus_of(c, v);
}

int cmp_k_pids_limit(struct cmp_bctx *c, const struct cmp_node *v)
{
        return c->s->limits.pids ? 0 : pids_of(c, v);
}

#define STR_KEY(k)                                                                                 \
        int cmp_k_##k(struct cmp_bctx *c, const struct cmp_node *v)                                \
        {                                                                                          \
                return cmp_get_str(c->l, v, c->path, &c->s->k);                                    \
        }
STR_KEY(user)
STR_KEY(working_dir)
STR_KEY(hostname)
STR_KEY(container_name)
STR_KEY(stop_signal)
STR_KEY(pull_policy)

#define BOOL_KEY(k)                                                                                \
        int cmp_k_##k(struct cmp_bctx *c, const struct cmp_node *v)                                \
        {                                                                                          \
                return cmp_get_bool(c->l, v, c->path, &c->s->k);                                   \
        }
BOOL_KEY(read_only)
BOOL_KEY(init)
BOOL_KEY(tty)
BOOL_KEY(stdin_open)
BOOL_KEY(privileged)

#define LIST_KEY(k, one)                                                                           \
        int cmp_k_##k(struct cmp_bctx *c, const struct cmp_node *v)                                \
        {                                                                                          \
                return cmp_get_strv(c->l, v, c->path, one, &c->s->k);                              \
        }
LIST_KEY(cap_add, false)
LIST_KEY(cap_drop, false)
LIST_KEY(profiles, false)
LIST_KEY(dns, true)

int cmp_k_labels(struct cmp_bctx *c, const struct cmp_node *v)
{
        return cmp_get_kvs(c->l, v, c->path, &c->s->labels);
}

int cmp_k_stop_grace_period(struct cmp_bctx *c, const struct cmp_node *v)
{
        return cmp_get_duration(c->l, v, c->path, &c->s->stop_grace_period_ms);
}

int cmp_k_extra_hosts(struct cmp_bctx *c, const struct cmp_node *v)
{
        struct cmp_kvs kv;

        if (v->kind != CMP_MAP)
                return cmp_get_strv(c->l, v, c->path, false, &c->s->extra_hosts);
        /* mapping form host: ip → "host:ip" like the list form */
        if (cmp_get_kvs(c->l, v, c->path, &kv) < 0)
                return -1;
        c->s->extra_hosts.v = cmp_bctx_alloc(c, kv.n, sizeof(char *));
        if (!c->s->extra_hosts.v)
                return cmp_oom(c->l);
        for (size_t i = 0; i < kv.n; i++) {
                c->s->extra_hosts.v[i] =
                    cmp_printf(c->l->a, "%s:%s", kv.v[i].key, kv.v[i].val ? kv.v[i].val : "");
                if (!c->s->extra_hosts.v[i])
                        return cmp_oom(c->l);
        }
        c->s->extra_hosts.n = kv.n;
        return 0;
}

static int file_ref(struct cmp_bctx *c, const struct cmp_node *it, struct cmp_file_ref *r)
{
        r->mode = -1;
        if (cmp_want(c->l, it, c->path, CMP_MAP) < 0)
                return -1;
        for (size_t i = 0; i < cmp_map_len(it); i++) {
                const struct cmp_node *k = cmp_map_key(it, i), *x = cmp_map_val(it, i);
                size_t old = cmp_path_key(c->path, k->str);
                int rc = 0;

                if (!strcmp(k->str, "source")) {
                        rc = cmp_get_str(c->l, x, c->path, &r->source);
                } else if (!strcmp(k->str, "target")) {
                        rc = cmp_get_str(c->l, x, c->path, &r->target);
                } else if (!strcmp(k->str, "uid")) {
                        rc = cmp_get_str(c->l, x, c->path, &r->uid);
                } else if (!strcmp(k->str, "gid")) {
                        rc = cmp_get_str(c->l, x, c->path, &r->gid);
                } else if (!strcmp(k->str, "mode")) {
                        char *end;
                        long m;

                        /* YAML 1.1 reads 0440 as octal; compose files write it so */
                        m = x->kind == CMP_SCALAR ? strtol(x->str, &end, 8) : -1;
                        if (x->kind != CMP_SCALAR || end == x->str || *end || m < 0 || m > 07777)
                                rc = cmp_fail(c->l->err, x, c->path, "expected an octal mode");
                        r->mode = (int)m;
                } else {
                        cmp_path_pop(c->path, old);
                        cmp_warn_key(c->l, k, c->path, "unknown key, ignored");
                        continue;
                }
                cmp_path_pop(c->path, old);
                if (rc < 0)
                        return -1;
        }
        if (!r->source)
                return cmp_fail(c->l->err, it, c->path, "source missing");
        return 0;
}

static int file_refs(struct cmp_bctx *c, const struct cmp_node *v, struct cmp_file_ref **out,
                     size_t *n_out)
{
        if (cmp_is_null(v))
                return 0;
        if (cmp_want(c->l, v, c->path, CMP_SEQ) < 0)
                return -1;
        *out = cmp_bctx_alloc(c, v->n, sizeof(**out));
        if (!*out)
                return cmp_oom(c->l);
        for (size_t i = 0; i < v->n; i++) {
                size_t old = cmp_path_idx(c->path, i);
                int rc = file_ref(c, v->kids[i], &(*out)[i]);

                cmp_path_pop(c->path, old);
                if (rc < 0)
                        return -1;
                (*n_out)++;
        }
        return 0;
}

int cmp_k_secrets(struct cmp_bctx *c, const struct cmp_node *v)
{
        return file_refs(c, v, &c->s->secrets, &c->s->n_secrets);
}

int cmp_k_configs(struct cmp_bctx *c, const struct cmp_node *v)
{
        return file_refs(c, v, &c->s->configs, &c->s->n_configs);
}
