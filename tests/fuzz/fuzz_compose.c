/* Fuzz target: a hostile compose file through the whole model (YAML,
 * anchors, interpolation, merge with an override, extends, binding, checks),
 * then `config` output and an `up` plan; and the same bytes as a .env file
 * and as an interpolation template. The first byte picks the mode. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../compose/mem_files.h"
#include "compose/plan.h"

static void model(const char *data, size_t size, bool with_override)
{
        const struct mem_file files[] = {
            {"/f/compose.yaml", size ? data : "", size},
            {"/f/compose.override.yaml",
             with_override ? "services:\n  web:\n    ports: ['1:1']\n    environment: [A=1]\n" : "",
             0},
            {"/f/.env", "TAG=1\nEMPTY=\n", 0},
            {"/f/other.yaml", size ? data : "", size},
            {NULL, NULL, 0}};
        char *env[] = {"HOME=/root", "X=$", NULL};
        struct cmp_load_opts o = {
            .environ = env, .cwd = "/f", .read = mem_read, .read_ctx = (void *)files};
        struct cmp_project *p = NULL;
        struct isola_err err = {0};
        struct cmp_plan pl;
        char *text = NULL;
        size_t len = 0;
        FILE *f;

        if (!with_override)
                ((struct mem_file *)files)[1].path = "/nonexistent";
        if (cmp_project_load(&o, &p, &err) < 0)
                return;
        f = open_memstream(&text, &len);
        if (f) {
                cmp_emit_project(p, f);
                fclose(f);
        }
        free(text);
        if (cmp_plan_up(p, NULL, 0, NULL, &pl, &err) == 0)
                cmp_plan_free(&pl);
        cmp_project_free(p);
}

static void interp(const char *data, size_t size)
{
        struct cmp_arena a = {0};
        struct cmp_env env = {0};
        struct cmp_warns w = {0};
        struct isola_err err = {0};
        char *out;

        cmp_env_put(&a, &env, "A", "alpha", false);
        cmp_env_put(&a, &env, "E", "", false);
        cmp_interpolate(&a, &env, &w, data, size, &out, "fuzz", &err);
        cmp_dotenv_parse(&a, "fuzz.env", data, size, &env, &env, false, &w, &err);
        cmp_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        switch (data[0] % 3) {
        case 0:
                model((const char *)data + 1, size - 1, false);
                break;
        case 1:
                model((const char *)data + 1, size - 1, true);
                break;
        default:
                interp((const char *)data + 1, size - 1);
        }
        return 0;
}
