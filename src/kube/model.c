/* A manifest file -> the typed model: one document per object, kinds Pod,
 * Deployment, ConfigMap, Secret, PersistentVolumeClaim and Service (also in
 * a v1 List). An unknown kind or apiVersion is an error (running part of
 * an app would change behaviour); unknown fields are warnings. Names must be
 * unique per kind, and references (ConfigMaps, Secrets, claims) must resolve
 * within the file, so play fails before creating anything. */
#include "kube/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const meta_keys[] = {"name", "labels", NULL};
static const char *const meta_ignored[] = {
    "annotations",     "namespace",  "creationTimestamp", "uid",
    "resourceVersion", "generation", "generateName",      NULL};
static const char *const top_ignored[] = {"apiVersion", "kind", "metadata", "status", NULL};

/* Grows an arena array by one zeroed element. */
static void *grow(struct kube_arena *a, void *v, size_t n, size_t size)
{
        void *nv = kube_alloc(a, (n + 1) * size);

        if (nv && n)
                memcpy(nv, v, n * size);
        return nv;
}

static int metadata(struct kube_mctx *c, const struct kube_node *doc, bool subdomain,
                    struct kube_kv **labels, size_t *n_labels)
{
        const struct kube_node *md;
        const char *name = NULL;
        size_t old;

        if (kube_get_map(c, doc, "metadata", &md) < 0)
                return -1;
        if (!md)
                return kube_fail(c, doc, "metadata.name is missing");
        if (kube_get_str(c, md, "name", &name) < 0)
                return -1;
        if (!name)
                return kube_fail(c, md, "metadata.name is missing");
        c->name = name;
        old = kube_path_key(c, "metadata");
        if (!kube_name_ok(name, subdomain)) {
                kube_path_key(c, "name");
                return kube_fail(c, md,
                                 "'%s' is not a valid name (lower-case letters, digits, "
                                 "'-'%s; at most %d characters)",
                                 name, subdomain ? ", '.'" : "", subdomain ? 253 : KUBE_NAME_MAX);
        }
        if (kube_keys(c, md, meta_keys, meta_ignored) < 0 ||
            (labels && kube_get_kvs(c, md, "labels", labels, n_labels) < 0))
                return -1;
        kube_path_pop(c, old);
        return 0;
}

static int pod_doc(struct kube_mctx *c, const struct kube_node *doc, bool deployment)
{
        static const char *const dep_keys[] = {"replicas", "selector", "template", NULL};
        static const char *const dep_ignored[] = {
            "strategy", "revisionHistoryLimit", "progressDeadlineSeconds", "minReadySeconds", NULL};
        const struct kube_node *spec, *tmpl = NULL, *pspec;
        struct kube_manifest *m = c->m;
        struct kube_pod *p;
        size_t old;

        p = grow(c->a, m->pods, m->n_pods, sizeof(*p));
        if (!p)
                return kube_fail(c, doc, "out of memory");
        m->pods = p;
        p = &m->pods[m->n_pods];
        p->deployment = deployment;
        p->replicas = 1;
        p->doc = c->doc;
        if (metadata(c, doc, false, &p->labels, &p->n_labels) < 0)
                return -1;
        p->name = c->name;
        if (kube_get_map(c, doc, "spec", &spec) < 0)
                return -1;
        if (!spec)
                return kube_fail(c, doc, "spec is missing");
        old = kube_path_key(c, "spec");
        pspec = spec;
        if (deployment) {
                if (kube_keys(c, spec, dep_keys, dep_ignored) < 0 ||
                    kube_get_int(c, spec, "replicas", 0, KUBE_REPLICAS_MAX, &p->replicas) < 0 ||
                    kube_get_map(c, spec, "template", &tmpl) < 0)
                        return -1;
                if (!tmpl)
                        return kube_fail(c, spec, "template is missing");
                kube_path_key(c, "template");
                const struct kube_node *md;

                if (kube_get_map(c, tmpl, "metadata", &md) < 0 ||
                    (md && kube_get_kvs(c, md, "labels", &p->labels, &p->n_labels) < 0) ||
                    kube_get_map(c, tmpl, "spec", &pspec) < 0)
                        return -1;
                if (!pspec)
                        return kube_fail(c, tmpl, "spec is missing");
                kube_path_key(c, "spec");
        }
        if (kube_model_podspec(c, pspec, p) < 0)
                return -1;
        kube_path_pop(c, old);
        for (size_t i = 0; i < m->n_pods; i++)
                if (!strcmp(m->pods[i].name, p->name))
                        return kube_fail(c, NULL,
                                         "a pod or deployment of that name is already in "
                                         "document %u",
                                         m->pods[i].doc);
        m->n_pods++;
        return 0;
}

static int b64_val(char ch)
{
        if (ch >= 'A' && ch <= 'Z')
                return ch - 'A';
        if (ch >= 'a' && ch <= 'z')
                return ch - 'a' + 26;
        if (ch >= '0' && ch <= '9')
                return ch - '0' + 52;
        return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* Standard base64 (padding optional, whitespace skipped) into the arena. */
static const char *b64_decode(struct kube_arena *a, const char *s)
{
        char *out = kube_alloc(a, strlen(s) / 4 * 3 + 4);
        size_t o = 0;
        unsigned acc = 0;
        int bits = 0;

        if (!out)
                return NULL;
        for (; *s && *s != '='; s++) {
                int v = b64_val(*s);

                if (v < 0) {
                        if (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
                                continue;
                        return NULL;
                }
                acc = (acc << 6) | (unsigned)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (char)((acc >> bits) & 0xff);
                }
        }
        while (*s == '=')
                s++;
        if (*s || memchr(out, '\0', o))
                return NULL; /* values become env and files; NUL would cut them */
        out[o] = '\0';
        return out;
}

static bool key_ok(const char *k)
{
        if (!*k || !strcmp(k, ".") || !strcmp(k, "..") || strlen(k) > 253)
                return false;
        for (; *k; k++)
                if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
                      (*k >= '0' && *k <= '9') || *k == '-' || *k == '_' || *k == '.'))
                        return false;
        return true;
}

static int data_doc(struct kube_mctx *c, const struct kube_node *doc, bool secret)
{
        static const char *const keys[] = {"data", "stringData", "binaryData",
                                           "type", "immutable",  NULL};
        struct kube_manifest *m = c->m;
        struct kube_kv *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        struct kube_data *d;

        if (metadata(c, doc, true, NULL, NULL) < 0 || kube_keys(c, doc, keys, top_ignored) < 0 ||
            kube_get_kvs(c, doc, "data", &a, &na) < 0 ||
            kube_get_kvs(c, doc, secret ? "stringData" : "binaryData", &b, &nb) < 0)
                return -1;
        if (!secret && nb)
                kube_warn(c, "binaryData is not supported, ignored");
        if (!secret)
                nb = 0;
        d = grow(c->a, m->data, m->n_data, sizeof(*d));
        if (!d)
                return kube_fail(c, doc, "out of memory");
        m->data = d;
        d = &m->data[m->n_data];
        d->name = c->name;
        d->secret = secret;
        d->doc = c->doc;
        d->items = kube_alloc(c->a, (na + nb + 1) * sizeof(*d->items));
        if (!d->items)
                return kube_fail(c, doc, "out of memory");
        for (size_t i = 0; i < na + nb; i++) {
                struct kube_kv kv = i < na ? a[i] : b[i - na];

                if (!key_ok(kv.key))
                        return kube_fail(c, doc,
                                         "data key '%s' is not valid (letters, digits, "
                                         "'-', '_', '.')",
                                         kv.key);
                if (secret && i < na && !(kv.val = b64_decode(c->a, kv.val)))
                        return kube_fail(c, doc, "data.%s is not valid base64 text", kv.key);
                d->items[d->n_items++] = kv; /* stringData wins: it comes last */
        }
        for (size_t i = 0; i < m->n_data; i++)
                if (m->data[i].secret == secret && !strcmp(m->data[i].name, d->name))
                        return kube_fail(c, NULL, "another %s of that name is in document %u",
                                         c->kind, m->data[i].doc);
        m->n_data++;
        return 0;
}

static int pvc_doc(struct kube_mctx *c, const struct kube_node *doc)
{
        static const char *const keys[] = {"spec", NULL};
        struct kube_manifest *m = c->m;
        const char **v;

        if (metadata(c, doc, true, NULL, NULL) < 0 || kube_keys(c, doc, keys, top_ignored) < 0)
                return -1;
        for (size_t i = 0; i < m->n_claims; i++)
                if (!strcmp(m->claims[i], c->name))
                        return kube_fail(c, NULL, "another claim of that name");
        v = grow(c->a, m->claims, m->n_claims, sizeof(*v));
        if (!v)
                return kube_fail(c, doc, "out of memory");
        v[m->n_claims++] = c->name;
        m->claims = v;
        return 0;
}

static int svc_port(struct kube_mctx *c, const struct kube_node *n, struct kube_svc_port *p)
{
        static const char *const keys[] = {"name",     "port",     "targetPort",
                                           "nodePort", "protocol", NULL};
        const struct kube_node *t = kube_map_get(n, "targetPort");

        p->proto = "tcp";
        if (kube_keys(c, n, keys, NULL) < 0 || kube_get_str(c, n, "name", &p->name) < 0 ||
            kube_get_int(c, n, "port", 1, 65535, &p->port) < 0 ||
            kube_get_int(c, n, "nodePort", 1, 65535, &p->node_port) < 0)
                return -1;
        if (!p->port)
                return kube_fail(c, n, "port is missing");
        if (t && t->kind == KUBE_SCALAR && !(t->str[0] >= '0' && t->str[0] <= '9'))
                p->target_name = t->str;
        else if (kube_get_int(c, n, "targetPort", 1, 65535, &p->target_port) < 0)
                return -1;
        if (!p->target_port && !p->target_name)
                p->target_port = p->port;
        const char *proto = NULL;

        if (kube_get_str(c, n, "protocol", &proto) < 0)
                return -1;
        if (proto && !strcmp(proto, "UDP"))
                p->proto = "udp";
        else if (proto && strcmp(proto, "TCP") != 0)
                return kube_fail(c, n, "protocol '%s' is not supported (TCP, UDP)", proto);
        return 0;
}

static int svc_doc(struct kube_mctx *c, const struct kube_node *doc)
{
        static const char *const keys[] = {"spec", NULL};
        static const char *const spec_keys[] = {"selector", "ports", "type", NULL};
        static const char *const spec_ignored[] = {"clusterIP",
                                                   "clusterIPs",
                                                   "sessionAffinity",
                                                   "ipFamilies",
                                                   "ipFamilyPolicy",
                                                   "externalTrafficPolicy",
                                                   "internalTrafficPolicy",
                                                   NULL};
        const struct kube_node *spec, *ports;
        struct kube_manifest *m = c->m;
        struct kube_service *s;
        size_t old;

        if (metadata(c, doc, false, NULL, NULL) < 0 || kube_keys(c, doc, keys, top_ignored) < 0 ||
            kube_get_map(c, doc, "spec", &spec) < 0)
                return -1;
        if (!spec)
                return kube_fail(c, doc, "spec is missing");
        s = grow(c->a, m->services, m->n_services, sizeof(*s));
        if (!s)
                return kube_fail(c, doc, "out of memory");
        m->services = s;
        s = &m->services[m->n_services];
        s->name = c->name;
        s->doc = c->doc;
        old = kube_path_key(c, "spec");
        if (kube_keys(c, spec, spec_keys, spec_ignored) < 0 ||
            kube_get_kvs(c, spec, "selector", &s->selector, &s->n_selector) < 0 ||
            kube_get_seq(c, spec, "ports", &ports) < 0)
                return -1;
        if (ports) {
                s->ports = kube_alloc(c->a, (ports->n + 1) * sizeof(*s->ports));
                if (!s->ports)
                        return kube_fail(c, ports, "out of memory");
                kube_path_key(c, "ports");
                for (size_t i = 0; i < ports->n; i++) {
                        size_t o2 = kube_path_idx(c, i);

                        if (svc_port(c, ports->kids[i], &s->ports[s->n_ports++]) < 0)
                                return -1;
                        kube_path_pop(c, o2);
                }
        }
        kube_path_pop(c, old);
        m->n_services++;
        return 0;
}

static int one_doc(struct kube_mctx *c, const struct kube_node *doc);

static int list_doc(struct kube_mctx *c, const struct kube_node *doc)
{
        const struct kube_node *items;

        if (kube_get_seq(c, doc, "items", &items) < 0)
                return -1;
        for (size_t i = 0; items && i < items->n; i++) {
                size_t old = kube_path_idx(c, i);

                c->kind = NULL;
                c->name = NULL;
                if (one_doc(c, items->kids[i]) < 0)
                        return -1;
                kube_path_pop(c, old);
        }
        return 0;
}

static int one_doc(struct kube_mctx *c, const struct kube_node *doc)
{
        static const char *const pod_keys[] = {"spec", NULL};
        const char *kind = NULL, *api = NULL;
        const char *want;

        if (doc->kind != KUBE_MAP)
                return kube_fail(c, doc, "expected a mapping (an object with kind:)");
        if (kube_get_str(c, doc, "kind", &kind) < 0 || kube_get_str(c, doc, "apiVersion", &api) < 0)
                return -1;
        if (!kind)
                return kube_fail(c, doc, "kind is missing");
        c->kind = kind;
        if (!strcmp(kind, "Deployment"))
                want = "apps/v1";
        else if (!strcmp(kind, "Pod") || !strcmp(kind, "ConfigMap") || !strcmp(kind, "Secret") ||
                 !strcmp(kind, "PersistentVolumeClaim") || !strcmp(kind, "Service") ||
                 !strcmp(kind, "List"))
                want = "v1";
        else
                return kube_fail(c, doc,
                                 "kind '%s' is not supported (Pod, Deployment, ConfigMap, "
                                 "Secret, PersistentVolumeClaim, Service)",
                                 kind);
        if (!api || strcmp(api, want) != 0)
                return kube_fail(c, doc, "apiVersion '%s' is not supported for %s (%s)",
                                 api ? api : "", kind, want);
        if (!strcmp(kind, "Pod"))
                return kube_keys(c, doc, pod_keys, top_ignored) < 0 ? -1 : pod_doc(c, doc, false);
        if (!strcmp(kind, "Deployment"))
                return kube_keys(c, doc, pod_keys, top_ignored) < 0 ? -1 : pod_doc(c, doc, true);
        if (!strcmp(kind, "ConfigMap") || !strcmp(kind, "Secret"))
                return data_doc(c, doc, kind[0] == 'S');
        if (!strcmp(kind, "PersistentVolumeClaim"))
                return pvc_doc(c, doc);
        if (!strcmp(kind, "Service"))
                return svc_doc(c, doc);
        return list_doc(c, doc);
}

const struct kube_data *kube_data_find(const struct kube_manifest *m, const char *name, bool secret)
{
        for (size_t i = 0; i < m->n_data; i++)
                if (m->data[i].secret == secret && !strcmp(m->data[i].name, name))
                        return &m->data[i];
        return NULL;
}

void kube_pod_name(const struct kube_pod *p, int i, char *buf, size_t len)
{
        if (p->deployment)
                snprintf(buf, len, "%s-pod-%d", p->name, i);
        else
                snprintf(buf, len, "%s", p->name);
}

static bool has_claim(const struct kube_manifest *m, const char *name)
{
        for (size_t i = 0; i < m->n_claims; i++)
                if (!strcmp(m->claims[i], name))
                        return true;
        return false;
}

/* References between documents, checked once every document is read. */
static int check_refs(const char *file, const struct kube_manifest *m, struct isola_err *err)
{
        for (size_t i = 0; i < m->n_pods; i++) {
                const struct kube_pod *p = &m->pods[i];
                const char *kind = p->deployment ? "Deployment" : "Pod";

                for (size_t v = 0; v < p->n_vols; v++) {
                        const struct kube_volume *vol = &p->vols[v];
                        bool ok = true;

                        if (vol->type == KUBE_VOL_PVC)
                                ok = has_claim(m, vol->source);
                        else if (vol->type == KUBE_VOL_CONFIGMAP || vol->type == KUBE_VOL_SECRET)
                                ok = vol->optional ||
                                     kube_data_find(m, vol->source, vol->type == KUBE_VOL_SECRET);
                        if (!ok)
                                return err_set(err, ENOENT,
                                               "%s: document %u (%s %s): spec.volumes: %s '%s' is "
                                               "not in the file",
                                               file, p->doc, kind, p->name,
                                               vol->type == KUBE_VOL_PVC ? "PersistentVolumeClaim"
                                               : vol->type == KUBE_VOL_SECRET ? "Secret"
                                                                              : "ConfigMap",
                                               vol->source);
                }
                for (size_t k = 0; k < p->n_ctrs; k++) {
                        const struct kube_container *ct = &p->ctrs[k];

                        for (size_t e = 0; e < ct->n_env; e++)
                                if (ct->env[e].ref_name && !ct->env[e].optional &&
                                    !kube_data_find(m, ct->env[e].ref_name, ct->env[e].ref_secret))
                                        return err_set(
                                            err, ENOENT,
                                            "%s: document %u (%s %s): container '%s': "
                                            "env %s: %s '%s' is not in the file",
                                            file, p->doc, kind, p->name, ct->name, ct->env[e].name,
                                            ct->env[e].ref_secret ? "Secret" : "ConfigMap",
                                            ct->env[e].ref_name);
                        for (size_t e = 0; e < ct->n_env_from; e++)
                                if (!ct->env_from[e].optional &&
                                    !kube_data_find(m, ct->env_from[e].name,
                                                    ct->env_from[e].secret))
                                        return err_set(err, ENOENT,
                                                       "%s: document %u (%s %s): container '%s': "
                                                       "envFrom: %s '%s' is not in the file",
                                                       file, p->doc, kind, p->name, ct->name,
                                                       ct->env_from[e].secret ? "Secret"
                                                                              : "ConfigMap",
                                                       ct->env_from[e].name);
                }
        }
        return 0;
}

int kube_parse(const char *file, const char *data, size_t len, struct kube_manifest **out,
               struct isola_err *err)
{
        struct kube_arena *a = calloc(1, sizeof(*a));
        struct kube_manifest *m;
        struct kube_docs docs;
        struct kube_mctx c = {0};

        *out = NULL;
        if (!a)
                return err_set(err, ENOMEM, "out of memory");
        m = kube_alloc(a, sizeof(*m));
        if (!m) {
                free(a);
                return err_set(err, ENOMEM, "out of memory");
        }
        m->arena = a;
        if (kube_yaml_load(a, file, data, len, &docs, err) < 0)
                goto fail;
        c.a = a;
        c.m = m;
        c.file = file;
        c.err = err;
        for (size_t i = 0; i < docs.n; i++) {
                c.doc = (unsigned)i + 1;
                c.kind = c.name = NULL;
                kube_path_pop(&c, 0);
                if (!kube_is_null(docs.roots[i]) && one_doc(&c, docs.roots[i]) < 0)
                        goto fail;
        }
        if (!m->n_pods && !m->n_data && !m->n_claims && !m->n_services) {
                err_set(err, EINVAL, "%s: no Kubernetes objects in the file", file);
                goto fail;
        }
        if (check_refs(file, m, err) < 0)
                goto fail;
        *out = m;
        return 0;
fail:
        kube_manifest_free(m);
        return -1;
}

void kube_manifest_free(struct kube_manifest *m)
{
        struct kube_arena *a;

        if (!m)
                return;
        a = m->arena;
        kube_arena_free(a);
        free(a);
}
