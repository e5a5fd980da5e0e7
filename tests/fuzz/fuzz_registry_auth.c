/* Fuzz target: what a registry (or a damaged auth file) hands the registry
 * client: WWW-Authenticate challenges, bearer token responses, error
 * bodies, auth.json entries and response header lines. The first byte picks
 * the parser; nothing may crash, and whatever is kept must be clean: no
 * control bytes in messages or tokens, a bearer realm that is an http(s) URL,
 * a user name without ':'. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/registry_internal.h"

static void check_printable(const char *s)
{
        for (; *s; s++) {
                if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
                        abort();
        }
}

static void fuzz_challenge(const char *s)
{
        struct reg_challenge c;
        struct isola_err err = {0};

        if (reg_challenge_parse(s, &c, &err) < 0)
                return;
        if (c.scheme == REG_AUTH_NONE)
                abort();
        if (c.scheme == REG_AUTH_BEARER && strncmp(c.realm, "http", 4))
                abort();
        if (strlen(c.realm) >= sizeof(c.realm) || strlen(c.scope) >= sizeof(c.scope))
                abort();
}

static void fuzz_token(const char *s, size_t n)
{
        struct isola_err err = {0};
        char *token = NULL;
        int expires = 0;

        if (reg_token_parse(s, n, &token, &expires, &err) < 0)
                return;
        if (expires < 60 || expires > 86400 || strchr(token, ' '))
                abort();
        check_printable(token);
        free(token);
}

static void fuzz_errbody(const char *s, size_t n)
{
        char buf[512];

        reg_errbody_describe(s, n, buf, sizeof(buf));
        check_printable(buf);
}

static void fuzz_authfile(const char *s, size_t n)
{
        struct isola_err err = {0};
        char *user = NULL, *pass = NULL;

        if (reg_authfile_lookup(s, n, "registry.example:5000", &user, &pass, &err) < 0)
                return;
        if (strchr(user, ':'))
                abort();
        free(user);
        free(pass);
}

static void fuzz_header(const char *s, size_t n)
{
        char buf[256];

        if (reg_header_value(s, n, "WWW-Authenticate", buf, sizeof(buf)))
                check_printable(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        char *s = malloc(size);
        if (!s)
                return 0;
        size_t n = size - 1;
        memcpy(s, data + 1, n);
        s[n] = '\0'; /* the parsers that take C strings see a terminated copy */
        switch (data[0] % 5) {
        case 0:
                fuzz_challenge(s);
                break;
        case 1:
                fuzz_token(s, n);
                break;
        case 2:
                fuzz_errbody(s, n);
                break;
        case 3:
                fuzz_authfile(s, n);
                break;
        default:
                fuzz_header(s, n);
                break;
        }
        free(s);
        return 0;
}
