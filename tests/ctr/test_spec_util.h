/* Helpers shared by the test_spec*.c unit tests: parse a config and check
 * success, or check that parsing fails with a message naming the field. */
#ifndef ISOLA_TESTS_CTR_TEST_SPEC_UTIL_H
#define ISOLA_TESTS_CTR_TEST_SPEC_UTIL_H

#include <string.h>

#include "ctr/spec.h"
#include "tap.h"

/* A minimal valid config with `extra` members appended. */
#define CFG(extra)  "{\"ociVersion\": \"1.1.0\", \"root\": {\"path\": \"rootfs\"}" extra "}"
#define PROC(extra) ", \"process\": {\"args\": [\"/bin/true\"], \"cwd\": \"/\"" extra "}"

static inline struct spec *parse_ok(const char *json, const char *name)
{
        struct isola_err err = {0};
        struct spec *spec = NULL;
        int rc = spec_parse(json, strlen(json), &spec, &err);

        tap_ok(rc == 0 && spec, "%s parses", name);
        if (rc < 0)
                printf("#   error: %s\n", err.msg);
        return rc == 0 ? spec : NULL;
}

/* The message must contain `want` (the JSON path and the problem). */
static inline void parse_fails(const char *json, const char *want, const char *name)
{
        struct isola_err err = {0};
        struct spec *spec = NULL;
        int rc = spec_parse(json, strlen(json), &spec, &err);

        tap_ok(rc < 0 && !spec && strstr(err.msg, want), "%s is rejected naming '%s'", name, want);
        if (rc == 0 || !strstr(err.msg, want))
                printf("#   rc %d, message: %s\n", rc, err.msg);
        spec_free(spec);
}

#endif
