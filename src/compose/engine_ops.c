/* cmp_real_ops: containers through the engine library (eng_*), networks
 * through the network component (net_*), volumes and images through the
 * engine and the image store. Which containers belong to a project, their
 * config hash and health are rows of compose_containers (src/db/schema.c). */
#include "compose/engine_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/image.h"
#include "util/cleanup.h"
#include "util/fs.h"

int cmp_real_open(const char *root, const struct cmp_project *p, struct cmp_real *out,
                  struct isola_err *err)
{
        memset(out, 0, sizeof(*out));
        if (eng_open(root, &out->eng, err) < 0)
                return -1;
        out->net.paths = out->eng.paths;
        out->net.db = out->eng.db;
        out->p = p;
        out->root = root;
        return 0;
}

void cmp_real_close(struct cmp_real *r)
{
        eng_close(&r->eng);
}

static enum cmp_ctr_state state_of(const char *s)
{
        if (!strcmp(s, "running") || !strcmp(s, "paused"))
                return CMP_CTR_RUNNING;
        return !strcmp(s, "created") ? CMP_CTR_CREATED : CMP_CTR_EXITED;
}

static int r_list(void *ctx, const char *project, struct cmp_ctr **out, size_t *n_out,
                  struct isola_err *err)
{
        struct cmp_real *r = ctx;
        sqlite3_stmt *st;
        struct cmp_ctr *v = NULL;
        size_t n = 0, cap = 0;
        int rc;

        if (sqlite3_prepare_v2(r->eng.db,
                               "SELECT container_id, service, number, config_hash FROM "
                               "compose_containers WHERE project = ?1 ORDER BY service, number",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(r->eng.db, "compose containers", err);
        sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct eng_container *ct = NULL;
                struct isola_err ignore = {0};
                struct cmp_ctr *c;

                if (eng_get(&r->eng, (const char *)sqlite3_column_text(st, 0), &ct, &ignore) < 0)
                        continue; /* removed behind our back: its row goes with it */
                if (n == cap) {
                        struct cmp_ctr *nv;

                        cap = cap ? cap * 2 : 8;
                        nv = realloc(v, cap * sizeof(*v));
                        if (!nv) {
                                eng_container_free(ct);
                                break;
                        }
                        v = nv;
                }
                c = &v[n++];
                memset(c, 0, sizeof(*c));
                snprintf(c->name, sizeof(c->name), "%s", ct->name);
                snprintf(c->service, sizeof(c->service), "%s", sqlite3_column_text(st, 1));
                c->number = sqlite3_column_int(st, 2);
                snprintf(c->hash, sizeof(c->hash), "%s", sqlite3_column_text(st, 3));
                c->state = state_of(ct->state);
                c->exit_code = ct->exit_code;
                if (c->state == CMP_CTR_RUNNING)
                        cmp_health_update(r, ct->id, &c->health, &ignore);
                eng_container_free(ct);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
                free(v);
                return db_fail(r->eng.db, "compose containers", err);
        }
        *out = v;
        *n_out = n;
        return 0;
}

/* NULL-terminated heap copy of a string vector (eng_config_free frees it). */
static char **dupv(const struct cmp_strv *v)
{
        char **o = calloc(v->n + 1, sizeof(*o));

        for (size_t i = 0; o && i < v->n; i++)
                o[i] = strdup(v->v[i]);
        return o;
}

struct vec {
        char **v;
        size_t n, cap;
};

static void vec_add(struct vec *x, char *s)
{
        if (!s)
                return;
        if (x->n + 2 > x->cap) {
                size_t cap = x->cap ? x->cap * 2 : 8;
                char **nv = realloc(x->v, cap * sizeof(*nv));

                if (!nv) {
                        free(s);
                        return;
                }
                x->v = nv;
                x->cap = cap;
        }
        x->v[x->n++] = s;
        x->v[x->n] = NULL;
}

static void vec_free(struct vec *x)
{
        for (size_t i = 0; i < x->n; i++)
                free(x->v[i]);
        free(x->v);
        memset(x, 0, sizeof(*x));
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
        va_list ap;
        char *s = NULL;

        va_start(ap, f);
        if (vasprintf(&s, f, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

/* A secret or config from environment:/content: becomes a file under the
 * root (compose/<project>/<kind>/<name>), bind-mounted read-only. */
static char *filedef_source(struct cmp_real *r, const struct cmp_filedef *d, const char *kind,
                            struct isola_err *err)
{
        const char *text = d->content;
        char dir[PATH_MAX], path[PATH_MAX];

        if (d->file)
                return strdup(d->file);
        if (d->environment)
                text = cmp_env_get(&r->p->env, d->environment);
        snprintf(dir, sizeof(dir), "%s/compose/%s/%s", r->eng.paths.root, r->p->name, kind);
        snprintf(path, sizeof(path), "%s/%s", dir, d->key);
        if (fs_mkdir_p(dir, 0700, err) < 0 ||
            fs_write_file(path, text ? text : "", text ? strlen(text) : 0, O_CREAT | O_TRUNC, 0400,
                          err) < 0)
                return NULL;
        return strdup(path);
}

static int mounts(struct cmp_real *r, const struct cmp_service *s, struct eng_config *cfg,
                  struct isola_err *err)
{
        struct vec vols = {0}, tmpfs = {0};

        for (size_t i = 0; i < s->n_volumes; i++) {
                const struct cmp_mount *m = &s->volumes[i];
                const char *ro = m->read_only ? ":ro" : "";

                if (m->type == CMP_VOL_TMPFS) {
                        vec_add(&tmpfs, m->tmpfs_size ? fmt("%s:size=%lld", m->target,
                                                            (long long)m->tmpfs_size)
                                                      : strdup(m->target));
                } else if (m->type == CMP_VOL_BIND) {
                        if (m->create_host_path && fs_mkdir_p(m->source, 0755, err) < 0) {
                                err_prefix(err, "services.%s.volumes", s->name);
                                goto fail;
                        }
                        vec_add(&vols, fmt("%s:%s%s", m->source, m->target, ro));
                } else if (m->source) {
                        const struct cmp_volume *v = cmp_volume_find(r->p, m->source);

                        vec_add(&vols, fmt("%s:%s%s", v ? v->name : m->source, m->target, ro));
                } else {
                        vec_add(&vols, strdup(m->target));
                }
        }
        for (int k = 0; k < 2; k++) {
                const struct cmp_file_ref *refs = k ? s->configs : s->secrets;
                size_t n = k ? s->n_configs : s->n_secrets;

                for (size_t i = 0; i < n; i++) {
                        const struct cmp_filedef *defs = k ? r->p->configs : r->p->secrets;
                        size_t nd = k ? r->p->n_configs : r->p->n_secrets;
                        const char *tgt = refs[i].target ? refs[i].target : refs[i].source;
                        char *src = NULL;

                        for (size_t d = 0; d < nd && !src; d++)
                                if (!strcmp(defs[d].key, refs[i].source))
                                        src = filedef_source(r, &defs[d], k ? "configs" : "secrets",
                                                             err);
                        if (!src)
                                goto fail;
                        vec_add(&vols, tgt[0] == '/'
                                           ? fmt("%s:%s:ro", src, tgt)
                                           : fmt("%s:%s/%s:ro", src, k ? "" : "/run/secrets", tgt));
                        free(src);
                }
        }
        cfg->volumes = vols.v;
        cfg->tmpfs = tmpfs.v;
        return 0;
fail:
        vec_free(&vols);
        vec_free(&tmpfs);
        return -1;
}

/* The service's second and later networks in the engine's form
 * "NAME:alias=SERVICE,alias=A,ip=IP" (the service name resolves on each,
 * as Compose). */
static char **further_networks(struct cmp_real *r, const struct cmp_service *s)
{
        struct vec nets = {0};

        for (size_t k = 1; k < s->n_networks; k++) {
                const struct cmp_svc_net *sn = &s->networks[k];
                const struct cmp_network *n = cmp_network_find(r->p, sn->name);
                char *e = fmt("%s:alias=%s", n ? n->name : sn->name, s->name);

                for (size_t i = 0; e && i < sn->aliases.n; i++) {
                        char *t = fmt("%s,alias=%s", e, sn->aliases.v[i]);
                        free(e);
                        e = t;
                }
                if (e && sn->ipv4_address) {
                        char *t = fmt("%s,ip=%s", e, sn->ipv4_address);
                        free(e);
                        e = t;
                }
                vec_add(&nets, e);
        }
        return nets.v;
}

static void networking(struct cmp_real *r, const struct cmp_service *s, struct eng_config *cfg)
{
        struct vec ports = {0}, aliases = {0}, hosts = {0};

        if (s->network_mode && strcmp(s->network_mode, "bridge") != 0)
                cfg->network = strdup(s->network_mode);
        else if (s->n_networks) {
                const struct cmp_network *n = cmp_network_find(r->p, s->networks[0].name);

                cfg->network = strdup(n ? n->name : s->networks[0].name);
                vec_add(&aliases, strdup(s->name));
                for (size_t i = 0; i < s->networks[0].aliases.n; i++)
                        vec_add(&aliases, strdup(s->networks[0].aliases.v[i]));
                if (s->networks[0].ipv4_address)
                        cfg->ip = strdup(s->networks[0].ipv4_address);
                cfg->networks = further_networks(r, s);
        }
        for (size_t i = 0; i < s->n_ports; i++) {
                const struct cmp_port *p = &s->ports[i];

                if (p->published)
                        vec_add(&ports,
                                fmt("%s%s%u:%u/%s", p->host_ip ? p->host_ip : "",
                                    p->host_ip ? ":" : "", p->published, p->target, p->protocol));
                else
                        vec_add(&ports, fmt("%u/%s", p->target, p->protocol));
        }
        for (size_t i = 0; i < s->extra_hosts.n; i++) {
                char *h = strdup(s->extra_hosts.v[i]), *eq = h ? strchr(h, '=') : NULL;

                if (eq)
                        *eq = ':';
                vec_add(&hosts, h);
        }
        cfg->ports = ports.v;
        cfg->aliases = aliases.v;
        cfg->add_hosts = hosts.v;
        cfg->dns = dupv(&s->dns);
}

static void restart_policy(const struct cmp_service *s, struct eng_config *cfg)
{
        const char *r = s->restart;

        if (!r || !strcmp(r, "no"))
                return;
        if (!strcmp(r, "always") || !strcmp(r, "unless-stopped")) {
                cfg->restart = ENG_RESTART_ALWAYS;
        } else {
                cfg->restart = ENG_RESTART_ON_FAILURE;
                cfg->restart_max = r[10] == ':' ? atoi(r + 11) : 0;
        }
}

static int build_config(struct cmp_real *r, const struct cmp_service *s, const char *name,
                        struct eng_config *cfg, struct isola_err *err)
{
        char image[CMP_CTR_NAME_MAX];
        struct vec env = {0};

        cmp_service_image(r->p, s, image, sizeof(image));
        cfg->name = strdup(name);
        cfg->image = strdup(image);
        if (s->has_command)
                cfg->cmd = dupv(&s->command);
        if (s->has_entrypoint) {
                cfg->entrypoint = dupv(&s->entrypoint);
                cfg->entrypoint_set = true;
        }
        for (size_t i = 0; i < s->environment.n; i++)
                if (s->environment.v[i].val)
                        vec_add(&env,
                                fmt("%s=%s", s->environment.v[i].key, s->environment.v[i].val));
        cfg->env = env.v;
        cfg->workdir = s->working_dir ? strdup(s->working_dir) : NULL;
        cfg->user = s->user ? strdup(s->user) : NULL;
        cfg->hostname = s->hostname ? strdup(s->hostname) : NULL;
        cfg->memory = s->limits.memory;
        cfg->cpus = s->limits.cpus;
        cfg->pids_limit = s->limits.pids;
        cfg->read_only = s->read_only;
        cfg->init = s->init;
        cfg->tty = s->tty;
        cfg->interactive = s->stdin_open;
        cfg->cap_add = dupv(&s->cap_add);
        cfg->cap_drop = dupv(&s->cap_drop);
        cfg->stop_signal = s->stop_signal ? strdup(s->stop_signal) : NULL;
        cfg->stop_timeout =
            s->stop_grace_period_ms >= 0 ? (int)((s->stop_grace_period_ms + 999) / 1000) : 10;
        restart_policy(s, cfg);
        cmp_health_config(&s->healthcheck, cfg);
        networking(r, s, cfg);
        if (!cfg->name || !cfg->image)
                return err_set(err, ENOMEM, "out of memory");
        return mounts(r, s, cfg, err);
}

static int overrides(struct eng_config *cfg, char *const *cmd, char *const *env)
{
        size_t n = 0, m = 0;

        if (cmd) {
                for (size_t i = 0; cfg->cmd && cfg->cmd[i]; i++)
                        free(cfg->cmd[i]);
                free(cfg->cmd);
                while (cmd[n])
                        n++;
                cfg->cmd = calloc(n + 1, sizeof(*cfg->cmd));
                for (size_t i = 0; cfg->cmd && i < n; i++)
                        cfg->cmd[i] = strdup(cmd[i]);
                if (!cfg->cmd)
                        return -1;
        }
        for (n = 0; env && env[n];)
                n++;
        for (m = 0; cfg->env && cfg->env[m];)
                m++;
        if (n) {
                char **e = realloc(cfg->env, (n + m + 1) * sizeof(*e));

                if (!e)
                        return -1;
                for (size_t i = 0; i < n; i++)
                        e[m + i] = strdup(env[i]);
                e[n + m] = NULL;
                cfg->env = e;
        }
        return 0;
}

static int create(struct cmp_real *r, const struct cmp_service *s, const char *name,
                  char *const *cmd, char *const *env, int number, const char *hash,
                  char id[ENG_ID_LEN + 1], struct isola_err *err)
{
        struct eng_config cfg = {0};
        sqlite3_stmt *st;
        int rc;

        if (build_config(r, s, name, &cfg, err) < 0 || overrides(&cfg, cmd, env) < 0) {
                eng_config_free(&cfg);
                return err->msg[0] ? -1 : err_set(err, ENOMEM, "out of memory");
        }
        rc = eng_create(&r->eng, &cfg, id, err);
        eng_config_free(&cfg);
        if (rc < 0)
                return -1;
        if (sqlite3_prepare_v2(r->eng.db,
                               "INSERT OR REPLACE INTO compose_containers (container_id, project, "
                               "service, number, config_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(r->eng.db, "compose containers", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->p->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, s->name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, number);
        sqlite3_bind_text(st, 5, hash, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                struct isola_err ignore = {0};

                db_fail(r->eng.db, "compose containers", err);
                eng_remove(&r->eng, id, true, true, &ignore);
                return -1;
        }
        return 0;
}

static int r_create(void *ctx, const struct cmp_project *p, const struct cmp_service *s,
                    const char *name, int number, const char *hash, struct isola_err *err)
{
        char id[ENG_ID_LEN + 1];

        (void)p;
        return create(ctx, s, name, NULL, NULL, number, hash, id, err);
}

int cmp_real_create_oneoff(struct cmp_real *r, const struct cmp_service *s, const char *name,
                           char *const *cmd, char *const *env, int number,
                           char id_out[ENG_ID_LEN + 1], struct isola_err *err)
{
        return create(r, s, name, cmd, env, number, "oneoff", id_out, err);
}

static int r_start(void *ctx, const char *name, struct isola_err *err)
{
        struct eng_start_opts o = {0};

        return eng_start(&((struct cmp_real *)ctx)->eng, name, &o, err);
}

static int r_stop(void *ctx, const char *name, int timeout_s, struct isola_err *err)
{
        return eng_stop(&((struct cmp_real *)ctx)->eng, name, timeout_s, err);
}

static int r_remove(void *ctx, const char *name, bool volumes, struct isola_err *err)
{
        (void)volumes;
        /* anonymous volumes go with the container, as `docker compose down` */
        return eng_remove(&((struct cmp_real *)ctx)->eng, name, true, true, err);
}

static const char *service_of(struct cmp_real *r, const char *id, char *buf, size_t len)
{
        sqlite3_stmt *st;
        const char *out = NULL;

        if (sqlite3_prepare_v2(r->eng.db,
                               "SELECT service FROM compose_containers WHERE container_id = ?1", -1,
                               &st, NULL) != SQLITE_OK)
                return NULL;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
                snprintf(buf, len, "%s", sqlite3_column_text(st, 0));
                out = buf;
        }
        sqlite3_finalize(st);
        return out;
}

static int r_inspect(void *ctx, const char *name, struct cmp_ctr *out, struct isola_err *err)
{
        struct cmp_real *r = ctx;
        struct eng_container *ct = NULL;
        char svc[CMP_CTR_NAME_MAX];
        int rc = 0;

        if (eng_get(&r->eng, name, &ct, err) < 0)
                return -1;
        memset(out, 0, sizeof(*out));
        snprintf(out->name, sizeof(out->name), "%s", ct->name);
        out->state = state_of(ct->state);
        out->exit_code = ct->exit_code;
        if (service_of(r, ct->id, svc, sizeof(svc)) && out->state == CMP_CTR_RUNNING)
                rc = cmp_health_update(r, ct->id, &out->health, err);
        eng_container_free(ct);
        return rc;
}

static int r_network_ensure(void *ctx, const struct cmp_project *p, const struct cmp_network *n,
                            struct isola_err *err)
{
        struct cmp_real *r = ctx;
        struct net_create_opts o = {
            .name = n->name, .subnet = n->subnet, .gateway = n->gateway, .internal = n->internal};
        struct isola_err probe = {0};
        char *json = NULL;

        (void)p;
        if (net_network_json(&r->net, n->name, &json, &probe) == 0) {
                free(json);
                return 0;
        }
        if (n->external)
                return err_set(err, ENOENT,
                               "network %s declared as external, but could not be "
                               "found",
                               n->name);
        return net_network_create(&r->net, &o, err) < 0 ? -1 : 1;
}

static int r_network_remove(void *ctx, const char *name, struct isola_err *err)
{
        struct cmp_real *r = ctx;

        if (net_network_remove(&r->net, name, err) < 0 && err->errnum != ENOENT)
                return -1;
        return 0;
}

static int r_volume_ensure(void *ctx, const struct cmp_project *p, const struct cmp_volume *v,
                           struct isola_err *err)
{
        struct cmp_real *r = ctx;
        struct eng_volume out = {0};
        struct isola_err probe = {0};

        (void)p;
        if (eng_volume_get(&r->eng, v->name, &out, &probe) == 0)
                return 0;
        if (v->external)
                return err_set(err, ENOENT,
                               "volume %s declared as external, but could not be found", v->name);
        return eng_volume_create(&r->eng, v->name, false, &out, err) < 0 ? -1 : 1;
}

static int r_volume_remove(void *ctx, const char *name, struct isola_err *err)
{
        struct cmp_real *r = ctx;

        if (eng_volume_remove(&r->eng, name, false, err) < 0 && err->errnum != ENOENT)
                return -1;
        return 0;
}

static int r_image_remove(void *ctx, const char *image, struct isola_err *err)
{
        struct cmp_real *r = ctx;
        struct img_store s;
        int rc;

        img_store_init(&s, &r->eng.paths, r->eng.db);
        rc = img_remove(&s, image, false, err);
        if (rc < 0 && err->errnum == ENOENT)
                rc = 0;
        return rc;
}

static void r_sleep(void *ctx, int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

        (void)ctx;
        nanosleep(&ts, NULL);
}

const struct cmp_engine_ops cmp_real_ops = {
    .list = r_list,
    .create = r_create,
    .start = r_start,
    .stop = r_stop,
    .remove = r_remove,
    .inspect = r_inspect,
    .network_ensure = r_network_ensure,
    .network_remove = r_network_remove,
    .volume_ensure = r_volume_ensure,
    .volume_remove = r_volume_remove,
    .image_remove = r_image_remove,
    .sleep_ms = r_sleep,
};
