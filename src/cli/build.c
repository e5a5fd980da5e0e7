/* `isola build` and `isola builder prune`: flags, then bld_build /
 * bld_builder_prune. Step lines go to stdout (stderr with -q), the image id
 * is the last line on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "cli/registry_args.h"
#include "cli/verbs.h"

enum {
        OPT_BUILD_ARG = 300,
        OPT_TARGET,
        OPT_NO_CACHE,
        OPT_PULL,
        OPT_NETWORK,
        OPT_LABEL,
        OPT_LAYERS,
        OPT_OUTPUT,
        OPT_COMPRESSION,
        OPT_PLATFORM,
        OPT_FORMAT,
};

static const struct option options[] = {
    {"tag", required_argument, NULL, 't'},
    {"file", required_argument, NULL, 'f'},
    {"build-arg", required_argument, NULL, OPT_BUILD_ARG},
    {"target", required_argument, NULL, OPT_TARGET},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {"pull", optional_argument, NULL, OPT_PULL},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"label", required_argument, NULL, OPT_LABEL},
    {"layers", optional_argument, NULL, OPT_LAYERS},
    {"output", required_argument, NULL, 'o'},
    {"compression", required_argument, NULL, OPT_COMPRESSION},
    {"platform", required_argument, NULL, OPT_PLATFORM},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"quiet", no_argument, NULL, 'q'},
    CLI_REG_OPTIONS,
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
        fprintf(out,
                "usage: isola build [options] CONTEXT_DIR\n"
                "\n"
                "  -t, --tag NAME[:TAG]   name the image (repeatable)\n"
                "  -f, --file FILE        the Containerfile (default CONTEXT/Containerfile,\n"
                "                         else CONTEXT/Dockerfile)\n"
                "  --build-arg K=V        a build argument (repeatable; K alone: from the "
                "environment)\n"
                "  --target STAGE         build up to this stage\n"
                "  --no-cache             build every step (the results still fill the cache)\n"
                "  --pull                 pull FROM images even when present\n"
                "  --network none|host    network of RUN steps (default host)\n"
                "  --label K=V            a label on the image (repeatable)\n"
                "  --layers               cache layers (the default; accepted for podman)\n"
                "  -o, --output type=oci,dest=FILE   also write an OCI archive\n"
                "  --compression gzip|zstd|none      layer compression (default gzip)\n"
                "  --platform linux/amd64 the only platform built\n"
                "  -q, --quiet            only the image id on stdout\n" CLI_REG_USAGE);
}

struct strv {
        const char **v;
        size_t n;
};

static int push(struct strv *s, const char *a)
{
        const char **v = realloc(s->v, (s->n + 1) * sizeof(*v));
        if (!v)
                return -1;
        v[s->n++] = a;
        s->v = v;
        return 0;
}

static int run(struct cli_reg *c, struct bld_opts *o, const char *verb)
{
        sqlite3 *db = NULL;
        struct img_store s;
        struct isola_err err = {0};
        char id[IMG_DIGEST_MAX];
        int rc = 1;
        if (cli_reg_open_store(c, &db, &s, &err) == 0 && bld_build(&s, o, id, &err) == 0) {
                printf("%s\n", strncmp(id, "sha256:", 7) ? id : id + 7);
                rc = 0;
        } else {
                fflush(stdout);
                fprintf(stderr, "isola %s: %s\n", verb, err.msg);
        }
        db_close(db);
        return rc;
}

int cli_build(int argc, char **argv)
{
        struct cli_reg c = {0};
        struct bld_opts o = {.comp = BLD_COMP_GZIP, .log = stdout};
        struct strv tags = {0}, args = {0}, labels = {0};
        struct isola_err err = {0};
        int opt, rc = 2;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "+t:f:o:q", options, NULL)) != -1) {
                int r = cli_reg_flag(&c, "build", opt, optarg);
                if (r < 0)
                        goto out_usage;
                if (r > 0)
                        continue;
                switch (opt) {
                case 't':
                        push(&tags, optarg);
                        break;
                case 'f':
                        o.file = optarg;
                        break;
                case OPT_BUILD_ARG:
                        push(&args, optarg);
                        break;
                case OPT_TARGET:
                        o.target = optarg;
                        break;
                case OPT_NO_CACHE:
                        o.no_cache = true;
                        break;
                case OPT_PULL:
                        o.pull = !optarg || !strcmp(optarg, "true") || !strcmp(optarg, "always");
                        break;
                case OPT_NETWORK:
                        o.network = optarg;
                        break;
                case OPT_LABEL:
                        push(&labels, optarg);
                        break;
                case OPT_LAYERS:
                case OPT_FORMAT:
                        break;
                case 'o':
                        o.output = optarg;
                        break;
                case OPT_COMPRESSION:
                        if (bld_compression_parse(optarg, &o.comp, &err) < 0) {
                                fprintf(stderr, "isola build: %s\n", err.msg);
                                goto out_usage;
                        }
                        break;
                case OPT_PLATFORM:
                        o.platform = optarg;
                        break;
                case 'q':
                        o.log = NULL;
                        break;
                case CLI_REG_HELP:
                        usage(stdout);
                        rc = 0;
                        goto out;
                default:
                        goto out_usage;
                }
        }
        if (optind != argc - 1) {
                fprintf(stderr, "isola build: expected one context directory\n");
                goto out_usage;
        }
        if (o.platform && strcmp(o.platform, "linux/amd64") != 0) {
                fprintf(stderr, "isola build: --platform %s: only linux/amd64 is built\n",
                        o.platform);
                rc = 1;
                goto out;
        }
        o.context = argv[optind];
        o.tags = tags.v;
        o.n_tags = tags.n;
        o.build_args = args.v;
        o.n_build_args = args.n;
        o.labels = labels.v;
        o.n_labels = labels.n;
        o.reg = &c.opts;
        rc = run(&c, &o, "build");
        goto out;
out_usage:
        usage(stderr);
out:
        free(tags.v);
        free(args.v);
        free(labels.v);
        cli_reg_free(&c);
        return rc;
}

static const struct option prune_options[] = {
    {"all", no_argument, NULL, 'a'},
    {"force", no_argument, NULL, 'f'},
    {"root", required_argument, NULL, CLI_REG_ROOT},
    {"help", no_argument, NULL, CLI_REG_HELP},
    {NULL, 0, NULL, 0},
};

/* `isola builder prune`: every cache entry (as buildah prune), then the
 * layers only the cache kept. */
int cli_builder(int argc, char **argv)
{
        struct cli_reg c = {0};
        struct isola_err err = {0};
        int opt;
        if (argc < 2 || strcmp(argv[1], "prune") != 0) {
                fprintf(stderr, "usage: isola builder prune [-a] [-f] [--root DIR]\n");
                return 2;
        }
        optind = 1;
        while ((opt = getopt_long(argc - 1, argv + 1, "+af", prune_options, NULL)) != -1) {
                if (opt == CLI_REG_ROOT) {
                        c.root = optarg;
                } else if (opt == CLI_REG_HELP) {
                        printf("usage: isola builder prune [-a] [-f] [--root DIR]\n"
                               "  removes every build cache entry and the layers only the "
                               "cache kept\n");
                        return 0;
                } else if (opt != 'a' && opt != 'f') {
                        fprintf(stderr, "usage: isola builder prune [-a] [-f] [--root DIR]\n");
                        return 2;
                }
        }
        sqlite3 *db = NULL;
        struct img_store s;
        int64_t rows = 0;
        uint64_t freed = 0;
        int rc = 1;
        if (cli_reg_open_store(&c, &db, &s, &err) == 0 &&
            bld_builder_prune(&s, true, 0, &rows, &freed, &err) == 0) {
                printf("removed %lld cache entries, freed %llu bytes\n", (long long)rows,
                       (unsigned long long)freed);
                rc = 0;
        } else {
                fprintf(stderr, "isola builder prune: %s\n", err.msg);
        }
        db_close(db);
        return rc;
}
