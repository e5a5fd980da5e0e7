/* COPY and ADD. Sources come from the context (never outside it: a cleaned
 * path starting with ".." is refused, and every lookup resolves inside the
 * context with RESOLVE_IN_ROOT; .containerignore'd files do not exist for
 * them) or, with --from, from another stage's or image's file system,
 * mounted read-only for the step. Docker's rules: a directory source copies
 * its contents; several sources need a destination ending in '/'; a file
 * lands in the destination directory when the destination ends in '/' or is
 * a directory already; relative destinations are below WORKDIR; context
 * files belong to root unless --chown; ADD unpacks local tar archives and
 * refuses URLs. Files are written into the overlay (no container needed),
 * so the upper dir holds exactly the copied files. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/build_internal.h"
#include "build/resolve.h"
#include "build/strbuf.h"
#include "util/cleanup.h"

#define COPY_DEPTH_MAX 256
#define COPY_SOURCES   100000

struct bld_copy_plan {
        const struct bld_instr *in;
        bool add;
        char **srcs; /* cleaned, relative to the source root */
        size_t n_srcs;
        char *dest;
        bool dest_slash;
        const char *chown;
        mode_t chmod;
        bool has_chmod;
        int src_root;
        int own_src_root; /* an fd we opened (a --from mount), else -1 */
        bool from_context;
        struct bld_mount from_mount;
        struct bld_state from_state;
        const struct bld_ignore *ig;
        char *text;
};

void bld_copy_free(struct bld_copy_plan *p)
{
        if (!p)
                return;
        bld_strv_free(p->srcs);
        free(p->dest);
        free(p->text);
        if (p->own_src_root >= 0)
                close(p->own_src_root);
        bld_mount_free(&p->from_mount);
        bld_state_free(&p->from_state);
        free(p);
}

const char *bld_copy_text(const struct bld_copy_plan *p)
{
        return p->text;
}

static int push_src(struct bld_copy_plan *p, const char *s, struct isola_err *err)
{
        if (p->n_srcs >= COPY_SOURCES)
                return err_set(err, E2BIG, "more than %d sources", COPY_SOURCES);
        char **v = realloc(p->srcs, (p->n_srcs + 2) * sizeof(*v));
        if (!v)
                return err_set(err, ENOMEM, "out of memory");
        p->srcs = v;
        if (!(v[p->n_srcs] = strdup(s)))
                return err_set(err, ENOMEM, "out of memory");
        v[++p->n_srcs] = NULL;
        return 0;
}

static bool has_glob(const char *s)
{
        return strpbrk(s, "*?[") != NULL;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* filepath.Glob over the source root: pattern components matched level by
 * level; ignored context paths do not match. */
static int glob_level(struct bld_copy_plan *p, const char *dir, const char *pattern,
                      struct isola_err *err)
{
        const char *slash = strchr(pattern, '/');
        size_t clen = slash ? (size_t)(slash - pattern) : strlen(pattern);
        char comp[NAME_MAX + 1];
        if (clen > NAME_MAX)
                return 0;
        memcpy(comp, pattern, clen);
        comp[clen] = '\0';
        _cleanup_close_ int fd = bld_open_in_root(p->src_root, dir, O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0)
                return 0;
        DIR *d = fdopendir(fd);
        if (!d)
                return err_sys(err, "'%s'", dir);
        (void)steal_fd(&fd); /* the DIR owns it now */
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)) && n < COPY_SOURCES) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (bld_glob_match(comp, de->d_name) != 1)
                        continue;
                char **v = realloc(names, (n + 1) * sizeof(*v));
                if (!v || !(v[n] = strdup(de->d_name))) {
                        free(v ? v : names);
                        closedir(d);
                        return err_set(err, ENOMEM, "out of memory");
                }
                names = v;
                n++;
        }
        closedir(d);
        if (n)
                qsort(names, n, sizeof(*names), cmp_str);
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s%s%s", strcmp(dir, ".") ? dir : "",
                         strcmp(dir, ".") ? "/" : "", names[i]);
                if (p->ig && bld_ignore_match(p->ig, path))
                        continue;
                rc = slash ? glob_level(p, path, slash + 1, err) : push_src(p, path, err);
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return rc;
}

static int add_source(struct bld_copy_plan *p, const char *raw, struct isola_err *err)
{
        if (p->add && (strstr(raw, "://") || !strncmp(raw, "git@", 4)))
                return err_set(err, ENOTSUP,
                               "ADD '%s': URLs and git sources are not supported "
                               "(download in a RUN step)",
                               raw);
        _cleanup_free_ char *s = strdup(raw);
        if (!s)
                return err_set(err, ENOMEM, "out of memory");
        bld_path_clean(s);
        const char *rel = s[0] == '/' ? s + 1 : s;
        if (!*rel)
                rel = ".";
        if (p->from_context && s[0] != '/' && (!strcmp(rel, "..") || !strncmp(rel, "../", 3)))
                return err_set(err, EPERM, "'%s': outside the build context", raw);
        if (has_glob(rel)) {
                size_t before = p->n_srcs;
                if (glob_level(p, ".", rel, err) < 0)
                        return -1;
                if (p->n_srcs == before)
                        return err_set(err, ENOENT, "'%s': no source files match", raw);
                return 0;
        }
        struct stat st;
        _cleanup_close_ int fd = bld_open_in_root(p->src_root, rel, O_PATH, 0);
        bool ignored = p->ig && strcmp(rel, ".") != 0 && bld_ignore_match(p->ig, rel);
        if (fd < 0 || ignored || fstat(fd, &st) < 0)
                return err_set(err, ENOENT, "'%s': not found in the %s", raw,
                               p->from_context ? "build context" : "source stage");
        return push_src(p, rel, err);
}

/* The source root of --from: a built stage or an image, mounted. */
static int from_root(struct bld_ctx *c, struct bld_state *st, struct bld_copy_plan *p,
                     const char *ref, struct isola_err *err)
{
        struct bld_state *src = NULL;
        if (bld_source_state(c, ref, (size_t)-1, &src, &p->from_state, err) < 0)
                return -1;
        (void)st;
        if (bld_mount(c, src, &p->from_mount, err) < 0)
                return -1;
        p->own_src_root = open(p->from_mount.merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (p->own_src_root < 0)
                return err_sys(err, "'%s'", p->from_mount.merged);
        p->src_root = p->own_src_root;
        return 0;
}

static int parse_chmod(const char *s, mode_t *out, struct isola_err *err)
{
        char *end;
        long v = strtol(s, &end, 8);
        if (!*s || *end || v < 0 || v > 07777)
                return err_set(err, EINVAL, "--chmod=%s: expected an octal mode", s);
        *out = (mode_t)v;
        return 0;
}

static int expand_args(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                       char ***words, size_t *n, struct strbuf *text, struct isola_err *err)
{
        struct bld_vars vars;
        if (bld_state_vars(st, &vars, err) < 0)
                return -1;
        int rc = 0;
        if (in->exec_form) {
                *words = calloc(in->argc + 1, sizeof(char *));
                rc = *words ? 0 : err_set(err, ENOMEM, "out of memory");
                for (size_t i = 0; rc == 0 && i < in->argc; i++)
                        rc = bld_expand_word(in->argv[i], &vars, '\0', &(*words)[i], err);
                *n = in->argc;
        } else {
                rc = bld_expand_words(in->rest, &vars, c->file.escape, words, n, err);
        }
        sb_puts(text, bld_op_name(in->op));
        for (size_t i = 0; rc == 0 && i < in->n_flags; i++) {
                _cleanup_free_ char *v = NULL;
                if (in->flags[i].value &&
                    bld_expand_word(in->flags[i].value, &vars, c->file.escape, &v, err) < 0) {
                        rc = -1;
                        break;
                }
                sb_puts(text, " --");
                sb_puts(text, in->flags[i].name);
                if (v) {
                        sb_putc(text, '=');
                        sb_puts(text, v);
                }
        }
        for (size_t i = 0; rc == 0 && i < *n; i++) {
                sb_putc(text, ' ');
                sb_puts(text, (*words)[i]);
        }
        bld_vars_free(&vars);
        if (rc == 0 && *n < 2)
                rc = err_set(err, EINVAL, "requires at least two arguments");
        return rc;
}

int bld_copy_prepare(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                     struct bld_copy_plan **out, struct isola_err *err)
{
        struct bld_copy_plan *p = calloc(1, sizeof(*p));
        struct strbuf text = {0};
        char **words = NULL;
        size_t n = 0;
        if (!p)
                return err_set(err, ENOMEM, "out of memory");
        p->in = in;
        p->add = in->op == BLD_OP_ADD;
        p->own_src_root = -1;
        p->src_root = c->ctx_fd;
        p->from_context = true;
        p->ig = &c->ignore;
        int rc = expand_args(c, st, in, &words, &n, &text, err);
        p->text = sb_take(&text);
        const char *from = rc == 0 ? bld_instr_flag(in, "from", NULL) : NULL;
        if (rc == 0 && from) {
                _cleanup_free_ char *ref = NULL;
                struct bld_vars vars;
                rc = bld_state_vars(st, &vars, err);
                if (rc == 0) {
                        rc = bld_expand_word(from, &vars, c->file.escape, &ref, err);
                        bld_vars_free(&vars);
                }
                p->from_context = false;
                p->ig = NULL;
                if (rc == 0)
                        rc = from_root(c, st, p, ref, err);
        }
        static const char *const unsupported[] = {"parents", "exclude", "checksum", "keep-git-dir"};
        for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(unsupported); i++) {
                bool present = false;
                bld_instr_flag(in, unsupported[i], &present);
                if (present)
                        rc = err_set(err, ENOTSUP, "--%s is not supported", unsupported[i]);
        }
        p->chown = bld_instr_flag(in, "chown", NULL);
        const char *chmod = bld_instr_flag(in, "chmod", NULL);
        if (rc == 0 && chmod) {
                rc = parse_chmod(chmod, &p->chmod, err);
                p->has_chmod = true;
        }
        for (size_t i = 0; rc == 0 && i + 1 < n; i++)
                rc = add_source(p, words[i], err);
        if (rc == 0) {
                const char *d = words[n - 1];
                p->dest_slash = d[0] && (d[strlen(d) - 1] == '/' || !strcmp(d, ".") ||
                                         (strlen(d) >= 2 && !strcmp(d + strlen(d) - 2, "/.")));
                if (asprintf(&p->dest, "%s/%s", d[0] == '/' ? "" : bld_state_workdir(st), d) < 0)
                        rc = err_set(err, ENOMEM, "out of memory");
                else
                        bld_path_clean(p->dest);
        }
        if (rc == 0 && p->n_srcs > 1 && !p->dest_slash)
                rc = err_set(err, EINVAL,
                             "with more than one source the destination must be a "
                             "directory ending in '/'");
        bld_strv_free(words);
        if (rc < 0 || !p->text) {
                bld_copy_free(p);
                return rc < 0 ? err_prefix(err, "%s:%d: %s", c->file.path, in->line,
                                           bld_op_name(in->op))
                              : err_set(err, ENOMEM, "out of memory");
        }
        *out = p;
        return 0;
}

int bld_copy_key(struct bld_copy_plan *p, struct bld_key *k, struct isola_err *err)
{
        bld_key_add_str(k, "instr", p->text);
        for (size_t i = 0; i < p->n_srcs; i++) {
                const char *slash = strrchr(p->srcs[i], '/');
                char dir[PATH_MAX];
                snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - p->srcs[i]) : 1,
                         slash ? p->srcs[i] : ".");
                const char *name = slash ? slash + 1 : p->srcs[i];
                _cleanup_close_ int dfd =
                    bld_open_in_root(p->src_root, dir, O_PATH | O_DIRECTORY, 0);
                if (dfd < 0)
                        return err_sys(err, "'%s'", p->srcs[i]);
                bld_key_add_str(k, "src", p->srcs[i]);
                if (bld_key_add_tree(k, dfd, name, p->srcs[i], p->ig, true, err) < 0)
                        return -1;
        }
        return 0;
}

#include "build/copy_files.h"

int bld_copy_run(struct bld_ctx *c, struct bld_state *st, struct bld_copy_plan *p,
                 struct bld_layer *out, struct isola_err *err)
{
        struct bld_mount m;
        if (bld_mount(c, st, &m, err) < 0)
                return -1;
        int rc = -1;
        _cleanup_close_ int rootfd = open(m.merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct bld_copy_job job = {
            .src_root = p->src_root,
            .ig = p->ig,
            .chmod = p->chmod,
            .has_chmod = p->has_chmod,
            .add = p->add,
            .from_context = p->from_context,
        };
        if (rootfd < 0) {
                err_sys(err, "'%s'", m.merged);
                goto out;
        }
        job.dst_root = rootfd;
        if (p->chown && bld_lookup_owner(rootfd, p->chown, true, &job.own, err) < 0)
                goto out;
        if (!job.own.set && p->from_context)
                job.own = (struct bld_owner){.uid = 0, .gid = 0, .set = true};
        rc = 0;
        for (size_t i = 0; i < p->n_srcs && rc == 0; i++)
                rc = bld_copy_one(&job, p->srcs[i], p->dest, p->dest_slash, err);
        if (rc < 0)
                goto out;
        bld_unmount(&m);
        if (m.mounted) {
                rc = err_set(err, EBUSY, "cannot unmount '%s'", m.merged);
                goto out;
        }
        rc = bld_commit_layer(c, m.upper, out, err);
out:
        bld_mount_free(&m);
        return rc < 0
                   ? err_prefix(err, "%s:%d: %s", c->file.path, p->in->line, bld_op_name(p->in->op))
                   : 0;
}
