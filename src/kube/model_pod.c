/* The pod spec of a Pod or a Deployment's template: containers (command,
 * args, env, envFrom, ports, limits, mounts, working dir, security context
 * basics) and volumes (emptyDir, hostPath, persistentVolumeClaim, configMap,
 * secret). What would change behaviour if dropped (initContainers, subPath,
 * privileged, other volume types) is an error; the rest is a warning. */
#include "kube/model.h"

#include <stdio.h>
#include <string.h>

static int env_one(struct kube_mctx *c, const struct kube_node *n, struct kube_env *e)
{
        static const char *const keys[] = {"name", "value", "valueFrom", NULL};
        static const char *const ref_keys[] = {"name", "key", "optional", NULL};
        const struct kube_node *from, *ref;

        if (kube_keys(c, n, keys, NULL) < 0 || kube_get_str(c, n, "name", &e->name) < 0 ||
            kube_get_str(c, n, "value", &e->value) < 0 ||
            kube_get_map(c, n, "valueFrom", &from) < 0)
                return -1;
        if (!e->name || !*e->name || strchr(e->name, '='))
                return kube_fail(c, n, "name is missing or has '='");
        if (!from) {
                if (!e->value)
                        e->value = "";
                return 0;
        }
        size_t old = kube_path_key(c, "valueFrom");

        if (kube_get_map(c, from, "configMapKeyRef", &ref) < 0)
                return -1;
        if (!ref) {
                if (kube_get_map(c, from, "secretKeyRef", &ref) < 0)
                        return -1;
                e->ref_secret = true;
        }
        if (!ref)
                return kube_fail(c, from, "only configMapKeyRef and secretKeyRef are supported");
        kube_path_key(c, e->ref_secret ? "secretKeyRef" : "configMapKeyRef");
        if (kube_keys(c, ref, ref_keys, NULL) < 0 ||
            kube_get_str(c, ref, "name", &e->ref_name) < 0 ||
            kube_get_str(c, ref, "key", &e->ref_key) < 0 ||
            kube_get_bool(c, ref, "optional", &e->optional) < 0)
                return -1;
        if (!e->ref_name || !e->ref_key)
                return kube_fail(c, ref, "name and key are required");
        kube_path_pop(c, old);
        return 0;
}

static int env_from_one(struct kube_mctx *c, const struct kube_node *n, struct kube_env_from *e)
{
        static const char *const keys[] = {"configMapRef", "secretRef", "prefix", NULL};
        static const char *const ref_keys[] = {"name", "optional", NULL};
        const struct kube_node *ref;

        if (kube_keys(c, n, keys, NULL) < 0 || kube_get_str(c, n, "prefix", &e->prefix) < 0 ||
            kube_get_map(c, n, "configMapRef", &ref) < 0)
                return -1;
        if (!ref) {
                if (kube_get_map(c, n, "secretRef", &ref) < 0)
                        return -1;
                e->secret = true;
        }
        if (!ref)
                return kube_fail(c, n, "configMapRef or secretRef is required");
        if (kube_keys(c, ref, ref_keys, NULL) < 0 || kube_get_str(c, ref, "name", &e->name) < 0 ||
            kube_get_bool(c, ref, "optional", &e->optional) < 0)
                return -1;
        if (!e->name)
                return kube_fail(c, ref, "name is required");
        return 0;
}

static int port_one(struct kube_mctx *c, const struct kube_node *n, struct kube_port *p)
{
        static const char *const keys[] = {"name", "containerPort", "hostPort", "protocol", NULL};
        const char *proto = NULL;

        p->proto = "tcp";
        if (kube_keys(c, n, keys, NULL) < 0 || kube_get_str(c, n, "name", &p->name) < 0 ||
            kube_get_int(c, n, "containerPort", 1, 65535, &p->container_port) < 0 ||
            kube_get_int(c, n, "hostPort", 1, 65535, &p->host_port) < 0 ||
            kube_get_str(c, n, "protocol", &proto) < 0)
                return -1;
        if (!p->container_port)
                return kube_fail(c, n, "containerPort is missing");
        if (proto && !strcmp(proto, "UDP"))
                p->proto = "udp";
        else if (proto && strcmp(proto, "TCP") != 0)
                return kube_fail(c, n, "protocol '%s' is not supported (TCP, UDP)", proto);
        return 0;
}

static int mount_one(struct kube_mctx *c, const struct kube_node *n, struct kube_mount *mt)
{
        static const char *const keys[] = {"name", "mountPath", "readOnly", NULL};

        if (kube_map_get(n, "subPath") || kube_map_get(n, "subPathExpr"))
                return kube_fail(c, n, "subPath is not supported");
        if (kube_keys(c, n, keys, (const char *const[]){"mountPropagation", NULL}) < 0 ||
            kube_get_str(c, n, "name", &mt->name) < 0 ||
            kube_get_str(c, n, "mountPath", &mt->path) < 0 ||
            kube_get_bool(c, n, "readOnly", &mt->read_only) < 0)
                return -1;
        if (!mt->name || !mt->path || mt->path[0] != '/' || strchr(mt->path, ':') ||
            strstr(mt->path, "/../") || !strcmp(mt->path, "/"))
                return kube_fail(c, n,
                                 "name and an absolute mountPath (not /, no ':') are "
                                 "required");
        return 0;
}

static int resources(struct kube_mctx *c, const struct kube_node *ctr, struct kube_container *k)
{
        static const char *const keys[] = {"limits", "requests", NULL};
        static const char *const lim_keys[] = {"cpu", "memory", NULL};
        const struct kube_node *r, *lim;
        const char *cpu = NULL, *mem = NULL;

        if (kube_get_map(c, ctr, "resources", &r) < 0 || !r)
                return 0;
        size_t old = kube_path_key(c, "resources");

        if (kube_keys(c, r, keys, NULL) < 0 || kube_get_map(c, r, "limits", &lim) < 0)
                return -1;
        if (lim) {
                kube_path_key(c, "limits");
                if (kube_keys(c, lim, lim_keys, NULL) < 0 ||
                    kube_get_str(c, lim, "cpu", &cpu) < 0 ||
                    kube_get_str(c, lim, "memory", &mem) < 0)
                        return -1;
                if (cpu && kube_parse_cpu(cpu, &k->cpus) < 0)
                        return kube_fail(c, lim, "cpu '%s' is not a quantity (2, 0.5, 500m)", cpu);
                if (mem && (kube_parse_memory(mem, &k->memory) < 0 || k->memory < (6 << 20)))
                        return kube_fail(c, lim,
                                         "memory '%s' is not a quantity of at least 6Mi "
                                         "(128Mi, 1G, 1.5Gi)",
                                         mem);
        }
        kube_path_pop(c, old);
        return 0;
}

static int security(struct kube_mctx *c, const struct kube_node *ctr, struct kube_container *k,
                    const struct kube_node *pod_sc)
{
        static const char *const keys[] = {"runAsUser",
                                           "runAsGroup",
                                           "readOnlyRootFilesystem",
                                           "allowPrivilegeEscalation",
                                           "capabilities",
                                           "privileged",
                                           NULL};
        static const char *const ignored[] = {"runAsNonRoot", "seLinuxOptions", "seccompProfile",
                                              "procMount", NULL};
        const struct kube_node *sc, *caps;
        int uid = -1, gid = -1;
        bool priv = false, esc = true;

        if (pod_sc && (kube_get_int(c, pod_sc, "runAsUser", 0, 0x7fffffff, &uid) < 0 ||
                       kube_get_int(c, pod_sc, "runAsGroup", 0, 0x7fffffff, &gid) < 0))
                return -1;
        if (kube_get_map(c, ctr, "securityContext", &sc) < 0)
                return -1;
        if (sc) {
                size_t old = kube_path_key(c, "securityContext");

                if (kube_keys(c, sc, keys, ignored) < 0 ||
                    kube_get_int(c, sc, "runAsUser", 0, 0x7fffffff, &uid) < 0 ||
                    kube_get_int(c, sc, "runAsGroup", 0, 0x7fffffff, &gid) < 0 ||
                    kube_get_bool(c, sc, "readOnlyRootFilesystem", &k->read_only_root) < 0 ||
                    kube_get_bool(c, sc, "allowPrivilegeEscalation", &esc) < 0 ||
                    kube_get_bool(c, sc, "privileged", &priv) < 0 ||
                    kube_get_map(c, sc, "capabilities", &caps) < 0)
                        return -1;
                if (priv)
                        return kube_fail(c, sc, "privileged containers are not supported");
                k->no_new_privs = !esc;
                if (caps) {
                        kube_path_key(c, "capabilities");
                        if (kube_keys(c, caps, (const char *const[]){"add", "drop", NULL}, NULL) <
                                0 ||
                            kube_get_strv(c, caps, "add", &k->cap_add) < 0 ||
                            kube_get_strv(c, caps, "drop", &k->cap_drop) < 0)
                                return -1;
                }
                kube_path_pop(c, old);
        }
        if (uid >= 0 || gid >= 0) {
                char buf[64];

                if (uid < 0)
                        return kube_fail(c, sc, "runAsGroup needs runAsUser");
                if (gid >= 0)
                        snprintf(buf, sizeof(buf), "%d:%d", uid, gid);
                else
                        snprintf(buf, sizeof(buf), "%d", uid);
                k->user = kube_strndup(c->a, buf, strlen(buf));
        }
        return 0;
}

/* Calls fn on each entry of the list map[key] with the path extended. */
#define EACH(c, map, key, arr, cnt, fn)                                                            \
        ({                                                                                         \
                const struct kube_node *s_;                                                        \
                int rc_ = kube_get_seq(c, map, key, &s_);                                          \
                if (rc_ == 0 && s_) {                                                              \
                        size_t o_ = kube_path_key(c, key);                                         \
                        (arr) = kube_alloc((c)->a, (s_->n + 1) * sizeof(*(arr)));                  \
                        if (!(arr))                                                                \
                                rc_ = kube_fail(c, s_, "out of memory");                           \
                        for (size_t i_ = 0; rc_ == 0 && i_ < s_->n; i_++) {                        \
                                size_t o2_ = kube_path_idx(c, i_);                                 \
                                rc_ = (fn)((c), s_->kids[i_], &(arr)[(cnt)++]);                    \
                                if (rc_ == 0)                                                      \
                                        kube_path_pop(c, o2_);                                     \
                        }                                                                          \
                        if (rc_ == 0)                                                              \
                                kube_path_pop(c, o_);                                              \
                }                                                                                  \
                rc_;                                                                               \
        })

static int container(struct kube_mctx *c, const struct kube_node *n, struct kube_container *k)
{
        static const char *const keys[] = {
            "name",         "image",      "command",         "args",
            "env",          "envFrom",    "ports",           "resources",
            "volumeMounts", "workingDir", "securityContext", "stdin",
            "tty",          NULL};
        static const char *const ignored[] = {"imagePullPolicy", "terminationMessagePath",
                                              "terminationMessagePolicy", "stdinOnce", NULL};

        if (kube_keys(c, n, keys, ignored) < 0 || kube_get_str(c, n, "name", &k->name) < 0 ||
            kube_get_str(c, n, "image", &k->image) < 0)
                return -1;
        if (!k->name || !kube_name_ok(k->name, false))
                return kube_fail(c, n, "name is missing or not a valid name");
        if (!strcmp(k->name, "infra"))
                return kube_fail(c, n, "the name 'infra' is taken by the pod's infra container");
        if (!k->image || !*k->image)
                return kube_fail(c, n, "image is missing");
        if (kube_get_strv(c, n, "command", &k->command) < 0 ||
            kube_get_strv(c, n, "args", &k->args) < 0 ||
            kube_get_str(c, n, "workingDir", &k->workdir) < 0 ||
            kube_get_bool(c, n, "stdin", &k->stdin_open) < 0 ||
            kube_get_bool(c, n, "tty", &k->tty) < 0 || resources(c, n, k) < 0 ||
            security(c, n, k, c->pod_sc) < 0 || EACH(c, n, "env", k->env, k->n_env, env_one) < 0 ||
            EACH(c, n, "envFrom", k->env_from, k->n_env_from, env_from_one) < 0 ||
            EACH(c, n, "ports", k->ports, k->n_ports, port_one) < 0 ||
            EACH(c, n, "volumeMounts", k->mounts, k->n_mounts, mount_one) < 0)
                return -1;
        if (k->workdir && k->workdir[0] != '/')
                return kube_fail(c, n, "workingDir '%s' is not absolute", k->workdir);
        return 0;
}

static int items(struct kube_mctx *c, const struct kube_node *src, struct kube_volume *v)
{
        const struct kube_node *s;

        if (kube_get_seq(c, src, "items", &s) < 0 || !s)
                return 0;
        v->items = kube_alloc(c->a, (s->n + 1) * sizeof(*v->items));
        if (!v->items)
                return kube_fail(c, s, "out of memory");
        for (size_t i = 0; i < s->n; i++) {
                struct kube_kv *kv = &v->items[v->n_items++];

                if (kube_keys(c, s->kids[i], (const char *const[]){"key", "path", NULL},
                              (const char *const[]){"mode", NULL}) < 0 ||
                    kube_get_str(c, s->kids[i], "key", &kv->key) < 0 ||
                    kube_get_str(c, s->kids[i], "path", &kv->val) < 0)
                        return -1;
                if (!kv->key || !kv->val || kv->val[0] == '/' || strstr(kv->val, "..") ||
                    strchr(kv->val, '/'))
                        return kube_fail(c, s->kids[i],
                                         "items need a key and a plain file name "
                                         "as path");
        }
        return 0;
}

static int volume(struct kube_mctx *c, const struct kube_node *n, struct kube_volume *v)
{
        static const char *const types[] = {"emptyDir",  "hostPath", "persistentVolumeClaim",
                                            "configMap", "secret",   NULL};
        const struct kube_node *src = NULL;
        const char *medium = NULL;
        size_t which = 0;

        if (kube_get_str(c, n, "name", &v->name) < 0)
                return -1;
        if (!v->name || !kube_name_ok(v->name, false))
                return kube_fail(c, n, "name is missing or not a valid name");
        for (size_t i = 0; types[i] && !src; i++)
                if (kube_get_map(c, n, types[i], &src) < 0)
                        return -1;
                else if (src)
                        which = i;
        if (!src) {
                if (kube_map_get(n, "emptyDir")) {
                        v->type = KUBE_VOL_EMPTYDIR; /* emptyDir: {} or null */
                        return 0;
                }
                return kube_fail(c, n,
                                 "volume type not supported (emptyDir, hostPath, "
                                 "persistentVolumeClaim, configMap, secret)");
        }
        size_t old = kube_path_key(c, types[which]);

        switch (which) {
        case 0:
                if (kube_get_str(c, src, "medium", &medium) < 0)
                        return -1;
                v->type = medium && !strcmp(medium, "Memory") ? KUBE_VOL_TMPFS : KUBE_VOL_EMPTYDIR;
                break;
        case 1:
                v->type = KUBE_VOL_HOSTPATH;
                if (kube_get_str(c, src, "path", &v->source) < 0)
                        return -1;
                if (v->source && !strcmp(v->source, "tmpfs")) { /* podman's --tmpfs/--read-only */
                        kube_warn(c, "hostPath 'tmpfs' (as podman writes a tmpfs) is read as "
                                     "emptyDir medium Memory");
                        v->type = KUBE_VOL_TMPFS;
                        v->source = NULL;
                        break;
                }
                if (!v->source || v->source[0] != '/' || strchr(v->source, ':'))
                        return kube_fail(c, src, "path must be absolute (and without ':')");
                break;
        case 2:
                v->type = KUBE_VOL_PVC;
                if (kube_get_str(c, src, "claimName", &v->source) < 0 ||
                    kube_get_bool(c, src, "readOnly", &v->read_only) < 0)
                        return -1;
                break;
        default:
                v->type = which == 3 ? KUBE_VOL_CONFIGMAP : KUBE_VOL_SECRET;
                if (kube_get_str(c, src, which == 3 ? "name" : "secretName", &v->source) < 0 ||
                    kube_get_bool(c, src, "optional", &v->optional) < 0 || items(c, src, v) < 0)
                        return -1;
                break;
        }
        if (v->type != KUBE_VOL_EMPTYDIR && v->type != KUBE_VOL_TMPFS && !v->source)
                return kube_fail(c, src, "the source name is missing");
        kube_path_pop(c, old);
        return 0;
}

static int check_pod(struct kube_mctx *c, const struct kube_node *spec, const struct kube_pod *p)
{
        if (!p->n_ctrs)
                return kube_fail(c, spec, "containers is empty");
        for (size_t i = 0; i < p->n_ctrs; i++) {
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(p->ctrs[i].name, p->ctrs[j].name))
                                return kube_fail(c, spec, "two containers named '%s'",
                                                 p->ctrs[i].name);
                for (size_t m = 0; m < p->ctrs[i].n_mounts; m++) {
                        bool found = false;

                        for (size_t v = 0; v < p->n_vols && !found; v++)
                                found = !strcmp(p->vols[v].name, p->ctrs[i].mounts[m].name);
                        if (!found)
                                return kube_fail(c, spec,
                                                 "container '%s' mounts volume '%s', "
                                                 "which is not in volumes",
                                                 p->ctrs[i].name, p->ctrs[i].mounts[m].name);
                }
        }
        for (size_t i = 0; i < p->n_vols; i++)
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(p->vols[i].name, p->vols[j].name))
                                return kube_fail(c, spec, "two volumes named '%s'",
                                                 p->vols[i].name);
        return 0;
}

int kube_model_podspec(struct kube_mctx *c, const struct kube_node *spec, struct kube_pod *p)
{
        static const char *const keys[] = {"containers", "volumes",     "restartPolicy",
                                           "hostname",   "hostNetwork", "securityContext",
                                           NULL};
        static const char *const ignored[] = {"dnsPolicy",
                                              "enableServiceLinks",
                                              "schedulerName",
                                              "serviceAccountName",
                                              "serviceAccount",
                                              "terminationGracePeriodSeconds",
                                              "nodeSelector",
                                              "tolerations",
                                              "affinity",
                                              "priority",
                                              NULL};
        const struct kube_node *sc;
        int rc;

        if (kube_map_get(spec, "initContainers"))
                return kube_fail(c, spec, "initContainers are not supported");
        if (kube_keys(c, spec, keys, ignored) < 0 ||
            kube_get_str(c, spec, "restartPolicy", &p->restart) < 0 ||
            kube_get_str(c, spec, "hostname", &p->hostname) < 0 ||
            kube_get_bool(c, spec, "hostNetwork", &p->host_network) < 0 ||
            kube_get_map(c, spec, "securityContext", &sc) < 0)
                return -1;
        if (p->restart && strcmp(p->restart, "Always") != 0 &&
            strcmp(p->restart, "OnFailure") != 0 && strcmp(p->restart, "Never") != 0)
                return kube_fail(c, spec, "restartPolicy '%s' is not Always, OnFailure or Never",
                                 p->restart);
        if (p->hostname && !kube_name_ok(p->hostname, false))
                return kube_fail(c, spec, "hostname '%s' is not a valid name", p->hostname);
        if (sc) {
                size_t old = kube_path_key(c, "securityContext");

                if (kube_keys(c, sc, (const char *const[]){"runAsUser", "runAsGroup", NULL},
                              (const char *const[]){"runAsNonRoot", "fsGroup", "seLinuxOptions",
                                                    "seccompProfile", "supplementalGroups", NULL}) <
                    0)
                        return -1;
                kube_path_pop(c, old);
        }
        c->pod_sc = sc;
        rc = EACH(c, spec, "containers", p->ctrs, p->n_ctrs, container);
        c->pod_sc = NULL;
        if (rc < 0 || EACH(c, spec, "volumes", p->vols, p->n_vols, volume) < 0)
                return -1;
        return check_pod(c, spec, p);
}
