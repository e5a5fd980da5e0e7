/* `isola network create|ls|inspect|rm|prune|connect|disconnect`: argument
 * parsing, then the network component (src/net/net.h). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/network.h"
#include "cli/verbs.h"

int cli_net_fail(const char *verb, const struct isola_err *err)
{
        fprintf(stderr, "isola network %s: %s\n", verb, err->msg);
        return 1;
}

int cli_net_open(struct net_ctx *c, struct isola_err *err)
{
        memset(c, 0, sizeof(*c));
        if (db_paths_resolve(NULL, &c->paths, err) < 0 || db_open(&c->paths, &c->db, err) < 0)
                return -1;
        /* a crashed engine's leftovers go before we look (best effort) */
        struct isola_err ignore = {0};
        net_gc_if_stale(c, &ignore);
        return 0;
}

static int usage(FILE *f, int rc)
{
        fprintf(f, "usage: isola network COMMAND\n"
                   "  create [--subnet CIDR] [--gateway IP] [--ipv6] [--subnet6 CIDR]\n"
                   "         [--gateway6 IP] [--internal] [--disable-dns] [--mtu N] NAME\n"
                   "  ls [--format json] [-q]\n"
                   "  inspect NAME...\n"
                   "  rm NAME...\n"
                   "  prune [-f]\n"
                   "  connect [--alias NAME]... [--ip IP] NETWORK CONTAINER\n"
                   "  disconnect NETWORK CONTAINER\n");
        return rc;
}

static int net_create(int argc, char **argv)
{
        static const struct option opts[] = {{"subnet", required_argument, NULL, 's'},
                                             {"gateway", required_argument, NULL, 'g'},
                                             {"subnet6", required_argument, NULL, 'S'},
                                             {"gateway6", required_argument, NULL, 'G'},
                                             {"ipv6", no_argument, NULL, '6'},
                                             {"internal", no_argument, NULL, 'i'},
                                             {"disable-dns", no_argument, NULL, 'D'},
                                             {"mtu", required_argument, NULL, 'm'},
                                             {"driver", required_argument, NULL, 'd'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        struct net_create_opts o = {0};
        struct isola_err err = {0};
        struct net_ctx c;
        int ch;
        optind = 1;
        while ((ch = getopt_long(argc, argv, "+d:h", opts, NULL)) != -1) {
                switch (ch) {
                case 's':
                        o.subnet = optarg;
                        break;
                case 'g':
                        o.gateway = optarg;
                        break;
                case 'S':
                        o.subnet6 = optarg;
                        break;
                case 'G':
                        o.gateway6 = optarg;
                        break;
                case '6':
                        o.ipv6 = true;
                        break;
                case 'i':
                        o.internal = true;
                        break;
                case 'D':
                        o.no_dns = true;
                        break;
                case 'm':
                        o.mtu = atoi(optarg);
                        if (o.mtu <= 0)
                                o.mtu = -1;
                        break;
                case 'd':
                        if (strcmp(optarg, "bridge") != 0) {
                                fprintf(stderr,
                                        "isola network create: driver '%s': only "
                                        "'bridge' is supported\n",
                                        optarg);
                                return 125;
                        }
                        break;
                case 'h':
                        return usage(stdout, 0);
                default:
                        return usage(stderr, 125);
                }
        }
        if (optind != argc - 1)
                return usage(stderr, 125);
        o.name = argv[optind];
        if (cli_net_open(&c, &err) < 0)
                return cli_net_fail("create", &err);
        int rc = net_network_create(&c, &o, &err);
        db_close(c.db);
        if (rc < 0)
                return cli_net_fail("create", &err);
        printf("%s\n", o.name);
        return 0;
}

static void print_table(const char *text, bool quiet)
{
        json_object *arr = json_tokener_parse(text);
        if (!quiet)
                printf("%-24s %-8s %-10s %-20s %s\n", "NAME", "DRIVER", "BRIDGE", "SUBNET",
                       "INTERNAL");
        for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
                json_object *n = json_object_array_get_idx(arr, i), *v, *subs, *s0, *sub;
                const char *name =
                    json_object_object_get_ex(n, "name", &v) ? json_object_get_string(v) : "";
                if (quiet) {
                        printf("%s\n", name);
                        continue;
                }
                const char *subnet = "";
                if (json_object_object_get_ex(n, "subnets", &subs) &&
                    (s0 = json_object_array_get_idx(subs, 0)) &&
                    json_object_object_get_ex(s0, "subnet", &sub))
                        subnet = json_object_get_string(sub);
                json_object_object_get_ex(n, "network_interface", &v);
                const char *br = json_object_get_string(v);
                json_object_object_get_ex(n, "internal", &v);
                printf("%-24s %-8s %-10s %-20s %s\n", name, "bridge", br, subnet,
                       json_object_get_boolean(v) ? "true" : "false");
        }
        json_object_put(arr);
}

static int net_ls(int argc, char **argv)
{
        static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        struct isola_err err = {0};
        struct net_ctx c;
        bool json = false, quiet = false;
        char *text = NULL;
        int ch;
        optind = 1;
        while ((ch = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
                if (ch == 'f' && !strcmp(optarg, "json"))
                        json = true;
                else if (ch == 'f' && strcmp(optarg, "table") != 0) {
                        fprintf(stderr, "isola network ls: --format '%s': use json or table\n",
                                optarg);
                        return 125;
                } else if (ch == 'q')
                        quiet = true;
                else if (ch == 'h')
                        return usage(stdout, 0);
                else if (ch != 'f')
                        return usage(stderr, 125);
        }
        if (optind != argc)
                return usage(stderr, 125);
        if (cli_net_open(&c, &err) < 0)
                return cli_net_fail("ls", &err);
        int rc = net_network_json(&c, NULL, &text, &err);
        db_close(c.db);
        if (rc < 0)
                return cli_net_fail("ls", &err);
        if (json)
                printf("%s\n", text);
        else
                print_table(text, quiet);
        free(text);
        return 0;
}

static int net_inspect(int argc, char **argv)
{
        struct isola_err err = {0};
        struct net_ctx c;
        int rc = 0;
        if (argc < 2)
                return usage(stderr, 125);
        if (cli_net_open(&c, &err) < 0)
                return cli_net_fail("inspect", &err);
        json_object *all = json_object_new_array();
        for (int i = 1; i < argc; i++) {
                char *text = NULL;
                if (net_network_json(&c, argv[i], &text, &err) < 0) {
                        rc = cli_net_fail("inspect", &err);
                        continue;
                }
                json_object *one = json_tokener_parse(text);
                free(text);
                if (one && json_object_array_length(one) == 1)
                        json_object_array_add(all,
                                              json_object_get(json_object_array_get_idx(one, 0)));
                json_object_put(one);
        }
        db_close(c.db);
        printf("%s\n", json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(all);
        return rc;
}

int cli_network(int argc, char **argv)
{
        static const struct {
                const char *name;
                int (*run)(int argc, char **argv);
        } subs[] = {{"create", net_create},
                    {"ls", net_ls},
                    {"list", net_ls},
                    {"inspect", net_inspect},
                    {"rm", cli_net_rm},
                    {"remove", cli_net_rm},
                    {"prune", cli_net_prune},
                    {"connect", cli_net_connect},
                    {"disconnect", cli_net_disconnect}};
        if (argc < 2)
                return usage(stderr, 125);
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
                return usage(stdout, 0);
        for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
                if (!strcmp(argv[1], subs[i].name))
                        return subs[i].run(argc - 1, argv + 1);
        }
        fprintf(stderr, "isola network: unknown command '%s'\n", argv[1]);
        return usage(stderr, 125);
}
