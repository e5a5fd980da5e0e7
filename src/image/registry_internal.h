/* Registry client internals shared by registry_*.c: the session (one
 * registry, its scheme, TLS material, credentials, challenge and token
 * cache), one-shot requests, and the parsers of what a registry sends
 * (challenges, token responses, error bodies) which the fuzz target drives. */
#ifndef ISOLA_IMAGE_REGISTRY_INTERNAL_H
#define ISOLA_IMAGE_REGISTRY_INTERNAL_H

#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "image/registry.h"

#define REG_ERRBODY_MAX  (64u << 10) /* error bodies we read to quote a message */
#define REG_TOKEN_MAX    (1u << 20)  /* a token response */
#define REG_AUTHFILE_MAX (4u << 20)
#define REG_TOKENS_MAX   8 /* cached bearer tokens (one per scope set) */
#define REG_URL_MAX      4096

/* ---- parsers (registry_auth.c) ----------------------------------------- */
enum reg_scheme { REG_AUTH_NONE, REG_AUTH_BASIC, REG_AUTH_BEARER };
struct reg_challenge {
        enum reg_scheme scheme;
        char realm[1024];
        char service[256];
        char scope[512];
        char error[64]; /* e.g. "insufficient_scope" */
};
/* Parses a WWW-Authenticate value; the first Basic or Bearer challenge in it
 * wins. EINVAL when there is none or the syntax is broken. */
int reg_challenge_parse(const char *hdr, struct reg_challenge *out, struct isola_err *err);
/* {"token"|"access_token": "...", "expires_in": N}; *token_out is malloc'd. */
int reg_token_parse(const char *json, size_t len, char **token_out, int *expires_out,
                    struct isola_err *err);
/* A distribution-spec error body as "message (CODE)[; ...]" with control
 * characters replaced; "" when the body is not one. */
void reg_errbody_describe(const char *json, size_t len, char *buf, size_t buflen);
/* Copies s into buf replacing bytes outside printable ASCII by '?', so that
 * nothing a registry says reaches a terminal as escape sequences. */
void reg_sanitize(const char *s, size_t n, char *buf, size_t buflen);
/* Auth file: {"auths": {"<registry>": {"auth": base64(user:pass)}}}.
 * ENOENT when there is no entry for registry. */
int reg_authfile_lookup(const char *json, size_t len, const char *registry, char **user_out,
                        char **pass_out, struct isola_err *err);
int reg_authfile_set(const char *path, const char *registry, const char *user, const char *pass,
                     struct isola_err *err);
int reg_authfile_remove(const char *path, const char *registry, struct isola_err *err);
/* base64 of "user:pass" into a malloc'd string. */
char *reg_basic_token(const char *user, const char *pass);

/* ---- session (registry_http.c) ----------------------------------------- */
struct reg_token {
        char scope[1024];
        char *token;
        time_t expires;
};
struct reg_session {
        struct reg_opts opts;
        char registry[256]; /* as the user named it: the auth file key */
        char host[256];     /* host[:port] we connect to */
        char base[300];     /* scheme://host */
        bool verify;        /* TLS certificate checks */
        char *ca_blob;      /* system CAs + cert-dir *.crt, or NULL */
        size_t ca_len;
        char client_cert[PATH_MAX], client_key[PATH_MAX];
        char *user, *pass; /* NULL when anonymous */
        struct reg_challenge chal;
        /* Push threads share a session: auth_lock guards chal and tokens
         * (and serialises token fetches), share_locks the curl share. */
        pthread_mutex_t auth_lock;
        pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
        bool locks_ready;
        struct reg_token tokens[REG_TOKENS_MAX];
        size_t n_tokens;
        CURLSH *share; /* connections, DNS and TLS sessions reused */
};

/* Resolves TLS material and credentials, pings /v2/ (choosing https or, for
 * local/insecure registries, http) and records the challenge. With
 * use_authfile false only o->username/password are used (login). */
int reg_session_open(struct reg_session *s, const char *registry, const struct reg_opts *o,
                     bool use_authfile, struct isola_err *err);
void reg_session_close(struct reg_session *s);
/* A configured easy handle (TLS, share, timeouts, user agent). */
CURL *reg_easy_new(struct reg_session *s, struct isola_err *err);
/* Appends the Authorization header for scope (space-separated scopes) to
 * *hdrs, fetching a bearer token when needed. */
int reg_auth_add(struct reg_session *s, const char *scope, struct curl_slist **hdrs,
                 struct isola_err *err);
/* After a 401: takes the new challenge from www_auth (may be "") and drops
 * the cached token for scope, so the next reg_auth_add fetches a fresh one. */
void reg_auth_reset(struct reg_session *s, const char *scope, const char *www_auth);

struct reg_req {
        const char *method;         /* GET HEAD POST PUT PATCH DELETE */
        const char *url;            /* absolute, or a path starting with '/' */
        const char *scope;          /* token scope, NULL for none */
        const char *const *headers; /* extra, NULL-terminated (may be NULL) */
        const void *body;           /* in-memory body, or */
        int body_fd;                /* a file body (-1: none) */
        int64_t body_size;
        size_t max_body;                              /* response body bound; bigger is EFBIG */
        void (*on_progress)(void *arg, int64_t sent); /* upload progress, or NULL */
        void *progress_arg;
};
struct reg_resp {
        long status;
        char *body; /* NUL-terminated */
        size_t body_len;
        char location[REG_URL_MAX];
        char digest[IMG_DIGEST_MAX]; /* Docker-Content-Digest */
        char content_type[128];
        char www_auth[2048];
        int curl_code; /* CURLcode of a transport failure */
};
/* One request, answering one 401 challenge by re-authenticating. Transport
 * failures are errors; any HTTP status is returned in out->status. */
int reg_request(struct reg_session *s, const struct reg_req *r, struct reg_resp *out,
                struct isola_err *err);
void reg_resp_free(struct reg_resp *r);
/* Sets err for an unexpected answer: "registry R: repository P: HTTP 404:
 * manifest unknown (MANIFEST_UNKNOWN)"; returns -1. */
int reg_http_fail(const struct reg_session *s, const char *repo, const char *what, long status,
                  const char *body, size_t body_len, struct isola_err *err);
/* Absolute URL of a path or Location value. */
void reg_url(const struct reg_session *s, const char *path_or_url, char *buf, size_t len);
/* Header callback helper: copies the value of header `name` when line is it. */
bool reg_header_value(const char *line, size_t n, const char *name, char *buf, size_t buflen);

/* ---- progress (registry_progress.c) ------------------------------------ */
struct reg_progress;
struct reg_progress *reg_progress_new(FILE *out, size_t rows);
void reg_progress_row(struct reg_progress *p, size_t row, const char *digest, int64_t total);
void reg_progress_set(struct reg_progress *p, size_t row, int64_t done, const char *state);
void reg_progress_draw(struct reg_progress *p, bool force);
void reg_progress_free(struct reg_progress *p);

#endif
