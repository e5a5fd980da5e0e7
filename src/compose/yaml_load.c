/* libyaml events → compose tree (tree.h). Anchors are copied where aliased,
 * counted against the node budget (so "billion laughs" files stop at
 * CMP_NODES_MAX), merge keys (<<) are applied when their mapping ends, and
 * Compose's !reset / !override tags are kept on the node for the merger. */
#include "compose/yaml_load.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#define ANCHORS_MAX 1000
#define MAP_MAX     10000 /* entries per mapping; duplicate checks are linear */

struct anchor {
        const char *name;
        struct cmp_node *node;
        bool done; /* an alias to an unfinished node would be recursive */
};

struct frame {
        struct cmp_node *node;
        struct cmp_node *pending_key; /* map: key read, value not yet */
        struct cmp_node *merges;      /* map: values of << keys, as a sequence */
        struct anchor *anchor;        /* set done when the node ends */
};

struct loader {
        struct cmp_arena *a;
        const char *file;
        struct isola_err *err;
        struct frame stack[CMP_DEPTH_MAX + 1];
        size_t depth;
        struct anchor anchors[ANCHORS_MAX];
        size_t n_anchors;
        struct cmp_node *root;
        int docs;
};

static int fail_at(struct loader *l, const yaml_mark_t *m, const char *msg)
{
        return err_set(l->err, EINVAL, "%s:%zu:%zu: %s", l->file, m->line + 1, m->column + 1, msg);
}

static int oom(struct loader *l, const yaml_mark_t *m)
{
        return fail_at(l, m,
                       "file too large: too many nodes (anchors and aliases count once per use)");
}

static struct anchor *anchor_find(struct loader *l, const char *name)
{
        for (size_t i = l->n_anchors; i-- > 0;) /* the latest definition wins */
                if (!strcmp(l->anchors[i].name, name))
                        return &l->anchors[i];
        return NULL;
}

static int anchor_add(struct loader *l, const yaml_mark_t *m, const yaml_char_t *name,
                      struct cmp_node *node, bool done, struct anchor **out)
{
        struct anchor *an;

        if (!name) {
                if (out)
                        *out = NULL;
                return 0;
        }
        if (l->n_anchors == ANCHORS_MAX)
                return fail_at(l, m, "too many anchors");
        an = &l->anchors[l->n_anchors++];
        an->name = cmp_strdup(l->a, (const char *)name);
        if (!an->name)
                return oom(l, m);
        an->node = node;
        an->done = done;
        if (out)
                *out = an;
        return 0;
}

static bool map_has(const struct cmp_node *m, const char *key)
{
        return cmp_map_get(m, key) != NULL;
}

/* Adds a finished node to the collection on top of the stack (or as root). */
static int attach(struct loader *l, const yaml_mark_t *m, struct cmp_node *n)
{
        struct frame *f;

        if (l->depth == 0) {
                l->root = n;
                return 0;
        }
        f = &l->stack[l->depth - 1];
        if (l->depth + n->height > CMP_DEPTH_MAX)
                return fail_at(l, m, "nesting too deep");
        if (f->node->kind == CMP_SEQ)
                return cmp_push(l->a, f->node, n) < 0 ? oom(l, m) : 0;
        if (!f->pending_key) {
                if (n->kind != CMP_SCALAR)
                        return fail_at(l, m, "mapping keys must be scalars");
                if (n->plain && !strcmp(n->str, "<<")) {
                        f->pending_key = n; /* value goes to merges */
                        return 0;
                }
                if (map_has(f->node, n->str)) {
                        char msg[200];

                        snprintf(msg, sizeof(msg), "mapping key \"%.100s\" already defined",
                                 n->str);
                        return fail_at(l, m, msg);
                }
                if (f->node->n / 2 >= MAP_MAX)
                        return fail_at(l, m, "mapping has too many keys");
                f->pending_key = n;
                return cmp_push(l->a, f->node, n) < 0 ? oom(l, m) : 0;
        }
        if (f->pending_key->plain && !strcmp(f->pending_key->str, "<<") && f->node->n % 2 == 0) {
                f->pending_key = NULL;
                if (!f->merges) {
                        f->merges = cmp_node_new(l->a, CMP_SEQ, l->file, 0, 0);
                        if (!f->merges)
                                return oom(l, m);
                }
                if (n->kind == CMP_SEQ) {
                        for (size_t i = 0; i < n->n; i++)
                                if (cmp_push(l->a, f->merges, n->kids[i]) < 0)
                                        return oom(l, m);
                        return 0;
                }
                return cmp_push(l->a, f->merges, n) < 0 ? oom(l, m) : 0;
        }
        f->pending_key = NULL;
        return cmp_push(l->a, f->node, n) < 0 ? oom(l, m) : 0;
}

/* << sources: explicit keys win, then earlier sources over later ones. */
static int apply_merges(struct loader *l, const yaml_mark_t *m, struct frame *f)
{
        for (size_t i = 0; f->merges && i < f->merges->n; i++) {
                struct cmp_node *src = f->merges->kids[i];

                if (src->kind != CMP_MAP)
                        return fail_at(l, m, "merge key << needs a mapping or a list of mappings");
                for (size_t k = 0; k < cmp_map_len(src); k++) {
                        struct cmp_node *key = cmp_map_key(src, k);

                        if (map_has(f->node, key->str))
                                continue;
                        if (f->node->n / 2 >= MAP_MAX)
                                return fail_at(l, m, "mapping has too many keys");
                        if (cmp_push(l->a, f->node, key) < 0 ||
                            cmp_push(l->a, f->node, cmp_map_val(src, k)) < 0)
                                return oom(l, m);
                }
        }
        return 0;
}

static int tag_of(struct loader *l, const yaml_mark_t *m, const yaml_char_t *tag, enum cmp_tag *out,
                  bool *plain_ok)
{
        *out = CMP_TAG_NONE;
        *plain_ok = true;
        if (!tag)
                return 0;
        if (!strcmp((const char *)tag, "!reset"))
                *out = CMP_TAG_RESET;
        else if (!strcmp((const char *)tag, "!override"))
                *out = CMP_TAG_OVERRIDE;
        else if (!strcmp((const char *)tag, YAML_STR_TAG))
                *plain_ok = false;
        else if (strncmp((const char *)tag, "tag:yaml.org,2002:", 18) != 0) {
                char msg[200];

                snprintf(msg, sizeof(msg), "unsupported tag %.100s", (const char *)tag);
                return fail_at(l, m, msg);
        }
        return 0;
}

static int on_scalar(struct loader *l, yaml_event_t *ev)
{
        const yaml_mark_t *m = &ev->start_mark;
        struct cmp_node *n;
        enum cmp_tag tag;
        bool plain_ok;

        if (tag_of(l, m, ev->data.scalar.tag, &tag, &plain_ok) < 0)
                return -1;
        n = cmp_node_new(l->a, CMP_SCALAR, l->file, (unsigned)m->line + 1, (unsigned)m->column + 1);
        if (!n)
                return oom(l, m);
        n->tag = tag;
        n->plain = plain_ok && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->len = ev->data.scalar.length;
        n->str = cmp_strndup(l->a, (const char *)ev->data.scalar.value, n->len);
        if (!n->str)
                return oom(l, m);
        if (strlen(n->str) != n->len)
                return fail_at(l, m, "NUL character in a string");
        if (anchor_add(l, m, ev->data.scalar.anchor, n, true, NULL) < 0)
                return -1;
        return attach(l, m, n);
}

static int on_start(struct loader *l, yaml_event_t *ev, enum cmp_kind kind)
{
        const yaml_mark_t *m = &ev->start_mark;
        const yaml_char_t *anchor, *tagstr;
        struct frame *f;
        enum cmp_tag tag;
        bool plain_ok;
        struct cmp_node *n;

        if (kind == CMP_SEQ) {
                anchor = ev->data.sequence_start.anchor;
                tagstr = ev->data.sequence_start.tag;
        } else {
                anchor = ev->data.mapping_start.anchor;
                tagstr = ev->data.mapping_start.tag;
        }
        if (l->depth >= CMP_DEPTH_MAX)
                return fail_at(l, m, "nesting too deep");
        if (tag_of(l, m, tagstr, &tag, &plain_ok) < 0)
                return -1;
        n = cmp_node_new(l->a, kind, l->file, (unsigned)m->line + 1, (unsigned)m->column + 1);
        if (!n)
                return oom(l, m);
        n->tag = tag;
        f = &l->stack[l->depth++];
        memset(f, 0, sizeof(*f));
        f->node = n;
        return anchor_add(l, m, anchor, n, false, &f->anchor);
}

static int on_end(struct loader *l, yaml_event_t *ev)
{
        const yaml_mark_t *m = &ev->start_mark;
        struct frame f = l->stack[--l->depth];

        if (f.node->kind == CMP_MAP && apply_merges(l, m, &f) < 0)
                return -1;
        if (f.anchor)
                f.anchor->done = true;
        return attach(l, m, f.node);
}

static int on_alias(struct loader *l, yaml_event_t *ev)
{
        const yaml_mark_t *m = &ev->start_mark;
        struct anchor *an = anchor_find(l, (const char *)ev->data.alias.anchor);
        struct cmp_node *copy;

        if (!an)
                return fail_at(l, m, "alias to an undefined anchor");
        if (!an->done)
                return fail_at(l, m, "alias to an anchor that contains it (recursive)");
        if (l->depth + an->node->height > CMP_DEPTH_MAX)
                return fail_at(l, m, "nesting too deep");
        copy = cmp_node_copy(l->a, an->node);
        if (!copy)
                return oom(l, m);
        return attach(l, m, copy);
}

static int on_event(struct loader *l, yaml_event_t *ev)
{
        switch (ev->type) {
        case YAML_DOCUMENT_START_EVENT:
                if (++l->docs > 1)
                        return fail_at(l, &ev->start_mark,
                                       "several YAML documents in one file are not supported");
                return 0;
        case YAML_SCALAR_EVENT:
                return on_scalar(l, ev);
        case YAML_SEQUENCE_START_EVENT:
                return on_start(l, ev, CMP_SEQ);
        case YAML_MAPPING_START_EVENT:
                return on_start(l, ev, CMP_MAP);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                return on_end(l, ev);
        case YAML_ALIAS_EVENT:
                return on_alias(l, ev);
        default:
                return 0;
        }
}

int cmp_yaml_load(struct cmp_arena *a, const char *file, const char *data, size_t len,
                  struct cmp_node **out, struct isola_err *err)
{
        yaml_parser_t parser;
        struct loader *l;
        int rc = 0;
        bool end = false;

        if (len > CMP_FILE_MAX)
                return err_set(err, EFBIG, "%s: file too large (over %u bytes)", file,
                               CMP_FILE_MAX);
        /* ~40 KiB of stack and anchors: on the heap (the arena). */
        l = cmp_alloc(a, sizeof(*l));
        if (!l)
                return err_set(err, ENOMEM, "%s: out of memory", file);
        l->a = a;
        l->file = file;
        l->err = err;
        if (!yaml_parser_initialize(&parser))
                return err_set(err, ENOMEM, "%s: cannot initialise the YAML parser", file);
        yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
        while (!end && rc == 0) {
                yaml_event_t ev;

                if (!yaml_parser_parse(&parser, &ev)) {
                        const yaml_mark_t *m = &parser.problem_mark;

                        rc = err_set(
                            err, EINVAL, "%s:%zu:%zu: %s%s%s", file, m->line + 1, m->column + 1,
                            parser.problem ? parser.problem : "syntax error",
                            parser.context ? " " : "", parser.context ? parser.context : "");
                        break;
                }
                end = ev.type == YAML_STREAM_END_EVENT;
                rc = on_event(l, &ev);
                yaml_event_delete(&ev);
        }
        yaml_parser_delete(&parser);
        if (rc < 0)
                return -1;
        if (!l->root || cmp_is_null(l->root))
                return err_set(err, EINVAL, "%s: empty compose file", file);
        if (l->root->kind != CMP_MAP)
                return err_set(err, EINVAL, "%s:%u:%u: top level must be a mapping, got %s", file,
                               l->root->line, l->root->col, cmp_kind_name(l->root));
        *out = l->root;
        return 0;
}
