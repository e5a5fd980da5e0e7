/* The request router: method + path pattern -> route index. Pure string
 * code, so the fuzzer drives it directly. */
#ifndef ISOLA_API_ROUTER_H
#define ISOLA_API_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#define API_PARAM_MAX  512 /* bytes of one path parameter */
#define API_PARAMS_MAX 2
#define API_PATH_MAX   2048

/* Patterns: literal segments, "{x}" one segment, "{x*}" one or more
 * segments (image names contain '/'), which may only be followed by
 * literal segments. */
struct api_route {
        const char *method;
        const char *pattern;
};

struct api_match {
        int route;       /* index into the table, -1 when none */
        bool bad_method; /* a pattern matched with another method (405) */
        size_t n_params;
        char params[API_PARAMS_MAX][API_PARAM_MAX];
};

/* Strips an optional "/v<major>.<minor>" prefix; returns the rest (a suffix
 * of path) or NULL when the path is not absolute or too long. */
const char *api_strip_version(const char *path);

void api_route_match(const struct api_route *table, size_t n, const char *method, const char *path,
                     struct api_match *m);

#endif
