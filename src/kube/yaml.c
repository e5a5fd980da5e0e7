/* libyaml events -> kube tree, every document of a file. Hostile input is
 * bounded: file size, nesting depth, documents, arena bytes, and the node
 * weight (aliases share the anchored node but count its whole subtree per
 * use, so "billion laughs" stops at KUBE_NODES_MAX before anyone walks it). */
#include "kube/tree.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define ANCHORS_MAX 1000
#define CHUNK_SIZE  (64u << 10)

struct kube_chunk {
        struct kube_chunk *next;
        size_t used, size;
        max_align_t data[];
};

void *kube_alloc(struct kube_arena *a, size_t n)
{
        struct kube_chunk *c = a->head;
        size_t al = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
        void *p;

        if (n > KUBE_ARENA_MAX || a->total + al > KUBE_ARENA_MAX)
                return NULL;
        if (!c || c->size - c->used < al) {
                size_t size = al > CHUNK_SIZE ? al : CHUNK_SIZE;

                c = calloc(1, sizeof(*c) + size);
                if (!c)
                        return NULL;
                c->size = size;
                c->next = a->head;
                a->head = c;
        }
        p = (char *)c->data + c->used;
        c->used += al;
        a->total += al;
        return p;
}

char *kube_strndup(struct kube_arena *a, const char *s, size_t n)
{
        char *p = kube_alloc(a, n + 1);

        if (p) {
                memcpy(p, s, n);
                p[n] = '\0';
        }
        return p;
}

void kube_arena_free(struct kube_arena *a)
{
        while (a->head) {
                struct kube_chunk *c = a->head;

                a->head = c->next;
                free(c);
        }
        a->total = 0;
}

struct kube_node *kube_map_get(const struct kube_node *m, const char *key)
{
        if (!m || m->kind != KUBE_MAP)
                return NULL;
        for (size_t i = 0; i + 1 < m->n; i += 2)
                if (m->kids[i]->kind == KUBE_SCALAR && !strcmp(m->kids[i]->str, key))
                        return m->kids[i + 1];
        return NULL;
}

bool kube_is_null(const struct kube_node *n)
{
        return !n || (n->kind == KUBE_SCALAR && n->plain &&
                      (!n->len || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
                       !strcmp(n->str, "Null") || !strcmp(n->str, "NULL")));
}

struct anchor {
        const char *name;
        struct kube_node *node;
};

struct loader {
        struct kube_arena *a;
        const char *file;
        struct isola_err *err;
        struct kube_node *stack[KUBE_DEPTH_MAX + 1];
        size_t depth;
        struct anchor anchors[ANCHORS_MAX];
        size_t n_anchors;
        size_t weight; /* of the file so far */
        struct kube_docs *docs;
};

static int fail_at(struct loader *l, const yaml_mark_t *m, const char *msg)
{
        return err_set(l->err, EINVAL, "%s:%zu:%zu: %s", l->file, m->line + 1, m->column + 1, msg);
}

static int too_big(struct loader *l, const yaml_mark_t *m)
{
        return fail_at(l, m, "manifest too large (nodes, aliases expanded, or bytes)");
}

static int push_kid(struct loader *l, struct kube_node *parent, struct kube_node *kid,
                    const yaml_mark_t *m)
{
        if (parent->n == parent->cap) {
                size_t cap = parent->cap ? parent->cap * 2 : 8;
                struct kube_node **v = kube_alloc(l->a, cap * sizeof(struct kube_node *));

                if (!v)
                        return too_big(l, m);
                if (parent->n)
                        memcpy(v, parent->kids, parent->n * sizeof(struct kube_node *));
                parent->kids = v;
                parent->cap = cap;
        }
        parent->kids[parent->n++] = kid;
        return 0;
}

/* Adds a finished or new node to its parent (or as the document root). */
static int attach(struct loader *l, struct kube_node *n, const yaml_mark_t *m)
{
        if (!l->depth) {
                if (l->docs->n && l->docs->roots[l->docs->n - 1])
                        return fail_at(l, m, "two roots in one document");
                l->docs->roots[l->docs->n - 1] = n;
                return 0;
        }
        return push_kid(l, l->stack[l->depth - 1], n, m);
}

static int add_anchor(struct loader *l, const yaml_mark_t *m, const yaml_char_t *name,
                      struct kube_node *n)
{
        struct anchor *an;

        if (!name)
                return 0;
        if (l->n_anchors == ANCHORS_MAX)
                return fail_at(l, m, "too many anchors");
        an = &l->anchors[l->n_anchors++];
        an->name = kube_strndup(l->a, (const char *)name, strlen((const char *)name));
        an->node = n;
        return an->name ? 0 : too_big(l, m);
}

static struct kube_node *new_node(struct loader *l, enum kube_kind kind, const yaml_mark_t *m)
{
        struct kube_node *n;

        if (++l->weight > KUBE_NODES_MAX)
                return NULL;
        n = kube_alloc(l->a, sizeof(*n));
        if (n) {
                n->kind = kind;
                n->line = (unsigned)m->line + 1;
                n->col = (unsigned)m->column + 1;
                n->weight = 1;
        }
        return n;
}

static int on_scalar(struct loader *l, const yaml_event_t *e)
{
        struct kube_node *n = new_node(l, KUBE_SCALAR, &e->start_mark);

        if (!n)
                return too_big(l, &e->start_mark);
        n->str = kube_strndup(l->a, (const char *)e->data.scalar.value, e->data.scalar.length);
        if (!n->str)
                return too_big(l, &e->start_mark);
        if (memchr(n->str, '\0', e->data.scalar.length))
                return fail_at(l, &e->start_mark, "NUL byte in a string");
        n->len = e->data.scalar.length;
        n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->done = true;
        if (add_anchor(l, &e->start_mark, e->data.scalar.anchor, n) < 0)
                return -1;
        return attach(l, n, &e->start_mark);
}

static int on_alias(struct loader *l, const yaml_event_t *e)
{
        const char *name = (const char *)e->data.alias.anchor;

        for (size_t i = l->n_anchors; i-- > 0;) {
                struct kube_node *n = l->anchors[i].node;

                if (strcmp(l->anchors[i].name, name) != 0)
                        continue;
                if (!n->done)
                        return fail_at(l, &e->start_mark, "recursive alias");
                l->weight += n->weight;
                if (l->weight > KUBE_NODES_MAX)
                        return too_big(l, &e->start_mark);
                return attach(l, n, &e->start_mark);
        }
        return fail_at(l, &e->start_mark, "alias to an unknown anchor");
}

static int on_open(struct loader *l, const yaml_event_t *e, enum kube_kind kind)
{
        const yaml_char_t *anchor =
            kind == KUBE_MAP ? e->data.mapping_start.anchor : e->data.sequence_start.anchor;
        struct kube_node *n;

        if (l->depth == KUBE_DEPTH_MAX)
                return fail_at(l, &e->start_mark, "nesting too deep");
        n = new_node(l, kind, &e->start_mark);
        if (!n)
                return too_big(l, &e->start_mark);
        if (add_anchor(l, &e->start_mark, anchor, n) < 0 || attach(l, n, &e->start_mark) < 0)
                return -1;
        l->stack[l->depth++] = n;
        return 0;
}

static int on_close(struct loader *l, const yaml_event_t *e)
{
        struct kube_node *n = l->stack[--l->depth];

        if (n->kind == KUBE_MAP) {
                if (n->n % 2)
                        return fail_at(l, &e->start_mark, "mapping key without a value");
                for (size_t i = 0; i < n->n; i += 2) {
                        if (n->kids[i]->kind != KUBE_SCALAR)
                                return fail_at(l, &e->start_mark, "a mapping key is not a string");
                        for (size_t j = 0; j < i; j += 2)
                                if (!strcmp(n->kids[i]->str, n->kids[j]->str))
                                        return err_set(
                                            l->err, EINVAL, "%s:%u:%u: duplicate key '%s'", l->file,
                                            n->kids[i]->line, n->kids[i]->col, n->kids[i]->str);
                }
        }
        for (size_t i = 0; i < n->n; i++)
                n->weight += n->kids[i]->weight;
        n->done = true;
        return 0;
}

static int on_doc_start(struct loader *l, const yaml_event_t *e)
{
        struct kube_node **v;

        if (l->docs->n == KUBE_DOCS_MAX)
                return fail_at(l, &e->start_mark, "too many documents");
        v = kube_alloc(l->a, (l->docs->n + 1) * sizeof(struct kube_node *));
        if (!v)
                return too_big(l, &e->start_mark);
        if (l->docs->n)
                memcpy(v, l->docs->roots, l->docs->n * sizeof(struct kube_node *));
        l->docs->roots = v;
        l->docs->roots[l->docs->n++] = NULL;
        return 0;
}

static int on_event(struct loader *l, const yaml_event_t *e)
{
        switch (e->type) {
        case YAML_DOCUMENT_START_EVENT:
                return on_doc_start(l, e);
        case YAML_SCALAR_EVENT:
                return on_scalar(l, e);
        case YAML_ALIAS_EVENT:
                return on_alias(l, e);
        case YAML_SEQUENCE_START_EVENT:
                return on_open(l, e, KUBE_SEQ);
        case YAML_MAPPING_START_EVENT:
                return on_open(l, e, KUBE_MAP);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                return on_close(l, e);
        case YAML_DOCUMENT_END_EVENT:
                l->n_anchors = 0; /* anchors are per document */
                return 0;
        default:
                return 0;
        }
}

int kube_yaml_load(struct kube_arena *a, const char *file, const char *data, size_t len,
                   struct kube_docs *out, struct isola_err *err)
{
        struct loader *l;
        yaml_parser_t p;
        int rc = 0;
        bool end = false;

        memset(out, 0, sizeof(*out));
        if (len > KUBE_FILE_MAX)
                return err_set(err, EFBIG, "%s: larger than %u bytes", file, KUBE_FILE_MAX);
        l = calloc(1, sizeof(*l));
        if (!l)
                return err_set(err, ENOMEM, "out of memory");
        l->a = a;
        l->file = file;
        l->err = err;
        l->docs = out;
        if (!yaml_parser_initialize(&p)) {
                free(l);
                return err_set(err, ENOMEM, "out of memory");
        }
        yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
        while (!end && rc == 0) {
                yaml_event_t e;

                if (!yaml_parser_parse(&p, &e)) {
                        rc = err_set(err, EINVAL, "%s:%zu:%zu: %s", file, p.problem_mark.line + 1,
                                     p.problem_mark.column + 1,
                                     p.problem ? p.problem : "invalid YAML");
                        break;
                }
                end = e.type == YAML_STREAM_END_EVENT;
                rc = on_event(l, &e);
                yaml_event_delete(&e);
        }
        yaml_parser_delete(&p);
        free(l);
        return rc;
}
