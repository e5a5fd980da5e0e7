/* `isola push`: flags, then reg_push. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/registry_args.h"
#include "cli/verbs.h"
#include "util/fs.h"

enum { OPT_QUIET = 300, OPT_DIGESTFILE };

static const struct option options[] = {
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"digestfile", required_argument, NULL, OPT_DIGESTFILE},
    CLI_REG_OPTIONS,
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
        fprintf(out, "usage: isola push [options] IMAGE [DESTINATION]\n"
                     "\n"
                     "  DESTINATION            [registry/]repo[:tag] (default: IMAGE's name)\n"
                     "  -q, --quiet            no progress\n"
                     "  --digestfile FILE      write the manifest digest to FILE\n"
                     "  --creds USER[:PASS]    credentials for this push\n" CLI_REG_USAGE);
}

int cli_push(int argc, char **argv)
{
        struct cli_reg c = {0};
        struct isola_err err = {0};
        const char *digestfile = NULL;
        bool quiet = false;
        int opt, rc = 1;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "+q", options, NULL)) != -1) {
                int r = cli_reg_flag(&c, "push", opt, optarg);
                if (r < 0)
                        goto out_usage;
                if (r > 0)
                        continue;
                if (opt == 'q' || opt == OPT_QUIET) {
                        quiet = true;
                } else if (opt == OPT_DIGESTFILE) {
                        digestfile = optarg;
                } else if (opt == CLI_REG_HELP) {
                        usage(stdout);
                        cli_reg_free(&c);
                        return 0;
                } else {
                        goto out_usage;
                }
        }
        if (optind != argc - 1 && optind != argc - 2) {
                fprintf(stderr, "isola push: expected IMAGE [DESTINATION]\n");
                goto out_usage;
        }
        if (!quiet && isatty(STDOUT_FILENO))
                c.opts.progress = stdout;

        sqlite3 *db = NULL;
        struct img_store s;
        char digest[IMG_DIGEST_MAX];
        const char *dest = optind + 1 < argc ? argv[optind + 1] : NULL;
        if (cli_reg_open_store(&c, &db, &s, &err) == 0 &&
            reg_push(&s, argv[optind], dest, &c.opts, digest, &err) == 0 &&
            (!digestfile || fs_write_file(digestfile, digest, strlen(digest),
                                          O_WRONLY | O_CREAT | O_TRUNC, 0644, &err) == 0))
                rc = 0;
        else
                fprintf(stderr, "isola push: %s\n", err.msg);
        db_close(db);
        cli_reg_free(&c);
        return rc;
out_usage:
        usage(stderr);
        cli_reg_free(&c);
        return 2;
}
