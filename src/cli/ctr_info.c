/* `isola ps|inspect|logs|top|stats`. */
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/ctr_common.h"
#include "cli/healthcheck.h"
#include "cli/verbs.h"

enum { OPT_ROOT = 256, OPT_FORMAT, OPT_TAIL, OPT_NO_STREAM, OPT_NO_TRUNC };

struct info_args {
        const char *root, *format;
        bool all, quiet, follow, timestamps, no_stream, no_trunc;
        long tail;
};

static int parse_info(int argc, char **argv, struct info_args *a, int min_args)
{
        static const struct option opts[] = {{"root", required_argument, NULL, OPT_ROOT},
                                             {"format", required_argument, NULL, OPT_FORMAT},
                                             {"all", no_argument, NULL, 'a'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"follow", no_argument, NULL, 'f'},
                                             {"timestamps", no_argument, NULL, 't'},
                                             {"tail", required_argument, NULL, OPT_TAIL},
                                             {"no-stream", no_argument, NULL, OPT_NO_STREAM},
                                             {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
                                             {NULL, 0, NULL, 0}};
        int opt;

        a->tail = -1;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, "+aqftn:", opts, NULL)) != -1) {
                switch (opt) {
                case OPT_ROOT:
                        a->root = optarg;
                        break;
                case OPT_FORMAT:
                        a->format = optarg;
                        break;
                case 'a':
                        a->all = true;
                        break;
                case 'q':
                        a->quiet = true;
                        break;
                case 'f':
                        a->follow = true;
                        break;
                case 't':
                        a->timestamps = true;
                        break;
                case 'n':
                case OPT_TAIL:
                        a->tail = strcmp(optarg, "all") ? atol(optarg) : -1;
                        break;
                case OPT_NO_STREAM:
                        a->no_stream = true;
                        break;
                case OPT_NO_TRUNC:
                        a->no_trunc = true;
                        break;
                default:
                        fprintf(stderr, "isola %s: unknown option '%s'\n", argv[0],
                                argv[optind - 1]);
                        return -1;
                }
        }
        if (argc - optind < min_args) {
                fprintf(stderr, "isola %s: missing container name or id\n", argv[0]);
                return -1;
        }
        return 0;
}

static void join_args(json_object *v, char *buf, size_t len, size_t *k)
{
        for (size_t i = 0; v && i < json_object_array_length(v) && *k < len; i++)
                *k += (size_t)snprintf(buf + *k, len - *k, "%s%s", *k ? " " : "",
                                       json_object_get_string(json_object_array_get_idx(v, i)));
}

/* The command as asked for (entrypoint + cmd); when both came from the
 * image, the one the container runs, from its bundle's process.args. */
static void command_of(const struct eng_ctx *c, const struct eng_container *ct, char *buf,
                       size_t len)
{
        json_object *o = json_tokener_parse(ct->config_json), *v;
        size_t k = 0;

        buf[0] = '\0';
        for (int pass = 0; pass < 2 && o; pass++) {
                if (json_object_object_get_ex(o, pass ? "cmd" : "entrypoint", &v))
                        join_args(v, buf, len, &k);
        }
        json_object_put(o);
        if (k == 0) {
                char path[PATH_MAX + 96];
                json_object *proc;
                snprintf(path, sizeof(path), "%s/containers/%s/config.json", c->paths.root, ct->id);
                o = json_object_from_file(path);
                if (o && json_object_object_get_ex(o, "process", &proc) &&
                    json_object_object_get_ex(proc, "args", &v))
                        join_args(v, buf, len, &k);
                json_object_put(o);
        }
}

static void status_of(const struct eng_container *ct, char *buf, size_t len)
{
        char ago[64];

        if (!strcmp(ct->state, "running") || !strcmp(ct->state, "paused")) {
                cli_ago(ct->started, ago, sizeof(ago));
                char *suffix = strstr(ago, " ago");
                if (suffix)
                        *suffix = '\0'; /* "Up 5 seconds", as docker */
                snprintf(buf, len, "Up %s%s", ago, ct->state[0] == 'p' ? " (Paused)" : "");
        } else if (!strcmp(ct->state, "exited")) {
                cli_ago(ct->finished, ago, sizeof(ago));
                snprintf(buf, len, "Exited (%d) %s", ct->exit_code, ago);
        } else {
                snprintf(buf, len, "Created");
        }
}

static void ps_json(struct eng_ctx *c, struct eng_container **l, size_t n, bool all)
{
        json_object *a = json_object_new_array();
        char buf[512];

        for (size_t i = 0; i < n; i++) {
                struct eng_container *ct = l[i];
                if (!all && strcmp(ct->state, "running") != 0 && strcmp(ct->state, "paused") != 0)
                        continue;
                json_object *o = json_object_new_object(), *names = json_object_new_array();
                json_object_object_add(o, "Id", json_object_new_string(ct->id));
                json_object_array_add(names, json_object_new_string(ct->name));
                json_object_object_add(o, "Names", names);
                json_object_object_add(
                    o, "Image", json_object_new_string(ct->image_name ? ct->image_name : ""));
                command_of(c, ct, buf, sizeof(buf));
                json_object_object_add(o, "Command", json_object_new_string(buf));
                json_object_object_add(o, "State", json_object_new_string(ct->state));
                status_of(ct, buf, sizeof(buf));
                cli_health_suffix(c, ct, buf + strlen(buf), sizeof(buf) - strlen(buf));
                json_object_object_add(o, "Status", json_object_new_string(buf));
                json_object_object_add(o, "Created",
                                       json_object_new_int64(ct->created / 1000000000));
                json_object_object_add(o, "ExitCode", json_object_new_int(ct->exit_code));
                json_object_object_add(o, "Pid", json_object_new_int(ct->pid));
                json_object_object_add(o, "RestartCount", json_object_new_int(ct->restart_count));
                json_object_array_add(a, o);
        }
        puts(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(a);
}

int cli_ps(int argc, char **argv)
{
        struct info_args a = {0};
        struct isola_err err = {0};
        struct eng_container **l = NULL;
        struct eng_ctx c;
        size_t n = 0;
        char cmd[64], status[64], created[64];

        if (parse_info(argc, argv, &a, 0) < 0)
                return 125;
        if (cli_eng_open(a.root, &c) < 0)
                return 125;
        if (eng_list(&c, &l, &n, &err) < 0) {
                eng_close(&c);
                return cli_fail("ps", &err);
        }
        if (a.format && !strcmp(a.format, "json")) {
                ps_json(&c, l, n, a.all);
        } else {
                if (!a.quiet)
                        printf("%-12s  %-32s  %-20s  %-16s  %-24s  %s\n", "CONTAINER ID", "IMAGE",
                               "COMMAND", "CREATED", "STATUS", "NAMES");
                for (size_t i = 0; i < n; i++) {
                        if (!a.all && strcmp(l[i]->state, "running") != 0 &&
                            strcmp(l[i]->state, "paused") != 0)
                                continue;
                        if (a.quiet) {
                                printf("%.*s\n", a.no_trunc ? 64 : 12, l[i]->id);
                                continue;
                        }
                        command_of(&c, l[i], cmd, 21);
                        status_of(l[i], status, sizeof(status));
                        cli_health_suffix(&c, l[i], status + strlen(status),
                                          sizeof(status) - strlen(status));
                        cli_ago(l[i]->created, created, sizeof(created));
                        printf("%.12s  %-32.32s  %-20s  %-16s  %-24s  %s\n", l[i]->id,
                               l[i]->image_name && *l[i]->image_name ? l[i]->image_name : "-", cmd,
                               created, status, l[i]->name);
                }
        }
        eng_container_list_free(l, n);
        eng_close(&c);
        return 0;
}

int cli_inspect_container(int argc, char **argv)
{
        struct info_args a = {0};
        struct isola_err err = {0};
        struct eng_ctx c;
        int rc = 0;

        if (parse_info(argc, argv, &a, 1) < 0)
                return 125;
        if (cli_eng_open(a.root, &c) < 0)
                return 125;
        printf("[");
        for (int i = optind; i < argc; i++) {
                char *json = NULL;
                if (eng_inspect(&c, argv[i], &json, &err) < 0) {
                        rc = cli_fail("inspect", &err);
                        continue;
                }
                printf("%s%s", i > optind ? ",\n" : "\n", json);
                free(json);
        }
        printf("\n]\n");
        eng_close(&c);
        return rc;
}

int cli_logs(int argc, char **argv)
{
        struct info_args a = {0};
        struct isola_err err = {0};
        struct eng_ctx c;
        int rc = 0;

        if (parse_info(argc, argv, &a, 1) < 0)
                return 125;
        if (cli_eng_open(a.root, &c) < 0)
                return 125;
        struct eng_logs_opts o = {.follow = a.follow, .timestamps = a.timestamps, .tail = a.tail};
        if (eng_logs(&c, argv[optind], &o, &err) < 0)
                rc = cli_fail("logs", &err);
        eng_close(&c);
        return rc;
}

int cli_top(int argc, char **argv)
{
        struct info_args a = {0};
        struct isola_err err = {0};
        struct eng_ctx c;
        char *text = NULL;
        int rc = 0;

        if (parse_info(argc, argv, &a, 1) < 0)
                return 125;
        if (cli_eng_open(a.root, &c) < 0)
                return 125;
        if (eng_top(&c, argv[optind], &text, &err) < 0)
                rc = cli_fail("top", &err);
        else
                fputs(text, stdout);
        free(text);
        eng_close(&c);
        return rc;
}

static void human(uint64_t b, char *buf, size_t len)
{
        static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = (double)b;
        int i = 0;

        while (v >= 1024 && i < 4) {
                v /= 1024;
                i++;
        }
        snprintf(buf, len, "%.3g%s", v, u[i]);
}

int cli_stats(int argc, char **argv)
{
        struct info_args a = {0};
        struct isola_err err = {0};
        struct eng_ctx c;
        int rc = 0;

        if (parse_info(argc, argv, &a, 1) < 0)
                return 125;
        if (cli_eng_open(a.root, &c) < 0)
                return 125;
        do {
                printf("%-12s  %-20s  %-8s  %-24s  %s\n", "ID", "NAME", "CPU %",
                       "MEM USAGE / LIMIT", "PIDS");
                for (int i = optind; i < argc; i++) {
                        struct eng_stats s;
                        char mu[32], ml[32], mem[80];
                        if (eng_stats(&c, argv[i], 500, &s, &err) < 0) {
                                rc = cli_fail("stats", &err);
                                continue;
                        }
                        human(s.mem_usage, mu, sizeof(mu));
                        if (s.mem_limit >= (1ull << 60) || s.mem_limit == 0)
                                snprintf(ml, sizeof(ml), "unlimited");
                        else
                                human(s.mem_limit, ml, sizeof(ml));
                        snprintf(mem, sizeof(mem), "%s / %s", mu, ml);
                        printf("%.12s  %-20.20s  %6.2f%%  %-24s  %llu\n", s.id, s.name,
                               s.cpu_percent, mem, (unsigned long long)s.pids);
                }
                fflush(stdout);
        } while (!a.no_stream && rc == 0);
        eng_close(&c);
        return rc;
}

/* `isola inspect X...`: containers; when the first is no container, the
 * image verb answers (as podman's inspect covers both). */
int cli_inspect(int argc, char **argv)
{
        struct info_args a = {0};
        struct isola_err err = {0};
        struct eng_ctx c;
        char id[ENG_ID_LEN + 1];
        bool is_ctr;

        if (parse_info(argc, argv, &a, 1) < 0)
                return 125;
        if (cli_eng_open(a.root, &c) < 0)
                return 125;
        is_ctr = eng_resolve(&c, argv[optind], id, &err) == 0;
        eng_close(&c);
        if (is_ctr)
                return cli_inspect_container(argc, argv);
        char **args = calloc((size_t)argc + 2, sizeof(*args));
        if (!args)
                return 125;
        args[0] = "image";
        args[1] = "inspect";
        for (int i = 1; i < argc; i++)
                args[i + 1] = argv[i];
        int rc = cli_image(argc + 1, args);
        free(args);
        return rc;
}

/* `isola container VERB ...`: the same verbs under the podman noun. */
int cli_container(int argc, char **argv)
{
        static const struct {
                const char *name;
                int (*run)(int, char **);
        } sub[] = {{"ls", cli_ps},           {"list", cli_ps},
                   {"ps", cli_ps},           {"inspect", cli_inspect_container},
                   {"create", cli_create},   {"run", cli_run},
                   {"start", cli_start},     {"stop", cli_stop},
                   {"kill", cli_kill},       {"rm", cli_rm},
                   {"wait", cli_wait},       {"logs", cli_logs},
                   {"exec", cli_exec},       {"top", cli_top},
                   {"stats", cli_stats},     {"pause", cli_pause},
                   {"unpause", cli_unpause}, {"rename", cli_rename},
                   {"port", cli_port},       {"cp", cli_cp},
                   {"commit", cli_commit}};

        if (argc < 2) {
                fprintf(stderr, "usage: isola container ls|inspect|run|... [ARGS]\n");
                return 125;
        }
        for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
                if (strcmp(argv[1], sub[i].name) != 0)
                        continue;
                return sub[i].run(argc - 1, argv + 1);
        }
        fprintf(stderr, "isola container: unknown command '%s'\n", argv[1]);
        return 125;
}
