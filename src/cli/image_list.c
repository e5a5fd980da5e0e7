/* `isola images`, `rmi`, `tag`, `image prune`: thin front ends over the
 * store. */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/image_common.h"

static const struct option list_options[] = {
    {"quiet", no_argument, NULL, 'q'},
    {"format", required_argument, NULL, 'f'},
    {"root", required_argument, NULL, CLI_IMG_OPT_ROOT},
    {"help", no_argument, NULL, CLI_IMG_OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* "registry/repo:tag" into repo and tag ("<none>" for dangling images). */
static void split_name(const char *name, char *repo, size_t rlen, char *tag, size_t tlen)
{
        const char *colon = name ? strrchr(name, ':') : NULL,
                   *slash = name ? strrchr(name, '/') : NULL;

        if (!name) {
                snprintf(repo, rlen, "<none>");
                snprintf(tag, tlen, "<none>");
        } else if (colon && (!slash || colon > slash)) {
                snprintf(repo, rlen, "%.*s", (int)(colon - name), name);
                snprintf(tag, tlen, "%s", colon + 1);
        } else {
                snprintf(repo, rlen, "%s", name);
                snprintf(tag, tlen, "<none>");
        }
}

static void print_json(struct img_image **imgs, size_t n)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_new_object(), *names = json_object_new_array();
                for (size_t k = 0; imgs[i]->names[k]; k++)
                        json_object_array_add(names, json_object_new_string(imgs[i]->names[k]));
                json_object_object_add(o, "Id", json_object_new_string(imgs[i]->id + 7));
                json_object_object_add(o, "Digest",
                                       json_object_new_string(imgs[i]->manifest_digest));
                json_object_object_add(o, "RepoTags", json_object_get(names));
                json_object_object_add(o, "Names", names);
                json_object_object_add(o, "Created", json_object_new_int64(imgs[i]->created));
                json_object_object_add(o, "Size", json_object_new_int64(imgs[i]->size));
                json_object_object_add(o, "Dangling", json_object_new_boolean(!imgs[i]->names[0]));
                json_object_array_add(a, o);
        }
        puts(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(a);
}

static void print_table(struct img_image **imgs, size_t n, bool quiet)
{
        if (!quiet)
                printf("%-40s %-14s %-14s %-16s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED",
                       "SIZE");
        for (size_t i = 0; i < n; i++) {
                const struct img_image *img = imgs[i];
                if (quiet) {
                        printf("%.12s\n", img->id + 7);
                        continue;
                }
                char size[32], ago[48];
                cli_img_size(img->size, size, sizeof(size));
                cli_img_ago(img->created, ago, sizeof(ago));
                for (size_t k = 0; k == 0 || img->names[k]; k++) {
                        char repo[600], tag[140];
                        split_name(img->names[k], repo, sizeof(repo), tag, sizeof(tag));
                        printf("%-40s %-14s %-14.12s %-16s %s\n", repo, tag, img->id + 7, ago,
                               size);
                        if (!img->names[k])
                                break;
                }
        }
}

int cli_images(int argc, char **argv)
{
        const char *root = NULL, *format = NULL;
        bool quiet = false;
        int opt;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "qf:", list_options, NULL)) != -1) {
                if (opt == 'q') {
                        quiet = true;
                } else if (opt == 'f') {
                        format = optarg;
                } else if (opt == CLI_IMG_OPT_ROOT) {
                        root = optarg;
                } else if (opt == CLI_IMG_OPT_HELP) {
                        printf("usage: isola images [-q] [--format json|table] [--root DIR]\n");
                        return 0;
                } else {
                        fprintf(stderr, "usage: isola images [-q] [--format json|table]\n");
                        return CLI_IMG_EXIT_USAGE;
                }
        }
        if (format && strcmp(format, "json") != 0 && strcmp(format, "table") != 0) {
                fprintf(stderr, "isola images: --format '%s': expected json or table\n", format);
                return CLI_IMG_EXIT_USAGE;
        }
        if (optind != argc) {
                fprintf(stderr, "isola images: unexpected argument '%s'\n", argv[optind]);
                return CLI_IMG_EXIT_USAGE;
        }
        struct cli_img c;
        struct img_image **imgs = NULL;
        size_t n = 0;
        struct isola_err err = {0};
        if (cli_img_open("images", root, &c) != 0)
                return 1;
        int rc = img_list(&c.store, &imgs, &n, &err);
        if (rc == 0) {
                if (format && !strcmp(format, "json"))
                        print_json(imgs, n);
                else
                        print_table(imgs, n, quiet);
        }
        for (size_t i = 0; i < n; i++)
                img_image_free(imgs[i]);
        free(imgs);
        cli_img_close(&c);
        return rc < 0 ? cli_img_fail("images", &err) : 0;
}

static const struct option rmi_options[] = {
    {"force", no_argument, NULL, 'f'},
    {"root", required_argument, NULL, CLI_IMG_OPT_ROOT},
    {"help", no_argument, NULL, CLI_IMG_OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Exit codes as podman's rmi: 1 unknown image, 2 image in use. */
static int rmi_one(struct cli_img *c, const char *name, bool force)
{
        struct isola_err err = {0};
        struct img_image *img = NULL, *after = NULL;

        if (img_lookup(&c->store, name, &img, &err) < 0 ||
            img_remove(&c->store, name, force, &err) < 0) {
                img_image_free(img);
                fprintf(stderr, "isola rmi: %s\n", err.msg);
                return err.errnum == ENOENT ? 1 : err.errnum == EBUSY ? 2 : 125;
        }
        if (img_lookup(&c->store, img->id, &after, &err) == 0)
                printf("Untagged: %s\n", name);
        else
                printf("Deleted: %s\n", img->id + 7);
        img_image_free(after);
        img_image_free(img);
        return 0;
}

int cli_rmi(int argc, char **argv)
{
        const char *root = NULL;
        bool force = false;
        int opt, rc = 0;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "f", rmi_options, NULL)) != -1) {
                if (opt == 'f') {
                        force = true;
                } else if (opt == CLI_IMG_OPT_ROOT) {
                        root = optarg;
                } else {
                        fprintf(opt == CLI_IMG_OPT_HELP ? stdout : stderr,
                                "usage: isola rmi [-f] [--root DIR] IMAGE...\n");
                        return opt == CLI_IMG_OPT_HELP ? 0 : CLI_IMG_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "isola rmi: expected at least one image\n");
                return CLI_IMG_EXIT_USAGE;
        }
        struct cli_img c;
        if (cli_img_open("rmi", root, &c) != 0)
                return 1;
        for (int i = optind; i < argc; i++) {
                int r = rmi_one(&c, argv[i], force);
                if (r > rc)
                        rc = r;
        }
        cli_img_close(&c);
        return rc;
}

static const struct option root_options[] = {
    {"root", required_argument, NULL, CLI_IMG_OPT_ROOT},
    {"help", no_argument, NULL, CLI_IMG_OPT_HELP},
    {NULL, 0, NULL, 0},
};

int cli_tag(int argc, char **argv)
{
        const char *root = NULL;
        int opt, rc = 0;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "", root_options, NULL)) != -1) {
                if (opt == CLI_IMG_OPT_ROOT) {
                        root = optarg;
                } else {
                        fprintf(opt == CLI_IMG_OPT_HELP ? stdout : stderr,
                                "usage: isola tag [--root DIR] IMAGE NAME...\n");
                        return opt == CLI_IMG_OPT_HELP ? 0 : CLI_IMG_EXIT_USAGE;
                }
        }
        if (argc - optind < 2) {
                fprintf(stderr, "isola tag: expected an image and a new name\n");
                return CLI_IMG_EXIT_USAGE;
        }
        struct cli_img c;
        if (cli_img_open("tag", root, &c) != 0)
                return 1;
        for (int i = optind + 1; i < argc && rc == 0; i++) {
                struct isola_err err = {0};
                if (img_tag(&c.store, argv[optind], argv[i], &err) < 0)
                        rc = cli_img_fail("tag", &err);
        }
        cli_img_close(&c);
        return rc;
}

int cli_image_prune(int argc, char **argv)
{
        const char *root = NULL;
        int opt;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "f", root_options, NULL)) != -1) {
                if (opt == CLI_IMG_OPT_ROOT) {
                        root = optarg;
                } else if (opt == 'f') {
                        continue; /* podman's --force: there is no prompt to skip */
                } else {
                        fprintf(opt == CLI_IMG_OPT_HELP ? stdout : stderr,
                                "usage: isola image prune [--root DIR]\n");
                        return opt == CLI_IMG_OPT_HELP ? 0 : CLI_IMG_EXIT_USAGE;
                }
        }
        struct cli_img c;
        struct isola_err err = {0};
        uint64_t freed = 0;
        char size[32];
        if (cli_img_open("image prune", root, &c) != 0)
                return 1;
        int rc = img_prune(&c.store, &freed, &err);
        cli_img_close(&c);
        if (rc < 0)
                return cli_img_fail("image prune", &err);
        cli_img_size((int64_t)freed, size, sizeof(size));
        printf("Total reclaimed space: %s\n", size);
        return 0;
}
