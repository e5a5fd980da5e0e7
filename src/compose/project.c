/* Loading a project: file discovery, the environment (.env / --env-file),
 * the passes of compose.h in order, the project name, profiles, and the
 * checks that need the whole model (references, depends_on cycles). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose/load.h"
#include "compose/yaml_load.h"
#include "util/cleanup.h"
#include "util/fs.h"

static int read_disk(void *ctx, const char *path, char **buf, size_t *len, struct isola_err *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;

        (void)ctx;
        if (fd < 0)
                return err_sys(err, "%s", path);
        if (fstat(fd, &st) < 0)
                return err_sys(err, "%s", path);
        if (!S_ISREG(st.st_mode))
                return err_set(err, EINVAL, "%s: not a regular file", path);
        if (st.st_size > (off_t)CMP_FILE_MAX)
                return err_set(err, EFBIG, "%s: file too large (over %u bytes)", path,
                               CMP_FILE_MAX);
        if (fs_read_fd(fd, CMP_FILE_MAX, buf, len, err) < 0)
                return err_prefix(err, "%s", path);
        return 0;
}

int cmp_read(struct cmp_loader *l, const char *path, char **buf, size_t *len)
{
        if (l->o->read)
                return l->o->read(l->o->read_ctx, path, buf, len, l->err);
        return read_disk(NULL, path, buf, len, l->err);
}

int cmp_load_file(struct cmp_loader *l, const char *path, const char *base_dir,
                  struct cmp_node **root_out)
{
        struct cmp_loaded_file *f;
        char *buf;
        size_t len;
        int rc;

        for (size_t i = 0; i < l->n_files; i++) {
                if (!strcmp(l->files[i].path, path)) {
                        *root_out = l->files[i].root;
                        return 0;
                }
        }
        if (l->n_files == CMP_FILES_MAX)
                return err_set(l->err, E2BIG, "%s: too many compose files", path);
        f = &l->files[l->n_files];
        f->path = cmp_strdup(l->a, path);
        if (!f->path)
                return cmp_oom(l);
        if (cmp_read(l, path, &buf, &len) < 0)
                return -1;
        rc = cmp_yaml_load(l->a, f->path, buf, len, &f->root, l->err);
        free(buf);
        if (rc < 0 || cmp_interpolate_tree(l->a, &l->p->env, &l->p->warns, f->root, l->err) < 0 ||
            cmp_normalize(l, f->root, base_dir) < 0)
                return -1;
        l->n_files++;
        *root_out = f->root;
        return 0;
}

static bool exists(struct cmp_loader *l, const char *path)
{
        char *buf;
        size_t len;
        struct isola_err e = {0};

        if (l->o->read) {
                if (l->o->read(l->o->read_ctx, path, &buf, &len, &e) < 0)
                        return false;
                free(buf);
                return true;
        }
        return access(path, R_OK) == 0;
}

/* No -f: compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml
 * in the directory or its parents, plus the matching override file. */
static int discover(struct cmp_loader *l, const char *cwd, struct cmp_strv *files)
{
        static const char *const names[] = {"compose.yaml", "compose.yml", "docker-compose.yaml",
                                            "docker-compose.yml"};
        char *dir = cmp_strdup(l->a, cwd);

        files->v = cmp_alloc(l->a, 3 * sizeof(*files->v));
        if (!dir || !files->v)
                return cmp_oom(l);
        for (;;) {
                for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                        char *p = cmp_printf(l->a, "%s/%s", strcmp(dir, "/") ? dir : "", names[i]);
                        const char *ext = strrchr(names[i], '.');
                        char *ov;

                        if (!p)
                                return cmp_oom(l);
                        if (!exists(l, p))
                                continue;
                        for (size_t j = i + 1; j < ARRAY_SIZE(names); j++) {
                                char *q = cmp_printf(l->a, "%s/%s", dir, names[j]);

                                if (q && exists(l, q))
                                        cmp_warn(l->a, &l->p->warns,
                                                 "found several compose files in %s; using %s", dir,
                                                 names[i]);
                        }
                        files->v[files->n++] = p;
                        for (int e = 0; e < 2; e++) {
                                ov =
                                    cmp_printf(l->a, "%s/%.*s.override.%s", dir,
                                               (int)(ext - names[i]), names[i], e ? "yml" : "yaml");
                                if (!ov)
                                        return cmp_oom(l);
                                if (exists(l, ov)) {
                                        files->v[files->n++] = ov;
                                        break;
                                }
                        }
                        return 0;
                }
                if (!strcmp(dir, "/"))
                        break;
                dir = cmp_dirname(l->a, dir);
                if (!dir)
                        return cmp_oom(l);
        }
        return err_set(l->err, ENOENT,
                       "no compose file found in %s or its parents (compose.yaml, compose.yml, "
                       "docker-compose.yaml, docker-compose.yml); use -f FILE",
                       cwd);
}

static int load_env(struct cmp_loader *l)
{
        struct cmp_project *p = l->p;
        const char *env_file = l->o->env_file;
        bool required = env_file != NULL;
        char *buf;
        size_t len;
        int rc;

        for (char *const *e = l->o->environ; e && *e; e++) {
                const char *eq = strchr(*e, '=');
                char *name;

                if (!eq)
                        continue;
                name = cmp_strndup(l->a, *e, (size_t)(eq - *e));
                if (!name || cmp_env_put(l->a, &p->env, name, eq + 1, false) < 0)
                        return cmp_oom(l);
        }
        if (!env_file)
                env_file = cmp_printf(l->a, "%s/.env", l->project_dir);
        else if (env_file[0] != '/')
                env_file = cmp_path_resolve(l->a, l->cwd, env_file);
        if (!env_file)
                return cmp_oom(l);
        if (!required && !exists(l, env_file))
                return 0;
        if (cmp_read(l, env_file, &buf, &len) < 0)
                return err_prefix(l->err, "env file");
        /* the process environment was put first, so it wins over the file */
        rc = cmp_dotenv_parse(l->a, env_file, buf, len, &p->env, &p->env, false, &p->warns, l->err);
        free(buf);
        return rc;
}

static bool valid_name(const char *s)
{
        if (!*s || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
                      *s == '_'))
                        return false;
        return true;
}

static int project_name(struct cmp_loader *l, const struct cmp_node *root)
{
        const char *name = l->o->project_name;
        const struct cmp_node *n = cmp_map_get(root, "name");
        const char *base;
        char *norm, *o;

        if (!name)
                name = cmp_env_get(&l->p->env, "COMPOSE_PROJECT_NAME");
        if (!name && n && n->kind == CMP_SCALAR && !cmp_is_null(n))
                name = n->str;
        if (name) {
                if (!valid_name(name))
                        return err_set(l->err, EINVAL,
                                       "invalid project name \"%.100s\": use lowercase letters, "
                                       "digits, '-' and '_', starting with a letter or digit",
                                       name);
                l->p->name = name;
                return 0;
        }
        base = strrchr(l->project_dir, '/');
        base = base && base[1] ? base + 1 : l->project_dir;
        norm = o = cmp_strdup(l->a, base);
        if (!norm)
                return cmp_oom(l);
        for (const char *s = base; *s; s++) {
                char ch = *s;

                if (ch >= 'A' && ch <= 'Z')
                        ch = (char)(ch - 'A' + 'a');

                if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                    ((ch == '-' || ch == '_') && o != norm))
                        *o++ = ch;
        }
        *o = '\0';
        if (!*norm)
                return err_set(l->err, EINVAL,
                               "cannot derive a project name from \"%s\"; use -p NAME", base);
        l->p->name = norm;
        return 0;
}

static bool profile_active(struct cmp_loader *l, const struct cmp_strv *svc_profiles)
{
        const char *env = cmp_env_get(&l->p->env, "COMPOSE_PROFILES");

        if (svc_profiles->n == 0)
                return true;
        for (size_t i = 0; i < svc_profiles->n; i++) {
                for (size_t j = 0; j < l->o->n_profiles; j++)
                        if (!strcmp(l->o->profiles[j], "*") ||
                            !strcmp(l->o->profiles[j], svc_profiles->v[i]))
                                return true;
                for (const char *s = env; s && *s;) {
                        size_t n = strcspn(s, ",");

                        if ((n == 1 && *s == '*') ||
                            (n == strlen(svc_profiles->v[i]) && !strncmp(s, svc_profiles->v[i], n)))
                                return true;
                        s += n + (s[n] == ',');
                }
        }
        return false;
}

static int cmp_name_cmp(const void *a, const void *b)
{
        return strcmp(((const struct cmp_service *)a)->name, ((const struct cmp_service *)b)->name);
}

static int bind_services(struct cmp_loader *l, struct cmp_node *root)
{
        struct cmp_project *p = l->p;
        struct cmp_node *svcs = cmp_map_get(root, "services");
        struct cmp_path path = {0};
        size_t n = svcs && svcs->kind == CMP_MAP ? cmp_map_len(svcs) : 0;

        if (n == 0)
                return err_set(l->err, EINVAL, "%s: no services defined", l->files[0].path);
        p->services = cmp_alloc(l->a, n * sizeof(*p->services));
        p->disabled.v = cmp_alloc(l->a, n * sizeof(*p->disabled.v));
        if (!p->services || !p->disabled.v)
                return cmp_oom(l);
        for (size_t i = 0; i < n; i++) {
                struct cmp_service *s = &p->services[p->n_services];

                cmp_path_pop(&path, 0);
                cmp_path_key(&path, "services");
                cmp_path_key(&path, cmp_map_key(svcs, i)->str);
                if (cmp_bind_service(l, cmp_map_key(svcs, i)->str, cmp_map_val(svcs, i), s, &path) <
                    0)
                        return -1;
                if (profile_active(l, &s->profiles))
                        p->n_services++;
                else
                        p->disabled.v[p->disabled.n++] = s->name;
        }
        qsort(p->services, p->n_services, sizeof(*p->services), cmp_name_cmp);
        return 0;
}

const struct cmp_service *cmp_service_find(const struct cmp_project *p, const char *name)
{
        for (size_t i = 0; i < p->n_services; i++)
                if (!strcmp(p->services[i].name, name))
                        return &p->services[i];
        return NULL;
}

const struct cmp_network *cmp_network_find(const struct cmp_project *p, const char *key)
{
        for (size_t i = 0; i < p->n_networks; i++)
                if (!strcmp(p->networks[i].key, key))
                        return &p->networks[i];
        return NULL;
}

const struct cmp_volume *cmp_volume_find(const struct cmp_project *p, const char *key)
{
        for (size_t i = 0; i < p->n_volumes; i++)
                if (!strcmp(p->volumes[i].key, key))
                        return &p->volumes[i];
        return NULL;
}

static bool strv_has(const struct cmp_strv *v, const char *s)
{
        for (size_t i = 0; i < v->n; i++)
                if (!strcmp(v->v[i], s))
                        return true;
        return false;
}

static bool filedef_has(const struct cmp_filedef *d, size_t n, const char *key)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(d[i].key, key))
                        return true;
        return false;
}

/* Services without networks join "default"; the project gets that network. */
static int default_network(struct cmp_loader *l)
{
        struct cmp_project *p = l->p;
        bool used = false;

        for (size_t i = 0; i < p->n_services; i++) {
                struct cmp_service *s = &p->services[i];

                if (!s->n_networks && !s->network_mode_set) {
                        s->networks = cmp_alloc(l->a, sizeof(*s->networks));
                        if (!s->networks)
                                return cmp_oom(l);
                        s->networks[0].name = "default";
                        s->n_networks = 1;
                }
                for (size_t j = 0; j < s->n_networks; j++)
                        used |= !strcmp(s->networks[j].name, "default");
        }
        if (!used || cmp_network_find(p, "default"))
                return 0;
        if (!p->networks) {
                p->networks = cmp_alloc(l->a, sizeof(*p->networks));
                if (!p->networks)
                        return cmp_oom(l);
        }
        p->networks[p->n_networks++] =
            (struct cmp_network){.key = "default", .name = cmp_printf(l->a, "%s_default", p->name)};
        return p->networks[p->n_networks - 1].name ? 0 : cmp_oom(l);
}

static int check_service(struct cmp_loader *l, const struct cmp_service *s)
{
        struct cmp_project *p = l->p;
        const char *n = s->name;

        for (size_t i = 0; i < s->n_depends_on; i++) {
                const char *d = s->depends_on[i].service;

                if (cmp_service_find(p, d))
                        continue;
                if (strv_has(&p->disabled, d)) {
                        if (s->depends_on[i].required)
                                return cmp_fail(l->err, s->node, NULL,
                                                "services.%s.depends_on: service \"%s\" is "
                                                "disabled by profiles (use --profile)",
                                                n, d);
                        continue;
                }
                return cmp_fail(l->err, s->node, NULL,
                                "services.%s.depends_on: undefined service \"%s\"", n, d);
        }
        for (size_t i = 0; i < s->n_networks; i++)
                if (!cmp_network_find(p, s->networks[i].name) &&
                    strcmp(s->networks[i].name, "default") != 0)
                        return cmp_fail(l->err, s->node, NULL,
                                        "services.%s.networks: network \"%s\" is not defined in "
                                        "the top-level networks",
                                        n, s->networks[i].name);
        for (size_t i = 0; i < s->n_volumes; i++) {
                const struct cmp_mount *m = &s->volumes[i];

                if (m->type == CMP_VOL_VOLUME && m->source && !cmp_volume_find(p, m->source))
                        return cmp_fail(l->err, s->node, NULL,
                                        "services.%s.volumes[%zu]: volume \"%s\" is not defined "
                                        "in the top-level volumes",
                                        n, i, m->source);
        }
        for (size_t i = 0; i < s->n_secrets; i++)
                if (!filedef_has(p->secrets, p->n_secrets, s->secrets[i].source))
                        return cmp_fail(l->err, s->node, NULL,
                                        "services.%s.secrets: secret \"%s\" is not defined", n,
                                        s->secrets[i].source);
        for (size_t i = 0; i < s->n_configs; i++)
                if (!filedef_has(p->configs, p->n_configs, s->configs[i].source))
                        return cmp_fail(l->err, s->node, NULL,
                                        "services.%s.configs: config \"%s\" is not defined", n,
                                        s->configs[i].source);
        if (s->network_mode && !strncmp(s->network_mode, "service:", 8) &&
            !cmp_service_find(p, s->network_mode + 8))
                return cmp_fail(l->err, s->node, NULL,
                                "services.%s.network_mode: undefined service \"%s\"", n,
                                s->network_mode + 8);
        if (s->container_name && s->replicas > 1)
                return cmp_fail(l->err, s->node, NULL,
                                "services.%s: container_name cannot be used with %d replicas", n,
                                s->replicas);
        return 0;
}

/* Two services (or two replicas) publishing the same host port would fail
 * half-way through `up`; refuse before anything starts. */
static int check_ports(struct cmp_loader *l)
{
        struct cmp_project *p = l->p;

        for (size_t i = 0; i < p->n_services; i++) {
                const struct cmp_service *s = &p->services[i];

                for (size_t a = 0; a < s->n_ports; a++) {
                        const struct cmp_port *x = &s->ports[a];

                        if (!x->published)
                                continue;
                        if (s->replicas > 1)
                                return cmp_fail(l->err, s->node, NULL,
                                                "services.%s: %d replicas cannot all publish "
                                                "host port %u",
                                                s->name, s->replicas, x->published);
                        for (size_t j = i; j < p->n_services; j++) {
                                const struct cmp_service *t = &p->services[j];

                                for (size_t b = j == i ? a + 1 : 0; b < t->n_ports; b++) {
                                        const struct cmp_port *y = &t->ports[b];

                                        if (y->published == x->published &&
                                            !strcmp(y->protocol, x->protocol) &&
                                            (!x->host_ip || !y->host_ip ||
                                             !strcmp(x->host_ip, y->host_ip)))
                                                return cmp_fail(
                                                    l->err, t->node, NULL,
                                                    "port conflict: services %s and %s both "
                                                    "publish host port %u/%s",
                                                    s->name, t->name, x->published, x->protocol);
                                }
                        }
                }
        }
        return 0;
}

struct topo {
        const struct cmp_project *p;
        unsigned char *mark; /* 0 new, 1 on the stack, 2 done */
        size_t *stack, depth;
        size_t *order, n;
        struct isola_err *err;
};

static int visit(struct topo *t, size_t i)
{
        const struct cmp_service *s = &t->p->services[i];

        if (t->mark[i] == 2)
                return 0;
        if (t->mark[i] == 1) {
                char buf[ISOLA_ERR_MSG_MAX] = "";
                size_t used = 0, from = 0;

                while (t->stack[from] != i)
                        from++;
                for (size_t k = from; k < t->depth && used < sizeof(buf); k++)
                        used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s -> ",
                                                 t->p->services[t->stack[k]].name);
                if (used < sizeof(buf))
                        snprintf(buf + used, sizeof(buf) - used, "%s", s->name);
                return err_set(t->err, ELOOP, "depends_on cycle: %s", buf);
        }
        t->mark[i] = 1;
        t->stack[t->depth++] = i;
        /* dependencies in name order, so the order is stable */
        for (size_t j = 0; j < t->p->n_services; j++) {
                for (size_t d = 0; d < s->n_depends_on; d++) {
                        if (!strcmp(s->depends_on[d].service, t->p->services[j].name) &&
                            visit(t, j) < 0)
                                return -1;
                }
        }
        t->depth--;
        t->mark[i] = 2;
        t->order[t->n++] = i;
        return 0;
}

int cmp_project_order(const struct cmp_project *p, size_t *order_out, struct isola_err *err)
{
        struct topo t = {.p = p, .order = order_out, .err = err};
        int rc = 0;

        t.mark = calloc(p->n_services + 1, 1);
        t.stack = calloc(p->n_services + 1, sizeof(*t.stack));
        if (!t.mark || !t.stack)
                rc = err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; rc == 0 && i < p->n_services; i++)
                rc = visit(&t, i);
        free(t.mark);
        free(t.stack);
        return rc;
}

static int check_project(struct cmp_loader *l)
{
        size_t *order;
        int rc;

        if (default_network(l) < 0)
                return -1;
        for (size_t i = 0; i < l->p->n_services; i++)
                if (check_service(l, &l->p->services[i]) < 0)
                        return -1;
        if (check_ports(l) < 0)
                return -1;
        order = calloc(l->p->n_services + 1, sizeof(*order));
        if (!order)
                return cmp_oom(l);
        rc = cmp_project_order(l->p, order, l->err);
        free(order);
        return rc;
}

static int load(struct cmp_loader *l, const struct cmp_load_opts *o)
{
        struct cmp_project *p = l->p;
        struct cmp_node *root = NULL;
        const char *cwd = o->cwd;
        char cwdbuf[PATH_MAX];

        if (!cwd) {
                if (!getcwd(cwdbuf, sizeof(cwdbuf)))
                        return err_sys(l->err, "getcwd");
                cwd = cwdbuf;
        }
        l->cwd = cwd;
        if (o->n_files > CMP_FILES_MAX)
                return err_set(l->err, E2BIG, "too many -f files");
        if (o->n_files) {
                p->files.v = cmp_alloc(l->a, o->n_files * sizeof(*p->files.v));
                if (!p->files.v)
                        return cmp_oom(l);
                for (size_t i = 0; i < o->n_files; i++) {
                        p->files.v[i] = cmp_path_resolve(l->a, cwd, o->files[i]);
                        if (!p->files.v[i])
                                return cmp_oom(l);
                }
                p->files.n = o->n_files;
        } else if (discover(l, cwd, &p->files) < 0) {
                return -1;
        }
        l->project_dir = o->project_directory ? cmp_path_resolve(l->a, cwd, o->project_directory)
                                              : cmp_dirname(l->a, p->files.v[0]);
        if (!l->project_dir)
                return cmp_oom(l);
        p->workdir = l->project_dir;
        if (load_env(l) < 0)
                return -1;
        /* override files resolve their relative paths against the project dir */
        for (size_t i = 0; i < p->files.n; i++) {
                struct cmp_node *r = NULL;

                if (cmp_load_file(l, p->files.v[i], l->project_dir, &r) < 0 ||
                    cmp_extends_resolve(l, r, p->files.v[i]) < 0)
                        return -1;
                if (!root)
                        root = r;
                else if (cmp_merge_files(l, root, r) < 0)
                        return -1;
        }
        if (project_name(l, root) < 0 || cmp_bind_project(l, root) < 0 ||
            bind_services(l, root) < 0)
                return -1;
        return check_project(l);
}

int cmp_project_load(const struct cmp_load_opts *o, struct cmp_project **out, struct isola_err *err)
{
        struct cmp_project *p = calloc(1, sizeof(*p));
        struct cmp_loader *l;

        if (!p)
                return err_set(err, ENOMEM, "out of memory");
        l = cmp_alloc(&p->arena, sizeof(*l));
        if (!l) {
                free(p);
                return err_set(err, ENOMEM, "out of memory");
        }
        l->p = p;
        l->a = &p->arena;
        l->o = o;
        l->err = err;
        if (load(l, o) < 0) {
                cmp_project_free(p);
                return -1;
        }
        *out = p;
        return 0;
}

void cmp_project_free(struct cmp_project *p)
{
        if (!p)
                return;
        cmp_arena_free(&p->arena);
        free(p);
}
