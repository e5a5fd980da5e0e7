/* `isola compose [-f FILE]... [-p NAME] [--profile P]... [--env-file F]
 * [--project-directory D] VERB ...`: the global options and the model
 * verbs (config); container verbs go through src/compose's planner. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <unistd.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/compose_cli.h"
#include "cli/verbs.h"
#include "compose/compose.h"
#include "util/fs.h"

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
                "  up [-d] [--build] [--force-recreate] [--no-recreate] [--no-deps]\n"
                "     [--scale SVC=N]... [--wait] [--wait-timeout S] [--remove-orphans] [SVC...]\n"
                "  down [-v] [--rmi all|local] [-t S]\n"
                "  ps [-a] [-q] [--services] [SVC...]    logs [-f] [--tail N] [-t] [SVC...]\n"
                "  start|stop|restart [-t S] [SVC...]   pull|build [SVC...]\n"
                "  exec [-T] [-d] [-e K=V] [-u U] [-w D] [--index N] SVC CMD...\n"
                "  run [--rm] [-d] [-e K=V] [--no-deps] [--name N] SVC [CMD...]\n"
                "  top [SVC...]    images [SVC...]\n");
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
            {"services", no_argument, NULL, 's'},   {"volumes", no_argument, NULL, 'v'},
            {"networks", no_argument, NULL, 'n'},   {"quiet", no_argument, NULL, 'q'},
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

                        if (strcmp(hash, "*") != 0 && strcmp(hash, p->services[i].name) != 0)
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

int compose_fail(const struct isola_err *err)
{
        fprintf(stderr, "isola compose: %s\n", err->msg);
        return 1;
}

int compose_engine(struct compose_cli *c)
{
        struct isola_err err = {0};

        if (c->engine_open)
                return 0;
        if (cmp_real_open(NULL, c->p, &c->r, &err) < 0)
                return compose_fail(&err), -1;
        c->engine_open = true;
        return 0;
}

int compose_lock(struct compose_cli *c)
{
        struct isola_err err = {0};
        char dir[PATH_MAX], path[PATH_MAX];

        if (compose_engine(c) < 0)
                return -1;
        if (c->lock_fd > 0)
                return 0;
        snprintf(dir, sizeof(dir), "%s/compose", c->r.eng.paths.runroot);
        snprintf(path, sizeof(path), "%s/%s.lock", dir, c->p->name);
        if (fs_mkdir_p(dir, 0700, &err) < 0)
                return compose_fail(&err), -1;
        c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (c->lock_fd < 0 || flock(c->lock_fd, LOCK_EX) < 0) {
                err_sys(&err, "%s", path);
                return compose_fail(&err), -1;
        }
        return 0;
}

static int by_service(const void *a, const void *b)
{
        const struct cmp_ctr *x = a, *y = b;
        int d = strcmp(x->service, y->service);

        return d ? d : x->number - y->number;
}

int compose_list(struct compose_cli *c, char **services, int n_services, struct cmp_ctr **out,
                 size_t *n_out)
{
        struct isola_err err = {0};
        size_t n = 0;

        if (compose_engine(c) < 0)
                return -1;
        for (int i = 0; i < n_services; i++)
                if (!cmp_service_find(c->p, services[i])) {
                        fprintf(stderr, "isola compose: no such service: %s\n", services[i]);
                        return -1;
                }
        if (cmp_real_ops.list(&c->r, c->p->name, out, n_out, &err) < 0)
                return compose_fail(&err), -1;
        for (size_t i = 0; i < *n_out; i++) {
                bool keep = n_services == 0;

                for (int j = 0; j < n_services && !keep; j++)
                        keep = !strcmp((*out)[i].service, services[j]);
                if (keep)
                        (*out)[n++] = (*out)[i];
        }
        *n_out = n;
        qsort(*out, n, sizeof(**out), by_service);
        return 0;
}

static const struct {
        const char *name;
        int (*fn)(struct compose_cli *c, int argc, char **argv);
} verbs[] = {
    {"up", compose_up},
    {"down", compose_down},
    {"start", compose_start_stop},
    {"stop", compose_start_stop},
    {"restart", compose_start_stop},
    {"pull", compose_pull_build},
    {"build", compose_pull_build},
    {"ps", compose_ps},
    {"logs", compose_logs},
    {"top", compose_top_images},
    {"images", compose_top_images},
    {"exec", compose_exec},
    {"run", compose_run},
};

int cli_compose(int argc, char **argv)
{
        struct compose_args a = {0};
        struct compose_cli c = {0};
        int verb = parse_global(argc, argv, &a), rc = -1;

        if (verb < 0)
                return 2;
        if (load(&a, &c.p) < 0)
                return 1;
        if (!strcmp(argv[verb], "config"))
                rc = verb_config(c.p, argc - verb, argv + verb);
        for (size_t i = 0; i < sizeof(verbs) / sizeof(*verbs) && rc < 0; i++)
                if (!strcmp(argv[verb], verbs[i].name))
                        rc = verbs[i].fn(&c, argc - verb, argv + verb);
        if (rc < 0) {
                fprintf(stderr, "isola compose: unknown command '%s'\n", argv[verb]);
                rc = 2;
        }
        if (c.lock_fd > 0)
                close(c.lock_fd);
        if (c.engine_open)
                cmp_real_close(&c.r);
        cmp_project_free(c.p);
        return rc;
}
