/* isola compose up, down, start, stop, restart, pull, build. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/compose_cli.h"

#define MAX_SCALES 64

/* Set by SIGINT/SIGTERM during an attached `up` (signal handler state). */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
        (void)sig;
        interrupted = 1;
}

/* Attached `up`: follow the logs; on Ctrl-C stop the project, as Compose. */
static int attached(struct compose_cli *c, int stop_timeout)
{
        char *largv[] = {"logs", "-f", NULL};
        char *sargv[] = {"stop", "-t", NULL, NULL};
        char t[16];
        struct sigaction sa = {.sa_handler = on_interrupt}, old_int, old_term;
        int rc;

        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        rc = compose_logs(c, 2, largv);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        if (!interrupted)
                return rc;
        fprintf(stderr, "Gracefully stopping... (press Ctrl+C again to force)\n");
        snprintf(t, sizeof(t), "%d", stop_timeout >= 0 ? stop_timeout : 10);
        sargv[2] = t;
        return compose_start_stop(c, 3, sargv);
}

/* Images the selected services need: built (--build, or missing) or pulled
 * when missing (pull_policy never: must exist). */
static int ensure_images(struct compose_cli *c, const struct cmp_plan *pl, bool build)
{
        struct isola_err err = {0};

        for (size_t i = 0; i < c->p->n_services; i++) {
                const struct cmp_service *s = &c->p->services[i];
                char img[CMP_CTR_NAME_MAX];
                bool used = false;

                for (size_t k = 0; k < pl->n && !used; k++)
                        used = pl->v[k].svc == s && pl->v[k].kind == CMP_ACT_CREATE;
                if (!used)
                        continue;
                cmp_service_image(c->p, s, img, sizeof(img));
                if (s->has_build && (build || !cmp_real_image_present(&c->r, img))) {
                        if (cmp_real_build(&c->r, s, isatty(2) ? stderr : NULL, &err) < 0)
                                return compose_fail(&err);
                } else if (!cmp_real_image_present(&c->r, img)) {
                        if (s->pull_policy && !strcmp(s->pull_policy, "never")) {
                                fprintf(stderr,
                                        "isola compose: service %s: image %s not present and "
                                        "pull_policy is never\n",
                                        s->name, img);
                                return 1;
                        }
                        if (cmp_real_pull(&c->r, img, isatty(2) ? stderr : NULL, &err) < 0)
                                return compose_fail(&err);
                }
        }
        return 0;
}

/* SVC=N, split in place (arg is a writable argv string). */
static int parse_scale(char *arg, struct cmp_scale *out)
{
        char *eq = strchr(arg, '=');
        char *end;
        long n;

        if (!eq || eq == arg)
                return -1;
        n = strtol(eq + 1, &end, 10);
        if (*end || end == eq + 1 || n < 0 || n > 1000)
                return -1;
        *eq = '\0';
        out->service = arg;
        out->replicas = (int)n;
        return 0;
}

int compose_up(struct compose_cli *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"detach", no_argument, NULL, 'd'},
            {"build", no_argument, NULL, 'b'},
            {"force-recreate", no_argument, NULL, 'F'},
            {"no-recreate", no_argument, NULL, 'N'},
            {"no-deps", no_argument, NULL, 'D'},
            {"scale", required_argument, NULL, 's'},
            {"wait", no_argument, NULL, 'w'},
            {"wait-timeout", required_argument, NULL, 'W'},
            {"remove-orphans", no_argument, NULL, 'o'},
            {"timeout", required_argument, NULL, 't'},
            {NULL, 0, NULL, 0},
        };
        struct cmp_scale scales[MAX_SCALES];
        struct cmp_up_opts uo = {.scales = scales};
        struct cmp_apply_opts ao = {.progress = stderr, .stop_timeout_s = -1};
        struct isola_err err = {0};
        bool build = false, detach = false;
        struct cmp_ctr *ex = NULL;
        struct cmp_plan pl = {0};
        size_t n_ex = 0;
        int ch, rc = 1;

        optind = 1;
        while ((ch = getopt_long(argc, argv, "dt:", opts, NULL)) != -1) {
                switch (ch) {
                case 'd':
                        detach = true;
                        break;
                case 'b':
                        build = true;
                        break;
                case 'F':
                        uo.force_recreate = true;
                        break;
                case 'N':
                        uo.no_recreate = true;
                        break;
                case 'D':
                        uo.no_deps = true;
                        break;
                case 's':
                        if (uo.n_scales == MAX_SCALES ||
                            parse_scale(optarg, &scales[uo.n_scales]) < 0) {
                                fprintf(stderr,
                                        "isola compose up: --scale %s: expected SERVICE=N\n",
                                        optarg);
                                return 2;
                        }
                        if (!cmp_service_find(c->p, scales[uo.n_scales].service)) {
                                fprintf(stderr, "isola compose up: --scale: no such service: %s\n",
                                        scales[uo.n_scales].service);
                                return 2;
                        }
                        uo.n_scales++;
                        break;
                case 'w':
                        ao.wait = true;
                        break;
                case 'W':
                        ao.timeout_s = atoi(optarg);
                        break;
                case 'o':
                        uo.remove_orphans = true;
                        break;
                case 't':
                        ao.stop_timeout_s = atoi(optarg);
                        break;
                default:
                        return 2;
                }
        }
        uo.services = (const char *const *)argv + optind;
        uo.n_services = (size_t)(argc - optind);
        if (compose_lock(c) < 0 || compose_list(c, NULL, 0, &ex, &n_ex) < 0)
                return 1;
        if (cmp_plan_up(c->p, ex, n_ex, &uo, &pl, &err) < 0) {
                rc = compose_fail(&err);
                goto out;
        }
        if (ensure_images(c, &pl, build) != 0)
                goto out;
        if (cmp_apply(c->p, &pl, &cmp_real_ops, &c->r, &ao, &err) < 0) {
                rc = compose_fail(&err);
                goto out;
        }
        rc = 0;
        if (!detach)
                rc = attached(c, ao.stop_timeout_s);
out:
        cmp_plan_free(&pl);
        free(ex);
        return rc;
}

int compose_down(struct compose_cli *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"volumes", no_argument, NULL, 'v'},
            {"rmi", required_argument, NULL, 'r'},
            {"timeout", required_argument, NULL, 't'},
            {"remove-orphans", no_argument, NULL, 'o'},
            {NULL, 0, NULL, 0},
        };
        struct cmp_down_opts dopt = {0};
        struct cmp_apply_opts ao = {.progress = stderr, .stop_timeout_s = -1};
        struct isola_err err = {0};
        struct cmp_ctr *ex = NULL;
        struct cmp_plan pl = {0};
        size_t n_ex = 0;
        int ch, rc = 0;

        optind = 1;
        while ((ch = getopt_long(argc, argv, "vt:", opts, NULL)) != -1) {
                if (ch == 'v') {
                        dopt.volumes = true;
                } else if (ch == 'r') {
                        if (!strcmp(optarg, "all"))
                                dopt.rmi = CMP_RMI_ALL;
                        else if (!strcmp(optarg, "local"))
                                dopt.rmi = CMP_RMI_LOCAL;
                        else {
                                fprintf(stderr,
                                        "isola compose down: --rmi: expected all or local\n");
                                return 2;
                        }
                } else if (ch == 't') {
                        ao.stop_timeout_s = atoi(optarg);
                } else if (ch != 'o') {
                        return 2;
                }
        }
        if (compose_lock(c) < 0 || compose_list(c, NULL, 0, &ex, &n_ex) < 0)
                return 1;
        if (cmp_plan_down(c->p, ex, n_ex, &dopt, &pl, &err) < 0 ||
            cmp_apply(c->p, &pl, &cmp_real_ops, &c->r, &ao, &err) < 0)
                rc = compose_fail(&err);
        cmp_plan_free(&pl);
        free(ex);
        return rc;
}

int compose_start_stop(struct compose_cli *c, int argc, char **argv)
{
        const char *verb = argv[0];
        struct isola_err err = {0};
        struct cmp_ctr *ex = NULL;
        size_t n = 0;
        int ch, timeout = -1, rc = 0;

        optind = 1;
        while ((ch = getopt(argc, argv, "t:")) != -1) {
                if (ch != 't')
                        return 2;
                timeout = atoi(optarg);
        }
        if (compose_lock(c) < 0 || compose_list(c, argv + optind, argc - optind, &ex, &n) < 0)
                return 1;
        if (n == 0)
                fprintf(stderr, "isola compose %s: no containers (run `up` first)\n", verb);
        for (size_t i = 0; i < n && rc == 0; i++) {
                const struct cmp_service *s = cmp_service_find(c->p, ex[i].service);
                int t = timeout >= 0                        ? timeout
                        : s && s->stop_grace_period_ms >= 0 ? (int)(s->stop_grace_period_ms / 1000)
                                                            : 10;

                if (strcmp(verb, "start") != 0 && ex[i].state == CMP_CTR_RUNNING &&
                    cmp_real_ops.stop(&c->r, ex[i].name, t, &err) < 0)
                        rc = compose_fail(&err);
                if (rc == 0 && strcmp(verb, "stop") != 0 &&
                    (strcmp(verb, "start") != 0 || ex[i].state != CMP_CTR_RUNNING) &&
                    cmp_real_ops.start(&c->r, ex[i].name, &err) < 0)
                        rc = compose_fail(&err);
                if (rc == 0)
                        fprintf(stderr, " Container %s  %s\n", ex[i].name,
                                !strcmp(verb, "stop")    ? "Stopped"
                                : !strcmp(verb, "start") ? "Started"
                                                         : "Restarted");
        }
        free(ex);
        return rc;
}

int compose_pull_build(struct compose_cli *c, int argc, char **argv)
{
        bool build = !strcmp(argv[0], "build");
        struct isola_err err = {0};

        if (compose_engine(c) < 0)
                return 1;
        for (size_t i = 0; i < c->p->n_services; i++) {
                const struct cmp_service *s = &c->p->services[i];
                bool want = argc <= 1;
                char img[CMP_CTR_NAME_MAX];

                for (int j = 1; j < argc && !want; j++)
                        want = !strcmp(argv[j], s->name);
                if (!want || (build && !s->has_build) || (!build && !s->image))
                        continue;
                cmp_service_image(c->p, s, img, sizeof(img));
                if (build ? cmp_real_build(&c->r, s, stderr, &err) < 0
                          : cmp_real_pull(&c->r, img, isatty(2) ? stderr : NULL, &err) < 0)
                        return compose_fail(&err);
                fprintf(stderr, " Image %s  %s\n", img, build ? "Built" : "Pulled");
        }
        return 0;
}
