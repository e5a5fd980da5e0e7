/* bld_build: sets up a build (context, Containerfile, ignore file, build
 * args, scratch dir, store lock), runs the executor, and tears everything
 * down whatever happened: the scratch dir (upper dirs, bundles) goes, RUN
 * containers were deleted by their step, and no image is registered unless
 * every step succeeded. Layers of the steps that succeeded stay in the
 * cache, as in Docker. Also `isola builder prune`. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/build_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

static int find_file(struct bld_ctx *c, char *path, size_t len, struct isola_err *err)
{
        static const char *const names[] = {"Containerfile", "Dockerfile"};
        if (c->o->file) {
                snprintf(path, len, "%s", c->o->file);
                return 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                struct stat st;
                snprintf(path, len, "%s/%s", c->context, names[i]);
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
                        return 0;
        }
        return err_set(err, ENOENT, "no Containerfile or Dockerfile in '%s' (use -f)", c->context);
}

static int setup(struct bld_ctx *c, struct isola_err *err)
{
        if (!realpath(c->o->context, c->context))
                return err_sys(err, "context '%s'", c->o->context);
        c->ctx_fd = open(c->context, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (c->ctx_fd < 0)
                return err_sys(err, "context '%s'", c->o->context);
        const char *net = c->o->network ? c->o->network : "host";
        if (!strcmp(net, "host"))
                c->host_network = true;
        else if (strcmp(net, "none") != 0)
                return err_set(err, ENOTSUP, "--network %s: build supports none and host", net);
        char path[PATH_MAX];
        if (find_file(c, path, sizeof(path), err) < 0 || bld_file_load(path, &c->file, err) < 0)
                return -1;
        if (bld_ignore_load(c->ctx_fd, &c->ignore, err) < 0)
                return err_prefix(err, "context '%s'", c->o->context);
        for (size_t i = 0; i < c->o->n_build_args; i++) {
                const char *a = c->o->build_args[i], *eq = strchr(a, '=');
                char *k = strndup(a, eq ? (size_t)(eq - a) : strlen(a));
                const char *v = eq ? eq + 1 : getenv(a);
                int rc = 0;
                if (!k || !*k)
                        rc = err_set(err, EINVAL, "--build-arg '%s': expected KEY=VALUE", a);
                else if (v)
                        rc = bld_vars_set(&c->build_args, k, v, err);
                free(k);
                if (rc < 0)
                        return -1;
        }
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        c->use_epoch = sde && *sde;
        c->epoch = bld_source_date_epoch();
        if (bld_plan(c, err) < 0)
                return -1;
        char tmpdir[PATH_MAX];
        snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", c->s->paths.root);
        snprintf(c->ctr_root, sizeof(c->ctr_root), "%s/build-ctr", c->s->paths.runroot);
        if (fs_mkdir_p(tmpdir, 0700, err) < 0 || fs_mkdir_p(c->ctr_root, 0700, err) < 0)
                return -1;
        bld_reap(c, tmpdir);
        snprintf(c->tmp, sizeof(c->tmp), "%s/build-%d-XXXXXX", tmpdir, (int)getpid());
        if (!mkdtemp(c->tmp)) {
                int e = errno;
                c->tmp[0] = '\0';
                errno = e;
                return err_sys(err, "scratch dir in '%s'", tmpdir);
        }
        return 0;
}

static void teardown(struct bld_ctx *c)
{
        if (c->tmp[0])
                bld_rmtree(c->tmp);
        for (size_t i = 0; i < c->n_stages; i++) {
                free(c->stages[i].name);
                free(c->stages[i].base);
                bld_state_free(&c->stages[i].st);
        }
        free(c->stages);
        bld_vars_free(&c->build_args);
        bld_vars_free(&c->global);
        bld_ignore_free(&c->ignore);
        bld_file_free(&c->file);
        if (c->ctx_fd >= 0)
                close(c->ctx_fd);
}

int bld_build(struct img_store *s, const struct bld_opts *o, char id_out[IMG_DIGEST_MAX],
              struct isola_err *err)
{
        struct bld_ctx c = {.s = s, .o = o, .ctx_fd = -1};
        int rc = setup(&c, err);
        /* shared: image prune (exclusive) waits while layers are written
         * but not yet referenced by an image */
        bool locked = rc == 0 && img_store_lock(s, false, err) == 0;
        if (rc == 0 && !locked)
                rc = -1;
        if (rc == 0)
                rc = bld_exec(&c, id_out, err);
        if (locked)
                img_store_unlock(s);
        teardown(&c);
        return rc;
}

int bld_builder_prune(struct img_store *s, bool all, int64_t older_than, int64_t *rows_out,
                      uint64_t *freed_out, struct isola_err *err)
{
        *rows_out = 0;
        *freed_out = 0;
        if (bld_cache_prune(s->db, all, older_than, rows_out, err) < 0)
                return err_prefix(err, "builder prune");
        if (all) {
                char dir[PATH_MAX];
                snprintf(dir, sizeof(dir), "%s/build-cache", s->paths.root);
                bld_rmtree(dir);
        }
        return img_prune(s, freed_out, err);
}
