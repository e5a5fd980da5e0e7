/* isola serve [--socket PATH] [--listen ADDR:PORT --token-file F] [--root DIR]:
 * the Docker-compatible API service (src/api). */
#include <getopt.h>
#include <stdio.h>

#include "api/api.h"
#include "cli/verbs.h"

static void usage(FILE *f)
{
        fprintf(f, "usage: isola serve [--socket PATH] [--listen ADDR:PORT --token-file FILE] "
                   "[--root DIR]\n"
                   "  --socket PATH      Unix socket (default " API_DEFAULT_SOCKET ", mode 0660)\n"
                   "  --listen ADDR:PORT also TCP; every request needs the bearer token\n"
                   "  --token-file FILE  the token (16+ bytes); required with --listen\n");
}

int cli_serve(int argc, char **argv)
{
        enum { OPT_SOCKET = 256, OPT_LISTEN, OPT_TOKEN, OPT_ROOT };
        static const struct option opts[] = {{"socket", required_argument, NULL, OPT_SOCKET},
                                             {"listen", required_argument, NULL, OPT_LISTEN},
                                             {"token-file", required_argument, NULL, OPT_TOKEN},
                                             {"root", required_argument, NULL, OPT_ROOT},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        struct api_opts o = {0};
        struct isola_err err = {0};
        int ch;

        optind = 1;
        while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
                switch (ch) {
                case OPT_SOCKET:
                        o.socket = optarg;
                        break;
                case OPT_LISTEN:
                        o.listen = optarg;
                        break;
                case OPT_TOKEN:
                        o.token_file = optarg;
                        break;
                case OPT_ROOT:
                        o.root = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind != argc) {
                usage(stderr);
                return 2;
        }
        if (api_serve(&o, &err) < 0) {
                fprintf(stderr, "isola serve: %s\n", err.msg);
                return 1;
        }
        return 0;
}
