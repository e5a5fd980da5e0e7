/* Helpers shared by the store files: sha256 through OpenSSL's EVP, bounded
 * strict JSON, the store lock, temp names and recursive removal. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/store_internal.h"
#include "util/cleanup.h"

#define JSON_DEPTH_MAX 64

void img_store_init(struct img_store *s, const struct db_paths *paths, sqlite3 *db)
{
        memset(s, 0, sizeof(*s));
        s->paths = *paths;
        s->db = db;
        s->lock_fd = -1;
}

int img_store_lock(struct img_store *s, bool exclusive, struct isola_err *err)
{
        char path[PATH_MAX + 16];

        if (s->lock_depth > 0) {
                if (exclusive && !s->lock_exclusive)
                        return err_set(err, EDEADLK, "image store: lock held shared");
                s->lock_depth++;
                return 0;
        }
        snprintf(path, sizeof(path), "%s/image.lock", s->paths.root);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return err_sys(err, "image store lock '%s'", path);
        while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
                if (errno != EINTR) {
                        err_sys(err, "image store lock '%s'", path);
                        close(fd);
                        return -1;
                }
        }
        s->lock_fd = fd;
        s->lock_depth = 1;
        s->lock_exclusive = exclusive;
        return 0;
}

void img_store_unlock(struct img_store *s)
{
        if (s->lock_depth <= 0 || --s->lock_depth > 0)
                return;
        close(s->lock_fd);
        s->lock_fd = -1;
        s->lock_exclusive = false;
}

int img_sha_init(struct img_sha *h, struct isola_err *err)
{
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(h->ctx);
                h->ctx = NULL;
                return err_set(err, ENOMEM, "sha256: cannot initialise");
        }
        return 0;
}

void img_sha_update(struct img_sha *h, const void *buf, size_t len)
{
        if (h->ctx && len)
                EVP_DigestUpdate(h->ctx, buf, len);
}

void img_sha_final(struct img_sha *h, char out[IMG_DIGEST_MAX])
{
        unsigned char md[32];
        unsigned int n = 0;

        EVP_DigestFinal_ex(h->ctx, md, &n);
        memcpy(out, "sha256:", 7);
        for (unsigned int i = 0; i < 32; i++)
                snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
        img_sha_free(h);
}

void img_sha_free(struct img_sha *h)
{
        EVP_MD_CTX_free(h->ctx);
        h->ctx = NULL;
}

int img_sha_buf(const void *buf, size_t len, char out[IMG_DIGEST_MAX], struct isola_err *err)
{
        struct img_sha h;

        if (img_sha_init(&h, err) < 0)
                return -1;
        img_sha_update(&h, buf, len);
        img_sha_final(&h, out);
        return 0;
}

json_object *ijson_parse(const char *buf, size_t len, const char *what, struct isola_err *err)
{
        return ijson_parse_type(buf, len, what, json_type_object, err);
}

json_object *ijson_parse_type(const char *buf, size_t len, const char *what, json_type type,
                              struct isola_err *err)
{
        struct json_tokener *tok;
        json_object *o;

        if (len > INT32_MAX) {
                err_set(err, EFBIG, "%s: too large", what);
                return NULL;
        }
        if (memchr(buf, '\0', len)) {
                err_set(err, EINVAL, "%s: NUL byte in JSON", what);
                return NULL;
        }
        tok = json_tokener_new_ex(JSON_DEPTH_MAX);
        if (!tok) {
                err_set(err, ENOMEM, "out of memory");
                return NULL;
        }
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, buf, (int)len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        if (!o || jerr != json_tokener_success || (size_t)json_tokener_get_parse_end(tok) != len) {
                /* Trailing whitespace after the value is allowed. */
                size_t end = o ? json_tokener_get_parse_end(tok) : 0;
                bool only_ws = o && jerr == json_tokener_success;
                for (size_t i = end; only_ws && i < len; i++)
                        only_ws =
                            buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t';
                if (!only_ws) {
                        err_set(err, EINVAL, "%s: invalid JSON: %s", what,
                                jerr != json_tokener_success ? json_tokener_error_desc(jerr)
                                                             : "trailing data");
                        json_object_put(o);
                        o = NULL;
                }
        }
        json_tokener_free(tok);
        if (o && !json_object_is_type(o, type)) {
                err_set(err, EINVAL, "%s: not a JSON %s", what,
                        type == json_type_array ? "array" : "object");
                json_object_put(o);
                return NULL;
        }
        return o;
}

const char *ijson_str(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int ijson_copy(json_object *o, const char *key, char *dst, size_t cap, const char *what,
               struct isola_err *err)
{
        json_object *v;

        dst[0] = '\0';
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return err_set(err, EINVAL, "%s: '%s' is not a string", what, key);
        const char *str = json_object_get_string(v);
        if ((size_t)json_object_get_string_len(v) >= cap || strlen(str) >= cap)
                return err_set(err, EINVAL, "%s: '%s' is too long", what, key);
        memcpy(dst, str, strlen(str) + 1);
        return 0;
}

int ijson_descriptor(json_object *o, struct img_descriptor *d, const char *what,
                     struct isola_err *err)
{
        json_object *v, *p;

        memset(d, 0, sizeof(*d));
        if (!json_object_is_type(o, json_type_object))
                return err_set(err, EINVAL, "%s: not an object", what);
        if (ijson_copy(o, "mediaType", d->media_type, sizeof(d->media_type), what, err) < 0 ||
            ijson_copy(o, "digest", d->digest, sizeof(d->digest), what, err) < 0)
                return -1;
        if (!img_digest_valid(d->digest))
                return err_set(err, EINVAL, "%s: digest '%s' is not sha256:<64 hex>", what,
                               d->digest);
        if (!json_object_object_get_ex(o, "size", &v) || !json_object_is_type(v, json_type_int))
                return err_set(err, EINVAL, "%s: 'size' missing or not an integer", what);
        errno = 0;
        d->size = json_object_get_int64(v);
        if (d->size < 0 || errno == ERANGE)
                return err_set(err, EINVAL, "%s: 'size' out of range", what);
        if (json_object_object_get_ex(o, "platform", &p) &&
            !json_object_is_type(p, json_type_null)) {
                if (!json_object_is_type(p, json_type_object))
                        return err_set(err, EINVAL, "%s: 'platform' is not an object", what);
                if (ijson_copy(p, "os", d->platform_os, sizeof(d->platform_os), what, err) < 0 ||
                    ijson_copy(p, "architecture", d->platform_arch, sizeof(d->platform_arch), what,
                               err) < 0 ||
                    ijson_copy(p, "variant", d->platform_variant, sizeof(d->platform_variant), what,
                               err) < 0)
                        return -1;
        }
        return 0;
}

json_object *ijson_descriptor_new(const char *media_type, const char *digest, int64_t size)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "mediaType", json_object_new_string(media_type));
        json_object_object_add(o, "digest", json_object_new_string(digest));
        json_object_object_add(o, "size", json_object_new_int64(size));
        return o;
}

char *ijson_dump(json_object *o, size_t *len_out)
{
        size_t len = 0;
        const char *s = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        char *copy = s ? strndup(s, len) : NULL;

        if (len_out)
                *len_out = copy ? len : 0;
        return copy;
}

int store_tmp_path(const struct img_store *s, const char *prefix, char *buf, size_t len,
                   struct isola_err *err)
{
        unsigned char rnd[8];

        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
                return err_sys(err, "getrandom");
        if ((size_t)snprintf(buf, len, "%s/tmp/%s-%02x%02x%02x%02x%02x%02x%02x%02x", s->paths.root,
                             prefix, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
                             rnd[7]) >= len)
                return err_set(err, ENAMETOOLONG, "root '%s': path too long", s->paths.root);
        return 0;
}

void store_rm_tree_at(int parent, const char *name)
{
        struct stat st;

        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return;
        if (!S_ISDIR(st.st_mode)) {
                unlinkat(parent, name, 0);
                return;
        }
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
                DIR *d = fdopendir(fd);
                if (d) {
                        struct dirent *de;
                        while ((de = readdir(d))) {
                                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                                        store_rm_tree_at(dirfd(d), de->d_name);
                        }
                        closedir(d);
                } else {
                        close(fd);
                }
        }
        unlinkat(parent, name, AT_REMOVEDIR);
}

void store_rm_tree(const char *path)
{
        store_rm_tree_at(AT_FDCWD, path);
}

void store_discard_dir(const struct img_store *s, const char *path)
{
        char trash[PATH_MAX];

        if (store_tmp_path(s, "trash", trash, sizeof(trash), NULL) == 0 && rename(path, trash) == 0)
                store_rm_tree(trash);
        else
                store_rm_tree(path);
}

int64_t store_now(void)
{
        return (int64_t)time(NULL);
}

void img_strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

int img_strv_push(char ***v, size_t *n, const char *s)
{
        char **grown = realloc(*v, (*n + 2) * sizeof(char *));

        if (!grown)
                return -1;
        *v = grown;
        grown[*n] = strdup(s);
        if (!grown[*n]) {
                grown[*n] = NULL;
                return -1;
        }
        (*n)++;
        grown[*n] = NULL;
        return 0;
}
