/* Compose variable interpolation (the Compose Specification's
 * "Interpolation": ${VAR}, $VAR, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e},
 * ${VAR:+r}, ${VAR+r}, $$), nested in defaults up to NEST_MAX levels. */
#include "compose/interp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEST_MAX 10

void cmp_warn(struct cmp_arena *a, struct cmp_warns *w, const char *fmt, ...)
{
        char buf[1024];
        va_list ap;

        if (!w)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        for (size_t i = 0; i < w->n; i++)
                if (!strcmp(w->msgs[i], buf))
                        return;
        if (w->n == w->cap) {
                size_t cap = w->cap ? w->cap * 2 : 8;
                char **m;

                if (cap > 4096)
                        return; /* enough to tell the user something is wrong */
                m = cmp_alloc(a, cap * sizeof(*m));
                if (!m)
                        return;
                if (w->n)
                        memcpy(m, w->msgs, w->n * sizeof(*m));
                w->msgs = m;
                w->cap = cap;
        }
        w->msgs[w->n] = cmp_strdup(a, buf);
        if (w->msgs[w->n])
                w->n++;
}

const char *cmp_env_get(const struct cmp_env *e, const char *name)
{
        for (size_t i = 0; e && i < e->n; i++)
                if (!strcmp(e->names[i], name))
                        return e->vals[i];
        return NULL;
}

int cmp_env_put(struct cmp_arena *a, struct cmp_env *e, const char *name, const char *val,
                bool replace)
{
        for (size_t i = 0; i < e->n; i++) {
                if (!strcmp(e->names[i], name)) {
                        if (replace) {
                                e->vals[i] = cmp_strdup(a, val);
                                return e->vals[i] ? 0 : -1;
                        }
                        return 0;
                }
        }
        if (e->n >= CMP_ENV_MAX)
                return -1;
        if (e->n == e->cap) {
                size_t cap = e->cap ? e->cap * 2 : 32;
                const char **n = cmp_alloc(a, cap * sizeof(*n));
                const char **v = cmp_alloc(a, cap * sizeof(*v));

                if (!n || !v)
                        return -1;
                if (e->n) {
                        memcpy(n, e->names, e->n * sizeof(*n));
                        memcpy(v, e->vals, e->n * sizeof(*v));
                }
                e->names = n;
                e->vals = v;
                e->cap = cap;
        }
        e->names[e->n] = cmp_strdup(a, name);
        e->vals[e->n] = cmp_strdup(a, val);
        if (!e->names[e->n] || !e->vals[e->n])
                return -1;
        e->n++;
        return 0;
}

struct sbuf {
        char *p;
        size_t len, cap;
        bool over;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
        if (b->over)
                return;
        if (b->len + n + 1 > CMP_SCALAR_MAX) {
                b->over = true;
                return;
        }
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 64;
                char *p;

                while (cap < b->len + n + 1)
                        cap *= 2;
                p = realloc(b->p, cap);
                if (!p) {
                        b->over = true;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

struct interp {
        struct cmp_arena *a;
        const struct cmp_env *env;
        struct cmp_warns *w;
        const char *what;
        struct isola_err *err;
};

static bool name_start(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
        return name_start(c) || (c >= '0' && c <= '9');
}

static int invalid(struct interp *ip, const char *s, size_t len)
{
        return err_set(ip->err, EINVAL,
                       "%s: invalid interpolation format in \"%.*s\" (write $$ for a literal $)",
                       ip->what, (int)(len > 200 ? 200 : len), s);
}

static int expand(struct interp *ip, const char *s, size_t len, struct sbuf *out, int depth);

/* The '}' closing the ${ at s[0..1], counting nested ${ }; len if none. */
static size_t closing_brace(const char *s, size_t len)
{
        int nest = 0;

        for (size_t j = 2; j < len; j++) {
                if (s[j] == '$' && j + 1 < len && s[j + 1] == '$') {
                        j++;
                } else if (s[j] == '$' && j + 1 < len && s[j + 1] == '{') {
                        nest++;
                        j++;
                } else if (s[j] == '}') {
                        if (nest == 0)
                                return j;
                        nest--;
                }
        }
        return len;
}

static int braced(struct interp *ip, const char *in, size_t len, struct sbuf *out, int depth)
{
        size_t n = 0;
        char name[256];
        const char *val, *rest;
        size_t rlen;
        bool colon = false;
        char op = 0;

        while (n < len && name_char(in[n]))
                n++;
        if (n == 0 || !name_start(in[0]) || n >= sizeof(name))
                return invalid(ip, in, len);
        memcpy(name, in, n);
        name[n] = '\0';
        val = cmp_env_get(ip->env, name);
        if (n < len && in[n] == ':') {
                colon = true;
                n++;
        }
        if (n < len)
                op = in[n++];
        if ((colon && !op) || (op && op != '-' && op != '?' && op != '+'))
                return invalid(ip, in, len);
        rest = in + n;
        rlen = len - n;
        bool unset = !val || (colon && !*val);
        switch (op) {
        case 0:
                if (!val)
                        cmp_warn(ip->a, ip->w,
                                 "the \"%s\" variable is not set; defaulting to a blank string",
                                 name);
                sb_add(out, val ? val : "", val ? strlen(val) : 0);
                return 0;
        case '-':
                if (unset)
                        return expand(ip, rest, rlen, out, depth + 1);
                sb_add(out, val, strlen(val));
                return 0;
        case '+':
                return unset ? 0 : expand(ip, rest, rlen, out, depth + 1);
        default: { /* '?' */
                struct sbuf msg = {0};

                if (!unset) {
                        sb_add(out, val, strlen(val));
                        return 0;
                }
                if (expand(ip, rest, rlen, &msg, depth + 1) < 0) {
                        free(msg.p);
                        return -1;
                }
                err_set(ip->err, EINVAL, "%s: required variable %s is missing a value%s%s",
                        ip->what, name, msg.len ? ": " : "", msg.len ? msg.p : "");
                free(msg.p);
                return -1;
        }
        }
}

static int expand(struct interp *ip, const char *s, size_t len, struct sbuf *out, int depth)
{
        size_t i = 0;

        if (depth > NEST_MAX)
                return err_set(ip->err, EINVAL, "%s: interpolation nested too deep", ip->what);
        while (i < len) {
                size_t start = i;

                while (i < len && s[i] != '$')
                        i++;
                sb_add(out, s + start, i - start);
                if (i == len)
                        break;
                if (i + 1 == len)
                        return invalid(ip, s, len);
                if (s[i + 1] == '$') {
                        sb_add(out, "$", 1);
                        i += 2;
                } else if (s[i + 1] == '{') {
                        size_t end = closing_brace(s + i, len - i);

                        if (end == len - i)
                                return invalid(ip, s, len);
                        if (braced(ip, s + i + 2, end - 2, out, depth) < 0)
                                return -1;
                        i += end + 1;
                } else if (name_start(s[i + 1])) {
                        char name[256];
                        size_t n = 0;
                        const char *val;

                        i++;
                        while (i < len && name_char(s[i]) && n < sizeof(name) - 1)
                                name[n++] = s[i++];
                        name[n] = '\0';
                        val = cmp_env_get(ip->env, name);
                        if (!val)
                                cmp_warn(ip->a, ip->w,
                                         "the \"%s\" variable is not set; defaulting to a blank "
                                         "string",
                                         name);
                        sb_add(out, val ? val : "", val ? strlen(val) : 0);
                } else {
                        return invalid(ip, s, len);
                }
                if (out->over)
                        return err_set(ip->err, E2BIG, "%s: interpolated value too long", ip->what);
        }
        if (out->over)
                return err_set(ip->err, E2BIG, "%s: interpolated value too long", ip->what);
        return 0;
}

int cmp_interpolate(struct cmp_arena *a, const struct cmp_env *env, struct cmp_warns *w,
                    const char *s, size_t len, char **out, const char *what, struct isola_err *err)
{
        struct interp ip = {.a = a, .env = env, .w = w, .what = what, .err = err};
        struct sbuf b = {0};

        if (!memchr(s, '$', len)) {
                *out = cmp_strndup(a, s, len);
                return *out ? 0 : err_set(err, ENOMEM, "%s: out of memory", what);
        }
        if (expand(&ip, s, len, &b, 0) < 0) {
                free(b.p);
                return -1;
        }
        *out = cmp_strndup(a, b.p ? b.p : "", b.len);
        free(b.p);
        return *out ? 0 : err_set(err, ENOMEM, "%s: out of memory", what);
}

static int interp_node(struct cmp_arena *a, const struct cmp_env *env, struct cmp_warns *w,
                       struct cmp_node *n, struct cmp_path *path, struct isola_err *err)
{
        if (n->kind == CMP_SCALAR) {
                char *s;

                if (!memchr(n->str, '$', n->len))
                        return 0;
                if (cmp_interpolate(a, env, w, n->str, n->len, &s, path->len ? path->buf : "(top)",
                                    err) < 0) {
                        if (n->file)
                                err_prefix(err, "%s:%u:%u", n->file, n->line, n->col);
                        return -1;
                }
                n->str = s;
                n->len = strlen(s);
                /* a value that came from a variable is a string, even "" or "null" */
                n->plain = false;
                return 0;
        }
        for (size_t i = 0; i < (n->kind == CMP_MAP ? cmp_map_len(n) : n->n); i++) {
                struct cmp_node *kid = n->kind == CMP_MAP ? cmp_map_val(n, i) : n->kids[i];
                size_t old = n->kind == CMP_MAP ? cmp_path_key(path, cmp_map_key(n, i)->str)
                                                : cmp_path_idx(path, i);
                int rc = interp_node(a, env, w, kid, path, err);

                cmp_path_pop(path, old);
                if (rc < 0)
                        return -1;
        }
        return 0;
}

int cmp_interpolate_tree(struct cmp_arena *a, const struct cmp_env *env, struct cmp_warns *w,
                         struct cmp_node *root, struct isola_err *err)
{
        struct cmp_path path = {0};

        return interp_node(a, env, w, root, &path, err);
}
