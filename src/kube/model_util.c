/* Helpers of the manifest walker: paths in messages, warnings, typed
 * getters that name what they expected, names and quantities. */
#include "kube/model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t kube_path_key(struct kube_mctx *c, const char *key)
{
        size_t old = c->path_len;
        int n = snprintf(c->path + old, sizeof(c->path) - old, "%s%s", old ? "." : "", key);

        c->path_len =
            n < 0 || old + (size_t)n >= sizeof(c->path) ? sizeof(c->path) - 1 : old + (size_t)n;
        return old;
}

size_t kube_path_idx(struct kube_mctx *c, size_t i)
{
        size_t old = c->path_len;
        int n = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", i);

        c->path_len =
            n < 0 || old + (size_t)n >= sizeof(c->path) ? sizeof(c->path) - 1 : old + (size_t)n;
        return old;
}

void kube_path_pop(struct kube_mctx *c, size_t len)
{
        c->path_len = len;
        c->path[len] = '\0';
}

static void where(const struct kube_mctx *c, char *buf, size_t len)
{
        snprintf(buf, len, "%s: document %u (%s%s%s)%s%s", c->file, c->doc, c->kind ? c->kind : "?",
                 c->name ? " " : "", c->name ? c->name : "", c->path_len ? ": " : "", c->path);
}

int kube_fail(struct kube_mctx *c, const struct kube_node *at, const char *fmt, ...)
{
        char head[768], msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        where(c, head, sizeof(head));
        if (at)
                return err_set(c->err, EINVAL, "%s: %s (line %u)", head, msg, at->line);
        return err_set(c->err, EINVAL, "%s: %s", head, msg);
}

void kube_warn(struct kube_mctx *c, const char *fmt, ...)
{
        char head[768], msg[512];
        const char **v;
        char *s;
        va_list ap;
        int n;

        if (c->m->n_warnings >= KUBE_WARNINGS_MAX)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        where(c, head, sizeof(head));
        n = snprintf(NULL, 0, "%s: %s", head, msg);
        s = n > 0 ? kube_alloc(c->a, (size_t)n + 1) : NULL;
        v = kube_alloc(c->a, (c->m->n_warnings + 1) * sizeof(*v));
        if (!s || !v)
                return;
        snprintf(s, (size_t)n + 1, "%s: %s", head, msg);
        if (c->m->n_warnings)
                memcpy(v, c->m->warnings, c->m->n_warnings * sizeof(*v));
        v[c->m->n_warnings++] = s;
        c->m->warnings = v;
}

static bool in_list(const char *const *l, const char *s)
{
        for (; l && *l; l++)
                if (!strcmp(*l, s))
                        return true;
        return false;
}

int kube_keys(struct kube_mctx *c, const struct kube_node *map, const char *const *known,
              const char *const *ignored)
{
        if (!map || map->kind != KUBE_MAP)
                return kube_fail(c, map, "expected a mapping");
        for (size_t i = 0; i < map->n; i += 2) {
                const char *k = map->kids[i]->str;

                if (in_list(known, k) || in_list(ignored, k))
                        continue;
                size_t old = kube_path_key(c, k);
                kube_warn(c, "unsupported field, ignored");
                kube_path_pop(c, old);
        }
        return 0;
}

static int scalar_at(struct kube_mctx *c, const struct kube_node *map, const char *key,
                     const struct kube_node **out)
{
        const struct kube_node *n = kube_map_get(map, key);

        *out = NULL;
        if (kube_is_null(n))
                return 0;
        if (n->kind != KUBE_SCALAR) {
                size_t old = kube_path_key(c, key);
                int rc = kube_fail(c, n, "expected a string, not a %s",
                                   n->kind == KUBE_MAP ? "mapping" : "sequence");

                kube_path_pop(c, old);
                return rc;
        }
        *out = n;
        return 0;
}

int kube_get_str(struct kube_mctx *c, const struct kube_node *map, const char *key,
                 const char **out)
{
        const struct kube_node *n;

        if (scalar_at(c, map, key, &n) < 0)
                return -1;
        if (n)
                *out = n->str;
        return 0;
}

int kube_get_int(struct kube_mctx *c, const struct kube_node *map, const char *key, long min,
                 long max, int *out)
{
        const struct kube_node *n;
        char *end;
        long v;

        if (scalar_at(c, map, key, &n) < 0)
                return -1;
        if (!n)
                return 0;
        errno = 0;
        v = strtol(n->str, &end, 10);
        if (errno || end == n->str || *end || v < min || v > max) {
                size_t old = kube_path_key(c, key);
                int rc = kube_fail(c, n, "'%s' is not a number from %ld to %ld", n->str, min, max);

                kube_path_pop(c, old);
                return rc;
        }
        *out = (int)v;
        return 0;
}

int kube_get_bool(struct kube_mctx *c, const struct kube_node *map, const char *key, bool *out)
{
        const struct kube_node *n;

        if (scalar_at(c, map, key, &n) < 0)
                return -1;
        if (!n)
                return 0;
        if (!strcmp(n->str, "true") || !strcmp(n->str, "True")) {
                *out = true;
        } else if (!strcmp(n->str, "false") || !strcmp(n->str, "False")) {
                *out = false;
        } else {
                size_t old = kube_path_key(c, key);
                int rc = kube_fail(c, n, "'%s' is not true or false", n->str);

                kube_path_pop(c, old);
                return rc;
        }
        return 0;
}

/* map[key] when it is a node of the given kind, NULL when absent or null;
 * an error naming the path (and what was expected) otherwise. */
static int get_kind(struct kube_mctx *c, const struct kube_node *map, const char *key,
                    enum kube_kind kind, const char *expected, const struct kube_node **out)
{
        const struct kube_node *n = kube_map_get(map, key);

        *out = NULL;
        if (kube_is_null(n))
                return 0;
        if (n->kind != kind) {
                size_t old = kube_path_key(c, key);
                int rc = kube_fail(c, n, "expected %s", expected);

                kube_path_pop(c, old);
                return rc;
        }
        *out = n;
        return 0;
}

int kube_get_seq(struct kube_mctx *c, const struct kube_node *map, const char *key,
                 const struct kube_node **out)
{
        return get_kind(c, map, key, KUBE_SEQ, "a list", out);
}

int kube_get_map(struct kube_mctx *c, const struct kube_node *map, const char *key,
                 const struct kube_node **out)
{
        return get_kind(c, map, key, KUBE_MAP, "a mapping", out);
}

int kube_get_strv(struct kube_mctx *c, const struct kube_node *map, const char *key,
                  const char ***out)
{
        const struct kube_node *s;
        const char **v;
        size_t old;

        if (kube_get_seq(c, map, key, &s) < 0)
                return -1;
        if (!s)
                return 0;
        v = kube_alloc(c->a, (s->n + 1) * sizeof(*v));
        if (!v)
                return kube_fail(c, s, "out of memory");
        old = kube_path_key(c, key);
        for (size_t i = 0; i < s->n; i++) {
                if (s->kids[i]->kind != KUBE_SCALAR) {
                        kube_path_idx(c, i);
                        return kube_fail(c, s->kids[i], "expected a string");
                }
                v[i] = s->kids[i]->str;
        }
        kube_path_pop(c, old);
        *out = v;
        return 0;
}

int kube_get_kvs(struct kube_mctx *c, const struct kube_node *map, const char *key,
                 struct kube_kv **out, size_t *n_out)
{
        const struct kube_node *m;
        struct kube_kv *v;
        size_t old;

        if (kube_get_map(c, map, key, &m) < 0)
                return -1;
        if (!m)
                return 0;
        v = kube_alloc(c->a, (m->n / 2 + 1) * sizeof(*v));
        if (!v)
                return kube_fail(c, m, "out of memory");
        old = kube_path_key(c, key);
        for (size_t i = 0; i < m->n; i += 2) {
                const struct kube_node *val = m->kids[i + 1];

                if (val->kind != KUBE_SCALAR) {
                        kube_path_key(c, m->kids[i]->str);
                        return kube_fail(c, val, "expected a string");
                }
                v[i / 2].key = m->kids[i]->str;
                v[i / 2].val = val->str;
        }
        kube_path_pop(c, old);
        *out = v;
        *n_out = m->n / 2;
        return 0;
}

bool kube_name_ok(const char *s, bool subdomain)
{
        size_t n = strlen(s);

        if (!n || n > (subdomain ? 253 : KUBE_NAME_MAX))
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];
                bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

                if (alnum)
                        continue;
                if ((ch != '-' && !(subdomain && ch == '.')) || i == 0 || i == n - 1)
                        return false;
                if (ch == '.' && s[i - 1] == '.')
                        return false;
        }
        return true;
}

int kube_parse_memory(const char *s, int64_t *out)
{
        static const struct {
                const char *sfx;
                double mul;
        } units[] = {
            {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
            {"k", 1e3},     {"M", 1e6},        {"G", 1e9},           {"T", 1e12},
            {"", 1.0}};
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || !isfinite(v) || v < 0 || s[0] == '+' || s[0] == '-')
                return -1;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (strcmp(end, units[i].sfx) != 0)
                        continue;
                v *= units[i].mul;
                if (v >= 9.2e18)
                        return -1;
                *out = (int64_t)v;
                return 0;
        }
        return -1;
}

int kube_parse_cpu(const char *s, double *out)
{
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || !isfinite(v) || v < 0 || s[0] == '+' || s[0] == '-')
                return -1;
        if (!strcmp(end, "m"))
                v /= 1000.0;
        else if (*end)
                return -1;
        if (v > 1024)
                return -1;
        *out = v;
        return 0;
}
