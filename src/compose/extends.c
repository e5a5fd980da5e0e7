/* `extends`: a service starts from another service (same file or another
 * file, itself resolved first) and merges its own keys on top, by the same
 * rules as merging files. Resolved services replace their node in place, so
 * each base is resolved once; cycles are named. */
#include <errno.h>
#include <string.h>

#include "compose/load.h"

struct chain {
        const char *file[CMP_EXTENDS_DEPTH + 1];
        const char *name[CMP_EXTENDS_DEPTH + 1];
        size_t n;
};

static int cycle_error(struct cmp_loader *l, const struct chain *c, const char *file,
                       const char *name)
{
        char buf[ISOLA_ERR_MSG_MAX] = "";
        size_t used = 0;

        for (size_t i = 0; i < c->n && used < sizeof(buf); i++)
                used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s -> ", c->name[i]);
        if (used < sizeof(buf))
                snprintf(buf + used, sizeof(buf) - used, "%s", name);
        return err_set(l->err, ELOOP, "%s: extends cycle: %s", file, buf);
}

static int resolve(struct cmp_loader *l, struct cmp_node *root, const char *file, const char *name,
                   struct chain *c, struct cmp_node **out)
{
        struct cmp_node *svcs = cmp_map_get(root, "services");
        struct cmp_node *svc = cmp_map_get(svcs, name);
        struct cmp_node *ext, *svcname, *fnode, *base_root = root, *base = NULL, *merged;
        const char *base_file = file;

        if (!svc)
                return err_set(l->err, ENOENT, "%s: extends: no service \"%s\"", file, name);
        ext = cmp_map_get(svc, "extends");
        if (!ext || svc->kind != CMP_MAP) {
                *out = svc;
                return 0;
        }
        for (size_t i = 0; i < c->n; i++)
                if (!strcmp(c->name[i], name) && !strcmp(c->file[i], file))
                        return cycle_error(l, c, file, name);
        if (c->n >= CMP_EXTENDS_DEPTH)
                return err_set(l->err, ELOOP, "%s: services.%s: extends nested too deep", file,
                               name);
        c->file[c->n] = file;
        c->name[c->n++] = name;
        svcname = cmp_map_get(ext, "service");
        fnode = cmp_map_get(ext, "file");
        if (ext->kind != CMP_MAP || !svcname || svcname->kind != CMP_SCALAR ||
            (fnode && fnode->kind != CMP_SCALAR))
                return cmp_fail(l->err, ext, NULL,
                                "services.%s.extends: expected a service name or "
                                "{service, file}",
                                name);
        if (fnode) {
                char *dir = cmp_dirname(l->a, fnode->str);

                if (!dir)
                        return cmp_oom(l);
                if (cmp_load_file(l, fnode->str, dir, &base_root) < 0)
                        return err_prefix(l->err, "services.%s.extends", name);
                base_file = fnode->str;
        }
        if (resolve(l, base_root, base_file, svcname->str, c, &base) < 0)
                return -1;
        c->n--;
        merged = base ? cmp_node_copy(l->a, base) : NULL;
        if (!merged)
                return cmp_oom(l);
        cmp_map_del(svc, "extends");
        if (cmp_merge_service(l, merged, svc) < 0)
                return -1;
        merged->file = svc->file;
        merged->line = svc->line;
        merged->col = svc->col;
        if (cmp_map_set(l->a, svcs, name, merged) < 0)
                return cmp_oom(l);
        *out = merged;
        return 0;
}

int cmp_extends_resolve(struct cmp_loader *l, struct cmp_node *root, const char *file)
{
        struct cmp_node *svcs = cmp_map_get(root, "services");

        for (size_t i = 0; svcs && svcs->kind == CMP_MAP && i < cmp_map_len(svcs); i++) {
                struct chain c = {.n = 0};
                struct cmp_node *out;

                if (resolve(l, root, file, cmp_map_key(svcs, i)->str, &c, &out) < 0)
                        return -1;
        }
        return 0;
}
