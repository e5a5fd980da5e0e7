/* `isola exec`, `isola cp`, `isola commit`. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/ctr_common.h"
#include "cli/verbs.h"

enum { OPT_ROOT = 256 };

int cli_exec(int argc, char **argv)
{
        static const struct option opts[] = {{"root", required_argument, NULL, OPT_ROOT},
                                             {"interactive", no_argument, NULL, 'i'},
                                             {"tty", no_argument, NULL, 't'},
                                             {"detach", no_argument, NULL, 'd'},
                                             {"env", required_argument, NULL, 'e'},
                                             {"user", required_argument, NULL, 'u'},
                                             {"workdir", required_argument, NULL, 'w'},
                                             {NULL, 0, NULL, 0}};
        struct eng_exec_opts o = {0};
        struct isola_err err = {0};
        const char *root = NULL;
        struct eng_ctx c;
        int opt, code = 0;

        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, "+itde:u:w:", opts, NULL)) != -1) {
                switch (opt) {
                case OPT_ROOT:
                        root = optarg;
                        break;
                case 'i':
                        o.interactive = true;
                        break;
                case 't':
                        o.tty = true;
                        break;
                case 'd':
                        o.detach = true;
                        break;
                case 'e':
                        cli_strv_add(&o.env, optarg);
                        break;
                case 'u':
                        o.user = optarg;
                        break;
                case 'w':
                        o.workdir = optarg;
                        break;
                default:
                        fprintf(stderr, "isola exec: unknown option '%s'\n", argv[optind - 1]);
                        return 125;
                }
        }
        if (argc - optind < 2) {
                fprintf(stderr, "usage: isola exec [OPTIONS] CONTAINER COMMAND [ARG...]\n");
                return 125;
        }
        o.args = argv + optind + 1;
        if (cli_eng_open(root, &c) < 0)
                return 125;
        /* without -i the process gets no stdin; detached, no stdio at all */
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0 && (!o.interactive || o.detach))
                dup2(null, 0);
        if (eng_exec(&c, argv[optind], &o, &code, &err) < 0)
                code = cli_fail("exec", &err);
        if (null >= 0)
                close(null);
        eng_close(&c);
        for (char **e = o.env; e && *e; e++)
                free(*e);
        free(o.env);
        return code;
}

int cli_cp(int argc, char **argv)
{
        static const struct option opts[] = {{"root", required_argument, NULL, OPT_ROOT},
                                             {NULL, 0, NULL, 0}};
        struct isola_err err = {0};
        const char *root = NULL;
        struct eng_ctx c;
        int opt, rc = 0;

        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                if (opt != OPT_ROOT) {
                        fprintf(stderr, "isola cp: unknown option '%s'\n", argv[optind - 1]);
                        return 125;
                }
                root = optarg;
        }
        if (argc - optind != 2) {
                fprintf(stderr, "usage: isola cp CONTAINER:SRC DST | SRC CONTAINER:DST\n");
                return 125;
        }
        if (cli_eng_open(root, &c) < 0)
                return 125;
        if (eng_cp(&c, argv[optind], argv[optind + 1], &err) < 0)
                rc = cli_fail("cp", &err);
        eng_close(&c);
        return rc;
}

int cli_commit(int argc, char **argv)
{
        static const struct option opts[] = {{"root", required_argument, NULL, OPT_ROOT},
                                             {NULL, 0, NULL, 0}};
        struct isola_err err = {0};
        const char *root = NULL;
        struct eng_ctx c;
        char id[128];
        int opt, rc = 0;

        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                if (opt != OPT_ROOT) {
                        fprintf(stderr, "isola commit: unknown option '%s'\n", argv[optind - 1]);
                        return 125;
                }
                root = optarg;
        }
        if (argc - optind < 1 || argc - optind > 2) {
                fprintf(stderr, "usage: isola commit CONTAINER [IMAGE]\n");
                return 125;
        }
        if (cli_eng_open(root, &c) < 0)
                return 125;
        if (eng_commit(&c, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL, id,
                       sizeof(id), &err) < 0)
                rc = cli_fail("commit", &err);
        else
                printf("%s\n", id);
        eng_close(&c);
        return rc;
}
