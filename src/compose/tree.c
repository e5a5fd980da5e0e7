/* The compose tree's arena and node helpers (see tree.h). */
#include "compose/tree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SIZE (64u << 10)

struct cmp_chunk {
        struct cmp_chunk *next;
        size_t used, size;
        _Alignas(16) unsigned char data[];
};

void *cmp_alloc(struct cmp_arena *a, size_t n)
{
        struct cmp_chunk *c = a->head;
        void *p;

        n = (n + 15) & ~(size_t)15;
        if (n > CMP_ARENA_MAX || a->total + n > CMP_ARENA_MAX)
                return NULL;
        if (!c || c->size - c->used < n) {
                size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;

                c = malloc(sizeof(*c) + size);
                if (!c)
                        return NULL;
                c->used = 0;
                c->size = size;
                c->next = a->head;
                a->head = c;
        }
        p = c->data + c->used;
        c->used += n;
        a->total += n;
        memset(p, 0, n);
        return p;
}

char *cmp_strndup(struct cmp_arena *a, const char *s, size_t n)
{
        char *d = cmp_alloc(a, n + 1);

        if (d && n)
                memcpy(d, s, n);
        return d;
}

char *cmp_strdup(struct cmp_arena *a, const char *s)
{
        return cmp_strndup(a, s, strlen(s));
}

char *cmp_printf(struct cmp_arena *a, const char *fmt, ...)
{
        va_list ap;
        char *s;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return NULL;
        s = cmp_alloc(a, (size_t)n + 1);
        if (!s)
                return NULL;
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
        return s;
}

void cmp_arena_free(struct cmp_arena *a)
{
        struct cmp_chunk *c = a->head;

        while (c) {
                struct cmp_chunk *next = c->next;

                free(c);
                c = next;
        }
        a->head = NULL;
        a->total = 0;
        a->nodes = 0;
}

struct cmp_node *cmp_node_new(struct cmp_arena *a, enum cmp_kind kind, const char *file,
                              unsigned line, unsigned col)
{
        struct cmp_node *n;

        if (a->nodes >= CMP_NODES_MAX)
                return NULL;
        n = cmp_alloc(a, sizeof(*n));
        if (!n)
                return NULL;
        a->nodes++;
        n->kind = kind;
        n->file = file;
        n->line = line;
        n->col = col;
        if (kind == CMP_SCALAR) {
                n->str = cmp_alloc(a, 1);
                if (!n->str)
                        return NULL;
        }
        return n;
}

struct cmp_node *cmp_scalar_new(struct cmp_arena *a, const char *s, const struct cmp_node *where)
{
        struct cmp_node *n = cmp_node_new(a, CMP_SCALAR, where ? where->file : NULL,
                                          where ? where->line : 0, where ? where->col : 0);

        if (!n)
                return NULL;
        n->len = strlen(s);
        n->str = cmp_strndup(a, s, n->len);
        return n->str ? n : NULL;
}

int cmp_push(struct cmp_arena *a, struct cmp_node *parent, struct cmp_node *kid)
{
        if (parent->n == parent->cap) {
                size_t cap = parent->cap ? parent->cap * 2 : 8;
                struct cmp_node **kids = cmp_alloc(a, cap * sizeof(struct cmp_node *));

                if (!kids)
                        return -1;
                if (parent->n)
                        memcpy(kids, parent->kids, parent->n * sizeof(struct cmp_node *));
                parent->kids = kids;
                parent->cap = cap;
        }
        parent->kids[parent->n++] = kid;
        if (kid->height + 1 > parent->height)
                parent->height = kid->height + 1;
        return 0;
}

struct cmp_node *cmp_node_copy(struct cmp_arena *a, const struct cmp_node *n)
{
        struct cmp_node *c = cmp_node_new(a, n->kind, n->file, n->line, n->col);

        if (!c)
                return NULL;
        c->tag = n->tag;
        c->plain = n->plain;
        if (n->kind == CMP_SCALAR) {
                c->str = cmp_strndup(a, n->str, n->len);
                c->len = n->len;
                return c->str ? c : NULL;
        }
        for (size_t i = 0; i < n->n; i++) {
                struct cmp_node *k = cmp_node_copy(a, n->kids[i]);

                if (!k || cmp_push(a, c, k) < 0)
                        return NULL;
        }
        return c;
}

struct cmp_node *cmp_map_get(const struct cmp_node *m, const char *key)
{
        if (!m || m->kind != CMP_MAP)
                return NULL;
        for (size_t i = 0; i < cmp_map_len(m); i++)
                if (!strcmp(cmp_map_key(m, i)->str, key))
                        return cmp_map_val(m, i);
        return NULL;
}

int cmp_map_set(struct cmp_arena *a, struct cmp_node *m, const char *key, struct cmp_node *val)
{
        struct cmp_node *k;

        for (size_t i = 0; i < cmp_map_len(m); i++) {
                if (!strcmp(cmp_map_key(m, i)->str, key)) {
                        m->kids[2 * i + 1] = val;
                        if (val->height + 1 > m->height)
                                m->height = val->height + 1;
                        return 0;
                }
        }
        k = cmp_scalar_new(a, key, val);
        if (!k || cmp_push(a, m, k) < 0 || cmp_push(a, m, val) < 0)
                return -1;
        return 0;
}

void cmp_map_del(struct cmp_node *m, const char *key)
{
        for (size_t i = 0; i < cmp_map_len(m); i++) {
                if (!strcmp(cmp_map_key(m, i)->str, key)) {
                        memmove(&m->kids[2 * i], &m->kids[2 * i + 2],
                                (m->n - 2 * i - 2) * sizeof(struct cmp_node *));
                        m->n -= 2;
                        return;
                }
        }
}

bool cmp_is_null(const struct cmp_node *n)
{
        if (!n)
                return true;
        if (n->kind != CMP_SCALAR || !n->plain)
                return false;
        return !strcmp(n->str, "") || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
               !strcmp(n->str, "Null") || !strcmp(n->str, "NULL");
}

const char *cmp_kind_name(const struct cmp_node *n)
{
        if (cmp_is_null(n))
                return "null";
        switch (n->kind) {
        case CMP_SEQ:
                return "a sequence";
        case CMP_MAP:
                return "a mapping";
        default:
                return "a scalar";
        }
}

size_t cmp_path_key(struct cmp_path *p, const char *key)
{
        size_t old = p->len;
        int n = snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "%s%s", p->len ? "." : "", key);

        if (n > 0)
                p->len +=
                    (size_t)n < sizeof(p->buf) - p->len ? (size_t)n : sizeof(p->buf) - p->len - 1;
        return old;
}

size_t cmp_path_idx(struct cmp_path *p, size_t i)
{
        size_t old = p->len;
        int n = snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "[%zu]", i);

        if (n > 0)
                p->len +=
                    (size_t)n < sizeof(p->buf) - p->len ? (size_t)n : sizeof(p->buf) - p->len - 1;
        return old;
}

int cmp_fail(struct isola_err *err, const struct cmp_node *at, const struct cmp_path *path,
             const char *fmt, ...)
{
        char msg[ISOLA_ERR_MSG_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (at && at->file && at->line)
                return err_set(err, EINVAL, "%s:%u:%u: %s%s%s", at->file, at->line, at->col,
                               path && path->len ? path->buf : "", path && path->len ? ": " : "",
                               msg);
        return err_set(err, EINVAL, "%s%s%s", path && path->len ? path->buf : "",
                       path && path->len ? ": " : "", msg);
}
