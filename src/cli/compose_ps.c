/* isola compose ps, logs, top, images, exec, run. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/compose_cli.h"
#include "util/cleanup.h"

#define MAX_ARGS 256

static const char *const health_names[] = {"", "starting", "healthy", "unhealthy"};

static void ports_of(struct compose_cli *c, const char *name, char *out, size_t len)
{
        struct isola_err ignore = {0};
        _cleanup_free_ char *text = NULL;
        size_t used = 0;

        out[0] = '\0';
        if (eng_port(&c->r.eng, name, &text, &ignore) < 0 || !text)
                return;
        /* "80/tcp -> 0.0.0.0:8080" lines → "0.0.0.0:8080->80/tcp, ..." */
        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && used < len;
             l = strtok_r(NULL, "\n", &save)) {
                char *arrow = strstr(l, " -> ");

                if (!arrow)
                        continue;
                *arrow = '\0';
                used += (size_t)snprintf(out + used, len - used, "%s%s->%s", used ? ", " : "",
                                         arrow + 4, l);
        }
}

int compose_ps(struct compose_cli *c, int argc, char **argv)
{
        static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"services", no_argument, NULL, 's'},
                                             {NULL, 0, NULL, 0}};
        bool all = false, quiet = false, services = false;
        struct cmp_ctr *ex = NULL;
        size_t n = 0;
        int ch;

        optind = 1;
        while ((ch = getopt_long(argc, argv, "aq", opts, NULL)) != -1) {
                if (ch == 'a')
                        all = true;
                else if (ch == 'q')
                        quiet = true;
                else if (ch == 's')
                        services = true;
                else
                        return 2;
        }
        if (compose_list(c, argv + optind, argc - optind, &ex, &n) < 0)
                return 1;
        if (!quiet && !services)
                printf("%-32s %-16s %-24s %s\n", "NAME", "SERVICE", "STATUS", "PORTS");
        for (size_t i = 0; i < n; i++) {
                struct cmp_ctr cur = ex[i];
                struct isola_err err = {0};
                char status[64], ports[512];

                /* inspect runs a due healthcheck, so HEALTH is current */
                if (cmp_real_ops.inspect(&c->r, ex[i].name, &cur, &err) < 0)
                        cur = ex[i];
                memcpy(cur.service, ex[i].service, sizeof(cur.service));
                cur.number = ex[i].number;
                if (!all && cur.state != CMP_CTR_RUNNING)
                        continue;
                if (quiet || services) {
                        printf("%s\n", services ? cur.service : cur.name);
                        continue;
                }
                if (cur.state == CMP_CTR_RUNNING)
                        snprintf(status, sizeof(status), "running%s%s%s", cur.health ? " (" : "",
                                 health_names[cur.health], cur.health ? ")" : "");
                else if (cur.state == CMP_CTR_EXITED)
                        snprintf(status, sizeof(status), "exited (%d)", cur.exit_code);
                else
                        snprintf(status, sizeof(status), "created");
                ports_of(c, cur.name, ports, sizeof(ports));
                printf("%-32s %-16s %-24s %s\n", cur.name, cur.service, status, ports);
        }
        free(ex);
        return 0;
}

/* One child per container runs eng_logs into a pipe; lines come back
 * prefixed "name  | " (coloured on a terminal). */
struct stream {
        int fd;
        pid_t pid;
        char name[CMP_CTR_NAME_MAX];
        char buf[8192];
        size_t len;
        int colour;
};

static void emit_line(const struct stream *s, const char *line, size_t len, int width, bool colour)
{
        if (colour)
                printf("\033[%dm%-*s |\033[0m %.*s\n", s->colour, width, s->name, (int)len, line);
        else
                printf("%-*s | %.*s\n", width, s->name, (int)len, line);
}

static pid_t spawn_logs(const char *name, const struct eng_logs_opts *o, int *fd_out)
{
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                struct eng_ctx eng;
                struct isola_err err = {0};

                /* an attached `up` catches these; its log readers must not */
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                dup2(p[1], 1);
                dup2(p[1], 2);
                /* its own database connection: sqlite handles must not cross fork */
                if (eng_open(NULL, &eng, &err) < 0 || eng_logs(&eng, name, o, &err) < 0) {
                        dprintf(2, "%s\n", err.msg);
                        _exit(1);
                }
                _exit(0);
        }
        close(p[1]);
        if (pid < 0) {
                close(p[0]);
                return -1;
        }
        *fd_out = p[0];
        return pid;
}

static int pump(struct stream *st, size_t n, int width, bool colour)
{
        size_t open_n = n;

        while (open_n) {
                struct pollfd pf[64];

                for (size_t i = 0; i < n; i++)
                        pf[i] = (struct pollfd){.fd = st[i].fd, .events = POLLIN};
                if (poll(pf, n, -1) < 0)
                        return errno == EINTR ? 0 : -1;
                for (size_t i = 0; i < n; i++) {
                        ssize_t r;
                        char *nl;

                        if (st[i].fd < 0 || !pf[i].revents)
                                continue;
                        r = read(st[i].fd, st[i].buf + st[i].len, sizeof(st[i].buf) - st[i].len);
                        if (r <= 0) {
                                if (st[i].len)
                                        emit_line(&st[i], st[i].buf, st[i].len, width, colour);
                                close(st[i].fd);
                                st[i].fd = -1;
                                open_n--;
                                continue;
                        }
                        st[i].len += (size_t)r;
                        while ((nl = memchr(st[i].buf, '\n', st[i].len))) {
                                size_t l = (size_t)(nl - st[i].buf);

                                emit_line(&st[i], st[i].buf, l, width, colour);
                                memmove(st[i].buf, nl + 1, st[i].len - l - 1);
                                st[i].len -= l + 1;
                        }
                        if (st[i].len == sizeof(st[i].buf)) { /* an overlong line: cut */
                                emit_line(&st[i], st[i].buf, st[i].len, width, colour);
                                st[i].len = 0;
                        }
                }
                fflush(stdout);
        }
        return 0;
}

int compose_logs(struct compose_cli *c, int argc, char **argv)
{
        static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
                                             {"tail", required_argument, NULL, 'n'},
                                             {"timestamps", no_argument, NULL, 't'},
                                             {"no-color", no_argument, NULL, 'C'},
                                             {NULL, 0, NULL, 0}};
        static const int colours[] = {36, 33, 32, 35, 34, 96, 93, 92, 95, 94};
        struct eng_logs_opts lo = {.tail = -1};
        bool colour = isatty(1);
        struct stream *st;
        struct cmp_ctr *ex = NULL;
        size_t n = 0;
        int ch, width = 0, rc;

        optind = 1;
        while ((ch = getopt_long(argc, argv, "fn:t", opts, NULL)) != -1) {
                if (ch == 'f')
                        lo.follow = true;
                else if (ch == 'n')
                        lo.tail = strcmp(optarg, "all") ? atol(optarg) : -1;
                else if (ch == 't')
                        lo.timestamps = true;
                else if (ch == 'C')
                        colour = false;
                else
                        return 2;
        }
        if (compose_list(c, argv + optind, argc - optind, &ex, &n) < 0)
                return 1;
        if (n > 64)
                n = 64;
        st = calloc(n + 1, sizeof(*st));
        if (!st) {
                free(ex);
                return 1;
        }
        fflush(stdout);
        for (size_t i = 0; i < n; i++) {
                snprintf(st[i].name, sizeof(st[i].name), "%s", ex[i].name);
                st[i].colour = colours[i % (sizeof(colours) / sizeof(*colours))];
                st[i].pid = spawn_logs(ex[i].name, &lo, &st[i].fd);
                if ((int)strlen(ex[i].name) > width)
                        width = (int)strlen(ex[i].name);
        }
        rc = pump(st, n, width, colour);
        for (size_t i = 0; i < n; i++) {
                if (st[i].fd >= 0)
                        close(st[i].fd);
                if (st[i].pid > 0) {
                        kill(st[i].pid, SIGTERM);
                        waitpid(st[i].pid, NULL, 0);
                }
        }
        free(st);
        free(ex);
        return rc < 0 ? 1 : 0;
}

int compose_top_images(struct compose_cli *c, int argc, char **argv)
{
        bool top = !strcmp(argv[0], "top");
        struct cmp_ctr *ex = NULL;
        size_t n = 0;

        if (compose_list(c, argv + 1, argc - 1, &ex, &n) < 0)
                return 1;
        if (!top)
                printf("%-32s %-40s %s\n", "CONTAINER", "IMAGE", "IMAGE ID");
        for (size_t i = 0; i < n; i++) {
                struct isola_err err = {0};
                struct eng_container *ct = NULL;
                _cleanup_free_ char *text = NULL;

                if (top) {
                        if (ex[i].state != CMP_CTR_RUNNING)
                                continue;
                        if (eng_top(&c->r.eng, ex[i].name, &text, &err) < 0) {
                                free(ex);
                                return compose_fail(&err);
                        }
                        printf("%s\n%s\n", ex[i].name, text);
                } else if (eng_get(&c->r.eng, ex[i].name, &ct, &err) == 0) {
                        const char *id = ct->image_id ? ct->image_id : "";

                        printf("%-32s %-40s %.12s\n", ex[i].name,
                               ct->image_name ? ct->image_name : "",
                               strncmp(id, "sha256:", 7) ? id : id + 7);
                        eng_container_free(ct);
                }
        }
        free(ex);
        return 0;
}

/* The replica `index` of a service, running. */
static int target(struct compose_cli *c, const char *svc, int index, char *name, size_t len)
{
        struct cmp_ctr *ex = NULL;
        size_t n = 0;
        int rc = 1;
        char *one[] = {(char *)svc};

        if (compose_list(c, one, 1, &ex, &n) < 0)
                return 1;
        for (size_t i = 0; i < n; i++) {
                if (ex[i].number == index) {
                        snprintf(name, len, "%s", ex[i].name);
                        rc = 0;
                }
        }
        if (rc)
                fprintf(stderr, "isola compose: service %s has no container %d (run `up` first)\n",
                        svc, index);
        free(ex);
        return rc;
}

int compose_exec(struct compose_cli *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"detach", no_argument, NULL, 'd'},
            {"env", required_argument, NULL, 'e'},
            {"user", required_argument, NULL, 'u'},
            {"workdir", required_argument, NULL, 'w'},
            {"index", required_argument, NULL, 'i'},
            {"no-TTY", no_argument, NULL, 'T'},
            {NULL, 0, NULL, 0},
        };
        char *env[MAX_ARGS] = {0};
        struct eng_exec_opts o = {.env = env, .tty = isatty(0) && isatty(1), .interactive = true};
        struct isola_err err = {0};
        char name[CMP_CTR_NAME_MAX];
        int ch, index = 1, n_env = 0, code = 0;

        optind = 1;
        while ((ch = getopt_long(argc, argv, "+de:u:w:T", opts, NULL)) != -1) {
                if (ch == 'd')
                        o.detach = true;
                else if (ch == 'e' && n_env < MAX_ARGS - 1)
                        env[n_env++] = optarg;
                else if (ch == 'u')
                        o.user = optarg;
                else if (ch == 'w')
                        o.workdir = optarg;
                else if (ch == 'i')
                        index = atoi(optarg);
                else if (ch == 'T')
                        o.tty = false;
                else
                        return 2;
        }
        if (argc - optind < 2) {
                fprintf(stderr, "usage: isola compose exec [OPTIONS] SERVICE COMMAND [ARG...]\n");
                return 2;
        }
        if (!cmp_service_find(c->p, argv[optind])) {
                fprintf(stderr, "isola compose exec: no such service: %s\n", argv[optind]);
                return 1;
        }
        if (target(c, argv[optind], index, name, sizeof(name)))
                return 1;
        o.args = argv + optind + 1;
        if (eng_exec(&c->r.eng, name, &o, &code, &err) < 0)
                return compose_fail(&err);
        return code;
}
