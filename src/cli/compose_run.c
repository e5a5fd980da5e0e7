/* isola compose run: a one-off container of a service, attached, after its
 * dependencies are up (unless --no-deps). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/compose_cli.h"

#define MAX_ARGS 256

static int deps_up(struct compose_cli *c, const struct cmp_service *s)
{
        const char *names[MAX_ARGS];
        struct cmp_up_opts uo = {.services = names};
        struct cmp_apply_opts ao = {.progress = stderr, .stop_timeout_s = -1};
        struct isola_err err = {0};
        struct cmp_ctr *ex = NULL;
        struct cmp_plan pl = {0};
        size_t n_ex = 0;
        int rc = 0;

        for (size_t i = 0; i < s->n_depends_on && uo.n_services < MAX_ARGS; i++)
                if (cmp_service_find(c->p, s->depends_on[i].service))
                        names[uo.n_services++] = s->depends_on[i].service;
        if (!uo.n_services)
                return 0;
        if (compose_list(c, NULL, 0, &ex, &n_ex) < 0)
                return 1;
        if (cmp_plan_up(c->p, ex, n_ex, &uo, &pl, &err) < 0 ||
            cmp_apply(c->p, &pl, &cmp_real_ops, &c->r, &ao, &err) < 0)
                rc = compose_fail(&err);
        cmp_plan_free(&pl);
        free(ex);
        return rc;
}

/* Reads "code\n" from the monitor's notify fd; -1 when it closed without. */
static int wait_code(int fd)
{
        char buf[32];
        size_t len = 0;

        while (len < sizeof(buf) - 1) {
                ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
                if (memchr(buf, '\n', len))
                        break;
        }
        buf[len] = '\0';
        return memchr(buf, '\n', len) ? atoi(buf) : -1;
}

int compose_run(struct compose_cli *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"rm", no_argument, NULL, 'r'},         {"detach", no_argument, NULL, 'd'},
            {"env", required_argument, NULL, 'e'},  {"no-deps", no_argument, NULL, 'D'},
            {"name", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0},
        };
        char *env[MAX_ARGS] = {0}, name[CMP_CTR_NAME_MAX], id[ENG_ID_LEN + 1];
        const char *given = NULL;
        bool rm = false, detach = false, no_deps = false;
        const struct cmp_service *s;
        struct isola_err err = {0};
        int ch, n_env = 0, fd = -1, code, number = -(int)(getpid() & 0xfffffff);

        optind = 1;
        while ((ch = getopt_long(argc, argv, "+de:", opts, NULL)) != -1) {
                if (ch == 'r')
                        rm = true;
                else if (ch == 'd')
                        detach = true;
                else if (ch == 'e' && n_env < MAX_ARGS - 1)
                        env[n_env++] = optarg;
                else if (ch == 'D')
                        no_deps = true;
                else if (ch == 'n')
                        given = optarg;
                else
                        return 2;
        }
        if (optind >= argc) {
                fprintf(stderr, "usage: isola compose run [OPTIONS] SERVICE [COMMAND...]\n");
                return 2;
        }
        s = cmp_service_find(c->p, argv[optind]);
        if (!s) {
                fprintf(stderr, "isola compose run: no such service: %s\n", argv[optind]);
                return 1;
        }
        if (compose_lock(c) < 0 || (!no_deps && deps_up(c, s) != 0))
                return 1;
        snprintf(name, sizeof(name), "%s", given ? given : "");
        if (!given)
                snprintf(name, sizeof(name), "%s-%s-run-%x", c->p->name, s->name, -number);
        if (cmp_real_create_oneoff(&c->r, s, name, optind + 1 < argc ? argv + optind + 1 : NULL,
                                   env, number, id, &err) < 0)
                return compose_fail(&err);
        if (detach) {
                struct eng_start_opts so = {0};

                if (eng_start(&c->r.eng, id, &so, &err) < 0)
                        return compose_fail(&err);
                printf("%s\n", name);
                return 0;
        }
        struct eng_start_opts so = {.attach = true, .notify_fd_out = &fd};
        if (eng_start(&c->r.eng, id, &so, &err) < 0)
                return compose_fail(&err);
        code = wait_code(fd);
        if (code >= 0 && eng_attach_finish(&c->r.eng, id, fd, code, &err) < 0)
                compose_fail(&err);
        close(fd);
        if (rm && eng_remove(&c->r.eng, id, true, true, &err) < 0)
                compose_fail(&err);
        return code < 0 ? 1 : code;
}
