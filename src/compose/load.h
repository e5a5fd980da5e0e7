/* Internal to src/compose: the loader's state shared by the passes. */
#ifndef ISOLA_COMPOSE_LOAD_H
#define ISOLA_COMPOSE_LOAD_H

#include "compose/compose.h"
#include "util/cleanup.h"

struct cmp_loaded_file {
        const char *path; /* absolute */
        struct cmp_node *root;
};

struct cmp_loader {
        struct cmp_project *p;
        struct cmp_arena *a;
        const struct cmp_load_opts *o;
        const char *project_dir;
        const char *cwd;
        struct cmp_loaded_file files[CMP_FILES_MAX];
        size_t n_files;
        struct isola_err *err;
};

/* Reads, parses, interpolates and normalises a file once (cached by path);
 * relative paths in it resolve against base_dir. */
int cmp_load_file(struct cmp_loader *l, const char *path, const char *base_dir,
                  struct cmp_node **root_out);
int cmp_read(struct cmp_loader *l, const char *path, char **buf, size_t *len);

/* normalize.c: short syntax → long syntax, relative paths → absolute. */
int cmp_normalize(struct cmp_loader *l, struct cmp_node *root, const char *base_dir);
/* base/rel joined and cleaned lexically ("a/./b/../c" → "a/c"); rel may be absolute. */
char *cmp_path_resolve(struct cmp_arena *a, const char *base, const char *rel);
char *cmp_dirname(struct cmp_arena *a, const char *path);

/* merge.c */
int cmp_merge_files(struct cmp_loader *l, struct cmp_node *base, const struct cmp_node *over);
int cmp_merge_service(struct cmp_loader *l, struct cmp_node *base, const struct cmp_node *over);
/* extends.c: resolves every service's extends in a file tree in place. */
int cmp_extends_resolve(struct cmp_loader *l, struct cmp_node *root, const char *file);

/* bind.c / bind_service.c */
int cmp_bind_project(struct cmp_loader *l, struct cmp_node *root);
int cmp_bind_service(struct cmp_loader *l, const char *name, struct cmp_node *node,
                     struct cmp_service *s, struct cmp_path *path);

/* One service being bound (bind_service.c, bind_service_keys.c). */
struct cmp_bctx {
        struct cmp_loader *l;
        struct cmp_service *s;
        struct cmp_path *path;
        const struct cmp_node *env_file; /* applied after environment is known */
};
void *cmp_bctx_alloc(struct cmp_bctx *c, size_t n, size_t size); /* n + 1 zeroed entries */
/* Service keys of bind_service_keys.c, one handler per key. */
int cmp_k_healthcheck(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_restart(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_deploy(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_scale(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_mem_limit(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_cpus(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_pids_limit(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_user(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_working_dir(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_hostname(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_container_name(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_labels(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_cap_add(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_cap_drop(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_read_only(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_init(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_tty(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_stdin_open(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_privileged(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_stop_signal(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_stop_grace_period(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_profiles(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_secrets(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_configs(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_dns(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_extra_hosts(struct cmp_bctx *c, const struct cmp_node *v);
int cmp_k_pull_policy(struct cmp_bctx *c, const struct cmp_node *v);

/* Typed readers for the binder; errors name the path. */
int cmp_get_str(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path,
                const char **out);
int cmp_get_bool(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path, bool *out);
int cmp_get_int(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path, long min,
                long max, long *out);
/* A sequence of scalars; a single scalar too when one_ok. */
int cmp_get_strv(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path, bool one_ok,
                 struct cmp_strv *out);
/* A mapping of scalars (normalize made lists into mappings). */
int cmp_get_kvs(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path,
                struct cmp_kvs *out);
int cmp_get_duration(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path,
                     int64_t *ms_out);
int cmp_want(struct cmp_loader *l, const struct cmp_node *n, struct cmp_path *path,
             enum cmp_kind kind);
void cmp_warn_key(struct cmp_loader *l, const struct cmp_node *key, struct cmp_path *path,
                  const char *why);
int cmp_oom(struct cmp_loader *l);

#endif
