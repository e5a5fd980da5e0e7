/* Copying files for COPY/ADD between two roots (see copy.c for the rules).
 * Destination paths are always resolved with RESOLVE_IN_ROOT from the
 * image root, so a symlink in the image (/bin -> usr/bin) is followed the
 * way the container would see it and never out of the root; the entry
 * itself is replaced, never written through. */
#include <archive.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/copy_files.h"
#include "image/image.h"
#include "util/cleanup.h"

#define DEPTH_MAX 256

static int copy_data(int in, int out, off_t size, const char *path, struct isola_err *err)
{
        off_t done = 0;
        while (done < size) {
                ssize_t n = sendfile(out, in, NULL, (size_t)(size - done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return err_sys(err, "copy '%s'", path);
                if (n == 0)
                        break; /* the source shrank: copy what there is */
                done += n;
        }
        return 0;
}

/* Owner and mode of a copied entry (fd: an open file, else dfd/name). The
 * times are not kept: layers store the build epoch anyway. */
static int set_meta(struct bld_copy_job *j, int fd, int dfd, const char *name,
                    const struct stat *st, const char *path, struct isola_err *err)
{
        uid_t uid = j->own.set ? j->own.uid : st->st_uid;
        gid_t gid = j->own.set ? j->own.gid : st->st_gid;
        mode_t mode = j->has_chmod ? j->chmod : (st->st_mode & 07777);
        if ((fd >= 0 ? fchown(fd, uid, gid) : fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW)) <
            0)
                return err_sys(err, "chown '%s'", path);
        if (S_ISLNK(st->st_mode))
                return 0;
        /* after chown, which clears set-id bits */
        if ((fd >= 0 ? fchmod(fd, mode) : fchmodat(dfd, name, mode, 0)) < 0)
                return err_sys(err, "chmod '%s'", path);
        return 0;
}

/* Removes a non-directory entry in the way; 1 when a directory is there. */
static int clear_entry(int dfd, const char *name, bool want_dir, const char *path,
                       struct isola_err *err)
{
        struct stat cur;
        if (fstatat(dfd, name, &cur, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : err_sys(err, "'%s'", path);
        if (S_ISDIR(cur.st_mode)) {
                if (want_dir)
                        return 1;
                return err_set(err, EISDIR, "'%s': cannot replace a directory with a file", path);
        }
        if (unlinkat(dfd, name, 0) < 0)
                return err_sys(err, "replace '%s'", path);
        return 0;
}

/* fresh: dfd is a directory this copy made, so nothing is in the way. */
static int copy_file(struct bld_copy_job *j, int in, const struct stat *st, int dfd,
                     const char *name, bool fresh, const char *path, struct isola_err *err)
{
        if (!fresh && clear_entry(dfd, name, false, path, err) < 0)
                return -1;
        _cleanup_close_ int out =
            openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return err_sys(err, "create '%s'", path);
        if (copy_data(in, out, st->st_size, path, err) < 0)
                return -1;
        return set_meta(j, out, -1, NULL, st, path, err);
}

/* The destination directory dpath (name in dfd), made when missing; an
 * existing one is found as a container would (symlinks followed inside the
 * root). *fresh tells whether it was made now. Returns an O_PATH fd. */
static int dest_dir(struct bld_copy_job *j, int dfd, const char *name, const char *dpath,
                    const struct stat *st, bool parent_fresh, bool *fresh, struct isola_err *err)
{
        int fd = -1;
        *fresh = false;
        if (!parent_fresh) {
                fd = bld_open_in_root(j->dst_root, dpath, O_PATH | O_DIRECTORY, 0);
                if (fd >= 0)
                        return fd;
                if (errno != ENOENT && errno != ENOTDIR)
                        return err_sys(err, "'%s'", dpath);
        }
        /* a file or a dangling symlink in the way is replaced */
        if (mkdirat(dfd, name, 0700) < 0) {
                if (errno != EEXIST)
                        return err_sys(err, "mkdir '%s'", dpath);
                if (clear_entry(dfd, name, false, dpath, err) < 0)
                        return -1;
                if (mkdirat(dfd, name, 0700) < 0)
                        return err_sys(err, "mkdir '%s'", dpath);
        }
        if (set_meta(j, -1, dfd, name, st, dpath, err) < 0)
                return -1;
        fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return err_sys(err, "'%s'", dpath);
        *fresh = true;
        return fd;
}

static int copy_entry(struct bld_copy_job *j, int sfd, const char *name, const char *ctx_rel,
                      int dfd, const char *dst, bool fresh, int depth, struct isola_err *err);

/* Copies the entries of directory sfd into the directory dfd (path dpath). */
static int copy_dir(struct bld_copy_job *j, int sfd, const char *ctx_rel, int dfd,
                    const char *dpath, bool fresh, int depth, struct isola_err *err)
{
        if (depth > DEPTH_MAX)
                return err_set(err, ELOOP, "'%s': nested too deeply", ctx_rel);
        int dup = fcntl(sfd, F_DUPFD_CLOEXEC, 3);
        DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
        if (!d) {
                if (dup >= 0)
                        close(dup);
                return err_sys(err, "'%s'", ctx_rel);
        }
        int rc = 0;
        struct dirent *de;
        size_t dlen = strlen(dpath);
        while (rc == 0 && (de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                char rel[PATH_MAX], dst[PATH_MAX];
                int a = snprintf(rel, sizeof(rel), "%s%s%s", strcmp(ctx_rel, ".") ? ctx_rel : "",
                                 strcmp(ctx_rel, ".") ? "/" : "", de->d_name);
                int b = snprintf(dst, sizeof(dst), "%s%s%s", dpath,
                                 dlen && dpath[dlen - 1] == '/' ? "" : "/", de->d_name);
                if (a >= (int)sizeof(rel) || b >= (int)sizeof(dst)) {
                        rc = err_set(err, ENAMETOOLONG, "'%s': path too long", rel);
                        break;
                }
                if (j->ig && bld_ignore_match(j->ig, rel))
                        continue;
                rc = copy_entry(j, sfd, de->d_name, rel, dfd, dst, fresh, depth + 1, err);
        }
        closedir(d);
        return rc;
}

static int copy_entry(struct bld_copy_job *j, int sfd, const char *name, const char *ctx_rel,
                      int dfd, const char *dst, bool fresh, int depth, struct isola_err *err)
{
        struct stat st;
        const char *dname = strrchr(dst, '/') ? strrchr(dst, '/') + 1 : dst;
        if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return err_sys(err, "'%s'", ctx_rel);
        if (S_ISDIR(st.st_mode)) {
                _cleanup_close_ int cfd =
                    openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cfd < 0)
                        return err_sys(err, "'%s'", ctx_rel);
                bool cfresh;
                _cleanup_close_ int cdst = dest_dir(j, dfd, dname, dst, &st, fresh, &cfresh, err);
                if (cdst < 0)
                        return -1;
                return copy_dir(j, cfd, ctx_rel, cdst, dst, cfresh, depth, err);
        }
        if (S_ISREG(st.st_mode)) {
                _cleanup_close_ int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (in < 0)
                        return err_sys(err, "'%s'", ctx_rel);
                return copy_file(j, in, &st, dfd, dname, fresh, dst, err);
        }
        if (!S_ISLNK(st.st_mode) && !S_ISFIFO(st.st_mode))
                return 0; /* sockets and devices are not copied */
        if (!fresh && clear_entry(dfd, dname, false, dst, err) < 0)
                return -1;
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);
                if (n < 0)
                        return err_sys(err, "readlink '%s'", ctx_rel);
                target[n] = '\0';
                if (symlinkat(target, dfd, dname) < 0)
                        return err_sys(err, "symlink '%s'", dst);
        } else if (mkfifoat(dfd, dname, 0600) < 0) {
                return err_sys(err, "mkfifo '%s'", dst);
        }
        return set_meta(j, -1, dfd, dname, &st, dst, err);
}

/* The parent directory of dst (made as needed) and the last name. */
static int dest_parent(struct bld_copy_job *j, const char *dst, const char **name,
                       struct isola_err *err)
{
        const char *slash = strrchr(dst, '/');
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - dst) : 0, dst);
        *name = slash ? slash + 1 : dst;
        return bld_mkdir_in_root(j->dst_root, parent[0] ? parent : "/", 0755,
                                 j->own.set ? &j->own : NULL, err);
}

/* A tar archive (plain or compressed) that ADD unpacks. */
static bool is_archive(int fd)
{
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        bool yes = false;
        if (!a)
                return false;
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_fd(a, fd, 16384) == ARCHIVE_OK)
                yes = archive_read_next_header(a, &e) == ARCHIVE_OK;
        archive_read_free(a);
        lseek(fd, 0, SEEK_SET);
        return yes;
}

static int unpack(struct bld_copy_job *j, int fd, const char *src, const char *dest,
                  struct isola_err *err)
{
        _cleanup_close_ int dfd = bld_mkdir_in_root(j->dst_root, dest, 0755, NULL, err);
        if (dfd < 0)
                return -1;
        _cleanup_close_ int rfd = bld_open_in_root(j->dst_root, dest, O_RDONLY | O_DIRECTORY, 0);
        if (rfd < 0)
                return err_sys(err, "'%s'", dest);
        struct img_unpack_limits lim = {.max_bytes = 16ull << 30, .max_entries = 1000000};
        char diff[IMG_DIGEST_MAX];
        uint64_t size = 0;
        if (img_unpack_fd(fd, rfd, &lim, diff, &size, err) < 0)
                return err_prefix(err, "ADD '%s'", src);
        return 0;
}

int bld_copy_one(struct bld_copy_job *j, const char *src, const char *dest, bool dest_slash,
                 struct isola_err *err)
{
        /* the source itself may be a symlink: followed, inside its root */
        _cleanup_close_ int fd = bld_open_in_root(j->src_root, src, O_RDONLY, 0);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return err_sys(err, "'%s'", src);
        if (S_ISDIR(st.st_mode)) {
                const char *name;
                bool fresh = true;
                _cleanup_close_ int pfd = dest_parent(j, dest, &name, err);
                if (pfd < 0)
                        return -1;
                _cleanup_close_ int dfd =
                    *name ? dest_dir(j, pfd, name, dest, &st, false, &fresh, err)
                          : bld_open_in_root(j->dst_root, "/", O_PATH | O_DIRECTORY, 0);
                if (dfd < 0)
                        return *name ? -1 : err_sys(err, "'/'");
                return copy_dir(j, fd, src, dfd, dest, *name ? fresh : false, 0, err);
        }
        if (!S_ISREG(st.st_mode))
                return err_set(err, EINVAL, "'%s': not a file or directory", src);
        if (j->add && j->from_context && is_archive(fd))
                return unpack(j, fd, src, dest, err);
        char target[PATH_MAX];
        const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
        _cleanup_close_ int existing = bld_open_in_root(j->dst_root, dest, O_PATH | O_DIRECTORY, 0);
        bool into = dest_slash || existing >= 0;
        if (snprintf(target, sizeof(target), "%s%s%s", dest,
                     into ? (dest[strlen(dest) - 1] == '/' ? "" : "/") : "",
                     into ? base : "") >= (int)sizeof(target))
                return err_set(err, ENAMETOOLONG, "'%s': path too long", dest);
        const char *name;
        _cleanup_close_ int pfd = dest_parent(j, target, &name, err);
        if (pfd < 0)
                return -1;
        return copy_file(j, fd, &st, pfd, name, false, target, err);
}
