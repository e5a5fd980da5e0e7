/* Compiled seccomp programs and their on-disk cache. libseccomp needs ~9 ms
 * to build a podman/containerd default profile for three architectures,
 * more than the rest of container start-up, so the generated BPF is kept in
 * a root-only directory, keyed by a canonical serialization of the spec's
 * filter (stored in the file and compared byte for byte, so a hash collision
 * cannot hand out a wrong filter). Compiling happens before pivot_root while
 * the cache is reachable; loading is a single seccomp(2) at the end. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctr/seccomp.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define CACHE_MAGIC     "ISOLASC1"
#define CACHE_MAGIC_LEN 8
#define MAX_INSNS       4096 /* BPF_MAXINSNS */

struct keybuf {
        char *p;
        size_t len, cap;
        bool oom;
};

static void key_add(struct keybuf *k, const void *data, size_t len)
{
        /* len 0 comes with data NULL (an absent string): memcpy must not see it. */
        if (k->oom || len == 0)
                return;
        if (k->len + len > k->cap) {
                size_t cap = (k->cap ? k->cap * 2 : 4096) + len;
                char *p = realloc(k->p, cap);

                if (!p) {
                        k->oom = true;
                        return;
                }
                k->p = p;
                k->cap = cap;
        }
        memcpy(k->p + k->len, data, len);
        k->len += len;
}

static void key_u64(struct keybuf *k, uint64_t v)
{
        key_add(k, &v, sizeof(v));
}

static void key_str(struct keybuf *k, const char *s)
{
        size_t len = s ? strlen(s) : 0;

        key_u64(k, len);
        key_add(k, s, len);
}

/* Everything that shapes the program, plus the library version (its code
 * generation may change). */
static void build_key(const struct spec_seccomp *sc, struct keybuf *k)
{
        const struct scmp_version *v = seccomp_version();

        key_u64(k, ((uint64_t)v->major << 32) | (v->minor << 16) | v->micro);
        key_u64(k, sc->default_action);
        key_u64(k, sc->has_default_errno_ret ? 0x100000000ULL | sc->default_errno_ret : 0);
        key_u64(k, sc->n_architectures);
        for (size_t i = 0; i < sc->n_architectures; i++)
                key_u64(k, sc->architectures[i]);
        key_u64(k, sc->n_flags);
        for (size_t i = 0; i < sc->n_flags; i++)
                key_str(k, sc->flags[i]);
        key_u64(k, sc->n_rules);
        for (size_t i = 0; i < sc->n_rules; i++) {
                const struct spec_seccomp_rule *r = &sc->rules[i];

                key_u64(k, r->n_names);
                for (size_t j = 0; j < r->n_names; j++)
                        key_str(k, r->names[j]);
                key_u64(k, r->action);
                key_u64(k, r->has_errno_ret ? 0x100000000ULL | r->errno_ret : 0);
                key_u64(k, r->n_args);
                for (size_t j = 0; j < r->n_args; j++) {
                        key_u64(k, r->args[j].index);
                        key_u64(k, r->args[j].value);
                        key_u64(k, r->args[j].value_two);
                        key_u64(k, (uint64_t)r->args[j].op);
                }
        }
}

static uint64_t fnv1a(const char *p, size_t len)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
        return h;
}

static int flags_of(const struct spec_seccomp *sc, unsigned *out, struct isola_err *err)
{
        *out = 0;
        for (size_t i = 0; i < sc->n_flags; i++) {
                const char *f = sc->flags[i];

                if (!strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC"))
                        *out |= SECCOMP_FILTER_FLAG_TSYNC;
                else if (!strcmp(f, "SECCOMP_FILTER_FLAG_LOG"))
                        *out |= SECCOMP_FILTER_FLAG_LOG;
                else if (!strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
                        *out |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
                else
                        return err_set(err, EINVAL, "seccomp: unsupported flag '%s'", f);
        }
        return 0;
}

/* libseccomp 2.5 only exports to an fd: go through a memfd. */
static int compile(const struct spec_seccomp *sc, struct seccomp_prog *out, struct isola_err *err)
{
        scmp_filter_ctx ctx = seccomp_build(sc, err);
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        if (!ctx)
                return -1;
        fd = memfd_create("isola-seccomp", MFD_CLOEXEC);
        if (fd < 0) {
                seccomp_release(ctx);
                return err_sys(err, "seccomp: memfd_create");
        }
        r = seccomp_export_bpf(ctx, fd);
        seccomp_release(ctx);
        if (r < 0)
                return err_set(err, -r, "seccomp: generating BPF: %s", strerror(-r));
        if (lseek(fd, 0, SEEK_SET) < 0 ||
            fs_read_fd(fd, MAX_INSNS * sizeof(struct sock_filter), &buf, &len, err) < 0)
                return err_prefix(err, "seccomp: reading the generated BPF");
        if (len == 0 || len % sizeof(struct sock_filter))
                return err_set(err, EINVAL, "seccomp: generated BPF has odd size %zu", len);
        out->insns = (struct sock_filter *)steal_ptr(&buf);
        out->len = (unsigned short)(len / sizeof(struct sock_filter));
        return 0;
}

/* A cache directory anybody but root could write would let them choose
 * the filter: use it only when it is root's alone. */
static int open_cache_dir(const char *dir)
{
        struct stat st;
        int fd;

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -1;
        fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -1;
        if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
                close(fd);
                return -1;
        }
        return fd;
}

static bool cache_read(int dir_fd, const char *name, const struct keybuf *k,
                       struct seccomp_prog *out)
{
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_free_ char *buf = NULL;
        struct isola_err ignored;
        uint64_t key_len, n;
        size_t len = 0, hdr = CACHE_MAGIC_LEN + 2 * sizeof(uint64_t);

        if (fd < 0 ||
            fs_read_fd(fd, hdr + k->len + MAX_INSNS * sizeof(struct sock_filter), &buf, &len,
                       &ignored) < 0 ||
            len < hdr || memcmp(buf, CACHE_MAGIC, CACHE_MAGIC_LEN) != 0)
                return false;
        memcpy(&key_len, buf + CACHE_MAGIC_LEN, sizeof(key_len));
        memcpy(&n, buf + CACHE_MAGIC_LEN + sizeof(key_len), sizeof(n));
        if (key_len != k->len || n == 0 || n > MAX_INSNS ||
            len != hdr + key_len + n * sizeof(struct sock_filter) ||
            memcmp(buf + hdr, k->p, k->len) != 0)
                return false;
        out->insns = malloc(n * sizeof(struct sock_filter));
        if (!out->insns)
                return false;
        memcpy(out->insns, buf + hdr + key_len, n * sizeof(struct sock_filter));
        out->len = (unsigned short)n;
        return true;
}

/* Best effort: a failure only costs the next start a compile. Written under
 * a temporary name and renamed, so readers never see half a file. */
static void cache_write(int dir_fd, const char *name, const struct keybuf *k,
                        const struct seccomp_prog *p)
{
        char tmp[64];
        uint64_t key_len = k->len, n = p->len;
        int fd;
        bool ok;

        snprintf(tmp, sizeof(tmp), ".%s.%d", name, (int)getpid());
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        ok = fs_write_all(fd, CACHE_MAGIC, CACHE_MAGIC_LEN) == 0 &&
             fs_write_all(fd, &key_len, sizeof(key_len)) == 0 &&
             fs_write_all(fd, &n, sizeof(n)) == 0 && fs_write_all(fd, k->p, k->len) == 0 &&
             fs_write_all(fd, p->insns, n * sizeof(struct sock_filter)) == 0;
        close(fd);
        if (!ok || renameat(dir_fd, tmp, dir_fd, name) < 0)
                unlinkat(dir_fd, tmp, 0);
}

int seccomp_prepare(const struct spec_seccomp *sc, const char *cache_dir, struct seccomp_prog *out,
                    struct isola_err *err)
{
        struct keybuf k = {0};
        _cleanup_close_ int dir_fd = -1;
        char name[32];
        int r = -1;

        *out = (struct seccomp_prog){0};
        if (!sc)
                return 0;
        if (flags_of(sc, &out->flags, err) < 0)
                return -1;
        if (cache_dir) {
                build_key(sc, &k);
                if (!k.oom)
                        dir_fd = open_cache_dir(cache_dir);
        }
        if (dir_fd >= 0) {
                snprintf(name, sizeof(name), "%016llx.bpf", (unsigned long long)fnv1a(k.p, k.len));
                if (cache_read(dir_fd, name, &k, out)) {
                        r = 0;
                        goto out;
                }
        }
        r = compile(sc, out, err);
        if (r == 0 && dir_fd >= 0)
                cache_write(dir_fd, name, &k, out);
out:
        free(k.p);
        return r;
}

int seccomp_load_prepared(const struct seccomp_prog *prog, struct isola_err *err)
{
        struct sock_fprog fprog = {.len = prog->len, .filter = prog->insns};

        if (!prog->insns)
                return 0;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, prog->flags, &fprog) == 0)
                return 0;
        if (errno == EACCES)
                return err_set(err, EACCES,
                               "seccomp: loading the filter needs CAP_SYS_ADMIN or "
                               "noNewPrivileges");
        return err_sys(err, "seccomp: loading the filter");
}

void seccomp_prog_free(struct seccomp_prog *prog)
{
        free(prog->insns);
        *prog = (struct seccomp_prog){0};
}
