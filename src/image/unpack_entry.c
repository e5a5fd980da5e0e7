/* One layer entry, applied below the layer directory with no way out:
 * names are cleaned ('..' and absolute names refused), each parent is walked
 * component by component with O_NOFOLLOW and a symlink met on the way is
 * resolved with openat2(RESOLVE_IN_ROOT), the last component is created with
 * *at() calls that never follow it. OCI whiteouts become overlayfs ones:
 * ".wh.NAME" a 0/0 character device NAME, ".wh..wh..opq" the xattr
 * trusted.overlay.opaque=y on the directory. Device nodes and sockets are
 * skipped (the runtime makes /dev); setuid/setgid bits are kept as docker and
 * podman keep them; xattrs are kept except trusted.overlay.* and system.*. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/store_internal.h"
#include "image/unpack_internal.h"
#include "util/cleanup.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define WH_META   ".wh..wh."

/* The entry name made printable for messages (it comes from the layer). */
static const char *shown(const char *name, char *buf, size_t len)
{
        size_t i = 0;

        for (; name[i] && i + 4 < len && i < 200; i++) {
                buf[i] = name[i];
                if (name[i] < 0x20 || name[i] >= 0x7f)
                        buf[i] = '?';
        }
        if (name[i] && i + 4 < len) {
                memcpy(buf + i, "...", 3);
                i += 3;
        }
        buf[i] = '\0';
        return buf;
}

static int entry_err(struct isola_err *err, int errnum, const char *name, const char *what)
{
        char b[256];

        return err_set(err, errnum, "entry '%s': %s", shown(name, b, sizeof(b)), what);
}

static int entry_sys(struct isola_err *err, const char *name, const char *what)
{
        char b[256];

        return err_sys(err, "entry '%s': %s", shown(name, b, sizeof(b)), what);
}

/* "./a//b/./c" -> "a/b/c"; refuses absolute names, '..' and deep paths. */
static int clean_name(const char *in, char *out, size_t cap, struct isola_err *err)
{
        size_t len = 0, depth = 0;
        const char *p = in;

        if (in[0] == '/')
                return entry_err(err, EPERM, in, "absolute path refused");
        out[0] = '\0';
        while (*p) {
                size_t n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return entry_err(err, EPERM, in, "'..' in path refused");
                if (n > 0 && !(n == 1 && p[0] == '.')) {
                        if (++depth > UNPACK_DEPTH_MAX || len + n + 2 > cap)
                                return entry_err(err, ENAMETOOLONG, in, "path too long");
                        if (len)
                                out[len++] = '/';
                        memcpy(out + len, p, n);
                        len += n;
                        out[len] = '\0';
                }
                p += n;
                while (*p == '/')
                        p++;
        }
        return 0;
}

static int openat2_in_root(int root, const char *path, int flags, uint64_t resolve)
{
        struct open_how how = {
            .flags = (uint64_t)(flags | O_CLOEXEC),
            .resolve = resolve | RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        return (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
}

/* Opens directory `dir` (a cleaned path, "" = root) below ctx->root, making
 * missing components (0755) when create. */
static int open_dir(struct unpack_ctx *ctx, const char *name, const char *dir, bool create,
                    struct isola_err *err)
{
        char prefix[PATH_MAX];
        size_t plen = 0;
        int cur = openat(ctx->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (cur < 0)
                return entry_sys(err, name, "open layer directory");
        for (const char *p = dir; *p;) {
                size_t n = strcspn(p, "/");
                char comp[NAME_MAX + 1];
                int fd;

                if (n > NAME_MAX) {
                        close(cur);
                        return entry_err(err, ENAMETOOLONG, name, "path component too long");
                }
                memcpy(comp, p, n);
                comp[n] = '\0';
                if (plen)
                        prefix[plen++] = '/';
                memcpy(prefix + plen, comp, n + 1);
                plen += n;

                fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 && errno == ENOENT && create) {
                        if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
                                close(cur);
                                return entry_sys(err, name, "create parent directory");
                        }
                        fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                }
                if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
                        /* A symlink (or not a directory): resolve what we have
                         * so far, bounded to the layer directory. */
                        fd = openat2_in_root(ctx->root, prefix, O_RDONLY | O_DIRECTORY, 0);
                }
                close(cur);
                if (fd < 0)
                        return entry_sys(err, name, "parent directory");
                cur = fd;
                p += n;
                if (*p == '/')
                        p++;
        }
        return cur;
}

/* Removes whatever is at parent/base unless both it and the new entry are
 * directories. */
static int make_room(int parent, const char *base, bool keep_dir, bool *is_dir_out)
{
        struct stat st;

        *is_dir_out = false;
        if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -1;
        if (S_ISDIR(st.st_mode) && keep_dir) {
                *is_dir_out = true;
                return 0;
        }
        if (S_ISDIR(st.st_mode))
                store_rm_tree_at(parent, base);
        else if (unlinkat(parent, base, 0) < 0)
                return -1;
        return 0;
}

static int apply_xattrs(int fd, const char *name, struct archive_entry *e, struct isola_err *err)
{
        const char *xname;
        const void *value;
        size_t size;

        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK) {
                if (!xname || !strncmp(xname, "trusted.overlay.", 16) ||
                    !strncmp(xname, "system.", 7))
                        continue;
                if (fsetxattr(fd, xname, value, size, 0) < 0 && errno != ENOTSUP)
                        return entry_sys(err, name, "set xattr");
        }
        return 0;
}

/* Owner, mode (setuid kept: chmod after chown, which clears it), xattrs. */
static int apply_attrs(struct unpack_ctx *ctx, int fd, const char *name, struct archive_entry *e,
                       struct isola_err *err)
{
        if (ctx->chown_ok &&
            fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
                return entry_sys(err, name, "chown");
        if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
                return entry_sys(err, name, "chmod");
        return apply_xattrs(fd, name, e, err);
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
        ts[1].tv_sec = archive_entry_mtime(e);
        ts[1].tv_nsec = archive_entry_mtime_is_set(e) ? archive_entry_mtime_nsec(e) : 0;
        if (archive_entry_atime_is_set(e)) {
                ts[0].tv_sec = archive_entry_atime(e);
                ts[0].tv_nsec = archive_entry_atime_nsec(e);
        } else {
                ts[0] = ts[1];
        }
        if (ts[0].tv_nsec < 0 || ts[0].tv_nsec > 999999999)
                ts[0].tv_nsec = 0;
        if (ts[1].tv_nsec < 0 || ts[1].tv_nsec > 999999999)
                ts[1].tv_nsec = 0;
}

static int write_file(struct unpack_ctx *ctx, int parent, const char *base, const char *name,
                      struct archive *a, struct archive_entry *e, struct isola_err *err)
{
        int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
        struct timespec ts[2];
        const void *block;
        size_t blen;
        la_int64_t off;
        int r;

        if (size < 0 || (uint64_t)size > ctx->lim->max_bytes - ctx->bytes)
                return entry_err(err, EFBIG, name, "unpacked layer larger than the limit");
        ctx->bytes += (uint64_t)size;
        _cleanup_close_ int fd =
            openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return entry_sys(err, name, "create");
        while ((r = archive_read_data_block(a, &block, &blen, &off)) == ARCHIVE_OK) {
                if (off < 0 || (uint64_t)off > (uint64_t)size || blen > (uint64_t)(size - off))
                        return entry_err(err, EINVAL, name, "data beyond the entry's size");
                for (size_t done = 0; done < blen;) {
                        ssize_t n =
                            pwrite(fd, (const char *)block + done, blen - done, off + (off_t)done);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                return entry_sys(err, name, "write");
                        done += (size_t)n;
                }
        }
        if (r != ARCHIVE_EOF)
                return entry_err(err, EIO, name, archive_error_string(a) ?: "read error");
        if (ftruncate(fd, size) < 0)
                return entry_sys(err, name, "truncate");
        if (apply_attrs(ctx, fd, name, e, err) < 0)
                return -1;
        entry_times(e, ts);
        futimens(fd, ts);
        return 0;
}

static int remember_dir(struct unpack_ctx *ctx, const char *name, struct archive_entry *e)
{
        if (ctx->dir_bytes + strlen(name) + sizeof(struct unpack_dir_time) > UNPACK_DIR_NAMES_MAX)
                return 0;
        ctx->dir_bytes += strlen(name) + sizeof(struct unpack_dir_time);
        if (ctx->n_dirs == ctx->cap_dirs) {
                size_t cap = ctx->cap_dirs ? ctx->cap_dirs * 2 : 64;
                struct unpack_dir_time *grown = realloc(ctx->dirs, cap * sizeof(*grown));
                if (!grown)
                        return -1;
                ctx->dirs = grown;
                ctx->cap_dirs = cap;
        }
        ctx->dirs[ctx->n_dirs].name = strdup(name);
        if (!ctx->dirs[ctx->n_dirs].name)
                return -1;
        entry_times(e, ctx->dirs[ctx->n_dirs].ts);
        ctx->n_dirs++;
        return 0;
}

static int make_dir(struct unpack_ctx *ctx, int parent, const char *base, const char *name,
                    struct archive_entry *e, struct isola_err *err)
{
        bool exists;

        if (make_room(parent, base, true, &exists) < 0)
                return entry_sys(err, name, "replace");
        if (!exists && mkdirat(parent, base, 0700) < 0)
                return entry_sys(err, name, "mkdir");
        _cleanup_close_ int fd =
            openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return entry_sys(err, name, "open directory");
        if (apply_attrs(ctx, fd, name, e, err) < 0)
                return -1;
        if (remember_dir(ctx, name, e) < 0)
                return entry_err(err, ENOMEM, name, "out of memory");
        return 0;
}

static int make_link(struct unpack_ctx *ctx, int parent, const char *base, const char *name,
                     struct archive_entry *e, struct isola_err *err)
{
        const char *target = archive_entry_hardlink(e);
        char clean[PATH_MAX];
        struct stat st;

        char tb[256], what[400];
        snprintf(what, sizeof(what), "hard link target '%s'", shown(target, tb, sizeof(tb)));
        if (clean_name(target, clean, sizeof(clean), err) < 0) {
                size_t n = strlen(what);
                snprintf(what + n, sizeof(what) - n, ": %s",
                         strstr(err->msg, "..") ? "'..' in path refused" : "absolute path refused");
                return entry_err(err, EPERM, name, what);
        }
        if (!clean[0])
                return entry_err(err, EPERM, name, "hard link to the layer root refused");
        char *slash = strrchr(clean, '/');
        const char *tbase = slash ? slash + 1 : clean;
        if (slash)
                *slash = '\0';
        _cleanup_close_ int tparent = open_dir(ctx, name, slash ? clean : "", false, err);
        if (tparent < 0) {
                size_t n = strlen(what);
                snprintf(what + n, sizeof(what) - n, ": not found inside the layer");
                return entry_err(err, ENOENT, name, what);
        }
        if (fstatat(tparent, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return entry_sys(err, name, "hard link target");
        if (S_ISDIR(st.st_mode))
                return entry_err(err, EPERM, name, "hard link to a directory refused");
        bool dir;
        if (make_room(parent, base, false, &dir) < 0)
                return entry_sys(err, name, "replace");
        if (linkat(tparent, tbase, parent, base, 0) < 0)
                return entry_sys(err, name, "hard link");
        return 0;
}

static int make_symlink(struct unpack_ctx *ctx, int parent, const char *base, const char *name,
                        struct archive_entry *e, struct isola_err *err)
{
        const char *target = archive_entry_symlink(e);
        struct timespec ts[2];
        bool dir;

        if (!target || !target[0])
                return entry_err(err, EINVAL, name, "symlink without a target");
        if (make_room(parent, base, false, &dir) < 0)
                return entry_sys(err, name, "replace");
        /* The target is stored, never followed here: resolution of later
         * entries goes through open_dir, bounded to the layer. */
        if (symlinkat(target, parent, base) < 0)
                return entry_sys(err, name, "symlink");
        if (ctx->chown_ok && fchownat(parent, base, (uid_t)archive_entry_uid(e),
                                      (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
                return entry_sys(err, name, "chown");
        entry_times(e, ts);
        utimensat(parent, base, ts, AT_SYMLINK_NOFOLLOW);
        return 0;
}

static int make_fifo(struct unpack_ctx *ctx, int parent, const char *base, const char *name,
                     struct archive_entry *e, struct isola_err *err)
{
        struct timespec ts[2];
        bool dir;

        if (make_room(parent, base, false, &dir) < 0)
                return entry_sys(err, name, "replace");
        if (mknodat(parent, base, S_IFIFO | 0600, 0) < 0)
                return entry_sys(err, name, "mkfifo");
        if (ctx->chown_ok && fchownat(parent, base, (uid_t)archive_entry_uid(e),
                                      (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
                return entry_sys(err, name, "chown");
        if (fchmodat(parent, base, archive_entry_perm(e) & 07777, 0) < 0)
                return entry_sys(err, name, "chmod");
        entry_times(e, ts);
        utimensat(parent, base, ts, AT_SYMLINK_NOFOLLOW);
        return 0;
}

static int whiteout(int parent, const char *base, const char *name, struct isola_err *err)
{
        const char *victim = base + strlen(WH_PREFIX);
        bool dir;

        if (!strcmp(base, WH_OPAQUE)) {
                if (fsetxattr(parent, "trusted.overlay.opaque", "y", 1, 0) < 0)
                        return entry_sys(err, name, "mark directory opaque");
                return 0;
        }
        if (!strncmp(base, WH_META, strlen(WH_META)))
                return 0; /* aufs bookkeeping (.wh..wh.plnk, ...) */
        if (!victim[0] || !strcmp(victim, ".") || !strcmp(victim, ".."))
                return entry_err(err, EPERM, name, "invalid whiteout");
        if (make_room(parent, victim, false, &dir) < 0)
                return entry_sys(err, name, "whiteout");
        if (mknodat(parent, victim, S_IFCHR | 0000, makedev(0, 0)) < 0)
                return entry_sys(err, name, "create whiteout");
        return 0;
}

/* The parent directory fd of `dir`, from the one-entry cache when it hits. */
static int parent_fd(struct unpack_ctx *ctx, const char *name, const char *dir, bool cacheable,
                     struct isola_err *err)
{
        if (ctx->cached_fd >= 0 && cacheable && !strcmp(ctx->cached_parent, dir)) {
                int fd = fcntl(ctx->cached_fd, F_DUPFD_CLOEXEC, 0);
                return fd < 0 ? entry_sys(err, name, "dup") : fd;
        }
        if (ctx->cached_fd >= 0) {
                close(ctx->cached_fd);
                ctx->cached_fd = -1;
        }
        int fd = open_dir(ctx, name, dir, true, err);
        if (fd >= 0 && cacheable && strlen(dir) < sizeof(ctx->cached_parent)) {
                ctx->cached_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
                snprintf(ctx->cached_parent, sizeof(ctx->cached_parent), "%s", dir);
        }
        return fd;
}

int unpack_entry(struct unpack_ctx *ctx, struct archive *a, struct archive_entry *e,
                 struct isola_err *err)
{
        const char *raw = archive_entry_pathname(e);
        char name[PATH_MAX], dir[PATH_MAX];
        unsigned type = archive_entry_filetype(e);
        bool is_file = type == AE_IFREG && !archive_entry_hardlink(e);

        if (!raw)
                return err_set(err, EINVAL, "entry without a name");
        if (++ctx->entries > ctx->lim->max_entries)
                return entry_err(err, EFBIG, raw, "more entries than the limit");
        if (clean_name(raw, name, sizeof(name), err) < 0)
                return -1;
        if (!name[0])
                return 0; /* "./": the layer root keeps the store's attributes */
        const char *slash = strrchr(name, '/');
        const char *base = slash ? slash + 1 : name;
        snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - name) : 0, name);

        /* Anything but a plain file may change a directory the cache holds. */
        _cleanup_close_ int parent = parent_fd(ctx, raw, dir, is_file, err);
        if (parent < 0)
                return -1;
        if (!strncmp(base, WH_PREFIX, strlen(WH_PREFIX)))
                return whiteout(parent, base, raw, err);
        if (archive_entry_hardlink(e))
                return make_link(ctx, parent, base, raw, e, err);
        switch (type) {
        case AE_IFREG: {
                bool d;
                if (make_room(parent, base, false, &d) < 0)
                        return entry_sys(err, raw, "replace");
                return write_file(ctx, parent, base, raw, a, e, err);
        }
        case AE_IFDIR:
                return make_dir(ctx, parent, base, raw, e, err);
        case AE_IFLNK:
                return make_symlink(ctx, parent, base, raw, e, err);
        case AE_IFIFO:
                return make_fifo(ctx, parent, base, raw, e, err);
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFSOCK:
                return 0; /* skipped: see the top of the file */
        default:
                return entry_err(err, EINVAL, raw, "unknown entry type");
        }
}

void unpack_finish_dirs(struct unpack_ctx *ctx)
{
        /* Deepest last-made first, so setting a child's times does not touch
         * a parent whose times are already set. */
        for (size_t i = ctx->n_dirs; i-- > 0;) {
                int fd = openat2_in_root(ctx->root, ctx->dirs[i].name, O_RDONLY | O_DIRECTORY,
                                         RESOLVE_NO_SYMLINKS);
                if (fd >= 0) {
                        futimens(fd, ctx->dirs[i].ts);
                        close(fd);
                }
        }
}

void unpack_ctx_release(struct unpack_ctx *ctx)
{
        for (size_t i = 0; i < ctx->n_dirs; i++)
                free(ctx->dirs[i].name);
        free(ctx->dirs);
        ctx->dirs = NULL;
        ctx->n_dirs = ctx->cap_dirs = 0;
        if (ctx->cached_fd >= 0)
                close(ctx->cached_fd);
        ctx->cached_fd = -1;
}
