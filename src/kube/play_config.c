/* One kube container -> the engine's eng_config: Kubernetes' command/args
 * over the image's Entrypoint/Cmd, env with ConfigMap/Secret references
 * resolved, limits, security context, and volumes as bind mounts of the
 * pod's directory (ConfigMaps, Secrets, emptyDir), named volumes (claims)
 * or host paths. */
#include "kube/play.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kube_vec_add(char ***v, size_t *n, char *s)
{
        char **nv;

        if (!s)
                return;
        nv = realloc(*v, (*n + 2) * sizeof(*nv));
        if (!nv) {
                free(s);
                return;
        }
        nv[(*n)++] = s;
        nv[*n] = NULL;
        *v = nv;
}

char *kube_fmt(const char *f, ...)
{
        va_list ap;
        char *s = NULL;

        va_start(ap, f);
        if (vasprintf(&s, f, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

static char **dupv(const char *const *v)
{
        size_t n = 0;
        char **o;

        if (!v)
                return NULL;
        while (v[n])
                n++;
        o = calloc(n + 1, sizeof(*o));
        for (size_t i = 0; o && i < n; i++)
                o[i] = strdup(v[i]);
        return o;
}

/* Replaces KEY=... in env or appends it (later definitions win, as in k8s). */
static void env_set(char ***env, size_t *n, const char *key, const char *val)
{
        size_t kl = strlen(key);

        for (size_t i = 0; i < *n; i++)
                if (!strncmp((*env)[i], key, kl) && (*env)[i][kl] == '=') {
                        char *s = kube_fmt("%s=%s", key, val);

                        if (s) {
                                free((*env)[i]);
                                (*env)[i] = s;
                        }
                        return;
                }
        kube_vec_add(env, n, kube_fmt("%s=%s", key, val));
}

static const char *data_get(const struct kube_data *d, const char *key)
{
        for (size_t i = 0; d && i < d->n_items; i++)
                if (!strcmp(d->items[i].key, key))
                        return d->items[i].val;
        return NULL;
}

static int env(const struct kube_manifest *m, const struct kube_container *k, char ***out,
               struct isola_err *err)
{
        size_t n = 0;

        for (size_t i = 0; i < k->n_env_from; i++) {
                const struct kube_env_from *f = &k->env_from[i];
                const struct kube_data *d = kube_data_find(m, f->name, f->secret);

                for (size_t j = 0; d && j < d->n_items; j++) {
                        char key[512];

                        snprintf(key, sizeof(key), "%s%s", f->prefix ? f->prefix : "",
                                 d->items[j].key);
                        env_set(out, &n, key, d->items[j].val);
                }
        }
        for (size_t i = 0; i < k->n_env; i++) {
                const struct kube_env *e = &k->env[i];
                const char *v = e->value;

                if (e->ref_name) {
                        v = data_get(kube_data_find(m, e->ref_name, e->ref_secret), e->ref_key);
                        if (!v && e->optional)
                                continue;
                        if (!v)
                                return err_set(err, ENOENT, "env %s: %s '%s' has no key '%s'",
                                               e->name, e->ref_secret ? "Secret" : "ConfigMap",
                                               e->ref_name, e->ref_key);
                }
                env_set(out, &n, e->name, v);
        }
        return 0;
}

static const struct kube_volume *vol_find(const struct kube_pod *p, const char *name)
{
        for (size_t i = 0; i < p->n_vols; i++)
                if (!strcmp(p->vols[i].name, name))
                        return &p->vols[i];
        return NULL;
}

static int mounts(const struct kube_play_ctx *x, const struct kube_pod *p, const char *pod,
                  const struct kube_container *k, struct eng_config *cfg, struct isola_err *err)
{
        size_t nv = 0, nt = 0;
        char dir[4096];

        kube_pod_dir(&x->eng, pod, dir, sizeof(dir));
        for (size_t i = 0; i < k->n_mounts; i++) {
                const struct kube_mount *mt = &k->mounts[i];
                const struct kube_volume *v = vol_find(p, mt->name);
                const char *ro = mt->read_only || (v && v->read_only) ? ":ro" : "";

                if (!v)
                        return err_set(err, ENOENT, "volume '%s' is not in volumes", mt->name);
                switch (v->type) {
                case KUBE_VOL_TMPFS:
                        kube_vec_add(&cfg->tmpfs, &nt, strdup(mt->path));
                        break;
                case KUBE_VOL_HOSTPATH: /* a path or a named volume: the engine's -v */
                case KUBE_VOL_PVC:
                        kube_vec_add(&cfg->volumes, &nv,
                                     kube_fmt("%s:%s%s", v->source, mt->path, ro));
                        break;
                case KUBE_VOL_EMPTYDIR:
                        kube_vec_add(&cfg->volumes, &nv,
                                     kube_fmt("%s/%s:%s%s", dir, v->name, mt->path, ro));
                        break;
                default: /* ConfigMaps and Secrets are read-only in Kubernetes too */
                        kube_vec_add(&cfg->volumes, &nv,
                                     kube_fmt("%s/%s:%s:ro", dir, v->name, mt->path));
                        break;
                }
        }
        return 0;
}

int kube_ctr_config(const struct kube_play_ctx *x, const struct kube_pod *p, const char *pod,
                    const struct kube_container *k, struct eng_config *cfg, struct isola_err *err)
{
        memset(cfg, 0, sizeof(*cfg));
        cfg->name = kube_fmt("%s-%s", pod, k->name);
        cfg->image = strdup(k->image);
        if (k->command) {
                cfg->entrypoint = dupv(k->command);
                cfg->entrypoint_set = true; /* command without args drops the image's Cmd */
        }
        cfg->cmd = dupv(k->args);
        cfg->workdir = k->workdir ? strdup(k->workdir) : NULL;
        cfg->user = k->user ? strdup(k->user) : NULL;
        cfg->hostname = strdup(p->hostname ? p->hostname : pod);
        cfg->memory = k->memory;
        cfg->cpus = k->cpus;
        cfg->read_only = k->read_only_root;
        cfg->no_new_privs = k->no_new_privs;
        cfg->tty = k->tty;
        cfg->interactive = k->stdin_open;
        cfg->cap_add = dupv(k->cap_add);
        cfg->cap_drop = dupv(k->cap_drop);
        cfg->stop_timeout = 10;
        if (!p->restart || !strcmp(p->restart, "Always"))
                cfg->restart = ENG_RESTART_ALWAYS;
        else if (!strcmp(p->restart, "OnFailure"))
                cfg->restart = ENG_RESTART_ON_FAILURE;
        if (!cfg->name || !cfg->image || !cfg->hostname)
                return err_set(err, ENOMEM, "out of memory");
        if (env(x->m, k, &cfg->env, err) < 0 || mounts(x, p, pod, k, cfg, err) < 0)
                return err_prefix(err, "container '%s'", k->name);
        return 0;
}

/* The infra container: isola-pause from an empty root, bind-mounted from
 * next to the isola binary; it owns the pod's network and published ports. */
int kube_infra_config(const struct kube_play_ctx *x, const struct kube_pod *p, const char *pod,
                      struct eng_config *cfg, struct isola_err *err)
{
        char exe[4096], *slash;

        memset(cfg, 0, sizeof(*cfg));
        snprintf(exe, sizeof(exe), "%s", x->eng.self_exe);
        slash = strrchr(exe, '/');
        if (!slash)
                return err_set(err, EINVAL, "cannot place isola-pause next to '%s'", exe);
        snprintf(slash + 1, sizeof(exe) - (size_t)(slash + 1 - exe), "isola-pause");
        cfg->name = kube_fmt("%s%s", pod, KUBE_INFRA_SUFFIX);
        cfg->rootfs = kube_fmt("%s/kube/infra", x->eng.paths.root);
        cfg->entrypoint = calloc(2, sizeof(char *));
        if (cfg->entrypoint)
                cfg->entrypoint[0] = strdup("/pause");
        cfg->entrypoint_set = true;
        cfg->volumes = calloc(2, sizeof(char *));
        if (cfg->volumes)
                cfg->volumes[0] = kube_fmt("%s:/pause:ro", exe);
        cfg->hostname = strdup(p->hostname ? p->hostname : pod);
        cfg->network = strdup(p->host_network ? "host" : "isola");
        cfg->stop_timeout = 2;
        if (!cfg->name || !cfg->rootfs || !cfg->entrypoint || !cfg->entrypoint[0] ||
            !cfg->volumes || !cfg->volumes[0] || !cfg->hostname || !cfg->network)
                return err_set(err, ENOMEM, "out of memory");
        return 0;
}
