/* Unit tests of the healthcheck configuration (src/engine/health_config.c):
 * Go durations, the image's Healthcheck, Docker's per-field merge, the
 * stored form's round trip. */
#include <stdlib.h>
#include <string.h>

#include "engine/health.h"
#include "tap.h"

static void durations(void)
{
        static const struct {
                const char *in;
                long long ns;
        } cases[] = {
            {"30s", 30000000000LL},
            {"1m30s", 90000000000LL},
            {"500ms", 500000000LL},
            {"1.5s", 1500000000LL},
            {"2h", 7200000000000LL},
            {"10", 10000000000LL},
            {"250us", 250000LL},
            {"7ns", 7LL},
            {"0", 0LL},
            {"", -1},
            {"soon", -1},
            {"5", 5000000000LL},
            {"3x", -1},
            {"-1s", -1},
            {"1s2", -1},
            {"999999h999999h", -1},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                tap_ok(eng_duration_parse(cases[i].in) == cases[i].ns, "duration '%s' = %lld",
                       cases[i].in, cases[i].ns);
}

static void image_and_merge(void)
{
        struct eng_healthcheck img, cfg = {0}, back;
        json_object *j;

        eng_healthcheck_from_image(
            "{\"config\":{\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"check\"],"
            "\"Interval\":2000000000,\"Timeout\":1000000000,\"Retries\":4}}}",
            &img);
        tap_ok(img.test && !strcmp(img.test[0], "CMD-SHELL") && !strcmp(img.test[1], "check") &&
                   img.interval == 2000000000 && img.timeout == 1000000000 && img.retries == 4,
               "image config Healthcheck read");
        cfg.interval = 5000000000;
        eng_healthcheck_settle(&cfg, &img);
        tap_ok(cfg.test && !strcmp(cfg.test[1], "check") && cfg.interval == 5000000000 &&
                   cfg.timeout == 1000000000 && cfg.retries == 4,
               "merge: the flag wins per field, the image fills the rest");
        j = eng_healthcheck_to_json(&cfg);
        eng_healthcheck_from_json(j, &back);
        tap_ok(back.test && !strcmp(back.test[0], "CMD-SHELL") && back.interval == cfg.interval &&
                   back.retries == 4 && eng_healthcheck_enabled(&back),
               "stored form round trip");
        json_object_put(j);
        eng_healthcheck_free(&back);
        eng_healthcheck_free(&cfg);
        eng_healthcheck_free(&img);

        eng_healthcheck_from_image("{\"config\":{\"Healthcheck\":{\"Test\":[\"NONE\"]}}}", &img);
        tap_ok(img.test && !eng_healthcheck_enabled(&img), "image NONE: disabled");
        eng_healthcheck_free(&img);
        eng_healthcheck_from_image("{\"config\":{\"Healthcheck\":{\"Test\":[\"rm\",\"-rf\"]}}}",
                                   &img);
        tap_ok(!img.test, "image test not starting with NONE/CMD/CMD-SHELL: ignored");
        eng_healthcheck_free(&img);
        eng_healthcheck_from_image("{\"config\":{}}", &img);
        tap_ok(!img.test && !eng_healthcheck_to_json(&img), "no Healthcheck: nothing stored");
        tap_ok(!strcmp(eng_health_status_name(ENG_HEALTH_STARTING), "starting") &&
                   !strcmp(eng_health_status_name(ENG_HEALTH_UNHEALTHY), "unhealthy"),
               "status names");
}

int main(void)
{
        durations();
        image_and_merge();
        return tap_done();
}
