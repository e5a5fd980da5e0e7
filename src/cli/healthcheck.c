/* Healthchecks on the command line: the --health-* flags of create/run,
 * the health part of `ps`, `isola healthcheck run NAME` (podman's verb: 0
 * when the check passed, else "unhealthy" printed and 1) and the internal
 * `isola _health ID` the monitor runs (exit 0 healthy, 1 unhealthy, 2
 * starting, 3 error: the monitor picks its next interval from it). */
#include <errno.h>
#include <stdbool.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/ctr_common.h"
#include "cli/healthcheck.h"
#include "cli/verbs.h"
#include "engine/health.h"

static const char *const flag_names[] = {
    "--health-cmd",          "--health-interval",       "--health-timeout", "--health-retries",
    "--health-start-period", "--health-start-interval", "--no-healthcheck"};

static void set_test(struct eng_config *cfg, const char *a, const char *b)
{
        for (char **p = cfg->health.test; p && *p; p++)
                free(*p);
        free(cfg->health.test);
        cfg->health.test = NULL;
        cli_strv_add(&cfg->health.test, a);
        if (b)
                cli_strv_add(&cfg->health.test, b);
}

/* --health-cmd: a shell command, "none", or podman's JSON array form. */
static int health_cmd(struct eng_config *cfg, const char *arg, struct isola_err *err)
{
        json_object *a;

        if (cfg->health.test && !strcmp(cfg->health.test[0], "NONE"))
                return err_set(err, EINVAL, "--no-healthcheck conflicts with --health-cmd");
        if (!*arg)
                return err_set(err, EINVAL, "--health-cmd: empty command");
        if (!strcasecmp(arg, "none")) {
                set_test(cfg, "NONE", NULL);
                return 0;
        }
        if (arg[0] != '[') {
                set_test(cfg, "CMD-SHELL", arg);
                return 0;
        }
        a = json_tokener_parse(arg);
        size_t n = a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
        if (n == 0) {
                json_object_put(a);
                return err_set(err, EINVAL, "--health-cmd '%s': not a JSON array of strings", arg);
        }
        const char *first = json_object_get_string(json_object_array_get_idx(a, 0));
        bool given = first && (!strcmp(first, "CMD") || !strcmp(first, "CMD-SHELL"));
        /* ["CMD", ...] / ["CMD-SHELL", "..."] as given; a bare array is CMD */
        set_test(cfg, given ? first : "CMD", NULL);
        for (size_t i = given ? 1 : 0; i < n; i++) {
                const char *w = json_object_get_string(json_object_array_get_idx(a, i));
                cli_strv_add(&cfg->health.test, w ? w : "");
        }
        json_object_put(a);
        if (!cfg->health.test[1])
                return err_set(err, EINVAL, "--health-cmd '%s': no command", arg);
        return 0;
}

int cli_health_flag(struct eng_config *cfg, int kind, const char *arg, struct isola_err *err)
{
        int64_t ns = 0;

        if (kind >= 1 && kind <= 5 && kind != 3) {
                /* 0 means the default, as docker's */
                ns = eng_duration_parse(arg);
                if (ns < 0)
                        return err_set(err, EINVAL,
                                       "%s '%s': expected a duration (30s, 1m30s, 500ms)",
                                       flag_names[kind], arg);
        }
        switch (kind) {
        case 0:
                return health_cmd(cfg, arg, err);
        case 1:
                cfg->health.interval = ns;
                break;
        case 2:
                cfg->health.timeout = ns;
                break;
        case 3: {
                char *end;
                long n = strtol(arg, &end, 10);
                if (*end || end == arg || n < 1 || n > 1000000)
                        return err_set(err, EINVAL, "--health-retries '%s': expected 1 or more",
                                       arg);
                cfg->health.retries = (int)n;
                break;
        }
        case 4:
                cfg->health.start_period = ns;
                break;
        case 5:
                cfg->health.start_interval = ns;
                break;
        default:
                if (cfg->health.test && strcmp(cfg->health.test[0], "NONE") != 0)
                        return err_set(err, EINVAL, "--no-healthcheck conflicts with --health-cmd");
                set_test(cfg, "NONE", NULL);
                break;
        }
        return 0;
}

void cli_health_suffix(struct eng_ctx *c, const struct eng_container *ct, char *buf, size_t len)
{
        struct eng_health h;
        struct isola_err ignore = {0};

        buf[0] = '\0';
        if (strcmp(ct->state, "running") != 0 || eng_health_get(c, ct, &h, &ignore) < 0)
                return;
        if (h.status == ENG_HEALTH_STARTING)
                snprintf(buf, len, " (health: starting)");
        else if (h.status != ENG_HEALTH_NONE)
                snprintf(buf, len, " (%s)", eng_health_status_name(h.status));
        eng_health_free(&h);
}

static int health_run(const char *verb, const char *root, const char *ref, bool quiet)
{
        struct isola_err err = {0};
        struct eng_health_result r = {0};
        enum eng_health_status st = ENG_HEALTH_NONE;
        struct eng_ctx c;
        int rc;

        if (cli_eng_open(root, &c) < 0)
                return quiet ? 3 : 125;
        if (eng_health_run(&c, ref, &r, &st, &err) < 0) {
                eng_close(&c);
                if (quiet)
                        return 3;
                cli_fail(verb, &err);
                return 125;
        }
        eng_close(&c);
        free(r.output);
        if (quiet)
                return st == ENG_HEALTH_HEALTHY ? 0 : st == ENG_HEALTH_UNHEALTHY ? 1 : 2;
        /* as podman: "unhealthy" for a failed check, even while the
         * recorded status is still starting (retries left) */
        rc = r.exit_code == 0 ? 0 : 1;
        if (rc)
                puts("unhealthy");
        return rc;
}

/* isola healthcheck run [--root DIR] NAME */
int cli_healthcheck(int argc, char **argv)
{
        const char *root = NULL;
        int i = 2;

        if (argc < 2 || strcmp(argv[1], "run") != 0) {
                fprintf(stderr, "usage: isola healthcheck run [--root DIR] CONTAINER\n");
                return 125;
        }
        for (; i < argc && argv[i][0] == '-'; i++) {
                if (!strcmp(argv[i], "--root") && i + 1 < argc) {
                        root = argv[++i];
                } else if (!strncmp(argv[i], "--root=", 7)) {
                        root = argv[i] + 7;
                } else {
                        fprintf(stderr, "isola healthcheck run: unknown option '%s'\n", argv[i]);
                        return 125;
                }
        }
        if (argc - i != 1) {
                fprintf(stderr, "isola healthcheck run: give exactly one container\n");
                return 125;
        }
        return health_run("healthcheck run", root, argv[i], false);
}

/* isola _health ID: run by the container's monitor */
int cli_internal_health(int argc, char **argv)
{
        if (argc != 2)
                return 3;
        return health_run("_health", NULL, argv[1], true);
}
