/* Fuzz target: an image config's Healthcheck (hostile image content) and
 * the duration strings of --health-* flags and compose files. Input: the
 * config JSON; its first line is also tried as a duration. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/health.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *buf = malloc(size + 1), *nl;
        struct eng_healthcheck img, cfg = {0}, back;
        json_object *j;

        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = '\0';
        eng_healthcheck_from_image(buf, &img);
        /* what create does with it: merge, store, re-read, show */
        eng_healthcheck_settle(&cfg, &img);
        j = eng_healthcheck_to_json(&cfg);
        eng_healthcheck_from_json(j, &back);
        if (eng_healthcheck_enabled(&cfg) != eng_healthcheck_enabled(&back))
                abort();
        json_object_put(j);
        json_object_put(eng_healthcheck_docker_json(&back));
        nl = strchr(buf, '\n');
        if (nl)
                *nl = '\0';
        if (eng_duration_parse(buf) < -1)
                abort();
        eng_healthcheck_free(&img);
        eng_healthcheck_free(&cfg);
        eng_healthcheck_free(&back);
        free(buf);
        return 0;
}
