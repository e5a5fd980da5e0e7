/* /containers/{id}/archive: docker cp. GET answers a tar of the path, HEAD
 * only its stat (X-Docker-Container-Path-Stat, base64 JSON), PUT extracts
 * a tar into a directory of the container.
 *
 * The container's tree is hostile (symlinks planted at any time) and so is
 * the uploaded tar: both go through code already hardened for that. GET
 * copies the path out with eng_cp (openat2 RESOLVE_IN_ROOT, O_NOFOLLOW
 * below) into a private directory and tars that copy; PUT unpacks the tar
 * with the image store's layer unpacker (no absolute names, no "..", no
 * writes through symlinks, bounded entries and bytes) into a private
 * directory and copies the result in with eng_cp. Both private
 * directories are removed before the worker exits. */
#include "api/api_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/tarstream.h"
#include "engine/engine_internal.h"
#include "image/image.h"
#include "util/fs.h"

#define PUT_MAX_BYTES   (8ull << 30)
#define PUT_MAX_ENTRIES 1000000

struct arc_arg {
        char ref[API_PARAM_MAX];
        char path[PATH_MAX];
        bool head;
};

static int private_dir(struct eng_ctx *e, char out[PATH_MAX], struct isola_err *err)
{
        char parent[PATH_MAX];

        snprintf(parent, sizeof(parent), "%s/tmp", e->paths.root);
        if (fs_mkdir_p(parent, 0700, err) < 0)
                return -1;
        if (snprintf(out, PATH_MAX, "%s/apicp-XXXXXX", parent) >= PATH_MAX)
                return err_set(err, ENAMETOOLONG, "root path too long");
        if (!mkdtemp(out))
                return err_sys(err, "mkdtemp in '%s'", parent);
        return 0;
}

/* Docker's mode is Go's os.FileMode: permissions plus type bits on top. */
static int64_t go_mode(mode_t m)
{
        int64_t g = m & 0777;

        if (S_ISDIR(m))
                g |= 1LL << 31;
        if (S_ISLNK(m))
                g |= 1LL << 27;
        if (m & S_ISUID)
                g |= 1LL << 23;
        if (m & S_ISGID)
                g |= 1LL << 22;
        if (m & S_ISVTX)
                g |= 1LL << 20;
        return g;
}

static json_object *stat_json(const char *dir, const char *name, struct isola_err *err)
{
        char p[PATH_MAX * 2], link[PATH_MAX] = "", when[64];
        struct stat st;
        json_object *o;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        if (lstat(p, &st) < 0) {
                err_sys(err, "'%s'", name);
                return NULL;
        }
        if (S_ISLNK(st.st_mode)) {
                ssize_t n = readlink(p, link, sizeof(link) - 1);
                link[n > 0 ? n : 0] = '\0';
        }
        api_time((int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec, when, sizeof(when));
        o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "size", json_object_new_int64(st.st_size));
        json_object_object_add(o, "mode", json_object_new_int64(go_mode(st.st_mode)));
        json_object_object_add(o, "mtime", json_object_new_string(when));
        json_object_object_add(o, "linkTarget", json_object_new_string(link));
        return o;
}

/* The last path component ("/a/b/" -> "b"); false for "/" and "..". */
static bool base_name(const char *path, char out[PATH_MAX])
{
        char tmp[PATH_MAX];

        snprintf(tmp, sizeof(tmp), "%s", path);
        for (size_t n = strlen(tmp); n > 1 && tmp[n - 1] == '/'; n--)
                tmp[n - 1] = '\0';
        snprintf(out, PATH_MAX, "%s", basename(tmp));
        return strcmp(out, "/") != 0 && strcmp(out, "..") != 0 && strcmp(out, ".") != 0 &&
               out[0] != '\0';
}

static int get_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct arc_arg *a = arg;
        char dir[PATH_MAX], name[PATH_MAX], src[PATH_MAX + API_PARAM_MAX + 2];
        struct isola_err ignore = {0};
        json_object *st;
        int rc = -1;

        if (!base_name(a->path, name))
                return err_set(err, EINVAL, "path '%s': name a file or directory", a->path);
        if (private_dir(e, dir, err) < 0)
                return -1;
        snprintf(src, sizeof(src), "%s:%s", a->ref, a->path);
        if (eng_cp(e, src, dir, err) < 0) {
                if (err->errnum == ENOENT)
                        err_set(err, ENOENT, "Could not find the file %s in container %s", a->path,
                                a->ref);
                goto out;
        }
        st = stat_json(dir, name, err);
        if (!st)
                goto out;
        /* the header is base64 of the JSON (Go's StdEncoding) */
        const char *js = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN);
        size_t jl = strlen(js);
        char *b64 = malloc(4 * ((jl + 2) / 3) + 1);
        if (!b64) {
                json_object_put(st);
                err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)js, (int)jl);
        json_object_put(st);
        rc = api_tar_status(out, b64);
        free(b64);
        if (rc == 0 && !a->head)
                rc = api_tar_write(dir, name, fileno(out), err);
out:
        eng_rmtree(dir, &ignore);
        return rc;
}

/* Checks that path is a directory in the container (mounting its root
 * when it is not running) before anything is unpacked. */
static int dest_is_dir(struct eng_ctx *e, const char *ref, const char *path, struct isola_err *err)
{
        struct eng_container *ct = NULL;
        char merged[PATH_MAX];
        struct isola_err ignore = {0};
        bool was_mounted;
        int rc = -1;

        if (eng_get(e, ref, &ct, err) < 0)
                return -1;
        was_mounted = eng_rootfs_mounted(e, ct->id);
        if (eng_rootfs_mount(e, ct->id, err) == 0) {
                eng_ctr_path(e, ct->id, "merged", merged, sizeof(merged));
                int root = open(merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
                int fd = root < 0 ? -1 : eng_open_in_root(root, path, O_RDONLY | O_DIRECTORY);
                if (fd >= 0)
                        rc = 0;
                else if (errno == ENOTDIR)
                        err_set(err, EINVAL, "extraction point is not a directory: %s", path);
                else
                        err_set(err, ENOENT, "Could not find the file %s in container %s", path,
                                ref);
                if (fd >= 0)
                        close(fd);
                if (root >= 0)
                        close(root);
                if (!was_mounted)
                        eng_rootfs_umount(e, ct->id, &ignore);
        }
        eng_container_free(ct);
        return rc;
}

static int copy_in(struct eng_ctx *e, const char *dir, const char *dest, struct isola_err *err)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int rc = 0;

        if (!d)
                return err_sys(err, "'%s'", dir);
        while (rc == 0 && (de = readdir(d)) != NULL) {
                char src[PATH_MAX * 2];
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                snprintf(src, sizeof(src), "%s/%s", dir, de->d_name);
                rc = eng_cp(e, src, dest, err);
        }
        closedir(d);
        return rc;
}

static int put_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct arc_arg *a = arg;
        const struct img_unpack_limits lim = {.max_bytes = PUT_MAX_BYTES,
                                              .max_entries = PUT_MAX_ENTRIES};
        char dir[PATH_MAX], dest[PATH_MAX + API_PARAM_MAX + 2], diff[IMG_DIGEST_MAX];
        struct isola_err ignore = {0};
        uint64_t size = 0;
        int rc = -1, dfd;

        if (dest_is_dir(e, a->ref, a->path, err) < 0 || private_dir(e, dir, err) < 0)
                return -1;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                err_sys(err, "'%s'", dir);
                goto out;
        }
        rc = img_unpack_fd(STDIN_FILENO, dfd, &lim, diff, &size, err);
        close(dfd);
        if (rc < 0) {
                err->errnum = EINVAL; /* a bad archive is the client's fault */
                err_prefix(err, "archive");
                goto out;
        }
        snprintf(dest, sizeof(dest), "%s:%s", a->ref, a->path);
        rc = copy_in(e, dir, dest, err);
        if (rc == 0)
                rc = api_tar_status(out, "");
out:
        eng_rmtree(dir, &ignore);
        return rc;
}

static int arc_args(struct api_call *c, struct arc_arg *a)
{
        const char *path = api_query(c, "path");

        if (!path || !path[0] || strlen(path) >= sizeof(a->path))
                return -1;
        snprintf(a->ref, sizeof(a->ref), "%s", c->m.params[0]);
        snprintf(a->path, sizeof(a->path), "%s", path);
        return 0;
}

enum MHD_Result api_h_ctr_archive_get(struct api_call *c)
{
        struct arc_arg a = {.head = strcmp(c->method, "HEAD") == 0};
        struct isola_err err = {0};
        struct api_stream st;
        char *stat_b64 = NULL;

        if (arc_args(c, &a) < 0)
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST, "path is required");
        if (api_tar_start(c->srv, get_work, &a, -1, &st, &stat_b64, &err) < 0)
                return api_reply_err(c, &err);
        enum MHD_Result r = api_tar_reply(c, &st, "application/x-tar",
                                          "X-Docker-Container-Path-Stat", stat_b64, !a.head);
        free(stat_b64);
        return r;
}

enum MHD_Result api_h_ctr_archive_put(struct api_call *c)
{
        struct arc_arg a = {0};
        struct isola_err err = {0};
        struct api_stream st;
        char *line = NULL;

        if (arc_args(c, &a) < 0)
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST, "path is required");
        if (c->body_fd < 0)
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST, "no archive in the body");
        if (api_tar_start(c->srv, put_work, &a, c->body_fd, &st, &line, &err) < 0)
                return api_reply_err(c, &err);
        free(line);
        api_work_reap(&st);
        return api_reply_empty(c, MHD_HTTP_OK);
}
