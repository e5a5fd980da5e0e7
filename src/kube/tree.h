/* The untyped tree of a manifest file (kube_yaml_load) and the arena that
 * holds it and the typed model. Internal to src/kube. */
#ifndef ISOLA_KUBE_TREE_H
#define ISOLA_KUBE_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "kube/kube.h"

struct kube_chunk;

struct kube_arena {
        struct kube_chunk *head;
        size_t total;
};

void *kube_alloc(struct kube_arena *a, size_t n); /* zeroed; NULL past KUBE_ARENA_MAX */
char *kube_strndup(struct kube_arena *a, const char *s, size_t n);
void kube_arena_free(struct kube_arena *a);

enum kube_kind { KUBE_SCALAR, KUBE_SEQ, KUBE_MAP };

struct kube_node {
        enum kube_kind kind;
        bool plain; /* plain scalar: may read as null, bool or number */
        bool done;  /* fully read (an alias to an open node is recursive) */
        unsigned line, col;
        size_t weight; /* nodes below, aliases counted per use */
        char *str;     /* scalar text */
        size_t len;
        struct kube_node **kids; /* map: key, value, key, value, ... */
        size_t n, cap;
};

/* The documents of a file: roots[i] is NULL for an empty document. */
struct kube_docs {
        struct kube_node **roots;
        size_t n;
};

int kube_yaml_load(struct kube_arena *a, const char *file, const char *data, size_t len,
                   struct kube_docs *out, struct isola_err *err);

struct kube_node *kube_map_get(const struct kube_node *m, const char *key);
bool kube_is_null(const struct kube_node *n);

#endif
