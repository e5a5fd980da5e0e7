/* Adopting a directory as a layer: a build step's overlayfs upper dir already
 * holds the tree that unpacking its freshly written layer blob would make,
 * so the store can take the directory itself instead of writing every file a
 * second time. The walk makes the directory exactly what the unpacker would
 * produce from the blob: every mtime (and atime) set to the layer's epoch,
 * overlayfs bookkeeping xattrs dropped except the opaque marker. Anything
 * the unpacker would treat differently (device nodes, sockets, metacopy or
 * redirect entries, system.* xattrs such as ACLs) makes the directory not
 * adoptable and the caller unpacks the blob as before. The size recorded is
 * the one the unpacker counts: regular-file bytes, hard links once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/store_internal.h"
#include "util/cleanup.h"

#define ADOPT_DEPTH_MAX 256
#define XATTR_LIST_MAX  65536

struct adopt_inode {
        dev_t dev;
        ino_t ino;
};

struct adopt_walk {
        struct timespec ts[2];
        uint64_t bytes, entries;
        struct adopt_inode *links; /* inodes with nlink > 1 already counted */
        size_t n_links, cap_links;
        bool refused;
};

/* Counts a hard-linked inode once, as the tar has one body for it. */
static int adopt_count_file(struct adopt_walk *w, const struct stat *st)
{
        if (st->st_nlink > 1) {
                for (size_t i = 0; i < w->n_links; i++)
                        if (w->links[i].dev == st->st_dev && w->links[i].ino == st->st_ino)
                                return 0;
                if (w->n_links == w->cap_links) {
                        size_t cap = w->cap_links ? w->cap_links * 2 : 64;
                        void *p = realloc(w->links, cap * sizeof(*w->links));
                        if (!p)
                                return -1;
                        w->links = p;
                        w->cap_links = cap;
                }
                w->links[w->n_links].dev = st->st_dev;
                w->links[w->n_links++].ino = st->st_ino;
        }
        w->bytes += (uint64_t)st->st_size;
        return 0;
}

/* Drops trusted.overlay.* but the opaque marker; refuses what the unpacker
 * could not reproduce. */
static int adopt_xattrs(struct adopt_walk *w, const char *path)
{
        char *names = malloc(XATTR_LIST_MAX);
        if (!names)
                return -1;
        ssize_t n = llistxattr(path, names, XATTR_LIST_MAX);
        int rc = n < 0 && errno != ENOTSUP ? -1 : 0;
        for (const char *x = names; rc == 0 && !w->refused && x < names + n; x += strlen(x) + 1) {
                if (!strncmp(x, "system.", 7) || !strcmp(x, "trusted.overlay.metacopy") ||
                    !strcmp(x, "trusted.overlay.redirect")) {
                        w->refused = true;
                } else if (!strcmp(x, "trusted.overlay.opaque")) {
                        char v[2] = {0};
                        if (lgetxattr(path, x, v, sizeof(v)) != 1 || v[0] != 'y')
                                w->refused = true;
                } else if (!strncmp(x, "trusted.overlay.", 16) && lremovexattr(path, x) < 0) {
                        rc = -1;
                }
        }
        free(names);
        return rc;
}

static int adopt_dir(struct adopt_walk *w, int dfd, const char *path, unsigned depth);

static int adopt_entry(struct adopt_walk *w, int dfd, const char *dpath, const char *name,
                       unsigned depth)
{
        struct stat st;
        char path[PATH_MAX];

        if (snprintf(path, sizeof(path), "%s/%s", dpath, name) >= (int)sizeof(path) ||
            fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                w->refused = true;
                return 0;
        }
        w->entries++;
        if (S_ISSOCK(st.st_mode) || S_ISBLK(st.st_mode) ||
            (S_ISCHR(st.st_mode) && st.st_rdev != makedev(0, 0))) {
                w->refused = true; /* the unpacker skips these */
                return 0;
        }
        if (S_ISREG(st.st_mode) && adopt_count_file(w, &st) < 0)
                return -1;
        if (adopt_xattrs(w, path) < 0)
                return -1;
        if (S_ISDIR(st.st_mode)) {
                _cleanup_close_ int sub =
                    openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0 || adopt_dir(w, sub, path, depth + 1) < 0)
                        return -1;
                return w->refused ? 0 : futimens(sub, w->ts);
        }
        return utimensat(dfd, name, w->ts, AT_SYMLINK_NOFOLLOW);
}

static int adopt_dir(struct adopt_walk *w, int dfd, const char *path, unsigned depth)
{
        if (depth > ADOPT_DEPTH_MAX) {
                w->refused = true;
                return 0;
        }
        int dup_fd = dup(dfd);
        if (dup_fd < 0)
                return -1;
        DIR *d = fdopendir(dup_fd);
        if (!d) {
                close(dup_fd);
                return -1;
        }
        int rc = 0;
        struct dirent *de;
        while (rc == 0 && !w->refused && (de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                rc = adopt_entry(w, dfd, path, de->d_name, depth);
        }
        closedir(d);
        return rc;
}

int img_layer_adopt(struct img_store *s, const char *dir, const char *diff_id, int64_t epoch,
                    bool *adopted, struct isola_err *err)
{
        struct adopt_walk w = {.ts = {{.tv_sec = epoch}, {.tv_sec = epoch}}};
        char dest[PATH_MAX];
        struct stat st;

        *adopted = false;
        if (!img_digest_valid(diff_id))
                return err_set(err, EINVAL, "layer: diff id '%s' is not a sha256 digest", diff_id);
        img_layer_dir(s, diff_id, dest, sizeof(dest));
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return err_sys(err, "layer %s: open '%s'", diff_id, dir);
        if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode))
                return 0; /* already there: let the caller's unpack find it */
        char layers[PATH_MAX];
        struct stat dst;
        snprintf(layers, sizeof(layers), "%s/layers", s->paths.root);
        if (stat(layers, &st) < 0 || fstat(dfd, &dst) < 0 || st.st_dev != dst.st_dev)
                return 0; /* rename cannot cross file systems */
        int rc = adopt_dir(&w, dfd, dir, 0);
        free(w.links);
        if (rc < 0)
                return err_sys(err, "layer %s: prepare '%s'", diff_id, dir);
        if (w.refused || w.entries > IMG_LAYER_MAX_ENTRIES)
                return 0;
        /* The unpacker makes the top directory 0755, owned by the caller. */
        if (fchmod(dfd, 0755) < 0 || syncfs(dfd) < 0)
                return err_sys(err, "layer %s: prepare '%s'", diff_id, dir);
        if (store_layer_commit(s, dir, diff_id, w.bytes, err) < 0)
                return -1;
        *adopted = true;
        return 0;
}
