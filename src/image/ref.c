/* Image references: [registry[:port]/]path[:tag][@sha256:hex], parsed and
 * normalised the way docker and podman do (docker.io default registry,
 * "library/" for single-component docker.io names, "latest" default tag). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "image/image.h"

#define REF_NAME_MAX 255 /* docker's limit on registry/path */
#define REF_TAG_MAX  128

bool img_digest_valid(const char *s)
{
        if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
                return false;
        for (const char *p = s + 7; *p; p++) {
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        }
        return true;
}

static bool is_lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A path component: [a-z0-9]+ joined by '.', '_', '__' or any run of '-'. */
static bool path_component_valid(const char *s, size_t len)
{
        size_t i = 0;

        if (len == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
                return false;
        while (i < len) {
                if (is_lower_alnum(s[i])) {
                        i++;
                        continue;
                }
                size_t run = 0;
                char sep = s[i];
                while (i + run < len && !is_lower_alnum(s[i + run]))
                        run++;
                if (sep == '-') {
                        for (size_t k = 0; k < run; k++) {
                                if (s[i + k] != '-')
                                        return false;
                        }
                } else if (!((sep == '.' && run == 1) ||
                             (sep == '_' && run <= 2 && (run == 1 || s[i + 1] == '_')))) {
                        return false;
                }
                i += run;
        }
        return true;
}

/* host[:port]: DNS labels of [A-Za-z0-9-] joined by '.', then digits. */
static bool domain_valid(const char *s, size_t len)
{
        const char *colon = memchr(s, ':', len);
        size_t host_len = colon ? (size_t)(colon - s) : len;
        bool label_start = true;

        if (host_len == 0)
                return false;
        for (size_t i = 0; i < host_len; i++) {
                char c = s[i];
                if (c == '.') {
                        if (label_start || s[i - 1] == '-')
                                return false;
                        label_start = true;
                        continue;
                }
                if (!isalnum((unsigned char)c) && c != '-')
                        return false;
                if (label_start && c == '-')
                        return false;
                label_start = false;
        }
        if (label_start || s[host_len - 1] == '-')
                return false;
        if (colon) {
                size_t plen = len - host_len - 1;
                if (plen == 0 || plen > 5)
                        return false;
                for (size_t i = host_len + 1; i < len; i++) {
                        if (!isdigit((unsigned char)s[i]))
                                return false;
                }
        }
        return true;
}

static bool tag_valid(const char *s)
{
        size_t len = strlen(s);

        if (len == 0 || len > REF_TAG_MAX)
                return false;
        if (!(isalnum((unsigned char)s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 1; i < len; i++) {
                char c = s[i];
                if (!(isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-'))
                        return false;
        }
        return true;
}

static bool all_hex64(const char *s)
{
        if (strlen(s) != 64)
                return false;
        for (; *s; s++) {
                if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
                        return false;
        }
        return true;
}

/* Splits name (no tag, no digest) into registry and repository path. */
static int split_name(const char *in, const char *name, struct img_ref *out, struct isola_err *err)
{
        const char *slash = strchr(name, '/');
        const char *path = name;
        size_t dlen = 0;

        if (slash) {
                dlen = (size_t)(slash - name);
                bool is_domain = memchr(name, '.', dlen) || memchr(name, ':', dlen) ||
                                 (dlen == 9 && !strncmp(name, "localhost", 9));
                for (size_t i = 0; i < dlen && !is_domain; i++) {
                        if (isupper((unsigned char)name[i]))
                                is_domain = true;
                }
                if (is_domain) {
                        if (!domain_valid(name, dlen))
                                return err_set(err, EINVAL, "image name '%s': invalid registry",
                                               in);
                        path = slash + 1;
                } else {
                        dlen = 0;
                }
        }
        if (dlen == 0 || (dlen == 15 && !strncmp(name, "index.docker.io", 15)))
                snprintf(out->registry, sizeof(out->registry), "docker.io");
        else
                snprintf(out->registry, sizeof(out->registry), "%.*s", (int)dlen, name);

        for (const char *c = path;;) {
                const char *e = strchr(c, '/');
                size_t clen = e ? (size_t)(e - c) : strlen(c);
                if (!path_component_valid(c, clen)) {
                        for (size_t i = 0; i < clen; i++) {
                                if (isupper((unsigned char)c[i]))
                                        return err_set(err, EINVAL,
                                                       "image name '%s': repository name must "
                                                       "be lowercase",
                                                       in);
                        }
                        return err_set(err, EINVAL, "image name '%s': invalid repository name", in);
                }
                if (!e)
                        break;
                c = e + 1;
        }
        if (!strcmp(out->registry, "docker.io") && !strchr(path, '/'))
                snprintf(out->repo, sizeof(out->repo), "library/%s", path);
        else
                snprintf(out->repo, sizeof(out->repo), "%s", path);
        if (strlen(out->registry) + 1 + strlen(out->repo) > REF_NAME_MAX)
                return err_set(err, EINVAL, "image name '%s': longer than %d characters", in,
                               REF_NAME_MAX);
        return 0;
}

int img_ref_parse(const char *s, struct img_ref *out, struct isola_err *err)
{
        char name[REF_NAME_MAX + 1];
        const char *at, *colon, *slash;
        size_t nlen;

        memset(out, 0, sizeof(*out));
        if (!s || !s[0])
                return err_set(err, EINVAL, "image name '': empty");
        if (strlen(s) > REF_NAME_MAX + 1 + REF_TAG_MAX + IMG_DIGEST_MAX)
                return err_set(err, EINVAL, "image name '%.64s...': too long", s);
        if (all_hex64(s))
                return err_set(err, EINVAL, "image name '%s': a 64-hex string is an id, not a name",
                               s);
        at = strchr(s, '@');
        if (at) {
                if (!img_digest_valid(at + 1))
                        return err_set(err, EINVAL,
                                       "image name '%s': digest must be sha256:<64 hex>", s);
                snprintf(out->digest, sizeof(out->digest), "%s", at + 1);
        }
        nlen = at ? (size_t)(at - s) : strlen(s);
        if (nlen == 0 || nlen > REF_NAME_MAX + 1 + REF_TAG_MAX)
                return err_set(err, EINVAL, "image name '%s': invalid length", s);
        char full[REF_NAME_MAX + 1 + REF_TAG_MAX + 1];
        snprintf(full, sizeof(full), "%.*s", (int)nlen, s);
        colon = strrchr(full, ':');
        slash = strrchr(full, '/');
        if (colon && (!slash || colon > slash)) {
                if (!tag_valid(colon + 1))
                        return err_set(err, EINVAL, "image name '%s': invalid tag '%s'", s,
                                       colon + 1);
                snprintf(out->tag, sizeof(out->tag), "%s", colon + 1);
                nlen = (size_t)(colon - full);
        }
        if (nlen == 0 || nlen > REF_NAME_MAX)
                return err_set(err, EINVAL, "image name '%s': invalid length", s);
        snprintf(name, sizeof(name), "%.*s", (int)nlen, full);
        if (split_name(s, name, out, err) < 0)
                return -1;
        if (!out->tag[0] && !out->digest[0])
                snprintf(out->tag, sizeof(out->tag), "latest");
        return 0;
}

void img_ref_format(const struct img_ref *r, char *buf, size_t len)
{
        if (r->tag[0])
                snprintf(buf, len, "%s/%s:%s", r->registry, r->repo, r->tag);
        else
                snprintf(buf, len, "%s/%s@%s", r->registry, r->repo, r->digest);
}
