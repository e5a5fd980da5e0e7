/* `isola volume create|ls|inspect|rm|prune` and `isola system df|prune`. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/ctr_common.h"
#include "cli/verbs.h"

enum { OPT_ROOT = 256, OPT_FORMAT, OPT_VOLUMES };

struct vol_args {
        const char *root, *format;
        bool force, quiet, volumes, all;
};

static int parse_vol(int argc, char **argv, struct vol_args *a)
{
        static const struct option opts[] = {{"root", required_argument, NULL, OPT_ROOT},
                                             {"format", required_argument, NULL, OPT_FORMAT},
                                             {"force", no_argument, NULL, 'f'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"all", no_argument, NULL, 'a'},
                                             {"volumes", no_argument, NULL, OPT_VOLUMES},
                                             {NULL, 0, NULL, 0}};
        int opt;

        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, "+fqa", opts, NULL)) != -1) {
                switch (opt) {
                case OPT_ROOT:
                        a->root = optarg;
                        break;
                case OPT_FORMAT:
                        a->format = optarg;
                        break;
                case 'f':
                        a->force = true;
                        break;
                case 'q':
                        a->quiet = true;
                        break;
                case 'a':
                        a->all = true;
                        break;
                case OPT_VOLUMES:
                        a->volumes = true;
                        break;
                default:
                        fprintf(stderr, "isola %s: unknown option '%s'\n", argv[0],
                                argv[optind - 1]);
                        return -1;
                }
        }
        return 0;
}

static json_object *vol_json(const struct eng_volume *v)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "Name", json_object_new_string(v->name));
        json_object_object_add(o, "Driver", json_object_new_string("local"));
        json_object_object_add(o, "Mountpoint", json_object_new_string(v->mountpoint));
        json_object_object_add(o, "CreatedAt", json_object_new_int64(v->created / 1000000000));
        json_object_object_add(o, "Anonymous", json_object_new_boolean(v->anonymous));
        json_object_object_add(o, "InUse", json_object_new_int(v->users));
        return o;
}

static int vol_ls(struct eng_ctx *c, const struct vol_args *a, struct isola_err *err)
{
        struct eng_volume *v = NULL;
        size_t n = 0;

        if (eng_volume_list(c, &v, &n, err) < 0)
                return -1;
        if (a->format && !strcmp(a->format, "json")) {
                json_object *arr = json_object_new_array();
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(arr, vol_json(&v[i]));
                puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(arr);
        } else {
                if (!a->quiet)
                        printf("%-8s  %s\n", "DRIVER", "VOLUME NAME");
                for (size_t i = 0; i < n; i++)
                        printf(a->quiet ? "%.0s%s\n" : "%-8s  %s\n", "local", v[i].name);
        }
        free(v);
        return 0;
}

static int volume_verb(struct eng_ctx *c, const char *verb, int argc, char **argv,
                       const struct vol_args *a, struct isola_err *err)
{
        struct eng_volume v = {0};

        if (!strcmp(verb, "create")) {
                if (eng_volume_create(c, optind < argc ? argv[optind] : NULL, false, &v, err) < 0)
                        return -1;
                printf("%s\n", v.name);
        } else if (!strcmp(verb, "ls") || !strcmp(verb, "list")) {
                return vol_ls(c, a, err);
        } else if (!strcmp(verb, "inspect")) {
                json_object *arr = json_object_new_array();
                int rc = 0;
                for (int i = optind; i < argc && rc == 0; i++) {
                        rc = eng_volume_get(c, argv[i], &v, err);
                        if (rc == 0)
                                json_object_array_add(arr, vol_json(&v));
                }
                if (rc == 0)
                        puts(json_object_to_json_string_ext(
                            arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(arr);
                return rc;
        } else if (!strcmp(verb, "rm") || !strcmp(verb, "remove")) {
                if (optind >= argc)
                        return err_set(err, EINVAL, "volume rm: missing volume name");
                for (int i = optind; i < argc; i++) {
                        if (eng_volume_remove(c, argv[i], a->force, err) < 0)
                                return -1;
                        printf("%s\n", argv[i]);
                }
        } else if (!strcmp(verb, "prune")) {
                char **names = NULL;
                size_t n = 0;
                if (eng_volume_prune(c, &names, &n, err) < 0)
                        return -1;
                for (size_t i = 0; i < n; i++) {
                        printf("%s\n", names[i]);
                        free(names[i]);
                }
                free(names);
        } else {
                return err_set(err, EINVAL, "volume: unknown command '%s'", verb);
        }
        return 0;
}

int cli_volume(int argc, char **argv)
{
        struct vol_args a = {0};
        struct isola_err err = {0};
        struct eng_ctx c;
        int rc = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: isola volume create|ls|inspect|rm|prune ...\n");
                return 125;
        }
        if (parse_vol(argc - 1, argv + 1, &a) < 0)
                return 125;
        optind += 1; /* parse_vol counted from argv + 1 */
        if (cli_eng_open(a.root, &c) < 0)
                return 125;
        if (volume_verb(&c, argv[1], argc, argv, &a, &err) < 0)
                rc = cli_fail("volume", &err);
        eng_close(&c);
        return rc;
}

static void size_str(uint64_t b, char *buf, size_t len)
{
        if (b >= 1ull << 30)
                snprintf(buf, len, "%.2fGB", (double)b / (1 << 30));
        else if (b >= 1ull << 20)
                snprintf(buf, len, "%.2fMB", (double)b / (1 << 20));
        else
                snprintf(buf, len, "%.2fkB", (double)b / 1024);
}

int cli_system(int argc, char **argv)
{
        struct vol_args a = {0};
        struct isola_err err = {0};
        struct eng_ctx c;
        int rc = 0;

        if (argc < 2 || (strcmp(argv[1], "df") != 0 && strcmp(argv[1], "prune") != 0)) {
                fprintf(stderr, "usage: isola system df|prune [--volumes] [-f]\n");
                return 125;
        }
        if (parse_vol(argc - 1, argv + 1, &a) < 0 || cli_eng_open(a.root, &c) < 0)
                return 125;
        if (!strcmp(argv[1], "df")) {
                struct eng_df d;
                char s1[32], s2[32], s3[32];
                if (eng_system_df(&c, &d, &err) < 0) {
                        rc = cli_fail("system df", &err);
                } else {
                        size_str(d.images_size, s1, sizeof(s1));
                        size_str(d.containers_size, s2, sizeof(s2));
                        size_str(d.volumes_size, s3, sizeof(s3));
                        printf("%-14s %-8s %-8s %s\n", "TYPE", "TOTAL", "ACTIVE", "SIZE");
                        printf("%-14s %-8zu %-8zu %s\n", "Images", d.images, d.images_active, s1);
                        printf("%-14s %-8zu %-8zu %s\n", "Containers", d.containers,
                               d.containers_running, s2);
                        printf("%-14s %-8zu %-8zu %s\n", "Local Volumes", d.volumes,
                               d.volumes_active, s3);
                }
        } else {
                struct eng_prune_report r;
                char s[32];
                if (eng_system_prune(&c, a.volumes, &r, &err) < 0) {
                        rc = cli_fail("system prune", &err);
                } else {
                        size_str(r.bytes, s, sizeof(s));
                        printf("Deleted containers: %zu\nDeleted volumes: %zu\n"
                               "Total reclaimed space: %s\n",
                               r.containers, r.volumes, s);
                }
        }
        eng_close(&c);
        return rc;
}
