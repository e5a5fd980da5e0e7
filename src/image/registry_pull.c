/* `pull`: tag → manifest (an index or manifest list picks a platform), then
 * the config and the layers the store lacks, fetched in parallel on one
 * curl multi handle into the store's blob writers (which hash and verify),
 * then the manifest blob and img_register.
 *
 * A transfer that breaks (transport error, 5xx, 429, short body) is retried
 * up to REG_PULL_ATTEMPTS times and resumes where its temp file ends with a
 * Range request; a registry that answers 200 to a Range starts over. A 401
 * mid-pull (an expired token) re-authenticates once. Any other failure aborts
 * every transfer and removes their temp files: the store keeps only whole,
 * verified blobs and the database no row. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/events.h"
#include "image/registry_internal.h"
#include "util/cleanup.h"

#define REG_PULL_ATTEMPTS 4
#define REG_PARALLEL      6

static const char *const manifest_accept[] = {
    "Accept: application/vnd.oci.image.index.v1+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json",
    NULL,
};

struct pull;
struct xfer {
        struct pull *p;
        const struct img_descriptor *d;
        size_t row;
        CURL *h;
        struct curl_slist *hdrs;
        struct img_blob_writer *w;
        int attempts;
        bool auth_retried;
        bool waiting;    /* to be restarted at retry_at */
        double retry_at; /* CLOCK_MONOTONIC seconds */
        long status;
        int64_t range_from;      /* offset asked for with Range, 0 for none */
        bool range_checked;      /* first body byte seen for this request */
        char content_range[128]; /* as the registry answered */
        char www_auth[2048];
        char *errbody;
        size_t errlen;
        bool failed_write; /* werr holds why (disk full, oversize, ...) */
        struct isola_err werr;
        char errbuf[CURL_ERROR_SIZE];
};

struct pull {
        struct img_store *s;
        struct reg_session *sess;
        const char *repo;
        char scope[600];
        struct reg_progress *prog;
        CURLM *multi;
        struct xfer *x;
        size_t n, next, active, waiting;
};

static double mono_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void digest_of(const void *buf, size_t len, char out[IMG_DIGEST_MAX])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
        int k = snprintf(out, IMG_DIGEST_MAX, "sha256:");
        for (unsigned int i = 0; i < n && k + 2 < IMG_DIGEST_MAX; i++)
                k += snprintf(out + k, (size_t)(IMG_DIGEST_MAX - k), "%02x", md[i]);
}

/* GET a manifest (or index) by tag or digest, bounded and digest-checked. */
static int fetch_manifest(struct pull *p, const char *reference, struct reg_resp *r,
                          char digest_out[IMG_DIGEST_MAX], struct isola_err *err)
{
        char path[1024], what[300];
        struct reg_req q = {.method = "GET",
                            .url = path,
                            .scope = p->scope,
                            .headers = manifest_accept,
                            .body_fd = -1,
                            .max_body = IMG_MANIFEST_MAX};

        snprintf(path, sizeof(path), "/v2/%s/manifests/%s", p->repo, reference);
        snprintf(what, sizeof(what), "manifest '%s'", reference);
        if (reg_request(p->sess, &q, r, err) < 0)
                return err_prefix(err, "registry %s: repository %s: %s", p->sess->registry, p->repo,
                                  what);
        if (r->status != 200)
                return reg_http_fail(p->sess, p->repo, what, r->status, r->body, r->body_len, err);
        digest_of(r->body ? r->body : "", r->body_len, digest_out);
        bool by_digest = !strncmp(reference, "sha256:", 7);
        if ((by_digest && strcmp(reference, digest_out) != 0) ||
            (!strncmp(r->digest, "sha256:", 7) && strcmp(r->digest, digest_out) != 0))
                return err_set(err, EBADMSG,
                               "registry %s: repository %s: %s: content has digest %s, "
                               "registry said %s",
                               p->sess->registry, p->repo, what, digest_out,
                               by_digest ? reference : r->digest);
        return 0;
}

static size_t on_blob_header(char *line, size_t size, size_t n, void *arg)
{
        struct xfer *x = arg;

        n *= size;
        if (n > 9 && !strncmp(line, "HTTP/", 5)) {
                const char *sp = memchr(line, ' ', n);
                x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
                x->content_range[0] = x->www_auth[0] = '\0';
                x->errlen = 0;
        } else if (!reg_header_value(line, n, "Content-Range", x->content_range,
                                     sizeof(x->content_range))) {
                char v[sizeof(x->www_auth)];
                if (reg_header_value(line, n, "WWW-Authenticate", v, sizeof(v)) &&
                    (!x->www_auth[0] || !strncasecmp(v, "bearer", 6)))
                        snprintf(x->www_auth, sizeof(x->www_auth), "%s", v);
        }
        return n;
}

/* First body bytes of a response to a Range request: did the registry
 * resume where we asked, or send the whole blob again? */
static bool range_ok(struct xfer *x, struct img_store *s)
{
        x->range_checked = true;
        if (!x->range_from)
                return true;
        if (x->status == 206) {
                long long from = -1;
                if (sscanf(x->content_range, "bytes %lld-", &from) != 1 || from != x->range_from) {
                        err_set(&x->werr, EPROTO, "blob %s: registry resumed at '%s', not %lld",
                                x->d->digest, x->content_range, (long long)x->range_from);
                        return false;
                }
                return true;
        }
        img_blob_writer_abort(x->w);
        x->w = NULL;
        x->range_from = 0;
        return img_blob_writer_open(s, x->d->digest, x->d->size, &x->w, &x->werr) == 0;
}

static size_t on_blob_body(char *data, size_t size, size_t n, void *arg)
{
        struct xfer *x = arg;

        n *= size;
        if (x->status != 200 && x->status != 206) { /* keep the error body */
                size_t k = n;
                if (x->errlen + k > REG_ERRBODY_MAX)
                        k = REG_ERRBODY_MAX - x->errlen;
                char *nb = realloc(x->errbody, x->errlen + k + 1);
                if (!nb)
                        return 0;
                memcpy(nb + x->errlen, data, k);
                x->errbody = nb;
                x->errlen += k;
                nb[x->errlen] = '\0';
                return n;
        }
        if (!x->range_checked && !range_ok(x, x->p->s)) {
                x->failed_write = true;
                return 0;
        }
        if (img_blob_writer_size(x->w) + (int64_t)n > x->d->size) {
                x->failed_write = true;
                err_set(&x->werr, EFBIG, "blob %s: more than the %lld bytes its descriptor says",
                        x->d->digest, (long long)x->d->size);
                return 0;
        }
        if (img_blob_writer_write(x->w, data, n, &x->werr) < 0) {
                x->failed_write = true;
                return 0;
        }
        reg_progress_set(x->p->prog, x->row, img_blob_writer_size(x->w), NULL);
        return n;
}

static int xfer_start(struct pull *p, struct xfer *x, struct isola_err *err)
{
        char path[600], url[REG_URL_MAX], range[64];

        if (!x->d)
                return err_set(err, EINVAL, "transfer without a blob");
        if (!x->w && img_blob_writer_open(p->s, x->d->digest, x->d->size, &x->w, err) < 0)
                return err_prefix(err, "blob %s", x->d->digest);
        x->range_from = img_blob_writer_size(x->w);
        x->range_checked = false;
        x->status = 0;
        x->errlen = 0;
        if (reg_auth_add(p->sess, p->scope, &x->hdrs, err) < 0)
                return -1;
        if (x->range_from > 0) {
                snprintf(range, sizeof(range), "Range: bytes=%lld-", (long long)x->range_from);
                x->hdrs = curl_slist_append(x->hdrs, range);
        }
        CURL *h = reg_easy_new(p->sess, err);
        if (!h)
                return -1;
        snprintf(path, sizeof(path), "/v2/%s/blobs/%s", p->repo, x->d->digest);
        reg_url(p->sess, path, url, sizeof(url));
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_blob_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_blob_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(h, CURLOPT_PRIVATE, x);
        /* Bigger reads: fewer callbacks, write(2)s and polls per MiB. */
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
        if (curl_multi_add_handle(p->multi, h) != CURLM_OK) {
                curl_easy_cleanup(h);
                return err_set(err, ENOMEM, "curl_multi_add_handle failed");
        }
        x->h = h;
        p->active++;
        return 0;
}

static void xfer_release(struct pull *p, struct xfer *x)
{
        if (x->h) {
                curl_multi_remove_handle(p->multi, x->h);
                curl_easy_cleanup(x->h);
                x->h = NULL;
                p->active--;
        }
        curl_slist_free_all(x->hdrs);
        x->hdrs = NULL;
}

/* A finished request: 0 done (or queued for a retry after a back-off), 1 to
 * be restarted now, -1 fatal. */
static int xfer_done(struct pull *p, struct xfer *x, CURLcode cc, struct isola_err *err)
{
        xfer_release(p, x);
        if (x->failed_write) {
                *err = x->werr;
                return err_prefix(err, "registry %s: repository %s", p->sess->registry, p->repo);
        }
        if (cc == CURLE_OK && (x->status == 200 || x->status == 206)) {
                if (img_blob_writer_size(x->w) < x->d->size)
                        goto transient; /* cut short without a transport error */
                int rc = img_blob_writer_commit(x->w, NULL, err);
                x->w = NULL;
                if (rc < 0)
                        return err_prefix(err, "registry %s: repository %s: blob %s",
                                          p->sess->registry, p->repo, x->d->digest);
                reg_progress_set(p->prog, x->row, x->d->size, "done");
                return 0;
        }
        if (cc == CURLE_OK && x->status == 401 && !x->auth_retried) {
                x->auth_retried = true;
                reg_auth_reset(p->sess, p->scope, x->www_auth);
                return 1;
        }
        if (cc == CURLE_OK && x->status < 500 && x->status != 429) {
                char what[100];
                snprintf(what, sizeof(what), "blob %s", x->d->digest);
                return reg_http_fail(p->sess, p->repo, what, x->status, x->errbody, x->errlen, err);
        }
transient:
        if (++x->attempts < REG_PULL_ATTEMPTS) {
                /* Back off 0.25, 0.5, 1 s: a registry answering 429 or 503
                 * is asking for it, and a cut connection may be a restart. */
                reg_progress_set(p->prog, x->row, img_blob_writer_size(x->w), "retrying");
                x->waiting = true;
                x->retry_at = mono_now() + 0.25 * (double)(1 << (x->attempts - 1));
                p->waiting++;
                return 0;
        }
        if (cc != CURLE_OK)
                return err_set(err, EIO, "registry %s: repository %s: blob %s: %s",
                               p->sess->registry, p->repo, x->d->digest,
                               x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
        return err_set(err, EIO, "registry %s: repository %s: blob %s: HTTP %ld after %d tries",
                       p->sess->registry, p->repo, x->d->digest, x->status, x->attempts);
}

static int run_transfers(struct pull *p, unsigned parallel, struct isola_err *err)
{
        const volatile sig_atomic_t *cancel = p->sess->opts.cancel;

        for (;;) {
                if (cancel && *cancel)
                        return err_set(err, EINTR, "registry %s: repository %s: interrupted",
                                       p->sess->registry, p->repo);
                while (p->next < p->n && p->active < parallel) {
                        if (xfer_start(p, &p->x[p->next++], err) < 0)
                                return -1;
                }
                double now = mono_now();
                for (size_t i = 0; p->waiting && i < p->next; i++) {
                        struct xfer *w = &p->x[i];
                        if (!w->waiting || w->retry_at > now)
                                continue;
                        w->waiting = false;
                        p->waiting--;
                        if (xfer_start(p, w, err) < 0)
                                return -1;
                }
                if (!p->active && !p->waiting)
                        return 0;
                int running;
                if (curl_multi_perform(p->multi, &running) != CURLM_OK)
                        return err_set(err, EIO, "curl_multi_perform failed");
                CURLMsg *msg;
                int left;
                while ((msg = curl_multi_info_read(p->multi, &left))) {
                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        struct xfer *x;
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
                        int rc = xfer_done(p, x, msg->data.result, err);
                        if (rc < 0)
                                return -1;
                        if (rc == 1 && xfer_start(p, x, err) < 0)
                                return -1;
                }
                reg_progress_draw(p->prog, false);
                /* With only waiting transfers this is the back-off sleep. */
                curl_multi_poll(p->multi, NULL, 0, 100, NULL);
        }
}

/* Fetches every blob of m the store lacks (each digest once). */
static int fetch_blobs(struct pull *p, const struct img_manifest *m, unsigned parallel,
                       struct isola_err *err)
{
        size_t total = m->n_layers + 1;
        const struct img_descriptor *all[IMG_MAX_LAYERS + 1];
        int rc = -1;

        if (m->n_layers > IMG_MAX_LAYERS)
                return err_set(err, E2BIG, "manifest has %zu layers (at most %d)", m->n_layers,
                               IMG_MAX_LAYERS);
        if (m->config.size < 0 || m->config.size > (int64_t)IMG_CONFIG_MAX)
                return err_set(err, EFBIG, "config %s: size %lld out of bounds (at most %u)",
                               m->config.digest, (long long)m->config.size, IMG_CONFIG_MAX);
        all[0] = &m->config;
        for (size_t i = 0; i < m->n_layers; i++)
                all[i + 1] = &m->layers[i];
        p->x = calloc(total, sizeof(*p->x));
        p->prog = reg_progress_new(p->sess->opts.progress, total);
        p->multi = curl_multi_init();
        if (!p->x || !p->multi) {
                err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < total; i++) {
                const struct img_descriptor *d = all[i];
                if (!img_digest_valid(d->digest) || d->size < 0) {
                        err_set(err, EBADMSG, "manifest: bad descriptor '%s' (size %lld)",
                                d->digest, (long long)d->size);
                        goto out;
                }
                reg_progress_row(p->prog, i, d->digest, d->size);
                bool dup = false;
                for (size_t j = 0; j < i; j++)
                        dup |= !strcmp(all[j]->digest, d->digest);
                if (dup || img_blob_exists(p->s, d->digest)) {
                        reg_progress_set(p->prog, i, d->size, dup ? "same as above" : "exists");
                        continue;
                }
                p->x[p->n++] = (struct xfer){.p = p, .d = d, .row = i};
        }
        curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)parallel);
        rc = run_transfers(p, parallel, err);
        reg_progress_draw(p->prog, true);
out:
        for (size_t i = 0; p->x && i < p->n; i++) {
                xfer_release(p, &p->x[i]);
                if (p->x[i].w)
                        img_blob_writer_abort(p->x[i].w);
                free(p->x[i].errbody);
        }
        if (p->multi)
                curl_multi_cleanup(p->multi);
        reg_progress_free(p->prog);
        free(p->x);
        return rc;
}

/* Resolves the reference to an image manifest: an index or manifest list is
 * stored too and its platform entry fetched. */
static int resolve_manifest(struct pull *p, const struct img_ref *ref, struct reg_resp *r,
                            char digest[IMG_DIGEST_MAX], struct isola_err *err)
{
        const char *reference = ref->digest[0] ? ref->digest : ref->tag;

        if (fetch_manifest(p, reference, r, digest, err) < 0)
                return -1;
        enum img_kind kind = img_detect_kind(r->body, r->body_len, r->content_type);
        if (kind == IMG_KIND_INDEX) {
                struct img_index idx = {0};
                const struct img_descriptor *d;
                char chosen[IMG_DIGEST_MAX];
                if (img_index_parse(r->body, r->body_len, &idx, err) < 0)
                        return err_prefix(err, "registry %s: repository %s: index %s",
                                          p->sess->registry, p->repo, digest);
                int rc = img_index_select(&idx, p->sess->opts.platform, &d, err);
                if (rc == 0)
                        snprintf(chosen, sizeof(chosen), "%s", d->digest);
                img_index_free(&idx);
                if (rc < 0)
                        return err_prefix(err, "registry %s: repository %s: index %s",
                                          p->sess->registry, p->repo, digest);
                reg_resp_free(r);
                if (fetch_manifest(p, chosen, r, digest, err) < 0)
                        return -1;
                kind = img_detect_kind(r->body, r->body_len, r->content_type);
        }
        if (kind != IMG_KIND_MANIFEST)
                return err_set(err, EPROTONOSUPPORT,
                               "registry %s: repository %s: %s is not an image manifest "
                               "(Content-Type '%s')",
                               p->sess->registry, p->repo, digest, r->content_type);
        return 0;
}

static int pull_locked(struct pull *p, const struct img_ref *ref, const char *name,
                       char id_out[IMG_DIGEST_MAX], struct isola_err *err)
{
        struct reg_resp r = {0};
        struct img_manifest m = {0};
        char digest[IMG_DIGEST_MAX], stored[IMG_DIGEST_MAX];
        int rc = -1;

        if (resolve_manifest(p, ref, &r, digest, err) < 0)
                goto out;
        if (img_manifest_parse(r.body, r.body_len, &m, err) < 0) {
                err_prefix(err, "registry %s: repository %s: manifest %s", p->sess->registry,
                           p->repo, digest);
                goto out;
        }
        unsigned parallel = p->sess->opts.parallel ? p->sess->opts.parallel : REG_PARALLEL;
        if (fetch_blobs(p, &m, parallel, err) < 0)
                goto out;
        /* The manifest goes in last: a failed pull leaves no manifest whose
         * blobs are missing. */
        if (img_blob_put(p->s, r.body, r.body_len, stored, err) < 0)
                goto out;
        if (img_register(p->s, digest, name, id_out, err) < 0) {
                err_prefix(err, "%s", name);
                goto out;
        }
        rc = 0;
out:
        img_manifest_free(&m);
        reg_resp_free(&r);
        return rc;
}

/* "os/arch[/variant]" with non-empty parts, checked before any request. */
static int check_platform(const char *pf, struct isola_err *err)
{
        int parts = 1;
        bool empty = !*pf || *pf == '/';

        for (const char *c = pf; *c; c++) {
                if (*c == '/') {
                        parts++;
                        empty |= c[1] == '\0' || c[1] == '/';
                }
        }
        if (empty || parts < 2 || parts > 3 || strlen(pf) >= 96)
                return err_set(err, EINVAL, "--platform '%s': expected os/arch[/variant]", pf);
        return 0;
}

int reg_pull(struct img_store *s, const char *name, const struct reg_opts *o,
             char id_out[IMG_DIGEST_MAX], struct isola_err *err)
{
        struct img_ref ref;
        struct reg_session sess;
        struct pull p = {.s = s, .sess = &sess};
        char full[600];

        if (img_ref_parse(name, &ref, err) < 0)
                return -1;
        if (o->platform && check_platform(o->platform, err) < 0)
                return -1;
        img_ref_format(&ref, full, sizeof(full));
        if (reg_session_open(&sess, ref.registry, o, true, err) < 0)
                return -1;
        p.repo = ref.repo;
        snprintf(p.scope, sizeof(p.scope), "repository:%s:pull", ref.repo);
        /* Shared: prune must not collect blobs between their commit and
         * img_register. */
        int rc = img_store_lock(s, false, err);
        if (rc == 0) {
                rc = pull_locked(&p, &ref, full, id_out, err);
                img_store_unlock(s);
                if (rc == 0)
                        eng_event(s->db, "image", "pull", full, "name", full);
        }
        reg_session_close(&sess);
        return rc;
}
