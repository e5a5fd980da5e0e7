/* Binding the merged tree to typed structs: the typed readers every key
 * uses (errors name the path and the file position) and the top-level
 * networks, volumes, secrets and configs. Services are in bind_service.c. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "compose/load.h"

int cmp_oom(struct cmp_loader *l)
{
        return err_set(l->err, ENOMEM, "compose model too large (out of memory budget)");
}

void cmp_warn_key(struct cmp_loader *l, const struct cmp_node *key, struct cmp_path *path,
                  const char *why)
{
        cmp_warn(l->a, &l->p->warns, "%s:%u: %s%s%s: %s", key->file ? key->file : "?", key->line,
                 path->buf, path->len ? "." : "", key->str, why);
}

int cmp_want(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path,
             enum cmp_kind kind)
{
        static const char *const names[] = {"a scalar", "a sequence", "a mapping"};

        if (n->kind == kind && !(kind == CMP_SCALAR && cmp_is_null(n)))
                return 0;
        return cmp_fail(l->err, n, path, "expected %s, got %s", names[kind], cmp_kind_name(n));
}

int cmp_get_str(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path,
                const char **out)
{
        if (n->kind != CMP_SCALAR)
                return cmp_fail(l->err, n, path, "expected a string, got %s", cmp_kind_name(n));
        *out = cmp_is_null(n) ? NULL : n->str;
        return 0;
}

int cmp_get_bool(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path, bool *out)
{
        static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes",
                                        "YES",  "on",   "On",   "ON"};
        static const char *const f[] = {"false", "False", "FALSE", "no", "No",
                                        "NO",    "off",   "Off",   "OFF"};

        if (n->kind == CMP_SCALAR) {
                for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                        if (!strcmp(n->str, t[i])) {
                                *out = true;
                                return 0;
                        }
                        if (!strcmp(n->str, f[i])) {
                                *out = false;
                                return 0;
                        }
                }
        }
        if (n->kind == CMP_SCALAR && !cmp_is_null(n))
                return cmp_fail(l->err, n, path, "expected a boolean, got \"%.60s\"", n->str);
        return cmp_fail(l->err, n, path, "expected a boolean, got %s", cmp_kind_name(n));
}

int cmp_get_int(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path, long min,
                long max, long *out)
{
        char *end;
        long v;

        if (n->kind != CMP_SCALAR || cmp_is_null(n))
                return cmp_fail(l->err, n, path, "expected an integer, got %s", cmp_kind_name(n));
        errno = 0;
        v = strtol(n->str, &end, 10);
        if (errno || end == n->str || *end)
                return cmp_fail(l->err, n, path, "expected an integer, got \"%.60s\"", n->str);
        if (v < min || v > max)
                return cmp_fail(l->err, n, path, "%ld is out of range [%ld, %ld]", v, min, max);
        *out = v;
        return 0;
}

int cmp_get_strv(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path, bool one_ok,
                 struct cmp_strv *out)
{
        memset(out, 0, sizeof(*out));
        if (cmp_is_null(n))
                return 0;
        if (n->kind == CMP_SCALAR && one_ok) {
                out->v = cmp_alloc(l->a, sizeof(*out->v));
                if (!out->v)
                        return cmp_oom(l);
                out->v[out->n++] = n->str;
                return 0;
        }
        if (n->kind != CMP_SEQ)
                return cmp_fail(l->err, n, path, "expected a sequence of strings, got %s",
                                cmp_kind_name(n));
        out->v = cmp_alloc(l->a, (n->n + 1) * sizeof(*out->v));
        if (!out->v)
                return cmp_oom(l);
        for (size_t i = 0; i < n->n; i++) {
                size_t old = cmp_path_idx(path, i);
                int rc = cmp_get_str(l, n->kids[i], path, &out->v[out->n]);

                if (rc == 0 && !out->v[out->n])
                        rc = cmp_fail(l->err, n->kids[i], path, "expected a string, got null");
                cmp_path_pop(path, old);
                if (rc < 0)
                        return -1;
                out->n++;
        }
        return 0;
}

int cmp_get_kvs(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path,
                struct cmp_kvs *out)
{
        memset(out, 0, sizeof(*out));
        if (cmp_is_null(n))
                return 0;
        if (n->kind != CMP_MAP)
                return cmp_fail(l->err, n, path, "expected a mapping, got %s", cmp_kind_name(n));
        out->v = cmp_alloc(l->a, (cmp_map_len(n) + 1) * sizeof(*out->v));
        if (!out->v)
                return cmp_oom(l);
        for (size_t i = 0; i < cmp_map_len(n); i++) {
                const struct cmp_node *v = cmp_map_val(n, i);
                size_t old = cmp_path_key(path, cmp_map_key(n, i)->str);

                if (v->kind != CMP_SCALAR) {
                        cmp_fail(l->err, v, path, "expected a string, number or boolean, got %s",
                                 cmp_kind_name(v));
                        cmp_path_pop(path, old);
                        return -1;
                }
                cmp_path_pop(path, old);
                out->v[out->n].key = cmp_map_key(n, i)->str;
                out->v[out->n++].val = cmp_is_null(v) ? NULL : v->str;
        }
        return 0;
}

int cmp_get_duration(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path,
                     int64_t *ms_out)
{
        if (n->kind != CMP_SCALAR || cmp_is_null(n))
                return cmp_fail(l->err, n, path, "expected a duration, got %s", cmp_kind_name(n));
        if (cmp_parse_duration(n->str, ms_out) < 0)
                return cmp_fail(l->err, n, path, "invalid duration \"%.60s\" (e.g. 10s, 1m30s)",
                                n->str);
        return 0;
}

/* Keys of a top-level network/volume definition. */
static int bind_network(struct cmp_loader *l, const char *key, const struct cmp_node *def,
                        struct cmp_network *net, struct cmp_path *path)
{
        net->key = key;
        if (cmp_is_null(def))
                goto name;
        if (cmp_want(l, def, path, CMP_MAP) < 0)
                return -1;
        for (size_t i = 0; i < cmp_map_len(def); i++) {
                const struct cmp_node *k = cmp_map_key(def, i), *v = cmp_map_val(def, i);
                size_t old = cmp_path_key(path, k->str);
                int rc = 0;

                if (!strcmp(k->str, "name"))
                        rc = cmp_get_str(l, v, path, &net->name);
                else if (!strcmp(k->str, "external"))
                        rc = cmp_get_bool(l, v, path, &net->external);
                else if (!strcmp(k->str, "internal"))
                        rc = cmp_get_bool(l, v, path, &net->internal);
                else if (!strcmp(k->str, "driver"))
                        rc = cmp_get_str(l, v, path, &net->driver);
                else if (!strcmp(k->str, "labels"))
                        rc = cmp_get_kvs(l, v, path, &net->labels);
                else if (!strcmp(k->str, "ipam")) {
                        const struct cmp_node *cfg = cmp_map_get(v, "config");
                        const struct cmp_node *c0 =
                            cfg && cfg->kind == CMP_SEQ && cfg->n ? cfg->kids[0] : NULL;
                        const struct cmp_node *sn = cmp_map_get(c0, "subnet");
                        const struct cmp_node *gw = cmp_map_get(c0, "gateway");

                        if (sn)
                                rc = cmp_get_str(l, sn, path, &net->subnet);
                        if (rc == 0 && gw)
                                rc = cmp_get_str(l, gw, path, &net->gateway);
                } else if (strncmp(k->str, "x-", 2) != 0) {
                        cmp_path_pop(path, old);
                        cmp_warn_key(l, k, path, "unknown key, ignored");
                        continue;
                }
                cmp_path_pop(path, old);
                if (rc < 0)
                        return -1;
        }
        if (net->driver && strcmp(net->driver, "bridge") != 0)
                return cmp_fail(l->err, def, path, "driver \"%s\" is not supported (bridge only)",
                                net->driver);
name:
        if (!net->name)
                net->name = net->external ? key : cmp_printf(l->a, "%s_%s", l->p->name, key);
        return net->name ? 0 : cmp_oom(l);
}

static int bind_volume(struct cmp_loader *l, const char *key, const struct cmp_node *def,
                       struct cmp_volume *vol, struct cmp_path *path)
{
        vol->key = key;
        if (!cmp_is_null(def)) {
                if (cmp_want(l, def, path, CMP_MAP) < 0)
                        return -1;
                for (size_t i = 0; i < cmp_map_len(def); i++) {
                        const struct cmp_node *k = cmp_map_key(def, i), *v = cmp_map_val(def, i);
                        size_t old = cmp_path_key(path, k->str);
                        int rc = 0;

                        if (!strcmp(k->str, "name"))
                                rc = cmp_get_str(l, v, path, &vol->name);
                        else if (!strcmp(k->str, "external"))
                                rc = cmp_get_bool(l, v, path, &vol->external);
                        else if (!strcmp(k->str, "driver"))
                                rc = cmp_get_str(l, v, path, &vol->driver);
                        else if (!strcmp(k->str, "labels"))
                                rc = cmp_get_kvs(l, v, path, &vol->labels);
                        else if (strncmp(k->str, "x-", 2) != 0) {
                                cmp_path_pop(path, old);
                                cmp_warn_key(l, k, path, "unknown key, ignored");
                                continue;
                        }
                        cmp_path_pop(path, old);
                        if (rc < 0)
                                return -1;
                }
        }
        if (vol->driver && strcmp(vol->driver, "local") != 0)
                return cmp_fail(l->err, def, path, "driver \"%s\" is not supported (local only)",
                                vol->driver);
        if (!vol->name)
                vol->name = vol->external ? key : cmp_printf(l->a, "%s_%s", l->p->name, key);
        return vol->name ? 0 : cmp_oom(l);
}

static int bind_filedef(struct cmp_loader *l, const char *key, const struct cmp_node *def,
                        struct cmp_filedef *fd, bool config, struct cmp_path *path)
{
        fd->key = key;
        fd->name = key;
        if (cmp_want(l, def, path, CMP_MAP) < 0)
                return -1;
        for (size_t i = 0; i < cmp_map_len(def); i++) {
                const struct cmp_node *k = cmp_map_key(def, i), *v = cmp_map_val(def, i);
                size_t old = cmp_path_key(path, k->str);
                int rc = 0;

                if (!strcmp(k->str, "name"))
                        rc = cmp_get_str(l, v, path, &fd->name);
                else if (!strcmp(k->str, "file"))
                        rc = cmp_get_str(l, v, path, &fd->file);
                else if (!strcmp(k->str, "environment"))
                        rc = cmp_get_str(l, v, path, &fd->environment);
                else if (config && !strcmp(k->str, "content"))
                        rc = cmp_get_str(l, v, path, &fd->content);
                else if (!strcmp(k->str, "external"))
                        rc = cmp_get_bool(l, v, path, &fd->external);
                else if (strncmp(k->str, "x-", 2) != 0) {
                        cmp_path_pop(path, old);
                        cmp_warn_key(l, k, path, "unknown key, ignored");
                        continue;
                }
                cmp_path_pop(path, old);
                if (rc < 0)
                        return -1;
        }
        if (!fd->file && !fd->environment && !fd->content && !fd->external)
                return cmp_fail(l->err, def, path,
                                "needs file:%s or environment:", config ? ", content:" : "");
        if (fd->external)
                return cmp_fail(l->err, def, path, "external %s are not supported",
                                config ? "configs" : "secrets");
        if (!fd->name)
                fd->name = key;
        return 0;
}

/* A top-level section that maps names to definitions. */
static int bind_section(struct cmp_loader *l, const struct cmp_node *root, const char *section,
                        size_t elem, void **arr_out, size_t *n_out)
{
        const struct cmp_node *m = cmp_map_get(root, section);
        struct cmp_path path = {0};
        char *arr;

        cmp_path_key(&path, section);
        *n_out = 0;
        if (!m || cmp_is_null(m))
                return 0;
        if (cmp_want(l, m, &path, CMP_MAP) < 0)
                return -1;
        /* one spare entry: the implicit default network */
        arr = cmp_alloc(l->a, (cmp_map_len(m) + 1) * elem);
        if (!arr)
                return cmp_oom(l);
        *arr_out = arr;
        for (size_t i = 0; i < cmp_map_len(m); i++) {
                const char *key = cmp_map_key(m, i)->str;
                const struct cmp_node *def = cmp_map_val(m, i);
                size_t old = cmp_path_key(&path, key);
                void *slot = arr + *n_out * elem;
                int rc;

                if (!strcmp(section, "networks"))
                        rc = bind_network(l, key, def, slot, &path);
                else if (!strcmp(section, "volumes"))
                        rc = bind_volume(l, key, def, slot, &path);
                else
                        rc = bind_filedef(l, key, def, slot, !strcmp(section, "configs"), &path);
                cmp_path_pop(&path, old);
                if (rc < 0)
                        return -1;
                (*n_out)++;
        }
        return 0;
}

int cmp_bind_project(struct cmp_loader *l, struct cmp_node *root)
{
        struct cmp_project *p = l->p;

        for (size_t i = 0; i < cmp_map_len(root); i++) {
                const struct cmp_node *k = cmp_map_key(root, i);
                static const char *const known[] = {"name",    "services", "networks",
                                                    "volumes", "secrets",  "configs"};
                bool ok = !strncmp(k->str, "x-", 2);
                struct cmp_path empty = {0};

                for (size_t j = 0; j < ARRAY_SIZE(known) && !ok; j++)
                        ok = !strcmp(k->str, known[j]);
                if (!strcmp(k->str, "version"))
                        cmp_warn_key(l, k, &empty, "obsolete, ignored");
                else if (!strcmp(k->str, "include"))
                        cmp_warn_key(l, k, &empty, "not supported by isola, ignored");
                else if (!ok)
                        cmp_warn_key(l, k, &empty, "unknown key, ignored");
        }
        if (bind_section(l, root, "networks", sizeof(struct cmp_network), (void **)&p->networks,
                         &p->n_networks) < 0 ||
            bind_section(l, root, "volumes", sizeof(struct cmp_volume), (void **)&p->volumes,
                         &p->n_volumes) < 0 ||
            bind_section(l, root, "secrets", sizeof(struct cmp_filedef), (void **)&p->secrets,
                         &p->n_secrets) < 0 ||
            bind_section(l, root, "configs", sizeof(struct cmp_filedef), (void **)&p->configs,
                         &p->n_configs) < 0)
                return -1;
        return 0;
}
