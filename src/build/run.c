/* RUN: the command runs in a container of the stage's layers through the
 * runtime library in-process (ctr_run, no isola-runtime exec). The root is
 * an overlay with a fresh upper dir, which becomes the step's layer. The
 * runtime call happens in a child process whose stdout and stderr are one
 * pipe: the parent copies it to the build log and keeps the tail for the
 * error of a failing command. Capabilities are podman's defaults; the
 * network is the build's (none: a new network namespace, host: the host's). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build/build_internal.h"
#include "build/resolve.h"
#include "ctr/container.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const char *const run_caps[] = {"CAP_CHOWN",      "CAP_DAC_OVERRIDE", "CAP_FOWNER",
                                       "CAP_FSETID",     "CAP_KILL",         "CAP_SETGID",
                                       "CAP_SETUID",     "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE",
                                       "CAP_SYS_CHROOT", "CAP_SETFCAP",      NULL};

struct run_mounts {
        char **target, **source; /* cache mounts: bind source dirs */
        char **tmpfs;            /* tmpfs mount targets */
        size_t n, n_tmpfs;
};

static void run_mounts_free(struct run_mounts *m)
{
        for (size_t i = 0; i < m->n; i++) {
                free(m->target[i]);
                free(m->source[i]);
        }
        for (size_t i = 0; i < m->n_tmpfs; i++)
                free(m->tmpfs[i]);
        free(m->target);
        free(m->source);
        free(m->tmpfs);
}

static json_object *strv_json(char *const *v)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; v && v[i]; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static json_object *mount_json(const char *dst, const char *type, const char *src,
                               const char *const *opts)
{
        json_object *m = json_object_new_object(), *o = json_object_new_array();
        json_object_object_add(m, "destination", json_object_new_string(dst));
        json_object_object_add(m, "type", json_object_new_string(type));
        json_object_object_add(m, "source", json_object_new_string(src));
        for (size_t i = 0; opts[i]; i++)
                json_object_array_add(o, json_object_new_string(opts[i]));
        json_object_object_add(m, "options", o);
        return m;
}

/* --mount=type=cache,target=/x[,id=...]: a directory under
 * <root>/build-cache/ that outlives builds (builder prune removes it). */
static int mount_opts(struct bld_ctx *c, const char *spec, char *copy, struct run_mounts *m,
                      struct isola_err *err)
{
        const char *type = "bind", *target = NULL, *id = NULL;
        char *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (!strncmp(tok, "type=", 5))
                        type = tok + 5;
                else if (!strncmp(tok, "target=", 7) || !strncmp(tok, "dst=", 4) ||
                         !strncmp(tok, "destination=", 12))
                        target = strchr(tok, '=') + 1;
                else if (!strncmp(tok, "id=", 3))
                        id = tok + 3;
                else if (strncmp(tok, "sharing=", 8) != 0 && strncmp(tok, "mode=", 5) != 0 &&
                         strncmp(tok, "uid=", 4) != 0 && strncmp(tok, "gid=", 4) != 0 &&
                         strcmp(tok, "rw") != 0 && strcmp(tok, "readwrite") != 0)
                        return err_set(err, EINVAL, "--mount '%s': unsupported option '%s'", spec,
                                       tok);
        }
        if (!target || target[0] != '/')
                return err_set(err, EINVAL, "--mount '%s': needs an absolute target=", spec);
        if (!strcmp(type, "tmpfs")) {
                char **v = realloc(m->tmpfs, (m->n_tmpfs + 1) * sizeof(*v));
                if (!v || !(v[m->n_tmpfs] = strdup(target)))
                        return err_set(err, ENOMEM, "out of memory");
                m->tmpfs = v;
                m->n_tmpfs++;
                return 0;
        }
        if (strcmp(type, "cache") != 0)
                return err_set(err, ENOTSUP,
                               "--mount '%s': type %s is not supported (cache, tmpfs)", spec, type);
        struct bld_key k;
        char hex[BLD_KEY_HEX], dir[PATH_MAX];
        if (bld_key_init(&k, err) < 0)
                return -1;
        bld_key_add_str(&k, "cache-id", id ? id : target);
        bld_key_final(&k, hex);
        snprintf(dir, sizeof(dir), "%s/build-cache/%.32s", c->s->paths.root, hex);
        if (fs_mkdir_p(dir, 0755, err) < 0)
                return -1;
        char **t = realloc(m->target, (m->n + 1) * sizeof(*t));
        if (t)
                m->target = t;
        char **s = t ? realloc(m->source, (m->n + 1) * sizeof(*s)) : NULL;
        if (!s)
                return err_set(err, ENOMEM, "out of memory");
        m->source = s;
        m->target[m->n] = strdup(target);
        m->source[m->n] = strdup(dir);
        m->n++;
        if (!m->target[m->n - 1] || !m->source[m->n - 1])
                return err_set(err, ENOMEM, "out of memory");
        return 0;
}

static int parse_mount(struct bld_ctx *c, const char *spec, struct run_mounts *m,
                       struct isola_err *err)
{
        char *copy = strdup(spec);
        int rc = copy ? mount_opts(c, spec, copy, m, err) : err_set(err, ENOMEM, "out of memory");
        free(copy);
        return rc;
}

static void drop_netns(json_object *spec)
{
        json_object *linux_ = NULL, *ns = NULL;
        if (!json_object_object_get_ex(spec, "linux", &linux_) ||
            !json_object_object_get_ex(linux_, "namespaces", &ns))
                return;
        for (size_t i = 0; i < json_object_array_length(ns); i++) {
                json_object *t = NULL;
                if (json_object_object_get_ex(json_object_array_get_idx(ns, i), "type", &t) &&
                    !strcmp(json_object_get_string(t), "network")) {
                        json_object_array_del_idx(ns, i, 1);
                        return;
                }
        }
}

struct run_spec {
        const char *merged;
        char **argv, **env;
        const char *cwd;
        struct bld_owner user;
        bool host_network;
        const struct run_mounts *mounts;
};

static int write_spec(const struct run_spec *r, const char *bundle, struct isola_err *err)
{
        _cleanup_free_ char *text = NULL;
        if (spec_default_json(false, &text, err) < 0)
                return -1;
        json_object *spec = json_tokener_parse(text);
        if (!spec)
                return err_set(err, EINVAL, "default spec unreadable");
        json_object *proc = NULL, *root = NULL, *mounts = NULL, *user = NULL;
        json_object_object_get_ex(spec, "process", &proc);
        json_object_object_get_ex(spec, "root", &root);
        json_object_object_get_ex(spec, "mounts", &mounts);
        json_object_object_get_ex(proc, "user", &user);
        json_object_object_add(proc, "terminal", json_object_new_boolean(0));
        json_object_object_add(proc, "args", strv_json(r->argv));
        json_object_object_add(proc, "env", strv_json(r->env));
        json_object_object_add(proc, "cwd", json_object_new_string(r->cwd));
        json_object_object_add(proc, "noNewPrivileges", json_object_new_boolean(0));
        json_object_object_add(user, "uid", json_object_new_int64(r->user.uid));
        json_object_object_add(user, "gid", json_object_new_int64(r->user.gid));
        json_object *caps = json_object_new_object();
        static const char *const sets[] = {"bounding", "effective", "permitted"};
        for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
                json_object_object_add(caps, sets[i], strv_json((char *const *)run_caps));
        json_object_object_add(proc, "capabilities", caps);
        json_object_object_add(root, "path", json_object_new_string(r->merged));
        json_object_object_add(root, "readonly", json_object_new_boolean(0));
        json_object_object_add(spec, "hostname", json_object_new_string("isola-build"));
        static const char *const bind_opts[] = {"rbind", "rw", NULL};
        static const char *const tmpfs_opts[] = {"nosuid", "nodev", "mode=1777", NULL};
        for (size_t i = 0; i < r->mounts->n; i++)
                json_object_array_add(mounts, mount_json(r->mounts->target[i], "bind",
                                                         r->mounts->source[i], bind_opts));
        for (size_t i = 0; i < r->mounts->n_tmpfs; i++)
                json_object_array_add(
                    mounts, mount_json(r->mounts->tmpfs[i], "tmpfs", "tmpfs", tmpfs_opts));
        if (r->host_network) {
                drop_netns(spec);
                static const char *const ro_bind[] = {"rbind", "ro", NULL};
                /* name resolution as on the host, where the image has the files */
                static const char *const files[] = {"/etc/resolv.conf", "/etc/hosts"};
                for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                        char p[PATH_MAX];
                        struct stat st;
                        snprintf(p, sizeof(p), "%s%s", r->merged, files[i]);
                        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
                            access(files[i], R_OK) == 0)
                                json_object_array_add(
                                    mounts, mount_json(files[i], "bind", files[i], ro_bind));
                }
        }
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/config.json", bundle);
        const char *out = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN);
        int rc = fs_write_file(path, out, strlen(out), O_CREAT | O_WRONLY | O_TRUNC, 0600, err);
        json_object_put(spec);
        return rc;
}

/* Keeps the last BLD_HISTORY_TAIL bytes of the output. */
struct tail {
        char buf[BLD_HISTORY_TAIL];
        size_t len;
};

static void tail_add(struct tail *t, const char *p, size_t n)
{
        if (n >= sizeof(t->buf)) {
                memcpy(t->buf, p + n - sizeof(t->buf), sizeof(t->buf));
                t->len = sizeof(t->buf);
                return;
        }
        if (t->len + n > sizeof(t->buf)) {
                size_t drop = t->len + n - sizeof(t->buf);
                memmove(t->buf, t->buf + drop, t->len - drop);
                t->len -= drop;
        }
        memcpy(t->buf + t->len, p, n);
        t->len += n;
}

/* The last lines of the output, for the error message (at most ~400 bytes). */
static void tail_lines(const struct tail *t, char *out, size_t len)
{
        size_t start = t->len > 400 ? t->len - 400 : 0, end = t->len;
        while (end > start && (t->buf[end - 1] == '\n' || t->buf[end - 1] == '\r'))
                end--;
        while (start > 0 && start < end && t->buf[start - 1] != '\n')
                start++;
        snprintf(out, len, "%.*s", (int)(end - start), t->buf + start);
}

static int run_container(struct bld_ctx *c, const char *bundle, int *status, struct tail *t,
                         struct isola_err *err)
{
        char id[64];
        snprintf(id, sizeof(id), "isola-build-%d-%u", (int)getpid(), c->seq);
        struct ctr_opts opts = {.root = c->ctr_root};
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return err_sys(err, "pipe");
        if (c->o->log)
                fflush(c->o->log);
        pid_t pid = fork();
        if (pid < 0) {
                close(p[0]);
                close(p[1]);
                return err_sys(err, "fork");
        }
        if (pid == 0) { /* the child: stdio is the pipe, then the runtime */
                int null = open("/dev/null", O_RDONLY);
                if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
                        _exit(125);
                struct ctr_create_args a = {.bundle = bundle};
                struct isola_err e = {0};
                int code = 0;
                if (ctr_run(&opts, id, &a, &code, &e) < 0) {
                        dprintf(2, "isola build: %s\n", e.msg);
                        _exit(125);
                }
                _exit(code > 255 ? 255 : code);
        }
        close(p[1]);
        char buf[4096];
        for (;;) {
                ssize_t n = read(p[0], buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                tail_add(t, buf, (size_t)n);
                if (c->o->log) {
                        fwrite(buf, 1, (size_t)n, c->o->log);
                        fflush(c->o->log);
                }
        }
        close(p[0]);
        int ws = 0;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
                ;
        /* a runtime killed mid-way must not leave a container state behind */
        struct isola_err ignored = {0};
        ctr_delete(&opts, id, true, &ignored);
        *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
        return 0;
}

static int prepare(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                   struct run_spec *r, struct run_mounts *mounts, int rootfd, struct isola_err *err)
{
        const char *user = NULL;
        json_object *u = NULL;
        if (json_object_object_get_ex(bld_cfg_config(st), "User", &u))
                user = json_object_get_string(u);
        r->user = (struct bld_owner){0};
        if (user && *user && bld_lookup_owner(rootfd, user, false, &r->user, err) < 0)
                return -1;
        r->cwd = bld_state_workdir(st);
        int dfd = bld_mkdir_in_root(rootfd, r->cwd, 0755, NULL, err);
        if (dfd < 0)
                return err_prefix(err, "WORKDIR");
        close(dfd);
        for (size_t i = 0; i < in->n_flags; i++) {
                if (!strcmp(in->flags[i].name, "mount") &&
                    parse_mount(c, in->flags[i].value ? in->flags[i].value : "", mounts, err) < 0)
                        return -1;
        }
        for (size_t i = 0; i < mounts->n; i++) {
                dfd = bld_mkdir_in_root(rootfd, mounts->target[i], 0755, NULL, err);
                if (dfd < 0)
                        return -1;
                close(dfd);
        }
        for (size_t i = 0; i < mounts->n_tmpfs; i++) {
                dfd = bld_mkdir_in_root(rootfd, mounts->tmpfs[i], 0755, NULL, err);
                if (dfd < 0)
                        return -1;
                close(dfd);
        }
        const char *net = bld_instr_flag(in, "network", NULL);
        r->host_network = c->host_network;
        if (net && !strcmp(net, "none"))
                r->host_network = false;
        else if (net && !strcmp(net, "host"))
                r->host_network = true;
        else if (net && strcmp(net, "default") != 0)
                return err_set(err, EINVAL, "--network=%s: expected none, host or default", net);
        if (bld_state_env(st, &r->env, err) < 0)
                return -1;
        if (in->exec_form) {
                r->argv = calloc(in->argc + 1, sizeof(char *));
                for (size_t i = 0; r->argv && i < in->argc; i++)
                        r->argv[i] = strdup(in->argv[i]);
        } else {
                char **sh = NULL;
                size_t n = 0;
                if (bld_state_shell(st, &sh, err) < 0)
                        return -1;
                while (sh[n])
                        n++;
                r->argv = realloc(sh, (n + 2) * sizeof(char *));
                if (!r->argv) {
                        bld_strv_free(sh);
                        return err_set(err, ENOMEM, "out of memory");
                }
                r->argv[n] = strdup(in->rest);
                r->argv[n + 1] = NULL;
        }
        if (!r->argv || !r->argv[0])
                return err_set(err, EINVAL, "RUN: empty command");
        return 0;
}

int bld_step_run(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                 const char *cmd_text, struct bld_layer *out, struct isola_err *err)
{
        struct bld_mount m;
        struct run_mounts mounts = {0};
        struct run_spec r = {.mounts = &mounts};
        struct tail t = {0};
        char bundle[PATH_MAX];
        int status = 0, rc = -1;
        if (bld_mount(c, st, &m, err) < 0)
                return -1;
        r.merged = m.merged;
        _cleanup_close_ int rootfd = open(m.merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0) {
                err_sys(err, "'%s'", m.merged);
                goto out;
        }
        if (prepare(c, st, in, &r, &mounts, rootfd, err) < 0 ||
            bld_mkscratch(c, "bundle", bundle, sizeof(bundle), err) < 0 ||
            write_spec(&r, bundle, err) < 0 || run_container(c, bundle, &status, &t, err) < 0)
                goto out;
        bld_unmount(&m);
        if (m.mounted) {
                err_set(err, EBUSY, "cannot unmount '%s'", m.merged);
                goto out;
        }
        if (status != 0) {
                char last[512];
                tail_lines(&t, last, sizeof(last));
                err_set(err, ECHILD, "%s: exit code %d%s%s", cmd_text, status,
                        last[0] ? "; last output:\n" : "", last);
                goto out;
        }
        rc = bld_commit_layer(c, m.upper, out, err);
out:
        bld_mount_free(&m);
        run_mounts_free(&mounts);
        bld_strv_free(r.argv);
        bld_strv_free(r.env);
        return rc;
}
