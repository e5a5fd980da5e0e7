/* `isola image <ls|rm|tag|inspect|history|save|load|import|prune>` and the
 * helpers of the image verbs: opening the store, sizes and ages. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/image_common.h"
#include "cli/verbs.h"

int cli_img_open(const char *verb, const char *root, struct cli_img *c)
{
        struct isola_err err = {0};

        memset(c, 0, sizeof(*c));
        if (db_paths_resolve(root, &c->paths, &err) < 0 || db_open(&c->paths, &c->db, &err) < 0)
                return cli_img_fail(verb, &err);
        img_store_init(&c->store, &c->paths, c->db);
        return 0;
}

void cli_img_close(struct cli_img *c)
{
        if (c->db)
                db_close(c->db);
        c->db = NULL;
}

int cli_img_fail(const char *verb, const struct isola_err *err)
{
        fprintf(stderr, "isola %s: %s\n", verb, err->msg[0] ? err->msg : "failed");
        return 1;
}

void cli_img_size(int64_t bytes, char *buf, size_t len)
{
        static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
        double v = (double)bytes;
        size_t u = 0;

        while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
                v /= 1000;
                u++;
        }
        if (u == 0)
                snprintf(buf, len, "%lld %s", (long long)bytes, units[0]);
        else
                snprintf(buf, len, "%.3g %s", v, units[u]);
}

void cli_img_ago(int64_t t, char *buf, size_t len)
{
        int64_t d = (int64_t)time(NULL) - t;
        static const struct {
                int64_t secs;
                const char *unit;
        } steps[] = {{365 * 86400, "year"}, {30 * 86400, "month"}, {7 * 86400, "week"},
                     {86400, "day"},        {3600, "hour"},        {60, "minute"}};

        if (t <= 0) {
                snprintf(buf, len, "unknown");
                return;
        }
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                if (d >= steps[i].secs) {
                        int64_t n = d / steps[i].secs;
                        snprintf(buf, len, "%lld %s%s ago", (long long)n, steps[i].unit,
                                 n > 1 ? "s" : "");
                        return;
                }
        }
        snprintf(buf, len, "%lld second%s ago", (long long)(d > 0 ? d : 0), d == 1 ? "" : "s");
}

static void usage(FILE *out)
{
        fprintf(out, "usage: isola image COMMAND\n"
                     "\n"
                     "  ls          list images (isola images)\n"
                     "  rm          remove images (isola rmi)\n"
                     "  tag         add a name to an image (isola tag)\n"
                     "  inspect     image details as JSON\n"
                     "  history     the image's history (isola history)\n"
                     "  save        write images to an archive (isola save)\n"
                     "  load        read images from an archive (isola load)\n"
                     "  import      a root file system tarball as an image (isola import)\n"
                     "  prune       remove unused images, layers and blobs\n");
}

int cli_image(int argc, char **argv)
{
        static const struct {
                const char *name;
                int (*run)(int, char **);
        } subs[] = {
            {"ls", cli_images},
            {"list", cli_images},
            {"rm", cli_rmi},
            {"tag", cli_tag},
            {"inspect", cli_image_inspect},
            {"history", cli_history},
            {"save", cli_save},
            {"load", cli_load},
            {"import", cli_import},
            {"prune", cli_image_prune},
        };

        if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? CLI_IMG_EXIT_USAGE : 0;
        }
        for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
                if (!strcmp(argv[1], subs[i].name))
                        return subs[i].run(argc - 1, argv + 1);
        }
        fprintf(stderr, "isola image: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return CLI_IMG_EXIT_USAGE;
}
