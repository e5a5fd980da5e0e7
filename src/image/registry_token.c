/* Authorization headers for registry requests: Basic credentials as they
 * are, or a Bearer token fetched from the challenge's realm for the scopes
 * a request needs (token spec of the distribution project), cached until
 * it expires. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/registry_internal.h"
#include "util/cleanup.h"

static struct reg_token *token_find(struct reg_session *s, const char *scope)
{
        for (size_t i = 0; i < s->n_tokens; i++) {
                if (!strcmp(s->tokens[i].scope, scope))
                        return &s->tokens[i];
        }
        return NULL;
}

/* realm?service=S&scope=A&scope=B (scopes space-separated in `scope`). */
static int token_url(struct reg_session *s, CURL *h, const char *scope, char *url, size_t len,
                     struct isola_err *err)
{
        size_t used = (size_t)snprintf(url, len, "%s", s->chal.realm);
        char sep = strchr(s->chal.realm, '?') ? '&' : '?';
        char one[1024];

        const char *names[2] = {"service", "account"};
        const char *values[2] = {s->chal.service, s->user};
        for (int i = 0; i < 2; i++) {
                if (!values[i] || !*values[i])
                        continue;
                char *e = curl_easy_escape(h, values[i], 0);
                if (!e)
                        return err_set(err, ENOMEM, "out of memory");
                used += (size_t)snprintf(url + used, used < len ? len - used : 0, "%c%s=%s", sep,
                                         names[i], e);
                curl_free(e);
                sep = '&';
        }
        for (const char *p = scope; p && *p;) {
                size_t n = strcspn(p, " ");
                snprintf(one, sizeof(one), "%.*s", (int)n, p);
                p += n + (p[n] == ' ');
                if (!one[0])
                        continue;
                char *e = curl_easy_escape(h, one, 0);
                if (!e)
                        return err_set(err, ENOMEM, "out of memory");
                used +=
                    (size_t)snprintf(url + used, used < len ? len - used : 0, "%cscope=%s", sep, e);
                curl_free(e);
                sep = '&';
        }
        if (used >= len)
                return err_set(err, E2BIG, "token URL too long");
        return 0;
}

static size_t on_token_body(char *data, size_t size, size_t n, void *arg)
{
        struct reg_resp *r = arg;

        n *= size;
        if (r->body_len + n > REG_TOKEN_MAX)
                return 0;
        char *nb = realloc(r->body, r->body_len + n + 1);
        if (!nb)
                return 0;
        memcpy(nb + r->body_len, data, n);
        r->body = nb;
        r->body_len += n;
        nb[r->body_len] = '\0';
        return n;
}

static int fetch_token(struct reg_session *s, const char *scope, char **token_out, int *expires_out,
                       struct isola_err *err)
{
        char url[REG_URL_MAX], errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *hdrs = NULL;
        struct reg_resp r = {0};
        int rc = -1;
        CURL *h = reg_easy_new(s, err);

        if (!h)
                return -1;
        if (token_url(s, h, scope, url, sizeof(url), err) < 0)
                goto out;
        if (s->user) {
                _cleanup_free_ char *b = reg_basic_token(s->user, s->pass);
                char line[8300];
                if (!b || strlen(b) > 8192) {
                        err_set(err, E2BIG, "credentials too long");
                        goto out;
                }
                snprintf(line, sizeof(line), "Authorization: Basic %s", b);
                hdrs = curl_slist_append(hdrs, line);
                explicit_bzero(line, sizeof(line));
        }
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_token_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        CURLcode cc = curl_easy_perform(h);
        if (cc != CURLE_OK) {
                err_set(err, EIO, "token service %s: %s", s->chal.realm,
                        errbuf[0] ? errbuf : curl_easy_strerror(cc));
                goto out;
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
        if (r.status == 401 || r.status == 403) {
                char what[1200];
                snprintf(what, sizeof(what), "token service %s", s->chal.realm);
                reg_http_fail(s, NULL, what, r.status, r.body, r.body_len, err);
                if (s->user)
                        err_prefix(err, "wrong username or password");
                goto out;
        }
        if (r.status != 200) {
                reg_http_fail(s, NULL, "token service", r.status, r.body, r.body_len, err);
                goto out;
        }
        if (reg_token_parse(r.body ? r.body : "", r.body_len, token_out, expires_out, err) < 0) {
                err_prefix(err, "registry %s", s->registry);
                goto out;
        }
        rc = 0;
out:
        reg_resp_free(&r);
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(h);
        return rc;
}

static int add_header(struct curl_slist **hdrs, const char *kind, const char *value,
                      struct isola_err *err)
{
        size_t n = strlen(kind) + strlen(value) + 32;
        char *line = malloc(n);

        if (!line)
                return err_set(err, ENOMEM, "out of memory");
        snprintf(line, n, "Authorization: %s %s", kind, value);
        struct curl_slist *l = curl_slist_append(*hdrs, line); /* copies */
        explicit_bzero(line, n);
        free(line);
        if (!l)
                return err_set(err, ENOMEM, "out of memory");
        *hdrs = l;
        return 0;
}

static int auth_add_locked(struct reg_session *s, const char *scope, struct curl_slist **hdrs,
                           struct isola_err *err)
{
        if (s->chal.scheme == REG_AUTH_BASIC) {
                if (!s->user)
                        return 0;
                _cleanup_free_ char *b = reg_basic_token(s->user, s->pass);
                return b ? add_header(hdrs, "Basic", b, err)
                         : err_set(err, ENOMEM, "out of memory");
        }
        if (s->chal.scheme != REG_AUTH_BEARER)
                return 0;
        const char *key = scope ? scope : "";
        struct reg_token *t = token_find(s, key);
        if (t && t->expires > time(NULL) + 5)
                return add_header(hdrs, "Bearer", t->token, err);
        char *token;
        int expires;
        if (fetch_token(s, scope, &token, &expires, err) < 0)
                return -1;
        if (!t) {
                if (s->n_tokens == REG_TOKENS_MAX) { /* evict the oldest */
                        free(s->tokens[0].token);
                        memmove(&s->tokens[0], &s->tokens[1],
                                sizeof(s->tokens[0]) * (REG_TOKENS_MAX - 1));
                        s->n_tokens--;
                }
                t = &s->tokens[s->n_tokens++];
                snprintf(t->scope, sizeof(t->scope), "%s", key);
        } else {
                free(t->token);
        }
        t->token = token;
        t->expires = time(NULL) + expires;
        return add_header(hdrs, "Bearer", t->token, err);
}

int reg_auth_add(struct reg_session *s, const char *scope, struct curl_slist **hdrs,
                 struct isola_err *err)
{
        pthread_mutex_lock(&s->auth_lock);
        int rc = auth_add_locked(s, scope, hdrs, err);
        pthread_mutex_unlock(&s->auth_lock);
        return rc;
}

void reg_auth_reset(struct reg_session *s, const char *scope, const char *www_auth)
{
        struct reg_challenge c;
        struct isola_err ignored;

        pthread_mutex_lock(&s->auth_lock);
        if (www_auth && *www_auth && reg_challenge_parse(www_auth, &c, &ignored) == 0)
                s->chal = c;
        struct reg_token *t = token_find(s, scope ? scope : "");
        if (t)
                t->expires = 0;
        pthread_mutex_unlock(&s->auth_lock);
}
