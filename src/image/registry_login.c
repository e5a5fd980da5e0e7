/* `login` / `logout`: credentials are checked against the registry (a /v2/
 * request answering its Basic or Bearer challenge with them) before they are
 * written to the auth file; logout removes the entry. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "image/registry_internal.h"

/* "https://host:port/" → "host:port"; refuses paths and blanks. */
static int normalise_registry(const char *in, char *out, size_t len, struct isola_err *err)
{
        const char *p = in;

        if (!strncmp(p, "https://", 8))
                p += 8;
        else if (!strncmp(p, "http://", 7))
                p += 7;
        size_t n = strlen(p);
        while (n && p[n - 1] == '/')
                n--;
        if (!n || n >= len)
                return err_set(err, EINVAL, "registry '%s': not a host[:port]", in);
        for (size_t i = 0; i < n; i++) {
                char c = p[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' || c == '[' ||
                          c == ']' || c == '_';
                if (!ok)
                        return err_set(err, EINVAL, "registry '%s': not a host[:port]", in);
        }
        snprintf(out, len, "%.*s", (int)n, p);
        return 0;
}

int reg_login(const char *registry, const char *username, const char *password,
              const struct reg_opts *o, struct isola_err *err)
{
        struct reg_opts lo = *o;
        struct reg_session s;
        struct reg_resp r = {0};
        struct reg_req q = {
            .method = "GET", .url = "/v2/", .body_fd = -1, .max_body = REG_ERRBODY_MAX};
        char reg[256], path[PATH_MAX];

        if (normalise_registry(registry, reg, sizeof(reg), err) < 0)
                return -1;
        if (!username || !*username)
                return err_set(err, EINVAL, "login to %s: no username", reg);
        lo.username = username;
        lo.password = password ? password : "";
        if (reg_session_open(&s, reg, &lo, false, err) < 0)
                return -1;
        int rc = reg_request(&s, &q, &r, err);
        if (rc < 0) {
                err_prefix(err, "login to %s", reg);
        } else if (r.status == 401) {
                rc = err_set(err, EACCES, "login to %s: wrong username or password", reg);
        } else if (r.status != 200) {
                rc = reg_http_fail(&s, NULL, "login", r.status, r.body, r.body_len, err);
        }
        reg_resp_free(&r);
        reg_session_close(&s);
        if (rc < 0)
                return -1;
        reg_authfile_path(o, path, sizeof(path));
        return reg_authfile_set(path, reg, username, lo.password, err);
}

int reg_logout(const char *registry, const struct reg_opts *o, struct isola_err *err)
{
        char reg[256], path[PATH_MAX];

        reg_authfile_path(o, path, sizeof(path));
        if (!registry)
                return reg_authfile_remove(path, NULL, err);
        if (normalise_registry(registry, reg, sizeof(reg), err) < 0)
                return -1;
        return reg_authfile_remove(path, reg, err);
}
