/* `push`: for each blob of the image (config, then layers) HEAD it in the
 * destination repository; when missing, mount it from another repository
 * of the same registry the image was pulled from (POST ?mount=&from=), else
 * upload it: POST to open a session, then one PUT with the whole blob, or
 * for big blobs one streamed PATCH and a closing PUT with the digest. The
 * manifest goes last, as the bytes stored, so its digest stays the same.
 * Up to REG_PUSH_PARALLEL blobs are pushed at once, one thread each; the
 * session's token cache and curl share handle are locked (registry_http.c). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/events.h"
#include "image/registry_internal.h"
#include "util/cleanup.h"

/* Blobs up to this size go in one PUT; bigger ones are streamed by PATCH. */
#define REG_MONOLITHIC_MAX (16ll << 20)
#define REG_PUSH_PARALLEL  4

struct push {
        struct img_store *s;
        struct reg_session *sess;
        const char *repo;
        const char *from; /* a repository of the same registry to mount from */
        char scope[1200];
        struct reg_progress *prog; /* locks itself */
};

/* One upload's progress row. */
struct sent_ctx {
        struct push *p;
        size_t row;
};

static int fail_req(struct push *p, const char *what, struct isola_err *err)
{
        return err_prefix(err, "registry %s: repository %s: %s", p->sess->registry, p->repo, what);
}

/* Location of an upload session with "digest=" appended. */
static void with_digest(const char *loc, const char *digest, char *buf, size_t len)
{
        char esc[IMG_DIGEST_MAX + 8];
        const char *colon = strchr(digest, ':');

        snprintf(esc, sizeof(esc), "%.*s%%3A%s", (int)(colon - digest), digest, colon + 1);
        snprintf(buf, len, "%s%cdigest=%s", loc, strchr(loc, '?') ? '&' : '?', esc);
}

/* Opens an upload session, or mounts the blob; *mounted tells which. */
static int start_upload(struct push *p, const struct img_descriptor *d, char *loc, size_t len,
                        bool *mounted, struct isola_err *err)
{
        char path[1200], what[120];
        struct reg_resp r = {0};
        struct reg_req q = {.method = "POST",
                            .url = path,
                            .scope = p->scope,
                            .body_fd = -1,
                            .max_body = REG_ERRBODY_MAX};
        int rc = -1;

        if (p->from)
                snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/?mount=%s&from=%s", p->repo,
                         d->digest, p->from);
        else
                snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/", p->repo);
        snprintf(what, sizeof(what), "upload of blob %s", d->digest);
        if (reg_request(p->sess, &q, &r, err) < 0) {
                fail_req(p, what, err);
                goto out;
        }
        *mounted = p->from && r.status == 201;
        if (*mounted) {
                rc = 0;
        } else if (r.status != 202 || !r.location[0]) {
                reg_http_fail(p->sess, p->repo, what, r.status, r.body, r.body_len, err);
        } else {
                snprintf(loc, len, "%s", r.location);
                rc = 0;
        }
out:
        reg_resp_free(&r);
        return rc;
}

static void on_sent(void *arg, int64_t sent)
{
        struct sent_ctx *c = arg;

        reg_progress_set(c->p->prog, c->row, sent, NULL);
        reg_progress_draw(c->p->prog, false);
}

static int send_body(struct push *p, size_t row, const char *method, const char *url, int fd,
                     int64_t size, long want, struct reg_resp *r, const char *what,
                     struct isola_err *err)
{
        struct sent_ctx ctx = {.p = p, .row = row};
        static const char *const octet[] = {"Content-Type: application/octet-stream", NULL};
        struct reg_req q = {.method = method,
                            .url = url,
                            .scope = p->scope,
                            .headers = octet,
                            .body_fd = fd,
                            .body_size = fd >= 0 ? size : 0,
                            .max_body = REG_ERRBODY_MAX,
                            .on_progress = p->prog && fd >= 0 ? on_sent : NULL,
                            .progress_arg = &ctx};

        if (reg_request(p->sess, &q, r, err) < 0)
                return fail_req(p, what, err);
        if (r->status != want)
                return reg_http_fail(p->sess, p->repo, what, r->status, r->body, r->body_len, err);
        return 0;
}

static int upload(struct push *p, size_t row, const struct img_descriptor *d, const char *loc,
                  struct isola_err *err)
{
        char blob[PATH_MAX], url[REG_URL_MAX], what[120];
        struct reg_resp r = {0};
        struct stat st;
        int rc = -1;

        img_blob_path(p->s, d->digest, blob, sizeof(blob));
        _cleanup_close_ int fd = open(blob, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return err_sys(err, "blob %s: '%s'", d->digest, blob);
        if (st.st_size != d->size)
                return err_set(err, EBADMSG, "blob %s: %lld bytes in the store, manifest says %lld",
                               d->digest, (long long)st.st_size, (long long)d->size);
        snprintf(what, sizeof(what), "upload of blob %s", d->digest);
        if (d->size <= REG_MONOLITHIC_MAX) {
                with_digest(loc, d->digest, url, sizeof(url));
                rc = send_body(p, row, "PUT", url, fd, d->size, 201, &r, what, err);
        } else if (send_body(p, row, "PATCH", loc, fd, d->size, 202, &r, what, err) == 0) {
                if (!r.location[0]) {
                        rc = err_set(err, EPROTO, "registry %s: %s: no Location after PATCH",
                                     p->sess->registry, what);
                } else {
                        with_digest(r.location, d->digest, url, sizeof(url));
                        rc = send_body(p, row, "PUT", url, -1, 0, 201, &r, what, err);
                }
        }
        reg_resp_free(&r);
        return rc;
}

static int push_blob(struct push *p, size_t row, const struct img_descriptor *d,
                     struct isola_err *err)
{
        char path[600], loc[REG_URL_MAX], what[120];
        struct reg_resp r = {0};
        struct reg_req q = {.method = "HEAD",
                            .url = path,
                            .scope = p->scope,
                            .body_fd = -1,
                            .max_body = REG_ERRBODY_MAX};
        bool mounted = false;

        snprintf(path, sizeof(path), "/v2/%s/blobs/%s", p->repo, d->digest);
        snprintf(what, sizeof(what), "blob %s", d->digest);
        int rc = reg_request(p->sess, &q, &r, err);
        long status = r.status;
        reg_resp_free(&r);
        if (rc < 0)
                return fail_req(p, what, err);
        if (status == 200) {
                reg_progress_set(p->prog, row, d->size, "exists");
                return 0;
        }
        if (status != 404)
                return reg_http_fail(p->sess, p->repo, what, status, NULL, 0, err);
        reg_progress_set(p->prog, row, 0, NULL);
        reg_progress_draw(p->prog, true);
        if (start_upload(p, d, loc, sizeof(loc), &mounted, err) < 0)
                return -1;
        if (!mounted && upload(p, row, d, loc, err) < 0)
                return -1;
        reg_progress_set(p->prog, row, d->size, mounted ? "mounted" : "pushed");
        reg_progress_draw(p->prog, true);
        return 0;
}

static int put_manifest(struct push *p, const struct img_image *img, const char *reference,
                        struct isola_err *err)
{
        _cleanup_free_ char *buf = NULL;
        char path[600], ctype[200], what[300];
        size_t len;
        struct reg_resp r = {0};

        if (img_blob_read(p->s, img->manifest_digest, IMG_MANIFEST_MAX, &buf, &len, err) < 0)
                return err_prefix(err, "manifest %s", img->manifest_digest);
        const char *mt =
            img->manifest_media_type[0] ? img->manifest_media_type : img->manifest.media_type;
        snprintf(ctype, sizeof(ctype), "Content-Type: %s", mt);
        const char *const hdrs[] = {ctype, NULL};
        snprintf(path, sizeof(path), "/v2/%s/manifests/%s", p->repo, reference);
        snprintf(what, sizeof(what), "manifest '%s'", reference);
        struct reg_req q = {.method = "PUT",
                            .url = path,
                            .scope = p->scope,
                            .headers = hdrs,
                            .body = buf,
                            .body_fd = -1,
                            .body_size = (int64_t)len,
                            .max_body = REG_ERRBODY_MAX};
        int rc = reg_request(p->sess, &q, &r, err);
        if (rc < 0)
                fail_req(p, what, err);
        else if (r.status != 201)
                rc = reg_http_fail(p->sess, p->repo, what, r.status, r.body, r.body_len, err);
        else if (!strncmp(r.digest, "sha256:", 7) && strcmp(r.digest, img->manifest_digest) != 0)
                rc = err_set(err, EBADMSG, "registry %s: repository %s: %s stored as %s, not %s",
                             p->sess->registry, p->repo, what, r.digest, img->manifest_digest);
        reg_resp_free(&r);
        return rc;
}

/* Another repository of the destination registry among the image's names. */
static void find_mount_source(const struct img_image *img, const struct img_ref *dest, char *buf,
                              size_t len)
{
        buf[0] = '\0';
        for (char **n = img->names; n && *n; n++) {
                struct img_ref r;
                struct isola_err ignored;
                if (img_ref_parse(*n, &r, &ignored) == 0 && !strcmp(r.registry, dest->registry) &&
                    strcmp(r.repo, dest->repo) != 0) {
                        snprintf(buf, len, "%s", r.repo);
                        return;
                }
        }
}

/* The blobs of one push, handed out to the worker threads in order. */
struct push_pool {
        struct push *p;
        const struct img_image *img;
        pthread_mutex_t lock;
        size_t next, n;
        bool failed;
        struct isola_err err; /* the first failure */
};

static const struct img_descriptor *blob_at(const struct img_image *img, size_t i)
{
        return i == 0 ? &img->manifest.config : &img->manifest.layers[i - 1];
}

static void *push_worker(void *arg)
{
        struct push_pool *pool = arg;

        for (;;) {
                pthread_mutex_lock(&pool->lock);
                bool stop = pool->failed || pool->next >= pool->n;
                size_t i = stop ? 0 : pool->next++;
                pthread_mutex_unlock(&pool->lock);
                if (stop)
                        return NULL;
                struct isola_err e = {0};
                if (push_blob(pool->p, i, blob_at(pool->img, i), &e) < 0) {
                        pthread_mutex_lock(&pool->lock);
                        if (!pool->failed)
                                pool->err = e;
                        pool->failed = true;
                        pthread_mutex_unlock(&pool->lock);
                }
        }
}

/* Pushes every blob, REG_PUSH_PARALLEL at a time (inline when no thread
 * can be made). */
static int push_blobs(struct push *p, const struct img_image *img, struct isola_err *err)
{
        struct push_pool pool = {.p = p, .img = img, .n = img->manifest.n_layers + 1};
        pthread_t th[REG_PUSH_PARALLEL];
        size_t started = 0;

        pthread_mutex_init(&pool.lock, NULL);
        while (started < REG_PUSH_PARALLEL && started < pool.n &&
               pthread_create(&th[started], NULL, push_worker, &pool) == 0)
                started++;
        if (!started)
                push_worker(&pool);
        for (size_t i = 0; i < started; i++)
                pthread_join(th[i], NULL);
        pthread_mutex_destroy(&pool.lock);
        if (pool.failed) {
                *err = pool.err;
                return -1;
        }
        return 0;
}

static int push_image(struct push *p, const struct img_image *img, const struct img_ref *dest,
                      struct isola_err *err)
{
        size_t n = img->manifest.n_layers + 1;

        p->prog = reg_progress_new(p->sess->opts.progress, n);
        for (size_t i = 0; i < n; i++)
                reg_progress_row(p->prog, i, blob_at(img, i)->digest, blob_at(img, i)->size);
        int rc = push_blobs(p, img, err);
        reg_progress_draw(p->prog, true);
        reg_progress_free(p->prog);
        if (rc == 0)
                rc = put_manifest(p, img, dest->digest[0] ? dest->digest : dest->tag, err);
        return rc;
}

/* Whether the user named the image by (a prefix of) its id. */
static bool named_by_id(const struct img_image *img, const char *src)
{
        const char *id = strncmp(src, "sha256:", 7) ? img->id + 7 : img->id;
        return strlen(src) >= 4 && !strncmp(id, src, strlen(src));
}

int reg_push(struct img_store *s, const char *src, const char *dest, const struct reg_opts *o,
             char digest_out[IMG_DIGEST_MAX], struct isola_err *err)
{
        struct img_image *img = NULL;
        struct img_ref ref;
        struct reg_session sess;
        char from[256];
        int rc = -1;

        if (img_lookup(s, src, &img, err) < 0)
                return -1;
        if (!dest && named_by_id(img, src)) {
                err_set(err, EINVAL, "image '%s' is named by id: give a destination", src);
                goto out;
        }
        if (img_ref_parse(dest ? dest : src, &ref, err) < 0)
                goto out;
        if (ref.digest[0] && strcmp(ref.digest, img->manifest_digest) != 0) {
                err_set(err, EINVAL, "destination '%s': the image's manifest is %s", dest,
                        img->manifest_digest);
                goto out;
        }
        if (reg_session_open(&sess, ref.registry, o, true, err) < 0)
                goto out;
        struct push p = {.s = s, .sess = &sess, .repo = ref.repo};
        find_mount_source(img, &ref, from, sizeof(from));
        if (from[0]) {
                p.from = from;
                snprintf(p.scope, sizeof(p.scope), "repository:%s:pull,push repository:%s:pull",
                         ref.repo, from);
        } else {
                snprintf(p.scope, sizeof(p.scope), "repository:%s:pull,push", ref.repo);
        }
        rc = push_image(&p, img, &ref, err);
        if (rc == 0) {
                char full[600];
                img_ref_format(&ref, full, sizeof(full));
                snprintf(digest_out, IMG_DIGEST_MAX, "%s", img->manifest_digest);
                eng_event(s->db, "image", "push", full, "name", full);
        }
        reg_session_close(&sess);
out:
        img_image_free(img);
        return rc;
}
