/* What a registry says about authentication and failures, parsed
 * defensively: WWW-Authenticate challenges (RFC 7235 auth-params), bearer
 * token responses, distribution-spec error bodies; and the auth file where
 * `isola login` keeps credentials (podman's auth.json format). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/registry_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

void reg_sanitize(const char *s, size_t n, char *buf, size_t buflen)
{
        size_t j = 0;

        if (!buflen)
                return;
        for (size_t i = 0; i < n && s[i] && j + 1 < buflen; i++) {
                unsigned char c = (unsigned char)s[i];
                char out = '?';
                if (c >= 0x20 && c < 0x7f)
                        out = (char)c;
                buf[j++] = out;
        }
        buf[j] = '\0';
}

bool reg_header_value(const char *line, size_t n, const char *name, char *buf, size_t buflen)
{
        size_t k = strlen(name);

        if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
                return false;
        const char *v = line + k + 1, *end = line + n;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
                end--;
        reg_sanitize(v, (size_t)(end - v), buf, buflen);
        return true;
}

static bool is_tchar(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ows(const char *p)
{
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* Reads a token or quoted-string value into buf (truncation is an error). */
static int parse_value(const char **pp, char *buf, size_t buflen, struct isola_err *err)
{
        const char *p = *pp;
        size_t n = 0;

        if (*p == '"') {
                for (p++; *p && *p != '"'; p++) {
                        if (*p == '\\' && p[1])
                                p++;
                        if (n + 1 >= buflen)
                                return err_set(err, EINVAL, "challenge: value too long");
                        buf[n++] = *p;
                }
                if (*p != '"')
                        return err_set(err, EINVAL, "challenge: unterminated quoted string");
                p++;
        } else {
                for (; is_tchar(*p) || *p == '/'; p++) {
                        if (n + 1 >= buflen)
                                return err_set(err, EINVAL, "challenge: value too long");
                        buf[n++] = *p;
                }
        }
        buf[n] = '\0';
        *pp = p;
        return 0;
}

static void store_param(struct reg_challenge *c, const char *name, const char *value)
{
        struct {
                const char *name;
                char *dst;
                size_t len;
        } fields[] = {
            {"realm", c->realm, sizeof(c->realm)},
            {"service", c->service, sizeof(c->service)},
            {"scope", c->scope, sizeof(c->scope)},
            {"error", c->error, sizeof(c->error)},
        };
        for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
                if (!strcasecmp(name, fields[i].name))
                        snprintf(fields[i].dst, fields[i].len, "%s", value);
        }
}

/* Parses "name=value, name=value" after a scheme, up to the next scheme. */
static int parse_params(const char **pp, struct reg_challenge *c, bool keep, struct isola_err *err)
{
        const char *p = *pp;
        char name[64], value[1024];

        for (;;) {
                p = skip_ows(p);
                while (*p == ',' || *p == ' ' || *p == '\t')
                        p++;
                if (!*p)
                        break;
                const char *start = p;
                size_t n = 0;
                while (is_tchar(*p) && n + 1 < sizeof(name))
                        name[n++] = *p++;
                name[n] = '\0';
                if (!n)
                        return err_set(err, EINVAL, "challenge: unexpected '%c'",
                                       (*p >= 0x20 && *p < 0x7f) ? *p : '?');
                p = skip_ows(p);
                if (*p != '=') { /* a new scheme (or token68) starts here */
                        p = start;
                        break;
                }
                p = skip_ows(p + 1);
                if (parse_value(&p, value, sizeof(value), err) < 0)
                        return -1;
                if (keep)
                        store_param(c, name, value);
        }
        *pp = p;
        return 0;
}

int reg_challenge_parse(const char *hdr, struct reg_challenge *out, struct isola_err *err)
{
        const char *p = hdr;

        memset(out, 0, sizeof(*out));
        for (;;) {
                char scheme[32];
                size_t n = 0;

                p = skip_ows(p);
                while (*p == ',')
                        p = skip_ows(p + 1);
                if (!*p)
                        break;
                while (is_tchar(*p) && n + 1 < sizeof(scheme))
                        scheme[n++] = *p++;
                scheme[n] = '\0';
                if (!n || (*p && *p != ' ' && *p != '\t' && *p != ','))
                        return err_set(err, EINVAL, "challenge: no auth scheme");
                enum reg_scheme s = REG_AUTH_NONE;
                if (!strcasecmp(scheme, "bearer"))
                        s = REG_AUTH_BEARER;
                else if (!strcasecmp(scheme, "basic"))
                        s = REG_AUTH_BASIC;
                bool keep = s != REG_AUTH_NONE && out->scheme == REG_AUTH_NONE;
                if (keep)
                        out->scheme = s;
                /* Stops at the next scheme; a token68 (unused by registries)
                 * is a syntax error. */
                if (parse_params(&p, out, keep, err) < 0)
                        return -1;
        }
        if (out->scheme == REG_AUTH_NONE)
                return err_set(err, EINVAL, "challenge: neither Basic nor Bearer");
        if (out->scheme == REG_AUTH_BEARER) {
                if (strncmp(out->realm, "https://", 8) != 0 &&
                    strncmp(out->realm, "http://", 7) != 0)
                        return err_set(err, EINVAL,
                                       "challenge: bearer realm is not an http(s) URL");
        }
        return 0;
}

static struct json_object *parse_json(const char *json, size_t len)
{
        struct json_tokener *tok = json_tokener_new_ex(32);

        if (!tok || len > INT32_MAX) {
                json_tokener_free(tok);
                return NULL;
        }
        struct json_object *o = json_tokener_parse_ex(tok, json, (int)len);
        if (json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        return o;
}

static const char *get_str(struct json_object *o, const char *key)
{
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int reg_token_parse(const char *json, size_t len, char **token_out, int *expires_out,
                    struct isola_err *err)
{
        struct json_object *o = parse_json(json, len), *v;
        int rc = -1;

        if (!o || !json_object_is_type(o, json_type_object)) {
                err_set(err, EPROTO, "token response is not a JSON object");
                goto out;
        }
        const char *t = get_str(o, "token");
        if (!t || !*t)
                t = get_str(o, "access_token");
        if (!t || !*t) {
                err_set(err, EPROTO, "token response has no token");
                goto out;
        }
        size_t n = strlen(t);
        for (size_t i = 0; i < n; i++) {
                /* A token goes into a header line: no controls, no spaces. */
                if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f) {
                        err_set(err, EPROTO, "token response: token has invalid characters");
                        goto out;
                }
        }
        if (n > 64 * 1024) {
                err_set(err, EPROTO, "token response: token longer than 64 KiB");
                goto out;
        }
        /* The spec's default lifetime is 60 s; shorter values are raised. */
        int expires = 60;
        if (json_object_object_get_ex(o, "expires_in", &v) &&
            json_object_is_type(v, json_type_int)) {
                int64_t e = json_object_get_int64(v);
                if (e > 60)
                        expires = e > 86400 ? 86400 : (int)e;
        }
        *token_out = strdup(t);
        if (!*token_out) {
                err_set(err, ENOMEM, "token response: out of memory");
                goto out;
        }
        *expires_out = expires;
        rc = 0;
out:
        json_object_put(o);
        return rc;
}

void reg_errbody_describe(const char *json, size_t len, char *buf, size_t buflen)
{
        struct json_object *o = parse_json(json, len), *errs;
        size_t used = 0;

        if (buflen)
                buf[0] = '\0';
        if (!o || !json_object_object_get_ex(o, "errors", &errs) ||
            !json_object_is_type(errs, json_type_array)) {
                json_object_put(o);
                return;
        }
        size_t n = json_object_array_length(errs);
        for (size_t i = 0; i < n && i < 3; i++) {
                struct json_object *e = json_object_array_get_idx(errs, i);
                if (!json_object_is_type(e, json_type_object))
                        continue;
                const char *code = get_str(e, "code"), *msg = get_str(e, "message");
                char c[64], m[256];
                reg_sanitize(code ? code : "", 64, c, sizeof(c));
                reg_sanitize(msg ? msg : "", 256, m, sizeof(m));
                if (!*c && !*m)
                        continue;
                int w =
                    snprintf(buf + used, buflen - used, "%s%s%s%s%s", used ? "; " : "", *m ? m : c,
                             *m && *c ? " (" : "", *m && *c ? c : "", *m && *c ? ")" : "");
                if (w < 0 || (size_t)w >= buflen - used)
                        break;
                used += (size_t)w;
        }
        json_object_put(o);
}

char *reg_basic_token(const char *user, const char *pass)
{
        size_t n = strlen(user) + 1 + strlen(pass);
        char *plain = malloc(n + 1);
        char *out = malloc(4 * ((n + 2) / 3) + 1);

        if (plain && out) {
                snprintf(plain, n + 1, "%s:%s", user, pass);
                EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)plain, (int)n);
                explicit_bzero(plain, n);
        } else {
                free(out);
                out = NULL;
        }
        free(plain);
        return out;
}

static int decode_auth(const char *b64, char **user_out, char **pass_out, struct isola_err *err)
{
        size_t n = strlen(b64);
        int rc = -1;

        if (n == 0 || n % 4 || n > 8192)
                return err_set(err, EINVAL, "auth entry is not base64");
        char *plain = malloc(n / 4 * 3 + 1);
        if (!plain)
                return err_set(err, ENOMEM, "out of memory");
        int m = EVP_DecodeBlock((unsigned char *)plain, (const unsigned char *)b64, (int)n);
        if (m < 0) {
                err_set(err, EINVAL, "auth entry is not base64");
                goto out;
        }
        /* EVP_DecodeBlock counts the padding as zero bytes. */
        for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
                m--;
        plain[m] = '\0';
        char *colon = strchr(plain, ':');
        if (strlen(plain) != (size_t)m || !colon) {
                err_set(err, EINVAL, "auth entry is not user:password");
                goto out;
        }
        *colon = '\0';
        *user_out = strdup(plain);
        *pass_out = strdup(colon + 1);
        if (!*user_out || !*pass_out) {
                free(*user_out);
                free(*pass_out);
                err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        rc = 0;
out:
        explicit_bzero(plain, n / 4 * 3 + 1);
        free(plain);
        return rc;
}

/* The keys podman and docker use for one registry. */
static bool key_matches(const char *key, const char *registry)
{
        if (!strncmp(key, "https://", 8))
                key += 8;
        else if (!strncmp(key, "http://", 7))
                key += 7;
        size_t n = strlen(registry);
        if (!strncmp(key, registry, n) && (key[n] == '\0' || key[n] == '/'))
                return true;
        return !strcmp(registry, "docker.io") &&
               (!strncmp(key, "index.docker.io", 15) || !strncmp(key, "registry-1.docker.io", 20));
}

int reg_authfile_lookup(const char *json, size_t len, const char *registry, char **user_out,
                        char **pass_out, struct isola_err *err)
{
        struct json_object *o = parse_json(json, len), *auths;
        int rc = -1;

        if (!o || !json_object_is_type(o, json_type_object)) {
                err_set(err, EINVAL, "not a JSON object");
                goto out;
        }
        if (!json_object_object_get_ex(o, "auths", &auths) ||
            !json_object_is_type(auths, json_type_object)) {
                err_set(err, ENOENT, "no credentials for %s", registry);
                goto out;
        }
        json_object_object_foreach(auths, key, val)
        {
                if (!key_matches(key, registry) || !json_object_is_type(val, json_type_object))
                        continue;
                const char *a = get_str(val, "auth");
                if (!a)
                        continue;
                rc = decode_auth(a, user_out, pass_out, err);
                if (rc < 0)
                        err_prefix(err, "entry '%s'", registry);
                goto out;
        }
        err_set(err, ENOENT, "no credentials for %s", registry);
out:
        json_object_put(o);
        return rc;
}

/* Loads the auth file as a JSON object (a new one when it does not exist). */
static int authfile_load(const char *path, struct json_object **out, struct isola_err *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *buf = NULL;
        size_t len;

        if (fd < 0 && errno == ENOENT) {
                *out = json_object_new_object();
                return *out ? 0 : err_set(err, ENOMEM, "out of memory");
        }
        if (fd < 0)
                return err_sys(err, "auth file '%s'", path);
        if (fs_read_fd(fd, REG_AUTHFILE_MAX, &buf, &len, err) < 0)
                return err_prefix(err, "auth file '%s'", path);
        *out = parse_json(buf, len);
        if (!*out || !json_object_is_type(*out, json_type_object)) {
                json_object_put(*out);
                return err_set(err, EINVAL, "auth file '%s': not a JSON object", path);
        }
        return 0;
}

/* Writes the object next to path with mode 0600 and renames it over path. */
static int authfile_store(const char *path, struct json_object *o, struct isola_err *err)
{
        char dir[PATH_MAX], tmp[PATH_MAX + 16];

        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                if (fs_mkdir_p(dir, 0700, err) < 0)
                        return err_prefix(err, "auth file '%s'", path);
        }
        snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return err_sys(err, "auth file '%s'", tmp);
        if (fs_write_all(fd, s, strlen(s)) < 0 || fs_write_all(fd, "\n", 1) < 0 || fsync(fd) < 0) {
                err_sys(err, "auth file '%s'", tmp);
                unlink(tmp);
                return -1;
        }
        if (rename(tmp, path) < 0) {
                err_sys(err, "auth file '%s'", path);
                unlink(tmp);
                return -1;
        }
        return 0;
}

int reg_authfile_set(const char *path, const char *registry, const char *user, const char *pass,
                     struct isola_err *err)
{
        struct json_object *o, *auths;

        if (authfile_load(path, &o, err) < 0)
                return -1;
        if (!json_object_object_get_ex(o, "auths", &auths) ||
            !json_object_is_type(auths, json_type_object)) {
                auths = json_object_new_object();
                json_object_object_add(o, "auths", auths);
        }
        char *b64 = reg_basic_token(user, pass);
        struct json_object *entry = json_object_new_object();
        if (!b64 || !entry || !auths) {
                free(b64);
                json_object_put(entry);
                json_object_put(o);
                return err_set(err, ENOMEM, "out of memory");
        }
        json_object_object_add(entry, "auth", json_object_new_string(b64));
        free(b64);
        json_object_object_add(auths, registry, entry);
        int rc = authfile_store(path, o, err);
        json_object_put(o);
        return rc;
}

int reg_authfile_remove(const char *path, const char *registry, struct isola_err *err)
{
        struct json_object *o, *auths;
        bool found = false;

        if (!registry) {
                if (unlink(path) < 0 && errno != ENOENT)
                        return err_sys(err, "auth file '%s'", path);
                return 0;
        }
        if (authfile_load(path, &o, err) < 0)
                return -1;
        if (json_object_object_get_ex(o, "auths", &auths) &&
            json_object_is_type(auths, json_type_object)) {
                /* Every key naming the registry goes (podman's and docker's forms). */
                for (;;) {
                        const char *hit = NULL;
                        json_object_object_foreach(auths, key, val)
                        {
                                (void)val;
                                if (key_matches(key, registry)) {
                                        hit = key;
                                        break;
                                }
                        }
                        if (!hit)
                                break;
                        json_object_object_del(auths, hit);
                        found = true;
                }
        }
        int rc = found ? authfile_store(path, o, err)
                       : err_set(err, ENOENT, "not logged in to %s", registry);
        json_object_put(o);
        return rc;
}
