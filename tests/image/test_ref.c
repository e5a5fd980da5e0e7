/* Image references: docker/podman normalisation and refused names. */
#include <stdio.h>
#include <string.h>

#include "image/image.h"
#include "tap.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct {
        const char *in, *registry, *repo, *tag, *digest, *formatted;
} good[] = {
    {"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
    {"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "docker.io/library/busybox:1.36"},
    {"user/app", "docker.io", "user/app", "latest", "", "docker.io/user/app:latest"},
    {"docker.io/busybox", "docker.io", "library/busybox", "latest", "",
     "docker.io/library/busybox:latest"},
    {"index.docker.io/library/busybox:x", "docker.io", "library/busybox", "x", "",
     "docker.io/library/busybox:x"},
    {"localhost/app", "localhost", "app", "latest", "", "localhost/app:latest"},
    {"localhost:5000/a/b/c:v1.2_3-4", "localhost:5000", "a/b/c", "v1.2_3-4", "",
     "localhost:5000/a/b/c:v1.2_3-4"},
    {"127.0.0.1:5000/x", "127.0.0.1:5000", "x", "latest", "", "127.0.0.1:5000/x:latest"},
    {"quay.io/org/img@sha256:" D64, "quay.io", "org/img", "", "sha256:" D64,
     "quay.io/org/img@sha256:" D64},
    {"quay.io/org/img:t@sha256:" D64, "quay.io", "org/img", "t", "sha256:" D64,
     "quay.io/org/img:t"},
    {"a.b-c__d.e---f", "docker.io", "library/a.b-c__d.e---f", "latest", "",
     "docker.io/library/a.b-c__d.e---f:latest"},
    {"Registry.Example/img", "Registry.Example", "img", "latest", "",
     "Registry.Example/img:latest"},
};

static const struct {
        const char *in, *msg;
} bad[] = {
    {"", "empty"},
    {"Busybox", "lowercase"},
    {"busybox:", "invalid tag"},
    {"busybox:-x", "invalid tag"},
    {"busybox@sha256:abc", "digest"},
    {"busybox@md5:" D64, "digest"},
    {D64, "64-hex"},
    {"a//b", "invalid repository"},
    {"a/b/", "invalid repository"},
    {"-a", "invalid repository"},
    {"a..b", "invalid repository"},
    {"a___b", "invalid repository"},
    {"host:99999999/x", "registry"},
    {"bad_host.com:50/x", "registry"},
    {"x y", "invalid repository"},
    {":tag", "invalid length"},
};

int main(void)
{
        char buf[600];

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                struct img_ref r;
                struct isola_err err = {0};
                int rc = img_ref_parse(good[i].in, &r, &err);
                tap_ok(rc == 0, "parse '%s' (%s)", good[i].in, err.msg);
                if (rc < 0)
                        continue;
                TAP_EQ_STR(r.registry, good[i].registry, "  registry");
                TAP_EQ_STR(r.repo, good[i].repo, "  repo");
                TAP_EQ_STR(r.tag, good[i].tag, "  tag");
                TAP_EQ_STR(r.digest, good[i].digest, "  digest");
                img_ref_format(&r, buf, sizeof(buf));
                TAP_EQ_STR(buf, good[i].formatted, "  formatted");
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct img_ref r;
                struct isola_err err = {0};
                int rc = img_ref_parse(bad[i].in, &r, &err);
                tap_ok(rc < 0 && strstr(err.msg, bad[i].msg) && strstr(err.msg, bad[i].in),
                       "refuse '%s': %s", bad[i].in, err.msg);
        }
        char longname[400];
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        struct img_ref r;
        tap_ok(img_ref_parse(longname, &r, NULL) < 0, "refuse a 399-character name");
        tap_ok(img_digest_valid("sha256:" D64), "digest valid");
        tap_ok(!img_digest_valid("sha256:" D64 "0"), "digest too long");
        tap_ok(!img_digest_valid(
                   "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"),
               "digest upper case");
        return tap_done();
}
