/* `isola network rm|prune|connect|disconnect`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/network.h"

int cli_net_rm(int argc, char **argv)
{
        struct isola_err err = {0};
        struct net_ctx c;
        int rc = 0;
        if (argc < 2 || argv[1][0] == '-') {
                fprintf(stderr, "usage: isola network rm NAME...\n");
                return 125;
        }
        if (cli_net_open(&c, &err) < 0)
                return cli_net_fail("rm", &err);
        for (int i = 1; i < argc; i++) {
                if (net_network_remove(&c, argv[i], &err) < 0)
                        rc = cli_net_fail("rm", &err);
                else
                        printf("%s\n", argv[i]);
        }
        db_close(c.db);
        return rc;
}

static void print_name(const char *name, void *arg)
{
        (void)arg;
        printf("%s\n", name);
}

int cli_net_prune(int argc, char **argv)
{
        struct isola_err err = {0};
        struct net_ctx c;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-f") != 0 && strcmp(argv[i], "--force") != 0) {
                        fprintf(stderr, "usage: isola network prune [-f]\n");
                        return 125;
                }
        }
        if (cli_net_open(&c, &err) < 0)
                return cli_net_fail("prune", &err);
        int rc = net_network_prune(&c, print_name, NULL, &err);
        db_close(c.db);
        return rc < 0 ? cli_net_fail("prune", &err) : 0;
}

int cli_net_connect(int argc, char **argv)
{
        static const struct option opts[] = {{"alias", required_argument, NULL, 'a'},
                                             {"ip", required_argument, NULL, 'i'},
                                             {NULL, 0, NULL, 0}};
        const char *aliases[33] = {NULL};
        size_t n_alias = 0;
        struct net_attach_req req = {.aliases = aliases};
        struct isola_err err = {0};
        struct net_ctx c;
        char id[128], name[256], ns[PATH_MAX];
        int ch;
        optind = 1;
        while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                if (ch == 'a' && n_alias < 32)
                        aliases[n_alias++] = optarg;
                else if (ch == 'i')
                        req.static_ip = optarg;
                else {
                        fprintf(stderr, "usage: isola network connect [--alias NAME]... [--ip IP]"
                                        " NETWORK CONTAINER\n");
                        return 125;
                }
        }
        if (optind != argc - 2) {
                fprintf(stderr, "usage: isola network connect [--alias NAME]... [--ip IP] NETWORK"
                                " CONTAINER\n");
                return 125;
        }
        req.network = argv[optind];
        if (cli_net_open(&c, &err) < 0)
                return cli_net_fail("connect", &err);
        int rc = -1;
        if (net_container_lookup(&c, argv[optind + 1], id, name, &err) == 0) {
                if (net_ns_path(&c, id, ns, &err) < 0)
                        err_set(&err, ENOENT,
                                "container '%s' has no network namespace of its own (not running,"
                                " or --network none/host)",
                                argv[optind + 1]);
                else
                        rc = net_attach(&c, id, name, ns, &req, NULL, 0, NULL, &err);
        }
        db_close(c.db);
        return rc < 0 ? cli_net_fail("connect", &err) : 0;
}

int cli_net_disconnect(int argc, char **argv)
{
        struct isola_err err = {0};
        struct net_ctx c;
        char id[128], name[256];
        if (argc != 3) {
                fprintf(stderr, "usage: isola network disconnect NETWORK CONTAINER\n");
                return 125;
        }
        if (cli_net_open(&c, &err) < 0)
                return cli_net_fail("disconnect", &err);
        int rc = net_container_lookup(&c, argv[2], id, name, &err);
        if (rc == 0)
                rc = net_detach(&c, id, argv[1], &err);
        db_close(c.db);
        return rc < 0 ? cli_net_fail("disconnect", &err) : 0;
}
