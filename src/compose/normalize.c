/* Short syntax → long syntax, per file and before merging, so the merger
 * compares like with like (ports by ip/target/published/protocol, volumes by
 * target) and `config` prints one form. Relative paths become absolute
 * against the file's base directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/load.h"

char *cmp_dirname(struct cmp_arena *a, const char *path)
{
        const char *slash = strrchr(path, '/');

        if (!slash)
                return cmp_strdup(a, ".");
        if (slash == path)
                return cmp_strdup(a, "/");
        return cmp_strndup(a, path, (size_t)(slash - path));
}

char *cmp_path_resolve(struct cmp_arena *a, const char *base, const char *rel)
{
        char *joined = rel[0] == '/' ? cmp_strdup(a, rel) : cmp_printf(a, "%s/%s", base, rel);
        char *out, *o;
        const char *s;

        if (!joined)
                return NULL;
        out = cmp_alloc(a, strlen(joined) + 2);
        if (!out)
                return NULL;
        o = out;
        s = joined;
        while (*s) {
                const char *e;
                size_t n;

                while (*s == '/')
                        s++;
                e = strchrnul(s, '/');
                n = (size_t)(e - s);
                if (n == 0 || (n == 1 && s[0] == '.')) {
                        /* nothing */
                } else if (n == 2 && s[0] == '.' && s[1] == '.') {
                        while (o > out && o[-1] != '/')
                                o--;
                        if (o > out)
                                o--;
                } else {
                        *o++ = '/';
                        memcpy(o, s, n);
                        o += n;
                }
                s = e;
        }
        if (o == out)
                *o++ = '/';
        *o = '\0';
        /* a relative base stays relative: drop the leading slash we added */
        if (joined[0] != '/')
                memmove(out, out + 1, strlen(out));
        return out;
}

static struct cmp_node *mk(struct cmp_loader *l, const struct cmp_node *where, const char *s)
{
        struct cmp_node *n = cmp_scalar_new(l->a, s, where);

        if (n)
                n->plain = true;
        return n;
}

static struct cmp_node *mk_map(struct cmp_loader *l, const struct cmp_node *where)
{
        return cmp_node_new(l->a, CMP_MAP, where->file, where->line, where->col);
}

static int set(struct cmp_loader *l, struct cmp_node *m, const char *key, const char *val)
{
        struct cmp_node *v = mk(l, m, val);

        if (!v || cmp_map_set(l->a, m, key, v) < 0)
                return cmp_oom(l);
        return 0;
}

/* ["K=V", "K"] → {K: V, K: null} */
static int list_to_map(struct cmp_loader *l, struct cmp_node *parent, const char *key,
                       struct cmp_path *path)
{
        struct cmp_node *seq = cmp_map_get(parent, key), *map;

        if (!seq || seq->kind != CMP_SEQ)
                return 0;
        map = mk_map(l, seq);
        if (!map)
                return cmp_oom(l);
        map->tag = seq->tag;
        for (size_t i = 0; i < seq->n; i++) {
                struct cmp_node *it = seq->kids[i];
                const char *eq;
                struct cmp_node *v;
                char *k;

                if (it->kind != CMP_SCALAR) {
                        size_t old = cmp_path_idx(path, i);

                        cmp_fail(l->err, it, path, "expected KEY=VALUE, got %s", cmp_kind_name(it));
                        cmp_path_pop(path, old);
                        return -1;
                }
                eq = strchr(it->str, '=');
                k = cmp_strndup(l->a, it->str, eq ? (size_t)(eq - it->str) : it->len);
                v = eq ? cmp_scalar_new(l->a, eq + 1, it) : mk(l, it, "null");
                if (!k || !v || cmp_map_set(l->a, map, k, v) < 0)
                        return cmp_oom(l);
        }
        return cmp_map_set(l->a, parent, key, map) < 0 ? cmp_oom(l) : 0;
}

static int parse_range(const char *s, size_t n, long *lo, long *hi)
{
        char buf[32];
        char *end, *dash;

        if (n == 0 || n >= sizeof(buf))
                return -1;
        memcpy(buf, s, n);
        buf[n] = '\0';
        dash = strchr(buf, '-');
        if (dash)
                *dash = '\0';
        if (buf[0] < '0' || buf[0] > '9')
                return -1;
        *lo = strtol(buf, &end, 10);
        if (*end)
                return -1;
        *hi = *lo;
        if (dash) {
                if (dash[1] < '0' || dash[1] > '9')
                        return -1;
                *hi = strtol(dash + 1, &end, 10);
                if (*end)
                        return -1;
        }
        if (*lo < 0 || *hi > 65535 || *lo > *hi || *hi - *lo > 1000)
                return -1;
        return 0;
}

/* "[IP:][HOST:]CTR[/PROTO]" with ranges → long entries appended to out. */
static int port_short(struct cmp_loader *l, const struct cmp_node *it, struct cmp_node *out,
                      struct cmp_path *path)
{
        char spec[256], *proto, *ip = NULL, *pub = NULL, *tgt;
        long tlo, thi, plo = 0, phi = 0;

        if (it->len >= sizeof(spec))
                return cmp_fail(l->err, it, path, "port spec too long");
        memcpy(spec, it->str, it->len + 1);
        proto = strchr(spec, '/');
        if (proto)
                *proto++ = '\0';
        if (proto && strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
            strcmp(proto, "sctp") != 0)
                return cmp_fail(l->err, it, path, "invalid protocol \"%s\"", proto);
        tgt = spec;
        if (spec[0] == '[') { /* [IPv6]:HOST:CTR */
                char *close = strchr(spec, ']');

                if (!close || close[1] != ':')
                        return cmp_fail(l->err, it, path, "invalid port \"%s\"", it->str);
                *close = '\0';
                ip = spec + 1;
                tgt = close + 2;
        }
        char *c1 = strrchr(tgt, ':');
        if (c1) {
                *c1 = '\0';
                pub = tgt;
                tgt = c1 + 1;
                char *c2 = strrchr(pub, ':');
                if (c2) {
                        if (ip)
                                return cmp_fail(l->err, it, path, "invalid port \"%s\"", it->str);
                        *c2 = '\0';
                        ip = pub;
                        pub = c2 + 1;
                        if (strchr(ip, ':'))
                                return cmp_fail(l->err, it, path,
                                                "invalid port \"%s\" (write IPv6 addresses in [])",
                                                it->str);
                }
        }
        if (parse_range(tgt, strlen(tgt), &tlo, &thi) < 0 || tlo == 0)
                return cmp_fail(l->err, it, path, "invalid container port in \"%s\"", it->str);
        if (pub && *pub &&
            (parse_range(pub, strlen(pub), &plo, &phi) < 0 || plo == 0 || phi - plo != thi - tlo))
                return cmp_fail(l->err, it, path, "invalid published port in \"%s\"", it->str);
        for (long p = tlo; p <= thi; p++) {
                struct cmp_node *m = mk_map(l, it);
                char num[16];

                if (!m)
                        return cmp_oom(l);
                snprintf(num, sizeof(num), "%ld", p);
                if (set(l, m, "target", num) < 0)
                        return -1;
                if (pub && *pub) {
                        snprintf(num, sizeof(num), "%ld", plo + (p - tlo));
                        if (set(l, m, "published", num) < 0)
                                return -1;
                }
                if (ip && *ip && set(l, m, "host_ip", ip) < 0)
                        return -1;
                if (set(l, m, "protocol", proto ? proto : "tcp") < 0 ||
                    set(l, m, "mode", "ingress") < 0 || cmp_push(l->a, out, m) < 0)
                        return -1;
        }
        return 0;
}

static int norm_ports(struct cmp_loader *l, struct cmp_node *svc, struct cmp_path *path)
{
        struct cmp_node *seq = cmp_map_get(svc, "ports"), *out;
        size_t old = cmp_path_key(path, "ports");
        int rc = 0;

        if (!seq || cmp_is_null(seq))
                goto done;
        if (seq->kind != CMP_SEQ) {
                rc = cmp_fail(l->err, seq, path, "expected a sequence, got %s", cmp_kind_name(seq));
                goto done;
        }
        out = cmp_node_new(l->a, CMP_SEQ, seq->file, seq->line, seq->col);
        if (!out) {
                rc = cmp_oom(l);
                goto done;
        }
        out->tag = seq->tag;
        for (size_t i = 0; i < seq->n && rc == 0; i++) {
                size_t o2 = cmp_path_idx(path, i);

                if (seq->kids[i]->kind == CMP_SCALAR)
                        rc = port_short(l, seq->kids[i], out, path);
                else
                        rc = cmp_push(l->a, out, seq->kids[i]);
                cmp_path_pop(path, o2);
        }
        if (rc == 0 && cmp_map_set(l->a, svc, "ports", out) < 0)
                rc = cmp_oom(l);
done:
        cmp_path_pop(path, old);
        return rc;
}

static bool is_path_source(const char *s)
{
        return s[0] == '/' || s[0] == '.' || s[0] == '~';
}

static const char *host_path(struct cmp_loader *l, const char *src, const char *base)
{
        if (src[0] == '~' && (src[1] == '/' || src[1] == '\0')) {
                const char *home = cmp_env_get(&l->p->env, "HOME");

                return cmp_path_resolve(l->a, home ? home : "/root", src[1] ? src + 2 : ".");
        }
        return cmp_path_resolve(l->a, base, src);
}

/* "SRC:DST[:MODE]" or "DST" → {type, source, target, read_only, bind:{...}} */
static int volume_short(struct cmp_loader *l, struct cmp_node *it, const char *base,
                        struct cmp_node **out, struct cmp_path *path)
{
        char spec[4096], *parts[3] = {0};
        size_t n = 0;
        char *s;
        struct cmp_node *m;

        if (it->len >= sizeof(spec) || it->len == 0)
                return cmp_fail(l->err, it, path, "invalid volume \"%.100s\"", it->str);
        memcpy(spec, it->str, it->len + 1);
        s = spec;
        while (s && n < 3) {
                parts[n++] = s;
                s = strchr(s, ':');
                if (s)
                        *s++ = '\0';
        }
        if (s || !*parts[0] || (n > 1 && !*parts[1]))
                return cmp_fail(l->err, it, path, "invalid volume \"%.100s\"", it->str);
        m = mk_map(l, it);
        if (!m)
                return cmp_oom(l);
        if (n == 1) {
                if (set(l, m, "type", "volume") < 0 || set(l, m, "target", parts[0]) < 0)
                        return -1;
                *out = m;
                return 0;
        }
        bool bind = is_path_source(parts[0]);
        const char *src = bind ? host_path(l, parts[0], base) : parts[0];
        if (!src || set(l, m, "type", bind ? "bind" : "volume") < 0 ||
            set(l, m, "source", src) < 0 || set(l, m, "target", parts[1]) < 0)
                return cmp_oom(l);
        if (parts[1][0] != '/')
                return cmp_fail(l->err, it, path, "volume target \"%s\" is not an absolute path",
                                parts[1]);
        if (n == 3) {
                char *opt = parts[2], *save = NULL;

                for (char *t = strtok_r(opt, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                        if (!strcmp(t, "ro")) {
                                if (set(l, m, "read_only", "true") < 0)
                                        return -1;
                        } else if (!strcmp(t, "nocopy") && !bind) {
                                struct cmp_node *v = mk_map(l, it);

                                if (!v || set(l, v, "nocopy", "true") < 0 ||
                                    cmp_map_set(l->a, m, "volume", v) < 0)
                                        return cmp_oom(l);
                        } else if (strcmp(t, "rw") != 0 && strcmp(t, "z") != 0 &&
                                   strcmp(t, "Z") != 0) {
                                return cmp_fail(l->err, it, path, "invalid volume mode \"%s\"", t);
                        }
                }
        }
        if (bind) {
                struct cmp_node *b = mk_map(l, it);

                if (!b || set(l, b, "create_host_path", "true") < 0 ||
                    cmp_map_set(l->a, m, "bind", b) < 0)
                        return cmp_oom(l);
        }
        *out = m;
        return 0;
}

static int norm_volumes(struct cmp_loader *l, struct cmp_node *svc, const char *base,
                        struct cmp_path *path)
{
        struct cmp_node *seq = cmp_map_get(svc, "volumes");
        size_t old = cmp_path_key(path, "volumes");
        int rc = 0;

        if (!seq || cmp_is_null(seq))
                goto done;
        if (seq->kind != CMP_SEQ) {
                rc = cmp_fail(l->err, seq, path, "expected a sequence, got %s", cmp_kind_name(seq));
                goto done;
        }
        for (size_t i = 0; i < seq->n && rc == 0; i++) {
                struct cmp_node *it = seq->kids[i], *src, *type;
                size_t o2 = cmp_path_idx(path, i);

                if (it->kind == CMP_SCALAR) {
                        rc = volume_short(l, it, base, &seq->kids[i], path);
                } else if (it->kind == CMP_MAP) {
                        type = cmp_map_get(it, "type");
                        src = cmp_map_get(it, "source");
                        if (type && type->kind == CMP_SCALAR && !strcmp(type->str, "bind") && src &&
                            src->kind == CMP_SCALAR && src->len) {
                                const char *abs = host_path(l, src->str, base);

                                if (!abs || set(l, it, "source", abs) < 0)
                                        rc = cmp_oom(l);
                        }
                }
                cmp_path_pop(path, o2);
        }
done:
        cmp_path_pop(path, old);
        return rc;
}

/* depends_on: [a, b] → {a: {condition: service_started, required: true}} */
static int norm_depends(struct cmp_loader *l, struct cmp_node *svc, struct cmp_path *path)
{
        struct cmp_node *seq = cmp_map_get(svc, "depends_on"), *map;

        if (!seq || seq->kind != CMP_SEQ)
                return 0;
        map = mk_map(l, seq);
        if (!map)
                return cmp_oom(l);
        map->tag = seq->tag;
        for (size_t i = 0; i < seq->n; i++) {
                struct cmp_node *it = seq->kids[i], *c;

                if (it->kind != CMP_SCALAR) {
                        size_t old = cmp_path_key(path, "depends_on");

                        cmp_path_idx(path, i);
                        cmp_fail(l->err, it, path, "expected a service name, got %s",
                                 cmp_kind_name(it));
                        cmp_path_pop(path, old);
                        return -1;
                }
                c = mk_map(l, it);
                if (!c || set(l, c, "condition", "service_started") < 0 ||
                    set(l, c, "required", "true") < 0 || cmp_map_set(l->a, map, it->str, c) < 0)
                        return cmp_oom(l);
        }
        return cmp_map_set(l->a, svc, "depends_on", map) < 0 ? cmp_oom(l) : 0;
}

/* networks: [a] → {a: null}; secrets/configs: [name] → [{source: name}] */
static int norm_lists(struct cmp_loader *l, struct cmp_node *svc)
{
        static const char *const refs[] = {"secrets", "configs"};
        struct cmp_node *nets = cmp_map_get(svc, "networks");

        if (nets && nets->kind == CMP_SEQ) {
                struct cmp_node *map = mk_map(l, nets);

                if (!map)
                        return cmp_oom(l);
                map->tag = nets->tag;
                for (size_t i = 0; i < nets->n; i++) {
                        struct cmp_node *v;

                        if (nets->kids[i]->kind != CMP_SCALAR)
                                return cmp_fail(l->err, nets->kids[i], NULL,
                                                "networks: expected a network name, got %s",
                                                cmp_kind_name(nets->kids[i]));
                        v = mk(l, nets->kids[i], "null");
                        if (!v || cmp_map_set(l->a, map, nets->kids[i]->str, v) < 0)
                                return cmp_oom(l);
                }
                if (cmp_map_set(l->a, svc, "networks", map) < 0)
                        return cmp_oom(l);
        }
        for (size_t r = 0; r < ARRAY_SIZE(refs); r++) {
                struct cmp_node *seq = cmp_map_get(svc, refs[r]);

                for (size_t i = 0; seq && seq->kind == CMP_SEQ && i < seq->n; i++) {
                        struct cmp_node *it = seq->kids[i], *m;

                        if (it->kind != CMP_SCALAR)
                                continue;
                        m = mk_map(l, it);
                        if (!m || set(l, m, "source", it->str) < 0)
                                return cmp_oom(l);
                        seq->kids[i] = m;
                }
        }
        return 0;
}

/* build: "dir" → {context: dir}; env_file: "f" → [{path: f, required: true}] */
static int norm_build_envfile(struct cmp_loader *l, struct cmp_node *svc, const char *base,
                              struct cmp_path *path)
{
        struct cmp_node *b = cmp_map_get(svc, "build"), *ef = cmp_map_get(svc, "env_file");
        struct cmp_node *ctx;

        if (b && b->kind == CMP_SCALAR && !cmp_is_null(b)) {
                struct cmp_node *m = mk_map(l, b);

                if (!m || cmp_map_set(l->a, m, "context", b) < 0 ||
                    cmp_map_set(l->a, svc, "build", m) < 0)
                        return cmp_oom(l);
                b = m;
        }
        if (b && b->kind == CMP_MAP) {
                size_t old = cmp_path_key(path, "build");
                int rc = list_to_map(l, b, "args", path);

                cmp_path_pop(path, old);
                if (rc < 0)
                        return -1;
                ctx = cmp_map_get(b, "context");
                if (ctx && ctx->kind == CMP_SCALAR && !strstr(ctx->str, "://") &&
                    strncmp(ctx->str, "git@", 4) != 0) {
                        const char *abs = cmp_path_resolve(l->a, base, ctx->str);

                        if (!abs || set(l, b, "context", abs) < 0)
                                return cmp_oom(l);
                }
        }
        if (ef && ef->kind == CMP_SCALAR && !cmp_is_null(ef)) {
                struct cmp_node *seq = cmp_node_new(l->a, CMP_SEQ, ef->file, ef->line, ef->col);

                if (!seq || cmp_push(l->a, seq, ef) < 0 || cmp_map_set(l->a, svc, "env_file", seq))
                        return cmp_oom(l);
                ef = seq;
        }
        for (size_t i = 0; ef && ef->kind == CMP_SEQ && i < ef->n; i++) {
                struct cmp_node *it = ef->kids[i], *m = it;
                struct cmp_node *p;

                if (it->kind == CMP_SCALAR) {
                        m = mk_map(l, it);
                        if (!m || cmp_map_set(l->a, m, "path", it) < 0 ||
                            set(l, m, "required", "true") < 0)
                                return cmp_oom(l);
                        ef->kids[i] = m;
                }
                p = cmp_map_get(m, "path");
                if (m->kind == CMP_MAP && p && p->kind == CMP_SCALAR) {
                        const char *abs = cmp_path_resolve(l->a, base, p->str);

                        if (!abs || set(l, m, "path", abs) < 0)
                                return cmp_oom(l);
                }
        }
        return 0;
}

static int norm_service(struct cmp_loader *l, struct cmp_node *svc, const char *base,
                        struct cmp_path *path)
{
        struct cmp_node *ext = cmp_map_get(svc, "extends");

        if (svc->kind != CMP_MAP)
                return cmp_fail(l->err, svc, path, "expected a mapping, got %s",
                                cmp_kind_name(svc));
        if (list_to_map(l, svc, "environment", path) < 0 ||
            list_to_map(l, svc, "labels", path) < 0 || norm_ports(l, svc, path) < 0 ||
            norm_volumes(l, svc, base, path) < 0 || norm_depends(l, svc, path) < 0 ||
            norm_lists(l, svc) < 0 || norm_build_envfile(l, svc, base, path) < 0)
                return -1;
        if (ext && ext->kind == CMP_SCALAR) {
                struct cmp_node *m = mk_map(l, ext);

                if (!m || cmp_map_set(l->a, m, "service", ext) < 0 ||
                    cmp_map_set(l->a, svc, "extends", m) < 0)
                        return cmp_oom(l);
                ext = m;
        }
        if (ext && ext->kind == CMP_MAP) {
                struct cmp_node *f = cmp_map_get(ext, "file");

                if (f && f->kind == CMP_SCALAR) {
                        const char *abs = cmp_path_resolve(l->a, base, f->str);

                        if (!abs || set(l, ext, "file", abs) < 0)
                                return cmp_oom(l);
                }
        }
        return 0;
}

/* Top-level secrets/configs `file:` paths, resolved against the base dir. */
static int norm_filedefs(struct cmp_loader *l, struct cmp_node *root, const char *base)
{
        static const char *const keys[] = {"secrets", "configs"};

        for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
                struct cmp_node *m = cmp_map_get(root, keys[k]);

                for (size_t i = 0; m && m->kind == CMP_MAP && i < cmp_map_len(m); i++) {
                        struct cmp_node *def = cmp_map_val(m, i);
                        struct cmp_node *f = cmp_map_get(def, "file");

                        if (f && f->kind == CMP_SCALAR) {
                                const char *abs = cmp_path_resolve(l->a, base, f->str);

                                if (!abs || set(l, def, "file", abs) < 0)
                                        return cmp_oom(l);
                        }
                }
        }
        return 0;
}

int cmp_normalize(struct cmp_loader *l, struct cmp_node *root, const char *base_dir)
{
        struct cmp_node *svcs = cmp_map_get(root, "services");
        struct cmp_path path = {0};

        if (svcs && !cmp_is_null(svcs) && svcs->kind != CMP_MAP) {
                cmp_path_key(&path, "services");
                return cmp_fail(l->err, svcs, &path, "expected a mapping, got %s",
                                cmp_kind_name(svcs));
        }
        for (size_t i = 0; svcs && svcs->kind == CMP_MAP && i < cmp_map_len(svcs); i++) {
                cmp_path_pop(&path, 0);
                cmp_path_key(&path, "services");
                cmp_path_key(&path, cmp_map_key(svcs, i)->str);
                if (norm_service(l, cmp_map_val(svcs, i), base_dir, &path) < 0)
                        return -1;
        }
        return norm_filedefs(l, root, base_dir);
}
