/* Healthcheck configuration: the image's config.Healthcheck, the stored
 * form in the container row, Docker's inspect shape and the merge of the
 * two (see health.h). */
#include "engine/health.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define TEST_MAX_WORDS 256
#define TEST_MAX_LEN   (64 * 1024)

const char *eng_health_status_name(enum eng_health_status s)
{
        static const char *const names[] = {"", "starting", "healthy", "unhealthy"};
        return (unsigned)s < 4 ? names[s] : "";
}

bool eng_healthcheck_enabled(const struct eng_healthcheck *h)
{
        return h->test && h->test[0] && strcmp(h->test[0], "NONE") != 0;
}

static void strv_free(char **v)
{
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

void eng_healthcheck_free(struct eng_healthcheck *h)
{
        strv_free(h->test);
        memset(h, 0, sizeof(*h));
}

static char **strv_dup(char *const *v)
{
        size_t n = 0;

        while (v && v[n])
                n++;
        char **r = calloc(n + 1, sizeof(*r));
        for (size_t i = 0; r && i < n; i++) {
                r[i] = strdup(v[i]);
                if (!r[i]) {
                        strv_free(r);
                        return NULL;
                }
        }
        return r;
}

void eng_healthcheck_settle(struct eng_healthcheck *cfg, const struct eng_healthcheck *img)
{
        if (!img)
                return;
        if (!cfg->test && img->test)
                cfg->test = strv_dup(img->test);
        if (!cfg->interval)
                cfg->interval = img->interval;
        if (!cfg->timeout)
                cfg->timeout = img->timeout;
        if (!cfg->start_period)
                cfg->start_period = img->start_period;
        if (!cfg->start_interval)
                cfg->start_interval = img->start_interval;
        if (!cfg->retries)
                cfg->retries = img->retries;
}

/* A JSON array of strings, bounded; NULL when it is not one. */
static char **strv_from_json(json_object *a)
{
        size_t n, total = 0;
        char **r;

        if (!a || !json_object_is_type(a, json_type_array))
                return NULL;
        n = json_object_array_length(a);
        if (n == 0 || n > TEST_MAX_WORDS)
                return NULL;
        r = calloc(n + 1, sizeof(*r));
        for (size_t i = 0; r && i < n; i++) {
                json_object *v = json_object_array_get_idx(a, i);
                if (!json_object_is_type(v, json_type_string) ||
                    (total += (size_t)json_object_get_string_len(v)) > TEST_MAX_LEN ||
                    !(r[i] = strdup(json_object_get_string(v)))) {
                        strv_free(r);
                        return NULL;
                }
        }
        return r;
}

static int64_t get_i64(json_object *o, const char *key)
{
        json_object *v;
        int64_t x;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return 0;
        x = json_object_get_int64(v);
        return x > 0 ? x : 0;
}

/* Test must start with NONE, CMD or CMD-SHELL (Docker refuses the rest at
 * run time; we drop it here so a hostile image cannot add a check). */
static bool test_valid(char **t)
{
        if (!t || !t[0])
                return false;
        if (!strcmp(t[0], "NONE"))
                return true;
        if (!strcmp(t[0], "CMD"))
                return t[1] != NULL;
        return !strcmp(t[0], "CMD-SHELL") && t[1] && !t[2];
}

void eng_healthcheck_from_image(const char *config_json, struct eng_healthcheck *h)
{
        json_object *o, *cfg, *hc, *t;

        memset(h, 0, sizeof(*h));
        if (!config_json)
                return;
        o = json_tokener_parse(config_json);
        if (o && json_object_object_get_ex(o, "config", &cfg) &&
            json_object_object_get_ex(cfg, "Healthcheck", &hc) &&
            json_object_is_type(hc, json_type_object)) {
                if (json_object_object_get_ex(hc, "Test", &t)) {
                        h->test = strv_from_json(t);
                        if (!test_valid(h->test)) {
                                strv_free(h->test);
                                h->test = NULL;
                        }
                }
                h->interval = get_i64(hc, "Interval");
                h->timeout = get_i64(hc, "Timeout");
                h->start_period = get_i64(hc, "StartPeriod");
                h->start_interval = get_i64(hc, "StartInterval");
                int64_t r = get_i64(hc, "Retries");
                h->retries = r > 1000000 ? 1000000 : (int)r;
        }
        json_object_put(o);
}

static json_object *strv_json(char **v)
{
        json_object *a = json_object_new_array();

        for (; v && *v; v++)
                json_object_array_add(a, json_object_new_string(*v));
        return a;
}

json_object *eng_healthcheck_to_json(const struct eng_healthcheck *h)
{
        json_object *o;

        if (!h->test && !h->interval && !h->timeout && !h->start_period && !h->start_interval &&
            !h->retries)
                return NULL;
        o = json_object_new_object();
        if (h->test)
                json_object_object_add(o, "test", strv_json(h->test));
        json_object_object_add(o, "interval", json_object_new_int64(h->interval));
        json_object_object_add(o, "timeout", json_object_new_int64(h->timeout));
        json_object_object_add(o, "start_period", json_object_new_int64(h->start_period));
        json_object_object_add(o, "start_interval", json_object_new_int64(h->start_interval));
        json_object_object_add(o, "retries", json_object_new_int(h->retries));
        return o;
}

void eng_healthcheck_from_json(json_object *o, struct eng_healthcheck *h)
{
        json_object *t;

        memset(h, 0, sizeof(*h));
        if (!o || !json_object_is_type(o, json_type_object))
                return;
        if (json_object_object_get_ex(o, "test", &t))
                h->test = strv_from_json(t);
        h->interval = get_i64(o, "interval");
        h->timeout = get_i64(o, "timeout");
        h->start_period = get_i64(o, "start_period");
        h->start_interval = get_i64(o, "start_interval");
        h->retries = (int)get_i64(o, "retries");
}

json_object *eng_healthcheck_docker_json(const struct eng_healthcheck *h)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "Test", strv_json(h->test));
        if (h->interval)
                json_object_object_add(o, "Interval", json_object_new_int64(h->interval));
        if (h->timeout)
                json_object_object_add(o, "Timeout", json_object_new_int64(h->timeout));
        if (h->start_period)
                json_object_object_add(o, "StartPeriod", json_object_new_int64(h->start_period));
        if (h->start_interval)
                json_object_object_add(o, "StartInterval",
                                       json_object_new_int64(h->start_interval));
        if (h->retries)
                json_object_object_add(o, "Retries", json_object_new_int(h->retries));
        return o;
}

int64_t eng_duration_parse(const char *s)
{
        static const struct {
                const char *unit;
                int64_t ns;
        } units[] = {{"ns", 1},
                     {"us", 1000},
                     {"ms", 1000000},
                     {"s", 1000000000LL},
                     {"m", 60 * 1000000000LL},
                     {"h", 3600 * 1000000000LL}};
        int64_t total = 0;
        const char *p = s;

        if (!s || !*s)
                return -1;
        /* a bare number is seconds (podman accepts it) */
        if (strspn(s, "0123456789") == strlen(s))
                return strlen(s) > 9 ? -1 : atoll(s) * 1000000000LL;
        while (*p) {
                char *end;
                double v;
                size_t best = 0, k = 0;

                if (!isdigit((unsigned char)*p) && *p != '.')
                        return -1;
                v = strtod(p, &end);
                if (end == p || v < 0 || v > 1e6)
                        return -1;
                p = end;
                for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                        size_t l = strlen(units[i].unit);
                        if (!strncmp(p, units[i].unit, l) && l > best) {
                                best = l;
                                k = i;
                        }
                }
                if (!best)
                        return -1;
                p += best;
                total += (int64_t)(v * (double)units[k].ns);
                if (total > (int64_t)1e17) /* 3 years: nonsense, and no overflow */
                        return -1;
        }
        return total;
}
