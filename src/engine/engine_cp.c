/* cp between a container and the host. The container side is hostile (a
 * running container can plant symlinks at any time): its parent directory
 * is resolved with openat2(RESOLVE_IN_ROOT) below the container's root, and
 * every entry below is reached by *at() calls with O_NOFOLLOW relative to an
 * fd we already hold, so nothing can lead outside the root. Symlinks are
 * copied as symlinks. */
#include "engine/engine_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define CP_MAX_DEPTH 256

static int copy_entry(int sfd, const char *sname, int dfd, const char *dname, int depth,
                      struct isola_err *err);

static int copy_file(int sfd, const char *sname, int dfd, const char *dname, const struct stat *st,
                     struct isola_err *err)
{
        _cleanup_close_ int in = openat(sfd, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int out = -1;
        char buf[65536];
        ssize_t n;

        if (in < 0)
                return err_sys(err, "open '%s'", sname);
        if (unlinkat(dfd, dname, 0) < 0 && errno != ENOENT)
                return err_sys(err, "replace '%s'", dname);
        out = openat(dfd, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     st->st_mode & 07777);
        if (out < 0)
                return err_sys(err, "create '%s'", dname);
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (fs_write_all(out, buf, (size_t)n) < 0)
                        return err_sys(err, "write '%s'", dname);
        if (n < 0)
                return err_sys(err, "read '%s'", sname);
        return 0;
}

static int copy_dir(int sfd, const char *sname, int dfd, const char *dname, const struct stat *st,
                    int depth, struct isola_err *err)
{
        _cleanup_close_ int dst = -1;
        int src = openat(sfd, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *e;

        if (depth > CP_MAX_DEPTH)
                return err_set(err, ELOOP, "'%s': too deep", sname);
        if (src < 0)
                return err_sys(err, "open '%s'", sname);
        d = fdopendir(src);
        if (!d) {
                close(src);
                return err_sys(err, "open '%s'", sname);
        }
        if (mkdirat(dfd, dname, st->st_mode & 07777) < 0 && errno != EEXIST)
                return err_sys(err, "mkdir '%s'", dname);
        /* an existing symlink named like the dir is refused here */
        dst = openat(dfd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dst < 0)
                return err_sys(err, "'%s'", dname);
        while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                if (copy_entry(dirfd(d), e->d_name, dst, e->d_name, depth + 1, err) < 0)
                        return -1;
        }
        return 0;
}

static int copy_entry(int sfd, const char *sname, int dfd, const char *dname, int depth,
                      struct isola_err *err)
{
        struct stat st;
        int rc = 0;

        if (fstatat(sfd, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return err_sys(err, "'%s'", sname);
        if (S_ISDIR(st.st_mode)) {
                rc = copy_dir(sfd, sname, dfd, dname, &st, depth, err);
        } else if (S_ISREG(st.st_mode)) {
                rc = copy_file(sfd, sname, dfd, dname, &st, err);
        } else if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(sfd, sname, target, sizeof(target) - 1);
                if (n < 0)
                        return err_sys(err, "readlink '%s'", sname);
                target[n] = '\0';
                if (unlinkat(dfd, dname, 0) < 0 && errno != ENOENT)
                        return err_sys(err, "replace '%s'", dname);
                if (symlinkat(target, dfd, dname) < 0)
                        return err_sys(err, "symlink '%s'", dname);
        } else {
                return 0; /* devices, fifos, sockets are not copied */
        }
        if (rc == 0)
                fchownat(dfd, dname, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
        return rc;
}

/* Splits p into a parent directory and a last component ("." for "/"). */
static void split(const char *p, char *parent, char *name, size_t len)
{
        char a[PATH_MAX], b[PATH_MAX];

        snprintf(a, sizeof(a), "%s", p);
        snprintf(b, sizeof(b), "%s", p);
        snprintf(parent, len, "%s", dirname(a));
        snprintf(name, len, "%s", basename(b));
}

struct side {
        bool in_ctr;
        char path[PATH_MAX];
};

/* Opens the directory that holds `path` (container side: inside rootfd). */
static int open_parent(const struct side *s, int rootfd, char name[PATH_MAX], struct isola_err *err)
{
        char parent[PATH_MAX];
        int fd;

        split(s->path, parent, name, PATH_MAX);
        if (!strcmp(name, "/") || !strcmp(name, ".") || !strcmp(name, ".."))
                return err_set(err, EINVAL, "'%s': name a file or directory", s->path);
        fd = s->in_ctr ? eng_open_in_root(rootfd, parent, O_RDONLY | O_DIRECTORY)
                       : open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return err_sys(err, "'%s'", parent);
        return fd;
}

static int parse_side(const char *arg, struct side *s, char *ctr, size_t len)
{
        const char *colon = strchr(arg, ':');

        s->in_ctr = colon && arg[0] != '/' && arg[0] != '.';
        if (s->in_ctr) {
                snprintf(ctr, len, "%.*s", (int)(colon - arg), arg);
                snprintf(s->path, sizeof(s->path), "%s", colon[1] ? colon + 1 : "/");
        } else {
                snprintf(s->path, sizeof(s->path), "%s", arg);
        }
        return s->in_ctr;
}

static int do_copy(const struct side *src, const struct side *dst, int rootfd,
                   struct isola_err *err)
{
        char sname[PATH_MAX], dname[PATH_MAX];
        _cleanup_close_ int sp = open_parent(src, rootfd, sname, err);
        _cleanup_close_ int dp = -1, into = -1;
        struct stat st;

        if (sp < 0)
                return err_prefix(err, "source");
        if (fstatat(sp, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return err_sys(err, "source '%s'", src->path);
        /* an existing directory as destination: copy into it */
        into = dst->in_ctr ? eng_open_in_root(rootfd, dst->path, O_RDONLY | O_DIRECTORY)
                           : open(dst->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (into >= 0)
                return copy_entry(sp, sname, into, sname, 0, err);
        dp = open_parent(dst, rootfd, dname, err);
        if (dp < 0)
                return err_prefix(err, "destination");
        return copy_entry(sp, sname, dp, dname, 0, err);
}

int eng_cp(struct eng_ctx *c, const char *src, const char *dst, struct isola_err *err)
{
        struct side s, d;
        char ctr_a[256] = "", ctr_b[256] = "", merged[PATH_MAX];
        struct eng_container *ct = NULL;
        bool was_mounted;
        int rc;

        parse_side(src, &s, ctr_a, sizeof(ctr_a));
        parse_side(dst, &d, ctr_b, sizeof(ctr_b));
        if (s.in_ctr == d.in_ctr)
                return err_set(err, EINVAL, "cp '%s' '%s': exactly one side must be CONTAINER:PATH",
                               src, dst);
        if (eng_get(c, s.in_ctr ? ctr_a : ctr_b, &ct, err) < 0)
                return -1;
        was_mounted = eng_rootfs_mounted(c, ct->id);
        if (eng_rootfs_mount(c, ct->id, err) < 0) {
                eng_container_free(ct);
                return -1;
        }
        eng_ctr_path(c, ct->id, "merged", merged, sizeof(merged));
        int rootfd = open(merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
        rc = rootfd < 0 ? err_sys(err, "'%s'", merged) : do_copy(&s, &d, rootfd, err);
        if (rootfd >= 0)
                close(rootfd);
        if (!was_mounted) {
                struct isola_err ignore = {0};
                eng_rootfs_umount(c, ct->id, &ignore);
        }
        eng_container_free(ct);
        return rc;
}
