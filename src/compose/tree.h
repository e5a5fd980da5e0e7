/* The untyped compose tree: what libyaml read, with file/line/column per node,
 * before interpolation, normalisation, merging and binding to typed structs.
 * Every node and string lives in one arena per project, freed at once; the
 * arena is bounded, which also bounds anchors/aliases ("billion laughs"). */
#ifndef ISOLA_COMPOSE_TREE_H
#define ISOLA_COMPOSE_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* Hostile-input bounds (a real compose file is a few KiB and a few hundred nodes). */
#define CMP_FILE_MAX       (4u << 20) /* bytes per compose or env file */
#define CMP_ARENA_MAX      (64u << 20)
#define CMP_NODES_MAX      200000 /* per project, aliases counted as copies */
#define CMP_DEPTH_MAX      64
#define CMP_SCALAR_MAX     (1u << 20) /* after interpolation */
#define CMP_FILES_MAX      64         /* -f files plus files reached by extends */
#define CMP_EXTENDS_DEPTH  16
#define CMP_PATH_MAX_CHARS 512

struct cmp_chunk;

struct cmp_arena {
        struct cmp_chunk *head;
        size_t total; /* bytes handed out */
        size_t nodes; /* cmp_node count */
};

void *cmp_alloc(struct cmp_arena *a, size_t n); /* zeroed; NULL past CMP_ARENA_MAX */
char *cmp_strndup(struct cmp_arena *a, const char *s, size_t n);
char *cmp_strdup(struct cmp_arena *a, const char *s);
char *cmp_printf(struct cmp_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cmp_arena_free(struct cmp_arena *a);

enum cmp_kind { CMP_SCALAR, CMP_SEQ, CMP_MAP };
/* Compose's merge tags: `!reset` drops the base value, `!override` replaces it. */
enum cmp_tag { CMP_TAG_NONE, CMP_TAG_RESET, CMP_TAG_OVERRIDE };

struct cmp_node {
        enum cmp_kind kind;
        enum cmp_tag tag;
        bool plain;       /* plain scalar: may read as null, bool or number */
        const char *file; /* arena string shared by the nodes of one file */
        unsigned line, col;
        unsigned height; /* longest path below this node, for depth bounds */
        char *str;       /* scalar text, NUL-terminated */
        size_t len;
        struct cmp_node **kids; /* seq: items; map: key, value, key, value, ... */
        size_t n, cap;          /* entries in kids */
};

struct cmp_node *cmp_node_new(struct cmp_arena *a, enum cmp_kind kind, const char *file,
                              unsigned line, unsigned col);
struct cmp_node *cmp_scalar_new(struct cmp_arena *a, const char *s, const struct cmp_node *where);
/* Deep copy, counted against CMP_NODES_MAX; NULL when out of budget. */
struct cmp_node *cmp_node_copy(struct cmp_arena *a, const struct cmp_node *n);
int cmp_push(struct cmp_arena *a, struct cmp_node *parent, struct cmp_node *kid);

static inline size_t cmp_map_len(const struct cmp_node *m)
{
        return m->n / 2;
}
static inline struct cmp_node *cmp_map_key(const struct cmp_node *m, size_t i)
{
        return m->kids[2 * i];
}
static inline struct cmp_node *cmp_map_val(const struct cmp_node *m, size_t i)
{
        return m->kids[2 * i + 1];
}
/* Value for key, NULL when absent (m must be a map). */
struct cmp_node *cmp_map_get(const struct cmp_node *m, const char *key);
/* Replaces or appends key: val. */
int cmp_map_set(struct cmp_arena *a, struct cmp_node *m, const char *key, struct cmp_node *val);
void cmp_map_del(struct cmp_node *m, const char *key);

/* A plain scalar YAML reads as null: empty, ~, null, Null, NULL. */
bool cmp_is_null(const struct cmp_node *n);
const char *cmp_kind_name(const struct cmp_node *n);

/* Dotted path into the model for messages: services.web.ports[0]. */
struct cmp_path {
        char buf[CMP_PATH_MAX_CHARS];
        size_t len;
};
size_t cmp_path_key(struct cmp_path *p, const char *key); /* returns the length to restore */
size_t cmp_path_idx(struct cmp_path *p, size_t i);
static inline void cmp_path_pop(struct cmp_path *p, size_t len)
{
        p->len = len;
        p->buf[len] = '\0';
}

/* Records "file:line:col: path: message" in err; returns -1. */
int cmp_fail(struct isola_err *err, const struct cmp_node *at, const struct cmp_path *path,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
