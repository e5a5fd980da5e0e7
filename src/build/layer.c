/* Layer diff writer (see layer.h). libarchive formats the tar; the tar
 * stream goes through our own callback, which hashes it (diff_id), then
 * compresses it with zlib or zstd and hashes the result (digest), so both
 * digests come out of one pass. zlib's gzip header carries no time and
 * zstd frames none, which keeps the blob reproducible. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "build/layer.h"
#include "util/cleanup.h"

#define CHUNK        (128u << 10)
#define DEPTH_MAX    256
#define XATTR_MAX    (64u << 10)
#define NAMES_MAX    (1u << 20) /* entries in one directory */
#define LINKS_BUCKET 256

struct hardlink {
        dev_t dev;
        ino_t ino;
        char *path;
        struct hardlink *next;
};

struct writer {
        struct archive *ar;
        enum bld_compression comp;
        int64_t epoch;
        bld_sink_fn sink;
        void *sink_ctx;
        EVP_MD_CTX *tar_md, *out_md;
        z_stream z;
        bool z_init;
        ZSTD_CStream *zs;
        unsigned char *buf;
        int64_t out_size;
        uint64_t entries;
        struct hardlink *links[LINKS_BUCKET];
        struct isola_err *err;
        bool failed; /* err holds the reason */
};

int64_t bld_source_date_epoch(void)
{
        const char *s = getenv("SOURCE_DATE_EPOCH");
        if (!s || !*s)
                return 0;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || *end || v < 0)
                return 0;
        return v;
}

int bld_compression_parse(const char *s, enum bld_compression *out, struct isola_err *err)
{
        if (!strcmp(s, "gzip"))
                *out = BLD_COMP_GZIP;
        else if (!strcmp(s, "zstd"))
                *out = BLD_COMP_ZSTD;
        else if (!strcmp(s, "none") || !strcmp(s, "uncompressed"))
                *out = BLD_COMP_NONE;
        else
                return err_set(err, EINVAL, "compression '%s': expected gzip, zstd or none", s);
        return 0;
}

static int emit(struct writer *w, const void *p, size_t n)
{
        if (!n)
                return 0;
        EVP_DigestUpdate(w->out_md, p, n);
        w->out_size += (int64_t)n;
        return w->sink(w->sink_ctx, p, n, w->err);
}

/* Compresses n bytes of tar (flush: the end of the stream). */
static int compress_out(struct writer *w, const void *p, size_t n, bool flush)
{
        if (w->comp == BLD_COMP_NONE)
                return emit(w, p, n);
        if (w->comp == BLD_COMP_GZIP) {
                w->z.next_in = (Bytef *)(uintptr_t)p;
                w->z.avail_in = (uInt)n;
                int zr;
                do {
                        w->z.next_out = w->buf;
                        w->z.avail_out = CHUNK;
                        zr = deflate(&w->z, flush ? Z_FINISH : Z_NO_FLUSH);
                        if (zr == Z_STREAM_ERROR)
                                return err_set(w->err, EIO, "gzip: deflate failed");
                        if (emit(w, w->buf, CHUNK - w->z.avail_out) < 0)
                                return -1;
                } while (w->z.avail_out == 0 || (flush && zr != Z_STREAM_END));
                return 0;
        }
        ZSTD_inBuffer in = {p, n, 0};
        for (;;) {
                ZSTD_outBuffer out = {w->buf, CHUNK, 0};
                size_t left =
                    ZSTD_compressStream2(w->zs, &out, &in, flush ? ZSTD_e_end : ZSTD_e_continue);
                if (ZSTD_isError(left))
                        return err_set(w->err, EIO, "zstd: %s", ZSTD_getErrorName(left));
                if (emit(w, w->buf, out.pos) < 0)
                        return -1;
                if (flush ? left == 0 : in.pos == in.size)
                        return 0;
        }
}

static la_ssize_t tar_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
        struct writer *w = ctx;
        (void)a;
        EVP_DigestUpdate(w->tar_md, buf, n);
        if (compress_out(w, buf, n, false) < 0) {
                w->failed = true;
                return -1;
        }
        return (la_ssize_t)n;
}

static int ar_fail(struct writer *w, const char *path)
{
        if (w->failed)
                return err_prefix(w->err, "'%s'", path);
        return err_set(w->err, EIO, "'%s': %s", path, archive_error_string(w->ar));
}

/* ---- entries --------------------------------------------------------- */

static void add_xattrs(struct archive_entry *e, int fd, const char *proc_name)
{
        char names[XATTR_MAX];
        ssize_t n = fd >= 0 ? flistxattr(fd, names, sizeof(names))
                            : llistxattr(proc_name, names, sizeof(names));
        for (ssize_t i = 0; i > -1 && i < n; i += (ssize_t)strlen(names + i) + 1) {
                const char *name = names + i;
                /* overlay's own bookkeeping is not file content */
                if (!strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13))
                        continue;
                char val[XATTR_MAX];
                ssize_t vn = fd >= 0 ? fgetxattr(fd, name, val, sizeof(val))
                                     : lgetxattr(proc_name, name, val, sizeof(val));
                if (vn >= 0)
                        archive_entry_xattr_add_entry(e, name, val, (size_t)vn);
        }
}

static void fill_stat(struct writer *w, struct archive_entry *e, const char *path,
                      const struct stat *st)
{
        archive_entry_set_pathname(e, path);
        archive_entry_set_mode(e, st->st_mode);
        archive_entry_set_uid(e, st->st_uid);
        archive_entry_set_gid(e, st->st_gid);
        archive_entry_set_mtime(e, w->epoch, 0);
}

static int write_marker(struct writer *w, const char *path)
{
        struct archive_entry *e = archive_entry_new();
        if (!e)
                return err_set(w->err, ENOMEM, "out of memory");
        archive_entry_set_pathname(e, path);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0);
        archive_entry_set_size(e, 0);
        archive_entry_set_mtime(e, w->epoch, 0);
        int rc = archive_write_header(w->ar, e);
        archive_entry_free(e);
        w->entries++;
        return rc == ARCHIVE_OK ? 0 : ar_fail(w, path);
}

/* The first path of an inode with several links; NULL (and remembered) the
 * first time. */
static const char *hardlink_target(struct writer *w, const struct stat *st, const char *path)
{
        size_t b = (size_t)((st->st_ino ^ st->st_dev) % LINKS_BUCKET);
        for (struct hardlink *h = w->links[b]; h; h = h->next) {
                if (h->ino == st->st_ino && h->dev == st->st_dev)
                        return h->path;
        }
        struct hardlink *h = calloc(1, sizeof(*h));
        if (h && (h->path = strdup(path))) {
                h->ino = st->st_ino;
                h->dev = st->st_dev;
                h->next = w->links[b];
                w->links[b] = h;
        } else {
                free(h);
        }
        return NULL;
}

static int copy_data(struct writer *w, int fd, const char *path, int64_t size)
{
        int64_t done = 0;
        for (;;) {
                ssize_t n = read(fd, w->buf, CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return err_sys(w->err, "read '%s'", path);
                if (n == 0)
                        break;
                if (done + n > size)
                        return err_set(w->err, EIO, "'%s' grew while being archived", path);
                if (archive_write_data(w->ar, w->buf, (size_t)n) != n)
                        return ar_fail(w, path);
                done += n;
        }
        if (done != size)
                return err_set(w->err, EIO, "'%s' shrank while being archived", path);
        return 0;
}

static int write_tree(struct writer *w, int dirfd, char *path, size_t plen, int depth);

static int write_one(struct writer *w, int dirfd, const char *name, char *path, size_t plen,
                     int depth)
{
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return err_sys(w->err, "stat '%s'", path);
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) { /* overlay whiteout */
                char wh[PATH_MAX];
                const char *slash = strrchr(path, '/');
                size_t dlen = slash ? (size_t)(slash - path + 1) : 0;
                if (snprintf(wh, sizeof(wh), "%.*s.wh.%s", (int)dlen, path, name) >=
                    (int)sizeof(wh))
                        return err_set(w->err, ENAMETOOLONG, "'%s': path too long", path);
                return write_marker(w, wh);
        }
        if (S_ISSOCK(st.st_mode))
                return 0; /* sockets do not go into images */
        _cleanup_close_ int fd = -1;
        if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
                fd = openat(dirfd, name,
                            O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
                                (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
                if (fd < 0)
                        return err_sys(w->err, "open '%s'", path);
        }
        struct archive_entry *e = archive_entry_new();
        if (!e)
                return err_set(w->err, ENOMEM, "out of memory");
        fill_stat(w, e, path, &st);
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
        char lpath[PATH_MAX];
        if (fd < 0 && snprintf(lpath, sizeof(lpath), "%s/%s", proc, name) < (int)sizeof(lpath))
                add_xattrs(e, -1, lpath);
        else if (fd >= 0)
                add_xattrs(e, fd, NULL);
        const char *link = NULL;
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
                if (n < 0) {
                        archive_entry_free(e);
                        return err_sys(w->err, "readlink '%s'", path);
                }
                target[n] = '\0';
                archive_entry_set_symlink(e, target);
        } else if (S_ISREG(st.st_mode)) {
                if (st.st_nlink > 1)
                        link = hardlink_target(w, &st, path);
                if (link) {
                        archive_entry_set_hardlink(e, link);
                        archive_entry_set_size(e, 0);
                } else {
                        archive_entry_set_size(e, st.st_size);
                }
        } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
                archive_entry_set_rdevmajor(e, major(st.st_rdev));
                archive_entry_set_rdevminor(e, minor(st.st_rdev));
        }
        int rc = archive_write_header(w->ar, e);
        archive_entry_free(e);
        w->entries++;
        if (rc != ARCHIVE_OK)
                return ar_fail(w, path);
        if (S_ISREG(st.st_mode) && !link)
                return copy_data(w, fd, path, st.st_size);
        if (!S_ISDIR(st.st_mode))
                return 0;
        char opq[2];
        if ((fgetxattr(fd, "trusted.overlay.opaque", opq, 1) == 1 && opq[0] == 'y') ||
            (fgetxattr(fd, "user.overlay.opaque", opq, 1) == 1 && opq[0] == 'y')) {
                char marker[PATH_MAX];
                if (snprintf(marker, sizeof(marker), "%s/.wh..wh..opq", path) >=
                    (int)sizeof(marker))
                        return err_set(w->err, ENAMETOOLONG, "'%s': path too long", path);
                if (write_marker(w, marker) < 0)
                        return -1;
        }
        return write_tree(w, fd, path, plen, depth + 1);
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of a directory (heap). */
static int read_names(struct writer *w, int dirfd, const char *path, char ***out, size_t *n_out)
{
        int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return err_sys(w->err, "'%s'", path);
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return err_sys(w->err, "'%s'", path);
        }
        char **v = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        int rc = 0;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (n + 1 >= cap) {
                        size_t ncap = cap ? cap * 2 : 32;
                        char **nv = ncap <= NAMES_MAX ? realloc(v, ncap * sizeof(*nv)) : NULL;
                        if (!nv) {
                                rc = err_set(w->err, ENOMEM, "'%s': too many entries", path);
                                break;
                        }
                        v = nv;
                        cap = ncap;
                }
                if (!(v[n] = strdup(de->d_name))) {
                        rc = err_set(w->err, ENOMEM, "out of memory");
                        break;
                }
                n++;
        }
        rewinddir(d);
        closedir(d);
        if (rc == 0 && n)
                qsort(v, n, sizeof(*v), cmp_names);
        if (rc < 0) {
                for (size_t i = 0; i < n; i++)
                        free(v[i]);
                free(v);
                return -1;
        }
        *out = v;
        *n_out = n;
        return 0;
}

/* path holds the directory's path in the archive ("" at the top). */
static int write_tree(struct writer *w, int dirfd, char *path, size_t plen, int depth)
{
        if (depth > DEPTH_MAX)
                return err_set(w->err, ELOOP, "'%s': nested too deeply", path);
        char **names = NULL;
        size_t n = 0;
        if (read_names(w, dirfd, path, &names, &n) < 0)
                return -1;
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
                size_t nlen = strlen(names[i]);
                if (plen + nlen + 2 > PATH_MAX) {
                        rc =
                            err_set(w->err, ENAMETOOLONG, "'%s/%s': path too long", path, names[i]);
                        break;
                }
                size_t len = plen;
                if (plen)
                        path[len++] = '/';
                memcpy(path + len, names[i], nlen + 1);
                rc = write_one(w, dirfd, names[i], path, len + nlen, depth);
                path[plen] = '\0';
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return rc;
}

/* ---- setup ----------------------------------------------------------- */

static int writer_open(struct writer *w, struct isola_err *err)
{
        w->buf = malloc(CHUNK);
        w->tar_md = EVP_MD_CTX_new();
        w->out_md = EVP_MD_CTX_new();
        if (!w->buf || !w->tar_md || !w->out_md ||
            !EVP_DigestInit_ex(w->tar_md, EVP_sha256(), NULL) ||
            !EVP_DigestInit_ex(w->out_md, EVP_sha256(), NULL))
                return err_set(err, ENOMEM, "out of memory");
        if (w->comp == BLD_COMP_GZIP) {
                /* 15 + 16: a gzip wrapper with mtime 0 and no name */
                if (deflateInit2(&w->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                                 Z_DEFAULT_STRATEGY) != Z_OK)
                        return err_set(err, ENOMEM, "gzip: cannot initialise");
                w->z_init = true;
        } else if (w->comp == BLD_COMP_ZSTD) {
                w->zs = ZSTD_createCStream();
                if (!w->zs ||
                    ZSTD_isError(ZSTD_CCtx_setParameter(w->zs, ZSTD_c_compressionLevel, 3)))
                        return err_set(err, ENOMEM, "zstd: cannot initialise");
        }
        w->ar = archive_write_new();
        if (!w->ar || archive_write_set_format_pax_restricted(w->ar) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(w->ar, 1) != ARCHIVE_OK ||
            archive_write_open2(w->ar, w, NULL, tar_write, NULL, NULL) != ARCHIVE_OK)
                return err_set(err, EIO, "tar: %s",
                               w->ar ? archive_error_string(w->ar) : "out of memory");
        return 0;
}

static void writer_free(struct writer *w)
{
        if (w->ar)
                archive_write_free(w->ar);
        if (w->z_init)
                deflateEnd(&w->z);
        ZSTD_freeCStream(w->zs);
        EVP_MD_CTX_free(w->tar_md);
        EVP_MD_CTX_free(w->out_md);
        free(w->buf);
        for (size_t i = 0; i < LINKS_BUCKET; i++) {
                for (struct hardlink *h = w->links[i], *next; h; h = next) {
                        next = h->next;
                        free(h->path);
                        free(h);
                }
        }
}

static void hex_digest(EVP_MD_CTX *md, char out[BLD_DIGEST_MAX])
{
        unsigned char d[32];
        unsigned int n = 0;
        EVP_DigestFinal_ex(md, d, &n);
        memcpy(out, "sha256:", 8);
        for (unsigned i = 0; i < n && i < 32; i++)
                snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
}

int bld_layer_write(int upper_dirfd, enum bld_compression comp, int64_t epoch, bld_sink_fn sink,
                    void *sink_ctx, struct bld_layer_info *info, struct isola_err *err)
{
        static const char *const types[] = {
            [BLD_COMP_GZIP] = "application/vnd.oci.image.layer.v1.tar+gzip",
            [BLD_COMP_ZSTD] = "application/vnd.oci.image.layer.v1.tar+zstd",
            [BLD_COMP_NONE] = "application/vnd.oci.image.layer.v1.tar",
        };
        struct writer w = {
            .comp = comp, .epoch = epoch, .sink = sink, .sink_ctx = sink_ctx, .err = err};
        char path[PATH_MAX] = "";
        int rc = writer_open(&w, err);
        if (rc == 0)
                rc = write_tree(&w, upper_dirfd, path, 0, 0);
        if (rc == 0 && archive_write_close(w.ar) != ARCHIVE_OK)
                rc = w.failed ? -1 : err_set(err, EIO, "tar: %s", archive_error_string(w.ar));
        if (rc == 0)
                rc = compress_out(&w, NULL, 0, true);
        if (rc == 0) {
                hex_digest(w.tar_md, info->diff_id);
                hex_digest(w.out_md, info->digest);
                info->size = w.out_size;
                info->entries = w.entries;
                info->media_type = types[comp];
        }
        writer_free(&w);
        return rc;
}
