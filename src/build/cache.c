/* Cache keys (content hashing of COPY sources) and the build_cache rows. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build/cache.h"
#include "db/db.h"
#include "util/cleanup.h"

#define TREE_DEPTH_MAX 256
#define DIR_NAMES_MAX  (1u << 20)

int bld_key_init(struct bld_key *k, struct isola_err *err)
{
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
                EVP_MD_CTX_free(md);
                return err_set(err, ENOMEM, "sha256: cannot initialise");
        }
        k->md = md;
        return 0;
}

/* tag NUL, 8-byte length, bytes: no two field lists hash alike. */
void bld_key_add(struct bld_key *k, const char *tag, const void *p, size_t n)
{
        uint64_t len = n;
        EVP_DigestUpdate(k->md, tag, strlen(tag) + 1);
        EVP_DigestUpdate(k->md, &len, sizeof(len));
        if (n)
                EVP_DigestUpdate(k->md, p, n);
}

void bld_key_add_str(struct bld_key *k, const char *tag, const char *s)
{
        bld_key_add(k, tag, s ? s : "", s ? strlen(s) : 0);
}

void bld_key_final(struct bld_key *k, char hex[BLD_KEY_HEX])
{
        unsigned char d[32];
        unsigned int n = 0;
        EVP_DigestFinal_ex(k->md, d, &n);
        for (unsigned i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", d[i]);
        bld_key_free(k);
}

void bld_key_free(struct bld_key *k)
{
        EVP_MD_CTX_free(k->md);
        k->md = NULL;
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int hash_file(struct bld_key *k, int fd, const char *path, struct isola_err *err)
{
        unsigned char buf[64 << 10];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return err_sys(err, "read '%s'", path);
                if (n == 0)
                        return 0;
                EVP_DigestUpdate(k->md, buf, (size_t)n);
        }
}

static int hash_dir(struct bld_key *k, int fd, const char *rel, const char *ctx_path,
                    const struct bld_ignore *ig, int depth, struct isola_err *err);

static int hash_entry(struct bld_key *k, int dirfd, const char *name, const char *rel,
                      const char *ctx_path, const struct bld_ignore *ig, bool follow, int depth,
                      struct isola_err *err)
{
        struct stat st;
        if (fstatat(dirfd, name, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0)
                return err_sys(err, "'%s'", ctx_path);
        char meta[128];
        snprintf(meta, sizeof(meta), "%o %u %u %lld", (unsigned)st.st_mode & 0177777u,
                 (unsigned)st.st_uid, (unsigned)st.st_gid,
                 S_ISREG(st.st_mode) ? (long long)st.st_size : 0LL);
        bld_key_add_str(k, "path", rel);
        bld_key_add_str(k, "meta", meta);
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(dirfd, name, target, sizeof(target));
                if (n < 0)
                        return err_sys(err, "readlink '%s'", ctx_path);
                bld_key_add(k, "link", target, (size_t)n);
                return 0;
        }
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
                return 0;
        int flags = O_RDONLY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);
        _cleanup_close_ int fd =
            openat(dirfd, name, flags | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
        if (fd < 0)
                return err_sys(err, "open '%s'", ctx_path);
        if (S_ISREG(st.st_mode)) {
                bld_key_add(k, "data", NULL, 0);
                return hash_file(k, fd, ctx_path, err);
        }
        return hash_dir(k, fd, rel, ctx_path, ig, depth + 1, err);
}

static int hash_dir(struct bld_key *k, int fd, const char *rel, const char *ctx_path,
                    const struct bld_ignore *ig, int depth, struct isola_err *err)
{
        if (depth > TREE_DEPTH_MAX)
                return err_set(err, ELOOP, "'%s': nested too deeply", ctx_path);
        int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0)
                        close(dfd);
                return err_sys(err, "'%s'", ctx_path);
        }
        char **names = NULL;
        size_t n = 0, cap = 0;
        int rc = 0;
        struct dirent *de;
        while (rc == 0 && (de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 32;
                        char **nv =
                            ncap <= DIR_NAMES_MAX ? realloc(names, ncap * sizeof(*nv)) : NULL;
                        if (!nv) {
                                rc = err_set(err, ENOMEM, "'%s': too many entries", ctx_path);
                                break;
                        }
                        names = nv;
                        cap = ncap;
                }
                if (!(names[n] = strdup(de->d_name)))
                        rc = err_set(err, ENOMEM, "out of memory");
                else
                        n++;
        }
        closedir(d);
        if (rc == 0 && n)
                qsort(names, n, sizeof(*names), cmp_names);
        for (size_t i = 0; i < n && rc == 0; i++) {
                char crel[PATH_MAX], cctx[PATH_MAX];
                if (snprintf(crel, sizeof(crel), "%s/%s", rel, names[i]) >= (int)sizeof(crel) ||
                    snprintf(cctx, sizeof(cctx), "%s/%s", ctx_path, names[i]) >=
                        (int)sizeof(cctx)) {
                        rc = err_set(err, ENAMETOOLONG, "'%s/%s': path too long", ctx_path,
                                     names[i]);
                        break;
                }
                /* ctx_path "." is the context's top */
                const char *ipath = !strncmp(cctx, "./", 2) ? cctx + 2 : cctx;
                if (ig && bld_ignore_match(ig, ipath))
                        continue;
                rc = hash_entry(k, fd, names[i], crel, cctx, ig, false, depth, err);
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return rc;
}

int bld_key_add_tree(struct bld_key *k, int dirfd, const char *name, const char *ctx_path,
                     const struct bld_ignore *ig, bool follow, struct isola_err *err)
{
        return hash_entry(k, dirfd, name, ".", ctx_path, ig, follow, 0, err);
}

/* ---- rows ------------------------------------------------------------ */

static void col(sqlite3_stmt *st, int i, char *buf, size_t len)
{
        const unsigned char *s = sqlite3_column_text(st, i);
        snprintf(buf, len, "%s", s ? (const char *)s : "");
}

int bld_cache_get(sqlite3 *db, const char *key, struct bld_cache_entry *out, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db,
                               "SELECT parent, diff_id, blob_digest, media_type, blob_size, created"
                               " FROM build_cache WHERE key = ?",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(db, "build cache", err);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                memset(out, 0, sizeof(*out));
                snprintf(out->key, sizeof(out->key), "%s", key);
                col(st, 0, out->parent, sizeof(out->parent));
                col(st, 1, out->diff_id, sizeof(out->diff_id));
                col(st, 2, out->blob_digest, sizeof(out->blob_digest));
                col(st, 3, out->media_type, sizeof(out->media_type));
                out->blob_size = sqlite3_column_int64(st, 4);
                out->created = sqlite3_column_int64(st, 5);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return db_fail(db, "build cache", err);
        if (rc == SQLITE_DONE)
                return 0;
        if (sqlite3_prepare_v2(db, "UPDATE build_cache SET last_used = ? WHERE key = ?", -1, &st,
                               NULL) != SQLITE_OK)
                return db_fail(db, "build cache", err);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 1 : db_fail(db, "build cache", err);
}

int bld_cache_put(sqlite3 *db, const struct bld_cache_entry *e, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db,
                               "INSERT OR REPLACE INTO build_cache (key, parent, diff_id,"
                               " blob_digest, media_type, blob_size, created, last_used)"
                               " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(db, "build cache", err);
        sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, e->parent, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, e->diff_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, e->blob_digest, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, e->media_type, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, e->blob_size);
        sqlite3_bind_int64(st, 7, e->created);
        sqlite3_bind_int64(st, 8, (sqlite3_int64)time(NULL));
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : db_fail(db, "build cache", err);
}

int bld_cache_prune(sqlite3 *db, bool all, int64_t older_than, int64_t *removed,
                    struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "DELETE FROM build_cache WHERE ? OR last_used < ?", -1, &st,
                               NULL) != SQLITE_OK)
                return db_fail(db, "build cache", err);
        sqlite3_bind_int(st, 1, all);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL) - older_than);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return db_fail(db, "build cache", err);
        *removed = sqlite3_changes(db);
        return 0;
}
