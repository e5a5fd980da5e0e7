/* Merging compose files (the Compose Specification's "Merge"): mappings
 * merge key by key, sequences append, scalars are replaced; command,
 * entrypoint and healthcheck.test are replaced; ports, volumes, secrets and
 * configs are unique by their key; !reset removes and !override replaces.
 * Runs on normalised trees (normalize.c), so short and long syntax compare. */
#include <stdio.h>
#include <string.h>

#include "compose/load.h"

static const char *scalar_of(const struct cmp_node *m, const char *key)
{
        const struct cmp_node *v = cmp_map_get(m, key);

        return v && v->kind == CMP_SCALAR ? v->str : "";
}

/* The identity of an entry of a unique-resource list. */
static void unique_key(const char *list, const struct cmp_node *it, char *buf, size_t n)
{
        if (it->kind != CMP_MAP) {
                snprintf(buf, n, "%s", it->kind == CMP_SCALAR ? it->str : "");
                return;
        }
        if (!strcmp(list, "ports"))
                snprintf(buf, n, "%s|%s|%s|%s", scalar_of(it, "host_ip"), scalar_of(it, "target"),
                         scalar_of(it, "published"), scalar_of(it, "protocol"));
        else if (!strcmp(list, "volumes"))
                snprintf(buf, n, "%s", scalar_of(it, "target"));
        else /* secrets, configs: by target, else by source */
                snprintf(buf, n, "%s",
                         *scalar_of(it, "target") ? scalar_of(it, "target")
                                                  : scalar_of(it, "source"));
}

static int merge_unique(struct cmp_loader *l, const char *list, struct cmp_node *base,
                        const struct cmp_node *over)
{
        for (size_t i = 0; i < over->n; i++) {
                char ko[512], kb[512];
                bool replaced = false;

                unique_key(list, over->kids[i], ko, sizeof(ko));
                for (size_t j = 0; j < base->n && !replaced; j++) {
                        unique_key(list, base->kids[j], kb, sizeof(kb));
                        if (!strcmp(ko, kb)) {
                                base->kids[j] = over->kids[i];
                                replaced = true;
                        }
                }
                if (!replaced && cmp_push(l->a, base, over->kids[i]) < 0)
                        return cmp_oom(l);
        }
        return 0;
}

enum rule { GENERIC, REPLACE, UNIQUE, HEALTHCHECK };

static enum rule service_rule(const char *key)
{
        if (!strcmp(key, "command") || !strcmp(key, "entrypoint"))
                return REPLACE;
        if (!strcmp(key, "ports") || !strcmp(key, "volumes") || !strcmp(key, "secrets") ||
            !strcmp(key, "configs"))
                return UNIQUE;
        if (!strcmp(key, "healthcheck"))
                return HEALTHCHECK;
        return GENERIC;
}

static int merge_map(struct cmp_loader *l, struct cmp_node *base, const struct cmp_node *over,
                     enum rule (*rule_of)(const char *), const char *unique_list);

/* Merges over into base's value for key (or sets it). */
static int merge_entry(struct cmp_loader *l, struct cmp_node *base, const char *key,
                       struct cmp_node *ov, enum rule rule)
{
        struct cmp_node *bv = cmp_map_get(base, key);

        if (ov->tag == CMP_TAG_RESET) {
                cmp_map_del(base, key);
                return 0;
        }
        if (!bv || ov->tag == CMP_TAG_OVERRIDE || rule == REPLACE || bv->kind != ov->kind ||
            ov->kind == CMP_SCALAR)
                return cmp_map_set(l->a, base, key, ov) < 0 ? cmp_oom(l) : 0;
        if (ov->kind == CMP_SEQ) {
                if (rule == UNIQUE)
                        return merge_unique(l, key, bv, ov);
                for (size_t i = 0; i < ov->n; i++)
                        if (cmp_push(l->a, bv, ov->kids[i]) < 0)
                                return cmp_oom(l);
                return 0;
        }
        if (rule == HEALTHCHECK) {
                for (size_t i = 0; i < cmp_map_len(ov); i++) {
                        const char *k = cmp_map_key(ov, i)->str;

                        if (merge_entry(l, bv, k, cmp_map_val(ov, i),
                                        !strcmp(k, "test") ? REPLACE : GENERIC) < 0)
                                return -1;
                }
                return 0;
        }
        return merge_map(l, bv, ov, NULL, NULL);
}

static int merge_map(struct cmp_loader *l, struct cmp_node *base, const struct cmp_node *over,
                     enum rule (*rule_of)(const char *), const char *unique_list)
{
        (void)unique_list;
        for (size_t i = 0; i < cmp_map_len(over); i++) {
                const char *k = cmp_map_key(over, i)->str;

                if (merge_entry(l, base, k, cmp_map_val(over, i), rule_of ? rule_of(k) : GENERIC) <
                    0)
                        return -1;
        }
        return 0;
}

int cmp_merge_service(struct cmp_loader *l, struct cmp_node *base, const struct cmp_node *over)
{
        if (base->kind != CMP_MAP || over->kind != CMP_MAP)
                return 0; /* normalize reported non-mapping services */
        return merge_map(l, base, over, service_rule, NULL);
}

int cmp_merge_files(struct cmp_loader *l, struct cmp_node *base, const struct cmp_node *over)
{
        for (size_t i = 0; i < cmp_map_len(over); i++) {
                const char *k = cmp_map_key(over, i)->str;
                struct cmp_node *ov = cmp_map_val(over, i);
                struct cmp_node *bv = cmp_map_get(base, k);

                if (strcmp(k, "services") != 0 || !bv || bv->kind != CMP_MAP ||
                    ov->kind != CMP_MAP || ov->tag != CMP_TAG_NONE) {
                        if (merge_entry(l, base, k, ov, GENERIC) < 0)
                                return -1;
                        continue;
                }
                for (size_t s = 0; s < cmp_map_len(ov); s++) {
                        const char *name = cmp_map_key(ov, s)->str;
                        struct cmp_node *bs = cmp_map_get(bv, name);
                        struct cmp_node *os = cmp_map_val(ov, s);

                        if (!bs || os->tag != CMP_TAG_NONE || bs->kind != CMP_MAP) {
                                if (merge_entry(l, bv, name, os, GENERIC) < 0)
                                        return -1;
                        } else if (cmp_merge_service(l, bs, os) < 0) {
                                return -1;
                        }
                }
        }
        return 0;
}
