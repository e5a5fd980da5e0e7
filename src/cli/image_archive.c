/* `isola save`, `isola load`, `isola import`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/image_common.h"

enum { OPT_FORMAT = 700, OPT_OUTPUT, OPT_INPUT, OPT_QUIET };

static const struct option save_options[] = {
    {"output", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"root", required_argument, NULL, CLI_IMG_OPT_ROOT},
    {"help", no_argument, NULL, CLI_IMG_OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void save_usage(FILE *out)
{
        fprintf(out, "usage: isola save [-o FILE] [--format docker-archive|oci-archive] IMAGE...\n"
                     "\n"
                     "  -o, --output FILE      the archive (default: stdout when not a terminal)\n"
                     "  --format FORMAT        docker-archive (default) or "
                     "oci-archive\n" CLI_IMG_ROOT_USAGE);
}

int cli_save(int argc, char **argv)
{
        const char *root = NULL, *out = NULL;
        enum img_archive_format f = IMG_ARCHIVE_DOCKER;
        int opt;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "o:", save_options, NULL)) != -1) {
                if (opt == 'o') {
                        out = optarg;
                } else if (opt == OPT_FORMAT && !strcmp(optarg, "oci-archive")) {
                        f = IMG_ARCHIVE_OCI;
                } else if (opt == OPT_FORMAT && !strcmp(optarg, "docker-archive")) {
                        f = IMG_ARCHIVE_DOCKER;
                } else if (opt == OPT_FORMAT) {
                        fprintf(stderr,
                                "isola save: --format '%s': expected oci-archive or "
                                "docker-archive\n",
                                optarg);
                        return CLI_IMG_EXIT_USAGE;
                } else if (opt == CLI_IMG_OPT_ROOT) {
                        root = optarg;
                } else {
                        save_usage(opt == CLI_IMG_OPT_HELP ? stdout : stderr);
                        return opt == CLI_IMG_OPT_HELP ? 0 : CLI_IMG_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "isola save: expected at least one image\n");
                return CLI_IMG_EXIT_USAGE;
        }
        if (!out && isatty(STDOUT_FILENO)) {
                fprintf(stderr, "isola save: refusing to write an archive to a terminal; use -o "
                                "FILE\n");
                return CLI_IMG_EXIT_USAGE;
        }
        struct cli_img c;
        struct isola_err err = {0};
        if (cli_img_open("save", root, &c) != 0)
                return 1;
        int rc = img_save(&c.store, (const char *const *)argv + optind, (size_t)(argc - optind), f,
                          out ? out : "-", &err);
        cli_img_close(&c);
        return rc < 0 ? cli_img_fail("save", &err) : 0;
}

static const struct option load_options[] = {
    {"input", required_argument, NULL, 'i'},
    {"quiet", no_argument, NULL, 'q'},
    {"root", required_argument, NULL, CLI_IMG_OPT_ROOT},
    {"help", no_argument, NULL, CLI_IMG_OPT_HELP},
    {NULL, 0, NULL, 0},
};

int cli_load(int argc, char **argv)
{
        const char *root = NULL, *in = NULL;
        bool quiet = false;
        int opt;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "i:q", load_options, NULL)) != -1) {
                if (opt == 'i') {
                        in = optarg;
                } else if (opt == 'q') {
                        quiet = true;
                } else if (opt == CLI_IMG_OPT_ROOT) {
                        root = optarg;
                } else {
                        fprintf(opt == CLI_IMG_OPT_HELP ? stdout : stderr,
                                "usage: isola load [-q] [-i FILE] [--root DIR]\n"
                                "  reads an oci-archive or docker-archive (stdin without -i)\n");
                        return opt == CLI_IMG_OPT_HELP ? 0 : CLI_IMG_EXIT_USAGE;
                }
        }
        if (optind != argc) {
                fprintf(stderr, "isola load: unexpected argument '%s' (use -i FILE)\n",
                        argv[optind]);
                return CLI_IMG_EXIT_USAGE;
        }
        if (!in && isatty(STDIN_FILENO)) {
                fprintf(stderr, "isola load: no archive: use -i FILE or a pipe\n");
                return CLI_IMG_EXIT_USAGE;
        }
        struct cli_img c;
        struct isola_err err = {0};
        char **names = NULL;
        if (cli_img_open("load", root, &c) != 0)
                return 1;
        int rc = img_load(&c.store, in ? in : "/dev/stdin", &names, &err);
        cli_img_close(&c);
        if (rc < 0)
                return cli_img_fail("load", &err);
        for (size_t i = 0; names && names[i]; i++) {
                if (!quiet)
                        printf("Loaded image: %s\n", names[i]);
                free(names[i]);
        }
        free(names);
        return 0;
}

static const struct option import_options[] = {
    {"root", required_argument, NULL, CLI_IMG_OPT_ROOT},
    {"help", no_argument, NULL, CLI_IMG_OPT_HELP},
    {NULL, 0, NULL, 0},
};

int cli_import(int argc, char **argv)
{
        const char *root = NULL;
        int opt;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "", import_options, NULL)) != -1) {
                if (opt == CLI_IMG_OPT_ROOT) {
                        root = optarg;
                } else {
                        fprintf(opt == CLI_IMG_OPT_HELP ? stdout : stderr,
                                "usage: isola import [--root DIR] TARBALL [NAME]\n"
                                "  a root file system tarball (tar, tar.gz, tar.zst) as a "
                                "one-layer image\n");
                        return opt == CLI_IMG_OPT_HELP ? 0 : CLI_IMG_EXIT_USAGE;
                }
        }
        if (argc - optind < 1 || argc - optind > 2) {
                fprintf(stderr, "isola import: expected TARBALL [NAME]\n");
                return CLI_IMG_EXIT_USAGE;
        }
        struct cli_img c;
        struct isola_err err = {0};
        char id[IMG_DIGEST_MAX];
        if (cli_img_open("import", root, &c) != 0)
                return 1;
        const char *tar = strcmp(argv[optind], "-") ? argv[optind] : "/dev/stdin";
        int rc = img_import(&c.store, tar, argc - optind == 2 ? argv[optind + 1] : NULL, id, &err);
        cli_img_close(&c);
        if (rc < 0)
                return cli_img_fail("import", &err);
        printf("%s\n", id + 7);
        return 0;
}
