/* `isola pull`: flags, then reg_pull; prints the image id. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/registry_args.h"
#include "cli/verbs.h"

enum { OPT_PLATFORM = 300, OPT_QUIET };

static const struct option options[] = {
    {"platform", required_argument, NULL, OPT_PLATFORM},
    {"quiet", no_argument, NULL, OPT_QUIET},
    CLI_REG_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* Set by SIGINT/SIGTERM: the pull stops and removes its temp files. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
        (void)sig;
        interrupted = 1;
}

static void catch_signals(void)
{
        struct sigaction sa = {.sa_handler = on_signal};

        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
}

static void usage(FILE *out)
{
        fprintf(out, "usage: isola pull [options] NAME[:TAG|@DIGEST]\n"
                     "\n"
                     "  --platform OS/ARCH[/VARIANT]  entry of an image index (default "
                     "linux/<host>)\n"
                     "  -q, --quiet            no progress\n"
                     "  --creds USER[:PASS]    credentials for this pull\n" CLI_REG_USAGE);
}

int cli_pull(int argc, char **argv)
{
        struct cli_reg c = {0};
        struct isola_err err = {0};
        bool quiet = false;
        int opt, rc = 1;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "+q", options, NULL)) != -1) {
                int r = cli_reg_flag(&c, "pull", opt, optarg);
                if (r < 0)
                        goto out_usage;
                if (r > 0)
                        continue;
                if (opt == OPT_PLATFORM) {
                        c.opts.platform = optarg;
                } else if (opt == 'q' || opt == OPT_QUIET) {
                        quiet = true;
                } else if (opt == CLI_REG_HELP) {
                        usage(stdout);
                        cli_reg_free(&c);
                        return 0;
                } else {
                        goto out_usage;
                }
        }
        if (optind != argc - 1) {
                fprintf(stderr, "isola pull: expected one image name\n");
                goto out_usage;
        }
        if (!quiet && isatty(STDOUT_FILENO))
                c.opts.progress = stdout;
        catch_signals();
        c.opts.cancel = &interrupted;

        sqlite3 *db = NULL;
        struct img_store s;
        char id[IMG_DIGEST_MAX];
        if (cli_reg_open_store(&c, &db, &s, &err) == 0 &&
            reg_pull(&s, argv[optind], &c.opts, id, &err) == 0) {
                printf("%s\n", strncmp(id, "sha256:", 7) ? id : id + 7);
                rc = 0;
        } else {
                fprintf(stderr, "isola pull: %s\n", err.msg);
                if (err.errnum == EINTR)
                        rc = 130;
        }
        db_close(db);
        cli_reg_free(&c);
        return rc;
out_usage:
        usage(stderr);
        cli_reg_free(&c);
        return 2;
}
