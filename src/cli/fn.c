/* isola fn: deploy, ls, inspect, rm (rows); invoke, serve, logs, usage are in
 * fn_run.c. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/fn.h"
#include "cli/verbs.h"
#include "fn/fn.h"

int cli_fn_open(const char *verb, struct db_paths *p, sqlite3 **db)
{
        struct isola_err err = {0};

        if (db_paths_resolve(NULL, p, &err) < 0 || db_open(p, db, &err) < 0) {
                fprintf(stderr, "isola fn %s: %s\n", verb, err.msg);
                return -1;
        }
        return 0;
}

static int parse_int(const char *opt, const char *s, int *out)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || end == s || v < -1000000000L || v > 1000000000L) {
                fprintf(stderr, "isola fn deploy: %s '%s': not an integer\n", opt, s);
                return -1;
        }
        *out = (int)v;
        return 0;
}

static int push(char ***v, const char *s)
{
        size_t n = 0;
        while (*v && (*v)[n])
                n++;
        char **nv = realloc(*v, (n + 2) * sizeof(char *));
        if (!nv)
                return -1;
        nv[n] = strdup(s);
        nv[n + 1] = NULL;
        *v = nv;
        return nv[n] ? 0 : -1;
}

static const struct option deploy_opts[] = {
    {"image", required_argument, NULL, 'i'},
    {"mode", required_argument, NULL, 'M'},
    {"port", required_argument, NULL, 'p'},
    {"memory", required_argument, NULL, 'm'},
    {"cpus", required_argument, NULL, 'c'},
    {"timeout", required_argument, NULL, 't'},
    {"concurrency", required_argument, NULL, 'C'},
    {"min", required_argument, NULL, 'n'},
    {"max", required_argument, NULL, 'x'},
    {"idle", required_argument, NULL, 'I'},
    {"queue", required_argument, NULL, 'q'},
    {"env", required_argument, NULL, 'e'},
    {"isolation", required_argument, NULL, 'S'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int deploy_opt(struct fn_config *c, int opt, const char *a)
{
        char *end;
        switch (opt) {
        case 'i':
                snprintf(c->image, sizeof(c->image), "%s", a);
                return 0;
        case 'M':
                if (!strcmp(a, "http") || !strcmp(a, "stdio")) {
                        c->mode = a[0] == 'h' ? FN_MODE_HTTP : FN_MODE_STDIO;
                        return 0;
                }
                fprintf(stderr, "isola fn deploy: --mode '%s': use http or stdio\n", a);
                return -1;
        case 'p':
                return parse_int("--port", a, &c->port);
        case 'm':
                return parse_int("--memory", a, &c->memory_mib);
        case 'c':
                c->cpus = strtod(a, &end);
                if (*end || end == a) {
                        fprintf(stderr, "isola fn deploy: --cpus '%s': not a number\n", a);
                        return -1;
                }
                return 0;
        case 't':
                return parse_int("--timeout", a, &c->timeout_s);
        case 'C':
                return parse_int("--concurrency", a, &c->concurrency);
        case 'n':
                return parse_int("--min", a, &c->min);
        case 'x':
                return parse_int("--max", a, &c->max);
        case 'I':
                return parse_int("--idle", a, &c->idle_s);
        case 'q':
                return parse_int("--queue", a, &c->queue);
        case 'e':
                return push(&c->env, a);
        case 'S':
                if (!strcmp(a, "container"))
                        return 0;
                fprintf(stderr, "isola fn deploy: --isolation '%s': only 'container' exists\n", a);
                return -1;
        default:
                return -1;
        }
}

static int fn_deploy_cmd(int argc, char **argv)
{
        struct fn_config c;
        struct db_paths p;
        struct isola_err err = {0};
        sqlite3 *db;
        int opt, rc = 1;

        fn_config_defaults(&c);
        while ((opt = getopt_long(argc, argv, "i:e:", deploy_opts, NULL)) != -1) {
                if (opt == 'h' || opt == '?') {
                        fprintf(opt == 'h' ? stdout : stderr,
                                "usage: isola fn deploy NAME --image IMAGE [--mode http|stdio] "
                                "[--port N] [--memory MIB] [--cpus N] [--timeout S] "
                                "[--concurrency N] [--min N] [--max N] [--idle S] [--queue N] "
                                "[--env K=V]... [--isolation container] [-- COMMAND...]\n");
                        fn_config_free(&c);
                        return opt == 'h' ? 0 : 2;
                }
                if (deploy_opt(&c, opt, optarg) < 0)
                        goto out;
        }
        if (optind >= argc || !c.image[0]) {
                fprintf(stderr, "isola fn deploy: need NAME and --image IMAGE\n");
                goto out;
        }
        snprintf(c.name, sizeof(c.name), "%s", argv[optind++]);
        if (optind < argc && !strcmp(argv[optind], "--"))
                optind++;
        for (; optind < argc; optind++)
                if (push(&c.args, argv[optind]) < 0)
                        goto out;
        if (cli_fn_open("deploy", &p, &db) < 0)
                goto out;
        if (fn_deploy(&p, db, &c, &err) < 0)
                fprintf(stderr, "isola fn deploy: %s\n", err.msg);
        else {
                printf("%s\n", c.name);
                rc = 0;
        }
        db_close(db);
out:
        fn_config_free(&c);
        return rc;
}

static int fn_ls(int argc, char **argv)
{
        struct db_paths p;
        struct isola_err err = {0};
        struct fn_config *l;
        size_t n;
        sqlite3 *db;
        bool quiet = argc > 1 && !strcmp(argv[1], "-q");

        if (cli_fn_open("ls", &p, &db) < 0)
                return 1;
        if (fn_list(db, &l, &n, &err) < 0) {
                fprintf(stderr, "isola fn ls: %s\n", err.msg);
                db_close(db);
                return 1;
        }
        if (!quiet)
                printf("%-24s %-32s %-6s %-6s %-8s %-5s %-5s\n", "NAME", "IMAGE", "MODE", "PORT",
                       "MEMORY", "MIN", "MAX");
        for (size_t i = 0; i < n; i++)
                if (quiet)
                        printf("%s\n", l[i].name);
                else
                        printf("%-24s %-32.32s %-6s %-6d %-8d %-5d %-5d\n", l[i].name, l[i].image,
                               l[i].mode == FN_MODE_HTTP ? "http" : "stdio", l[i].port,
                               l[i].memory_mib, l[i].min, l[i].max);
        fn_list_free(l, n);
        db_close(db);
        return 0;
}

static int fn_inspect(int argc, char **argv)
{
        struct db_paths p;
        struct isola_err err = {0};
        struct fn_config c;
        sqlite3 *db;
        int rc = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: isola fn inspect NAME...\n");
                return 2;
        }
        if (cli_fn_open("inspect", &p, &db) < 0)
                return 1;
        for (int i = 1; i < argc; i++) {
                if (fn_get(db, argv[i], &c, &err) < 0) {
                        fprintf(stderr, "isola fn inspect: %s\n", err.msg);
                        rc = 1;
                        continue;
                }
                char *j = fn_config_json(&c);
                printf("%s\n", j ? j : "{}");
                free(j);
                fn_config_free(&c);
        }
        db_close(db);
        return rc;
}

/* Instances live in the gateway that made them; it sees the row go within
 * half a second and removes them. fn rm waits (bounded) for that. */
static bool has_instances(const char *dir)
{
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s", dir);
        FILE *m = fopen("/proc/self/mountinfo", "r");
        char line[8192];
        bool found = false;
        while (m && fgets(line, sizeof(line), m))
                if (strstr(line, path))
                        found = true;
        if (m)
                fclose(m);
        return found;
}

static int fn_rm(int argc, char **argv)
{
        struct db_paths p;
        struct isola_err err = {0};
        sqlite3 *db;
        int rc = 0;
        char dir[PATH_MAX + 80], addr[128];

        if (argc < 2) {
                fprintf(stderr, "usage: isola fn rm NAME...\n");
                return 2;
        }
        if (cli_fn_open("rm", &p, &db) < 0)
                return 1;
        for (int i = 1; i < argc; i++) {
                if (fn_delete(db, argv[i], &err) < 0) {
                        fprintf(stderr, "isola fn rm: %s\n", err.msg);
                        rc = 1;
                        continue;
                }
                snprintf(dir, sizeof(dir), "%s/fn/%s/", p.runroot, argv[i]);
                bool gw = cli_fn_gateway_addr(&p, addr, sizeof(addr)) == 0;
                for (int t = 0; gw && t < 200 && has_instances(dir); t++) {
                        struct timespec ts = {0, 50 * 1000000};
                        nanosleep(&ts, NULL);
                }
                if (has_instances(dir)) {
                        fprintf(stderr,
                                "isola fn rm: function '%s': instances still mounted "
                                "under %s\n",
                                argv[i], dir);
                        rc = 1;
                        continue;
                }
                char log[PATH_MAX + 90];
                snprintf(log, sizeof(log), "%slog", dir);
                unlink(log);
                dir[strlen(dir) - 1] = 0;
                rmdir(dir);
                printf("%s\n", argv[i]);
        }
        db_close(db);
        return rc;
}

int cli_fn(int argc, char **argv)
{
        static const struct cli_verb sub[] = {
            {"deploy", fn_deploy_cmd},
            {"ls", fn_ls},
            {"list", fn_ls},
            {"inspect", fn_inspect},
            {"rm", fn_rm},
            {"invoke", cli_fn_invoke},
            {"serve", cli_fn_serve},
            {"logs", cli_fn_logs},
            {"usage", cli_fn_usage},
            {NULL, NULL},
        };
        if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                fprintf(argc < 2 ? stderr : stdout,
                        "usage: isola fn deploy|ls|inspect|rm|invoke|logs|usage|serve ...\n");
                return argc < 2 ? 2 : 0;
        }
        for (const struct cli_verb *v = sub; v->name; v++)
                if (!strcmp(v->name, argv[1])) {
                        optind = 1;
                        return v->run(argc - 1, argv + 1);
                }
        fprintf(stderr, "isola fn: unknown verb '%s'\n", argv[1]);
        return 2;
}
