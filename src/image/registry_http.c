/* The registry session: which scheme and TLS material to use, the /v2/ ping
 * that learns the registry's challenge, credentials from the options or the
 * auth file, bearer tokens cached per scope, and one-shot requests that
 * answer a 401 by authenticating once more (as containers/image does). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/registry_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define CA_FILES_MAX     (16u << 20)

void reg_authfile_path(const struct reg_opts *o, char *buf, size_t len)
{
        const char *env = getenv("REGISTRY_AUTH_FILE");

        if (o->authfile && *o->authfile)
                snprintf(buf, len, "%s", o->authfile);
        else if (env && *env)
                snprintf(buf, len, "%s", env);
        else
                snprintf(buf, len, "%s/auth.json", o->root ? o->root : "/var/lib/isola");
}

static bool host_is_local(const char *host)
{
        char h[256];

        snprintf(h, sizeof(h), "%s", host);
        if (h[0] == '[') { /* [::1]:5000 */
                char *end = strchr(h, ']');
                if (end)
                        *end = '\0';
                return !strcmp(h + 1, "::1");
        }
        char *colon = strchr(h, ':');
        if (colon)
                *colon = '\0';
        return !strcmp(h, "localhost") || !strncmp(h, "127.", 4);
}

/* Appends a file to a growing buffer (CA bundles). */
static int append_file(const char *path, char **buf, size_t *len, struct isola_err *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *data = NULL;
        size_t n;

        if (fd < 0)
                return err_sys(err, "'%s'", path);
        if (fs_read_fd(fd, CA_FILES_MAX, &data, &n, err) < 0)
                return err_prefix(err, "'%s'", path);
        if (*len + n + 2 > CA_FILES_MAX)
                return err_set(err, EFBIG, "'%s': CA files too large", path);
        char *nb = realloc(*buf, *len + n + 2);
        if (!nb)
                return err_set(err, ENOMEM, "out of memory");
        memcpy(nb + *len, data, n);
        nb[*len + n] = '\n';
        *len += n + 1;
        nb[*len] = '\0';
        *buf = nb;
        return 0;
}

static bool has_suffix(const char *s, const char *suf)
{
        size_t a = strlen(s), b = strlen(suf);
        return a > b && !strcmp(s + a - b, suf);
}

/* podman's certs.d layout: *.crt are CAs (added to the system store),
 * X.cert + X.key a client certificate. */
static int load_cert_dir(struct reg_session *s, const char *dir, bool explicit_dir,
                         struct isola_err *err)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *e;

        if (!d) {
                if (!explicit_dir && errno == ENOENT)
                        return 0;
                return err_sys(err, "--cert-dir '%s'", dir);
        }
        while ((e = readdir(d))) {
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                if (has_suffix(e->d_name, ".crt")) {
                        if (!s->ca_blob &&
                            append_file(SYSTEM_CA_BUNDLE, &s->ca_blob, &s->ca_len, err) < 0 &&
                            errno != ENOENT)
                                return -1;
                        if (append_file(path, &s->ca_blob, &s->ca_len, err) < 0)
                                return err_prefix(err, "--cert-dir");
                } else if (has_suffix(e->d_name, ".cert")) {
                        char key[PATH_MAX];
                        snprintf(key, sizeof(key), "%.*s.key", (int)(strlen(path) - 5), path);
                        if (access(key, R_OK) < 0)
                                return err_set(err, ENOENT, "--cert-dir: '%s' has no key '%s'",
                                               path, key);
                        snprintf(s->client_cert, sizeof(s->client_cert), "%s", path);
                        snprintf(s->client_key, sizeof(s->client_key), "%s", key);
                }
        }
        return 0;
}

CURL *reg_easy_new(struct reg_session *s, struct isola_err *err)
{
        CURL *h = curl_easy_init();

        if (!h) {
                err_set(err, ENOMEM, "curl_easy_init failed");
                return NULL;
        }
        curl_easy_setopt(h, CURLOPT_SHARE, s->share);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "isola/" ISOLA_VERSION);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
        /* A stalled transfer (under 1 byte/s for 60 s) fails rather than hangs. */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, s->verify ? 1L : 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, s->verify ? 2L : 0L);
        if (s->ca_blob) {
                struct curl_blob b = {
                    .data = s->ca_blob, .len = s->ca_len, .flags = CURL_BLOB_NOCOPY};
                curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
        }
        if (s->client_cert[0]) {
                curl_easy_setopt(h, CURLOPT_SSLCERT, s->client_cert);
                curl_easy_setopt(h, CURLOPT_SSLKEY, s->client_key);
        }
        return h;
}

void reg_url(const struct reg_session *s, const char *path_or_url, char *buf, size_t len)
{
        if (!strncmp(path_or_url, "http://", 7) || !strncmp(path_or_url, "https://", 8))
                snprintf(buf, len, "%s", path_or_url);
        else
                snprintf(buf, len, "%s%s%s", s->base, path_or_url[0] == '/' ? "" : "/",
                         path_or_url);
}

struct capture {
        struct reg_resp *resp;
        size_t max;
        bool too_big;
        const struct reg_req *req;
        int64_t sent;
};

static size_t on_header(char *line, size_t size, size_t n, void *data)
{
        struct capture *c = data;
        struct reg_resp *r = c->resp;
        char v[sizeof(r->www_auth)];

        n *= size;
        if (n > 5 && !strncmp(line, "HTTP/", 5)) { /* a new response (redirect, 100) */
                r->location[0] = r->digest[0] = r->content_type[0] = r->www_auth[0] = '\0';
                r->body_len = 0;
        } else if (reg_header_value(line, n, "Location", r->location, sizeof(r->location)) ||
                   reg_header_value(line, n, "Docker-Content-Digest", r->digest,
                                    sizeof(r->digest)) ||
                   reg_header_value(line, n, "Content-Type", r->content_type,
                                    sizeof(r->content_type))) {
        } else if (reg_header_value(line, n, "WWW-Authenticate", v, sizeof(v))) {
                /* Several challenges: Bearer is preferred over Basic. */
                if (!r->www_auth[0] || !strncasecmp(v, "bearer", 6))
                        snprintf(r->www_auth, sizeof(r->www_auth), "%s", v);
        }
        return n;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
        struct capture *c = arg;
        struct reg_resp *r = c->resp;

        n *= size;
        if (r->body_len + n > c->max) {
                c->too_big = true;
                return 0;
        }
        char *nb = realloc(r->body, r->body_len + n + 1);
        if (!nb)
                return 0;
        memcpy(nb + r->body_len, data, n);
        r->body = nb;
        r->body_len += n;
        r->body[r->body_len] = '\0';
        return n;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
        struct capture *c = arg;
        const struct reg_req *q = c->req;
        size_t want = size * n;

        if ((int64_t)want > q->body_size - c->sent)
                want = (size_t)(q->body_size - c->sent);
        if (!want)
                return 0;
        if (q->body) {
                memcpy(buf, (const char *)q->body + c->sent, want);
        } else {
                ssize_t got = pread(q->body_fd, buf, want, c->sent);
                if (got <= 0)
                        return CURL_READFUNC_ABORT;
                want = (size_t)got;
        }
        c->sent += (int64_t)want;
        return want;
}

static int on_xferinfo(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
        const struct capture *c = arg;

        (void)dltotal;
        (void)dlnow;
        (void)ultotal;
        c->req->on_progress(c->req->progress_arg, (int64_t)ulnow);
        return 0;
}

static void set_method(CURL *h, const struct reg_req *q, struct capture *c)
{
        bool has_body = q->body || q->body_fd >= 0;

        if (!strcmp(q->method, "HEAD")) {
                curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (!strcmp(q->method, "GET")) {
                curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        } else if (!strcmp(q->method, "POST") && !has_body) {
                curl_easy_setopt(h, CURLOPT_POST, 1L);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        } else if (!strcmp(q->method, "DELETE")) {
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
        } else { /* PUT, PATCH (with or without a body) */
                curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                                 (curl_off_t)(has_body ? q->body_size : 0));
                curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
                curl_easy_setopt(h, CURLOPT_READDATA, c);
                if (strcmp(q->method, "PUT") != 0)
                        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
        }
}

static int request_once(struct reg_session *s, const struct reg_req *q, struct reg_resp *out,
                        struct isola_err *err)
{
        char url[REG_URL_MAX], errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *hdrs = NULL;
        struct capture c = {.resp = out, .max = q->max_body, .req = q};
        int rc = -1;

        reg_url(s, q->url, url, sizeof(url));
        CURL *h = reg_easy_new(s, err);
        if (!h)
                return -1;
        for (const char *const *x = q->headers; x && *x; x++)
                hdrs = curl_slist_append(hdrs, *x);
        hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
        /* Credentials go to the registry only, not to wherever a Location
         * header (upload sessions) points. */
        size_t nb = strlen(s->base);
        bool ours = !strncmp(url, s->base, nb) && (url[nb] == '/' || url[nb] == '\0');
        if (ours && reg_auth_add(s, q->scope, &hdrs, err) < 0)
                goto out;
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
        bool safe = !strcmp(q->method, "GET") || !strcmp(q->method, "HEAD");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, safe ? 1L : 0L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
        set_method(h, q, &c);
        if (q->on_progress) {
                curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
                curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
                curl_easy_setopt(h, CURLOPT_XFERINFODATA, &c);
        }
        CURLcode cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        if (c.too_big) {
                err_set(err, EFBIG, "%s %s: answer larger than %zu bytes", q->method, url,
                        q->max_body);
                goto out;
        }
        if (cc != CURLE_OK) {
                out->curl_code = (int)cc; /* the caller tells TLS failures apart */
                err_set(err, cc == CURLE_COULDNT_CONNECT ? ECONNREFUSED : EIO, "%s",
                        errbuf[0] ? errbuf : curl_easy_strerror(cc));
                goto out;
        }
        rc = 0;
out:
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(h);
        return rc;
}

int reg_request(struct reg_session *s, const struct reg_req *q, struct reg_resp *out,
                struct isola_err *err)
{
        for (int attempt = 0;; attempt++) {
                reg_resp_free(out);
                if (request_once(s, q, out, err) < 0)
                        return -1;
                if (out->status != 401 || attempt == 1)
                        return 0;
                reg_auth_reset(s, q->scope, out->www_auth);
        }
}

void reg_resp_free(struct reg_resp *r)
{
        free(r->body);
        memset(r, 0, sizeof(*r));
}

int reg_http_fail(const struct reg_session *s, const char *repo, const char *what, long status,
                  const char *body, size_t body_len, struct isola_err *err)
{
        char desc[512] = "";

        if (body)
                reg_errbody_describe(body, body_len, desc, sizeof(desc));
        if (!desc[0]) {
                const char *std = status == 401   ? "authentication required"
                                  : status == 403 ? "access denied"
                                  : status == 404 ? "not found"
                                  : status == 429 ? "too many requests"
                                  : status >= 500 ? "server error"
                                                  : "unexpected answer";
                snprintf(desc, sizeof(desc), "%s", std);
        }
        int e = status == 401 || status == 403 ? EACCES : status == 404 ? ENOENT : EPROTO;
        if (repo)
                return err_set(err, e, "registry %s: repository %s: %s: HTTP %ld: %s", s->registry,
                               repo, what, status, desc);
        return err_set(err, e, "registry %s: %s: HTTP %ld: %s", s->registry, what, status, desc);
}

/* GET /v2/ on one scheme; records the challenge. *curl_code gets the
 * transport failure, if any. */
static int ping(struct reg_session *s, const char *scheme, int *curl_code, struct isola_err *err)
{
        struct reg_resp r = {0};
        struct reg_req q = {
            .method = "GET", .url = "/v2/", .body_fd = -1, .max_body = REG_ERRBODY_MAX};

        snprintf(s->base, sizeof(s->base), "%s://%s", scheme, s->host);
        if (request_once(s, &q, &r, err) < 0) {
                *curl_code = r.curl_code;
                reg_resp_free(&r);
                return -1;
        }
        int rc = 0;
        if (r.status == 401) {
                if (reg_challenge_parse(r.www_auth, &s->chal, err) < 0)
                        rc = err_prefix(err, "registry %s: /v2/", s->registry);
        } else if (r.status != 200) {
                rc = reg_http_fail(s, NULL, "GET /v2/ (not a registry?)", r.status, r.body,
                                   r.body_len, err);
        }
        reg_resp_free(&r);
        return rc;
}

/* The TLS handshake itself failed: the peer likely speaks plain HTTP. */
static bool not_tls(int curl_code)
{
        return curl_code == CURLE_SSL_CONNECT_ERROR || curl_code == CURLE_RECV_ERROR ||
               curl_code == CURLE_GOT_NOTHING || curl_code == CURLE_UNSUPPORTED_PROTOCOL;
}

static int load_credentials(struct reg_session *s, bool use_authfile, struct isola_err *err)
{
        const struct reg_opts *o = &s->opts;
        char path[PATH_MAX];
        _cleanup_free_ char *buf = NULL;
        size_t len;

        if (o->username) {
                s->user = strdup(o->username);
                s->pass = strdup(o->password ? o->password : "");
                return s->user && s->pass ? 0 : err_set(err, ENOMEM, "out of memory");
        }
        if (!use_authfile)
                return 0;
        reg_authfile_path(o, path, sizeof(path));
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : err_sys(err, "auth file '%s'", path);
        if (fs_read_fd(fd, REG_AUTHFILE_MAX, &buf, &len, err) < 0)
                return err_prefix(err, "auth file '%s'", path);
        if (reg_authfile_lookup(buf, len, s->registry, &s->user, &s->pass, err) < 0) {
                if (err->errnum == ENOENT)
                        return 0;
                return err_prefix(err, "auth file '%s'", path);
        }
        return 0;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
        struct reg_session *s = arg;

        (void)h;
        (void)access;
        pthread_mutex_lock(&s->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
        struct reg_session *s = arg;

        (void)h;
        pthread_mutex_unlock(&s->share_locks[data]);
}

int reg_session_open(struct reg_session *s, const char *registry, const struct reg_opts *o,
                     bool use_authfile, struct isola_err *err)
{
        memset(s, 0, sizeof(*s));
        /* Before any thread: curl's global set-up is not thread-safe. */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return err_set(err, ENOMEM, "curl_global_init failed");
        pthread_mutex_init(&s->auth_lock, NULL);
        for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
                pthread_mutex_init(&s->share_locks[i], NULL);
        s->locks_ready = true;
        s->opts = *o;
        snprintf(s->registry, sizeof(s->registry), "%s", registry);
        /* Docker Hub's name and its API host differ. */
        snprintf(s->host, sizeof(s->host), "%s",
                 strcmp(registry, "docker.io") ? registry : "registry-1.docker.io");
        s->verify = o->tls != REG_TLS_NO_VERIFY;
        s->share = curl_share_init();
        if (!s->share)
                return err_set(err, ENOMEM, "curl_share_init failed");
        curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(s->share, CURLSHOPT_USERDATA, s);

        char dir[PATH_MAX];
        if (o->cert_dir) {
                if (load_cert_dir(s, o->cert_dir, true, err) < 0)
                        goto fail;
        } else {
                snprintf(dir, sizeof(dir), "/etc/containers/certs.d/%s", registry);
                if (load_cert_dir(s, dir, false, err) < 0)
                        goto fail;
        }
        if (load_credentials(s, use_authfile, err) < 0)
                goto fail;

        bool may_http =
            o->tls == REG_TLS_NO_VERIFY || (o->tls == REG_TLS_DEFAULT && host_is_local(s->host));
        int cc = 0;
        if (ping(s, "https", &cc, err) == 0)
                return 0;
        if (may_http && not_tls(cc)) {
                if (ping(s, "http", &cc, err) == 0)
                        return 0;
        }
        err_prefix(err, "registry %s", registry);
fail:
        reg_session_close(s);
        return -1;
}

void reg_session_close(struct reg_session *s)
{
        for (size_t i = 0; i < s->n_tokens; i++)
                free(s->tokens[i].token);
        s->n_tokens = 0;
        if (s->pass)
                explicit_bzero(s->pass, strlen(s->pass));
        free(s->user);
        free(s->pass);
        s->user = s->pass = NULL;
        free(s->ca_blob);
        s->ca_blob = NULL;
        if (s->share)
                curl_share_cleanup(s->share);
        s->share = NULL;
        if (s->locks_ready) {
                pthread_mutex_destroy(&s->auth_lock);
                for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
                        pthread_mutex_destroy(&s->share_locks[i]);
                s->locks_ready = false;
                curl_global_cleanup();
        }
}
