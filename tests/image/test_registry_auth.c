/* Unit tests of what the registry client parses: WWW-Authenticate
 * challenges, token responses, error bodies, header lines and the auth file
 * (lookup, set with mode 0600, remove). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/registry_internal.h"
#include "tap.h"
#include "util/fs.h"

static void test_challenges(void)
{
        struct reg_challenge c;
        struct isola_err err = {0};

        int rc = reg_challenge_parse("Bearer realm=\"https://auth.docker.io/token\","
                                     "service=\"registry.docker.io\","
                                     "scope=\"repository:library/busybox:pull\"",
                                     &c, &err);
        TAP_EQ_INT(rc, 0, "Docker Hub's challenge parses");
        TAP_EQ_INT(c.scheme, REG_AUTH_BEARER, "... as Bearer");
        TAP_EQ_STR(c.realm, "https://auth.docker.io/token", "... realm");
        TAP_EQ_STR(c.service, "registry.docker.io", "... service");
        TAP_EQ_STR(c.scope, "repository:library/busybox:pull", "... scope");

        rc = reg_challenge_parse("basic REALM=\"Registry Realm\"", &c, &err);
        TAP_EQ_INT(rc == 0 && c.scheme == REG_AUTH_BASIC, 1, "Basic, names case-insensitive");
        TAP_EQ_STR(c.realm, "Registry Realm", "... realm with a space");

        rc = reg_challenge_parse("Negotiate, Bearer realm=\"https://a/t\\\"x\",error=invalid_token",
                                 &c, &err);
        TAP_EQ_INT(rc == 0 && c.scheme == REG_AUTH_BEARER, 1, "an unknown scheme is skipped");
        TAP_EQ_STR(c.realm, "https://a/t\"x", "... quoted-pair unescaped");
        TAP_EQ_STR(c.error, "invalid_token", "... token value");

        rc = reg_challenge_parse("Bearer realm=\"https://a/t\", Basic realm=\"b\"", &c, &err);
        TAP_EQ_INT(rc == 0 && c.scheme == REG_AUTH_BEARER, 1, "the first of two challenges wins");
        TAP_EQ_STR(c.realm, "https://a/t", "... its realm is kept");

        TAP_EQ_INT(reg_challenge_parse("Bearer realm=\"file:///etc/passwd\"", &c, &err), -1,
                   "a bearer realm that is not http(s) is refused");
        TAP_EQ_INT(reg_challenge_parse("Bearer realm=\"https://a", &c, &err), -1,
                   "an unterminated quoted string is refused");
        TAP_EQ_INT(reg_challenge_parse("", &c, &err), -1, "an empty header is refused");
        TAP_EQ_INT(reg_challenge_parse("Digest realm=\"x\"", &c, &err), -1,
                   "neither Basic nor Bearer is refused");
}

static void test_tokens(void)
{
        struct isola_err err = {0};
        char *t = NULL;
        int exp = 0;
        const char *j = "{\"token\":\"abc.def\",\"expires_in\":300}";

        TAP_EQ_INT(reg_token_parse(j, strlen(j), &t, &exp, &err), 0, "token response parses");
        TAP_EQ_STR(t, "abc.def", "... token");
        TAP_EQ_INT(exp, 300, "... expires_in");
        free(t);
        j = "{\"access_token\":\"xyz\",\"expires_in\":3}";
        TAP_EQ_INT(reg_token_parse(j, strlen(j), &t, &exp, &err), 0, "access_token is accepted");
        TAP_EQ_INT(exp, 60, "... a lifetime under 60 s is raised to 60");
        free(t);
        j = "{\"token\":\"a b\"}";
        TAP_EQ_INT(reg_token_parse(j, strlen(j), &t, &exp, &err), -1,
                   "a token with a space is refused (it goes into a header)");
        j = "{\"token\":\"a\r\nX-Evil: 1\"}";
        TAP_EQ_INT(reg_token_parse(j, strlen(j), &t, &exp, &err), -1, "... and one with CR LF");
        j = "[1]";
        TAP_EQ_INT(reg_token_parse(j, strlen(j), &t, &exp, &err), -1, "not an object: refused");
}

static void test_errbody(void)
{
        char buf[256];
        const char *j = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest "
                        "unknown\",\"detail\":{\"Tag\":\"x\"}},{\"code\":\"DENIED\"}]}";

        reg_errbody_describe(j, strlen(j), buf, sizeof(buf));
        TAP_EQ_STR(buf, "manifest unknown (MANIFEST_UNKNOWN); DENIED", "error body described");
        j = "{\"errors\":[{\"code\":\"X\",\"message\":\"red\\u001b[31m\"}]}";
        reg_errbody_describe(j, strlen(j), buf, sizeof(buf));
        TAP_EQ_STR(buf, "red?[31m (X)", "control characters are replaced");
        reg_errbody_describe("<html>", 6, buf, sizeof(buf));
        TAP_EQ_STR(buf, "", "a non-JSON body gives nothing");
}

static void test_header(void)
{
        char buf[64];
        const char *l = "docker-content-digest:  sha256:abc \r\n";

        TAP_EQ_INT(reg_header_value(l, strlen(l), "Docker-Content-Digest", buf, sizeof(buf)), 1,
                   "header name matched case-insensitively");
        TAP_EQ_STR(buf, "sha256:abc", "... value trimmed");
        TAP_EQ_INT(reg_header_value(l, strlen(l), "Docker-Content", buf, sizeof(buf)), 0,
                   "a prefix of the name does not match");
}

static void test_authfile(void)
{
        struct isola_err err = {0};
        char dir[] = "/tmp/isola-test-authfile.XXXXXX", path[128];
        char *u = NULL, *p = NULL, *buf = NULL;
        size_t len;
        struct stat st;

        if (!mkdtemp(dir)) {
                tap_skip("mkdtemp failed");
                return;
        }
        snprintf(path, sizeof(path), "%s/sub/auth.json", dir);
        TAP_EQ_INT(reg_authfile_set(path, "r.example:5000", "me", "p:w d", &err), 0,
                   "an entry is written (directories made)");
        TAP_EQ_INT(stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1, 0600,
                   "the auth file is mode 0600");
        TAP_EQ_INT(reg_authfile_set(path, "other:1", "you", "x", &err), 0, "a second entry");
        TAP_EQ_INT(fs_read_file(path, &buf, &len, &err), 0, "the file reads back");
        TAP_EQ_INT(reg_authfile_lookup(buf, len, "r.example:5000", &u, &p, &err), 0,
                   "lookup finds the entry");
        TAP_EQ_STR(u, "me", "... user");
        TAP_EQ_STR(p, "p:w d", "... password with ':' and a space");
        free(u);
        free(p);
        free(buf);
        TAP_EQ_INT(reg_authfile_remove(path, "r.example:5000", &err), 0, "the entry is removed");
        TAP_EQ_INT(fs_read_file(path, &buf, &len, &err), 0, "the file reads back");
        TAP_EQ_INT(reg_authfile_lookup(buf, len, "r.example:5000", &u, &p, &err), -1,
                   "... without the entry");
        TAP_EQ_INT(reg_authfile_lookup(buf, len, "other:1", &u, &p, &err), 0,
                   "... with the other one");
        free(u);
        free(p);
        free(buf);
        TAP_EQ_INT(reg_authfile_remove(path, "r.example:5000", &err), -1,
                   "removing it again: not logged in");
        const char *docker = "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"YTpi\"}}}";
        TAP_EQ_INT(reg_authfile_lookup(docker, strlen(docker), "docker.io", &u, &p, &err), 0,
                   "docker's legacy key matches docker.io");
        free(u);
        free(p);
        const char *bad = "{\"auths\":{\"r\":{\"auth\":\"bm9jb2xvbg==\"}}}";
        TAP_EQ_INT(reg_authfile_lookup(bad, strlen(bad), "r", &u, &p, &err), -1,
                   "an entry without ':' is refused");
        TAP_EQ_INT(reg_authfile_remove(path, NULL, &err), 0, "remove all deletes the file");
        TAP_EQ_INT(access(path, F_OK), -1, "... it is gone");
        snprintf(path, sizeof(path), "%s/sub", dir);
        rmdir(path);
        rmdir(dir);
}

int main(void)
{
        test_challenges();
        test_tokens();
        test_errbody();
        test_header();
        test_authfile();
        return tap_done();
}
