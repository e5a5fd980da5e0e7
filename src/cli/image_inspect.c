/* `isola image inspect` (podman's JSON) and `isola history`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/image_common.h"

static const struct option options[] = {
    {"root", required_argument, NULL, CLI_IMG_OPT_ROOT},
    {"help", no_argument, NULL, CLI_IMG_OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Parses --root; returns the index of the first operand, or -1 (usage
 * printed, *rc set). */
static int parse_root(int argc, char **argv, const char *usage, const char **root, int *rc)
{
        int opt;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
                if (opt == CLI_IMG_OPT_ROOT) {
                        *root = optarg;
                        continue;
                }
                fprintf(opt == CLI_IMG_OPT_HELP ? stdout : stderr, "usage: %s\n", usage);
                *rc = opt == CLI_IMG_OPT_HELP ? 0 : CLI_IMG_EXIT_USAGE;
                return -1;
        }
        return optind;
}

int cli_image_inspect(int argc, char **argv)
{
        const char *root = NULL;
        int rc = 0;
        int first = parse_root(argc, argv, "isola image inspect [--root DIR] IMAGE...", &root, &rc);

        if (first < 0)
                return rc;
        if (first >= argc) {
                fprintf(stderr, "isola image inspect: expected at least one image\n");
                return CLI_IMG_EXIT_USAGE;
        }
        struct cli_img c;
        if (cli_img_open("image inspect", root, &c) != 0)
                return 1;
        size_t n = 0;
        struct img_image **imgs = calloc((size_t)(argc - first), sizeof(struct img_image *));
        for (int i = first; imgs && i < argc; i++) {
                struct isola_err err = {0};
                if (img_lookup(&c.store, argv[i], &imgs[n], &err) < 0)
                        rc = cli_img_fail("image inspect", &err);
                else
                        n++;
        }
        struct isola_err err = {0};
        char *json = imgs ? img_inspect_json(imgs, n, &err) : NULL;
        if (json && n > 0)
                puts(json);
        else if (!json)
                rc = cli_img_fail("image inspect", &err);
        free(json);
        for (size_t i = 0; i < n; i++)
                img_image_free(imgs[i]);
        free(imgs);
        cli_img_close(&c);
        return rc;
}

int cli_history(int argc, char **argv)
{
        const char *root = NULL;
        int rc = 0;
        int first = parse_root(argc, argv, "isola history [--root DIR] IMAGE", &root, &rc);

        if (first < 0)
                return rc;
        if (first != argc - 1) {
                fprintf(stderr, "isola history: expected one image\n");
                return CLI_IMG_EXIT_USAGE;
        }
        struct cli_img c;
        struct isola_err err = {0};
        struct img_image *img = NULL;
        struct img_history *h = NULL;
        size_t n = 0;
        if (cli_img_open("history", root, &c) != 0)
                return 1;
        if (img_lookup(&c.store, argv[first], &img, &err) < 0 ||
            img_config_history(&img->config, &h, &n, &err) < 0) {
                rc = cli_img_fail("history", &err);
                goto out;
        }
        printf("%-14s %-18s %-60s %s\n", "ID", "CREATED", "CREATED BY", "COMMENT");
        /* newest first, as docker and podman print it */
        for (size_t i = n; i-- > 0;) {
                char ago[48], by[61];
                cli_img_ago(h[i].created, ago, sizeof(ago));
                snprintf(by, sizeof(by), "%s", h[i].created_by);
                for (char *p = by; *p; p++) {
                        if (*p == '\n' || *p == '\t')
                                *p = ' ';
                }
                printf("%-14.12s %-18s %-60s %s\n", i == n - 1 ? img->id + 7 : "<missing>", ago, by,
                       h[i].comment);
        }
out:
        img_history_free(h, n);
        img_image_free(img);
        cli_img_close(&c);
        return rc;
}
