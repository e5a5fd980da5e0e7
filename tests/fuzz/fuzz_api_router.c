/* Fuzz target: what an API client sends before any handler runs. The first
 * byte picks the parser: 0 the router (method + path against a table with
 * literal, one-segment and greedy parameters, version prefixes), else the
 * container-create body parser. Nothing may crash; a matched route's
 * parameters are never empty, ".", ".." or longer than the path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

static const struct api_route table[] = {
    {"GET", "/_ping"},
    {"GET", "/containers/{id}/json"},
    {"POST", "/containers/{id}/start"},
    {"DELETE", "/containers/{id}"},
    {"GET", "/images/{name*}/json"},
    {"DELETE", "/images/{name*}"},
    {"POST", "/exec/{id}/start"},
};

static void fuzz_router(const char *s, size_t len)
{
        const char *sp = memchr(s, ' ', len);
        char method[16];
        struct api_match m;

        if (!sp || (size_t)(sp - s) >= sizeof(method))
                return;
        memcpy(method, s, (size_t)(sp - s));
        method[sp - s] = '\0';
        api_route_match(table, ARRAY_SIZE(table), method, sp + 1, &m);
        if (m.route < -1 || m.route >= (int)ARRAY_SIZE(table) || m.n_params > API_PARAMS_MAX)
                abort();
        for (size_t i = 0; m.route >= 0 && i < m.n_params; i++) {
                size_t pl = strnlen(m.params[i], API_PARAM_MAX);
                if (pl == 0 || pl >= API_PARAM_MAX || pl > len || !strcmp(m.params[i], ".") ||
                    !strcmp(m.params[i], ".."))
                        abort();
        }
}

static void fuzz_create(const char *s, size_t len)
{
        struct eng_config cfg;
        struct isola_err err = {0};

        if (api_parse_create(s, len, "fuzz", &cfg, &err) == 0) {
                if (!cfg.image)
                        abort();
                eng_config_free(&cfg);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s;

        if (size < 1 || size > 65536)
                return 0;
        s = malloc(size);
        if (!s)
                return 0;
        memcpy(s, data + 1, size - 1);
        s[size - 1] = '\0';
        if (data[0] % 2 == 0)
                fuzz_router(s, size - 1);
        else
                fuzz_create(s, size - 1);
        free(s);
        return 0;
}
