/* Fuzz target: the client-given inputs of the event and container-list
 * routes. The first byte picks the parser: 0 Docker's events filters (then
 * matched against a fixed event), 1 the since/until time forms, 2 the
 * container-list filters (then matched), else a create body's Labels.
 * Nothing may crash or leak; accepted filters keep their bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/labels.h"
#include "engine/events.h"

static void fuzz_event_filters(const char *s)
{
        struct eng_event_filter f = {0};
        struct isola_err err = {0};
        json_object *attrs = json_tokener_parse("{\"name\":\"web\",\"image\":\"busybox\","
                                                "\"exitCode\":\"3\",\"a.b\":\"c\"}");
        struct eng_event_row ev = {.id = 1,
                                   .time_ns = 1700000000000000000,
                                   .type = "container",
                                   .action = "health_status: healthy",
                                   .actor = "0123456789abcdef",
                                   .attrs = attrs};

        if (eng_event_filter_parse(s, &f, &err) == 0) {
                eng_event_match(&f, &ev);
                json_object_put(eng_event_docker_json(&ev));
        } else if (!err.msg[0]) {
                abort(); /* a refusal always says why */
        }
        eng_event_filter_free(&f);
        json_object_put(attrs);
}

static void fuzz_time(const char *s)
{
        struct isola_err err = {0};
        int64_t t = 0;

        if (eng_event_time_parse(s, 1700000000000000000, &t, &err) < 0 && !err.msg[0])
                abort();
}

static void fuzz_ctr_filters(const char *s)
{
        struct isola_err err = {0};
        json_object *f = NULL,
                    *labels = json_tokener_parse("{\"com.docker.compose.project\":\"p\"}");

        if (api_ctr_filter_parse(s, &f, &err) == 0)
                api_ctr_filter_match(f, "0123456789abcdef", "web", "running", labels);
        else if (!err.msg[0])
                abort();
        json_object_put(f);
        json_object_put(labels);
}

static void fuzz_labels(const char *s)
{
        struct isola_err err = {0};
        json_object *o = json_tokener_parse(s);

        api_labels_check(o, &err);
        json_object_put(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s;

        if (size < 1 || size > (1u << 16))
                return 0;
        s = malloc(size);
        if (!s)
                return 0;
        memcpy(s, data + 1, size - 1);
        s[size - 1] = '\0';
        switch (data[0] % 4) {
        case 0:
                fuzz_event_filters(s);
                break;
        case 1:
                fuzz_time(s);
                break;
        case 2:
                fuzz_ctr_filters(s);
                break;
        default:
                fuzz_labels(s);
        }
        free(s);
        return 0;
}
