/* `isola compose [-f FILE]... [-p NAME] [--profile P]... [--env-file F]
 * [--project-directory D] VERB ...`: the global options and the model
 * verbs (config); container verbs go through src/compose's planner. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/verbs.h"
#include "compose/compose.h"

extern char **environ;

#define MAX_OPTS 64

struct compose_args {
        const char *files[MAX_OPTS];
        size_t n_files;
        const char *profiles[MAX_OPTS];
        size_t n_profiles;
        const char *project, *env_file, *project_dir;
};

static void usage(FILE *out)
{
        fprintf(out,
                "usage: isola compose [-f FILE]... [-p NAME] [--profile P]... [--env-file F]\n"
                "                     [--project-directory DIR] COMMAND [ARGS]\n"
                "\n"
                "commands:\n"
                "  config [--services|--volumes|--networks|--hash SVC|-q]\n"
                "                    print the merged, interpolated model\n"
                "  up, down, ps, logs, build, pull, exec, run, start, stop, restart, top, images\n"
                "                    (need the container engine)\n");
}

static int add(const char **arr, size_t *n, const char *v)
{
        if (*n == MAX_OPTS) {
                fprintf(stderr, "isola compose: too many options\n");
                return -1;
        }
        arr[(*n)++] = v;
        return 0;
}

/* Parses the global options; returns the index of the verb in argv. */
static int parse_global(int argc, char **argv, struct compose_args *a)
{
        static const struct option opts[] = {
            {"file", required_argument, NULL, 'f'},
            {"project-name", required_argument, NULL, 'p'},
            {"profile", required_argument, NULL, 'P'},
            {"env-file", required_argument, NULL, 'e'},
            {"project-directory", required_argument, NULL, 'd'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, "+f:p:h", opts, NULL)) != -1) {
                switch (c) {
                case 'f':
                        if (add(a->files, &a->n_files, optarg) < 0)
                                return -1;
                        break;
                case 'p':
                        a->project = optarg;
                        break;
                case 'P':
                        if (add(a->profiles, &a->n_profiles, optarg) < 0)
                                return -1;
                        break;
                case 'e':
                        a->env_file = optarg;
                        break;
                case 'd':
                        a->project_dir = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        exit(0);
                default:
                        usage(stderr);
                        return -1;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return -1;
        }
        return optind;
}

static int load(const struct compose_args *a, struct cmp_project **p)
{
        struct cmp_load_opts o = {
            .files = a->files,
            .n_files = a->n_files,
            .project_name = a->project,
            .project_directory = a->project_dir,
            .profiles = a->profiles,
            .n_profiles = a->n_profiles,
            .env_file = a->env_file,
            .environ = environ,
        };
        struct isola_err err = {0};
        int rc = cmp_project_load(&o, p, &err);

        if (rc < 0) {
                fprintf(stderr, "isola compose: %s\n", err.msg);
                return -1;
        }
        for (size_t i = 0; i < (*p)->warns.n; i++)
                fprintf(stderr, "warning: %s\n", (*p)->warns.msgs[i]);
        return 0;
}

static int verb_config(struct cmp_project *p, int argc, char **argv)
{
        static const struct option opts[] = {
            {"services", no_argument, NULL, 's'}, {"volumes", no_argument, NULL, 'v'},
            {"networks", no_argument, NULL, 'n'}, {"quiet", no_argument, NULL, 'q'},
            {"hash", required_argument, NULL, 'H'}, {NULL, 0, NULL, 0},
        };
        int c, what = 0;
        const char *hash = NULL;

        optind = 1;
        while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
                if (c == '?')
                        return 2;
                if (c == 'H')
                        hash = optarg;
                what = c;
        }
        switch (what) {
        case 's':
                for (size_t i = 0; i < p->n_services; i++)
                        printf("%s\n", p->services[i].name);
                return 0;
        case 'v':
                for (size_t i = 0; i < p->n_volumes; i++)
                        printf("%s\n", p->volumes[i].key);
                return 0;
        case 'n':
                for (size_t i = 0; i < p->n_networks; i++)
                        printf("%s\n", p->networks[i].key);
                return 0;
        case 'q':
                return 0;
        case 'H':
                for (size_t i = 0; i < p->n_services; i++) {
                        struct isola_err err = {0};
                        char h[65];

                        if (strcmp(hash, "*") && strcmp(hash, p->services[i].name))
                                continue;
                        if (cmp_service_hash(p, &p->services[i], h, &err) < 0) {
                                fprintf(stderr, "isola compose: %s\n", err.msg);
                                return 1;
                        }
                        printf("%s %s\n", p->services[i].name, h);
                }
                return 0;
        default:
                return cmp_emit_project(p, stdout) < 0 || fflush(stdout) ? 1 : 0;
        }
}

int cli_compose(int argc, char **argv)
{
        struct compose_args a = {0};
        struct cmp_project *p = NULL;
        int verb = parse_global(argc, argv, &a), rc;

        if (verb < 0)
                return 2;
        if (strcmp(argv[verb], "config")) {
                fprintf(stderr, "isola compose: unknown command '%s'\n", argv[verb]);
                return 2;
        }
        if (load(&a, &p) < 0)
                return 1;
        rc = verb_config(p, argc - verb, argv + verb);
        cmp_project_free(p);
        return rc;
}
