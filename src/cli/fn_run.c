/* isola fn invoke, serve, logs, usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/fn.h"
#include "fn/fn.h"
#include "fn/fn_http.h"
#include "util/cleanup.h"
#include "util/fs.h"

static void addr_path(const struct db_paths *p, char *buf, size_t len)
{
        snprintf(buf, len, "%s/fn/gateway", p->runroot);
}

int cli_fn_gateway_addr(const struct db_paths *p, char *buf, size_t len)
{
        char path[PATH_MAX + 16], line[256];
        int pid = 0;
        addr_path(p, path, sizeof(path));
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        bool ok = fgets(line, sizeof(line), f) && sscanf(line, "%d %127s", &pid, buf) == 2;
        fclose(f);
        (void)len;
        return ok && pid > 0 && kill(pid, 0) == 0 ? 0 : -1;
}

static int read_data(const char *arg, char **buf, size_t *len, struct isola_err *err)
{
        if (!arg) {
                *buf = strdup("");
                *len = 0;
                return 0;
        }
        if (!strcmp(arg, "-"))
                return fs_read_fd(0, FN_BODY_MAX + 1, buf, len, err);
        if (arg[0] == '@')
                return fs_read_file(arg + 1, buf, len, err);
        *buf = strdup(arg);
        *len = strlen(arg);
        return 0;
}

/* POST through a running gateway; prints the body, 0 on 2xx. */
static int via_gateway(const char *addr, const char *name, const char *path, const char *data,
                       size_t len)
{
        char host[128], *colon, hdr[512];
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
        snprintf(host, sizeof(host), "%s", addr);
        colon = strrchr(host, ':');
        if (!colon)
                return -1;
        *colon = 0;
        if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
                return -1;
        int s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0 || connect(s, ai->ai_addr, ai->ai_addrlen) < 0) {
                freeaddrinfo(ai);
                if (s >= 0)
                        close(s);
                return -1;
        }
        freeaddrinfo(ai);
        int n = snprintf(hdr, sizeof(hdr),
                         "POST /function/%s%s HTTP/1.1\r\nHost: isola\r\nContent-Length: %zu\r\n"
                         "Connection: close\r\n\r\n",
                         name, path, len);
        fs_write_all(s, hdr, (size_t)n);
        fs_write_all(s, data, len);
        char *resp = NULL;
        size_t rl = 0;
        struct isola_err err = {0};
        struct fn_response rs;
        int rc = fs_read_fd(s, FN_BODY_MAX + 65536, &resp, &rl, &err);
        close(s);
        if (rc < 0 || fn_http_parse_response(resp, rl, &rs) < 0) {
                free(resp);
                fprintf(stderr, "isola fn invoke: function '%s': bad response from the gateway\n",
                        name);
                return 1;
        }
        free(resp);
        int ok = rs.status >= 200 && rs.status < 300;
        if (ok)
                fwrite(rs.body, 1, rs.body_len, stdout);
        else
                fprintf(stderr, "isola fn invoke: function '%s': HTTP %d: %.*s", name, rs.status,
                        (int)(rs.body_len > 1024 ? 1024 : rs.body_len), rs.body);
        fn_response_free(&rs);
        return ok ? 0 : 1;
}

static int one_shot(const struct db_paths *p, const char *name, const char *path, const char *data,
                    size_t len)
{
        struct fn_gateway_opts o = {.paths = *p};
        struct fn_gateway *g;
        struct isola_err err = {0};
        struct fn_request rq = {.method = "POST", .path = path, .body = data, .body_len = len};
        struct fn_response rs;

        if (fn_gateway_create(&o, &g, &err) < 0) {
                fprintf(stderr, "isola fn invoke: %s\n", err.msg);
                return 1;
        }
        int rc = fn_gateway_invoke(g, name, &rq, &rs, &err);
        if (rc == 0 && rs.status >= 200 && rs.status < 300)
                fwrite(rs.body, 1, rs.body_len, stdout);
        else if (rc == 0)
                fprintf(stderr, "isola fn invoke: function '%s': HTTP %d: %.*s", name, rs.status,
                        (int)(rs.body_len > 1024 ? 1024 : rs.body_len), rs.body);
        else
                fprintf(stderr, "isola fn invoke: %s\n", err.msg);
        int ok = rc == 0 && rs.status >= 200 && rs.status < 300;
        fn_response_free(&rs);
        fn_gateway_destroy(g);
        return ok ? 0 : 1;
}

int cli_fn_invoke(int argc, char **argv)
{
        static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                             {"path", required_argument, NULL, 'P'},
                                             {NULL, 0, NULL, 0}};
        const char *data = NULL, *path = "";
        struct db_paths p;
        struct isola_err err = {0};
        char addr[128];
        int opt;

        while ((opt = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
                if (opt == 'd')
                        data = optarg;
                else if (opt == 'P')
                        path = optarg;
                else
                        return 2;
        }
        if (optind != argc - 1) {
                fprintf(stderr, "usage: isola fn invoke NAME [--data TEXT|@FILE|-] [--path /P]\n");
                return 2;
        }
        if (db_paths_resolve(NULL, &p, &err) < 0) {
                fprintf(stderr, "isola fn invoke: %s\n", err.msg);
                return 1;
        }
        char *buf = NULL;
        size_t len = 0;
        if (read_data(data, &buf, &len, &err) < 0 || len > FN_BODY_MAX) {
                fprintf(stderr, "isola fn invoke: --data %s: %s\n", data,
                        len > FN_BODY_MAX ? "over the 6 MiB limit" : err.msg);
                free(buf);
                return 1;
        }
        int rc = -1;
        if (cli_fn_gateway_addr(&p, addr, sizeof(addr)) == 0)
                rc = via_gateway(addr, argv[optind], path, buf, len);
        if (rc < 0)
                rc = one_shot(&p, argv[optind], path, buf, len);
        free(buf);
        return rc;
}

int cli_fn_serve(int argc, char **argv)
{
        static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                             {"pool", required_argument, NULL, 'p'},
                                             {NULL, 0, NULL, 0}};
        struct fn_gateway_opts o = {.listen = "127.0.0.1:8090", .events = stdout, .pool = 1};
        struct fn_gateway *g;
        struct isola_err err = {0};
        char path[PATH_MAX + 16], line[256];
        sigset_t set;
        int opt, sig;

        while ((opt = getopt_long(argc, argv, "l:p:", opts, NULL)) != -1) {
                char *end;
                if (opt == 'l')
                        o.listen = optarg;
                else if (opt == 'p') {
                        long v = strtol(optarg, &end, 10);
                        if (*end || end == optarg || v < 0 || v > 16) {
                                fprintf(stderr, "isola fn serve: --pool '%s': expected 0..16\n",
                                        optarg);
                                return 2;
                        }
                        o.pool = (int)v;
                } else
                        return 2;
        }
        if (db_paths_resolve(NULL, &o.paths, &err) < 0) {
                fprintf(stderr, "isola fn serve: %s\n", err.msg);
                return 1;
        }
        /* signals go to sigwait below, not to the gateway's threads */
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (fn_gateway_create(&o, &g, &err) < 0 || fn_gateway_start(g, &err) < 0) {
                fprintf(stderr, "isola fn serve: %s\n", err.msg);
                return 1;
        }
        snprintf(path, sizeof(path), "%s/fn", o.paths.runroot);
        if (fs_mkdir_p(path, 0700, &err) < 0)
                fprintf(stderr, "isola fn serve: %s\n", err.msg);
        addr_path(&o.paths, path, sizeof(path));
        snprintf(line, sizeof(line), "%d %s\n", (int)getpid(), o.listen);
        if (fs_write_file(path, line, strlen(line), O_CREAT | O_TRUNC, 0600, &err) < 0)
                fprintf(stderr, "isola fn serve: %s\n", err.msg);
        printf("listening on %s\n", o.listen);
        sigwait(&set, &sig);
        unlink(path);
        fn_gateway_destroy(g);
        return 0;
}

int cli_fn_logs(int argc, char **argv)
{
        struct db_paths p;
        struct isola_err err = {0};
        char path[PATH_MAX + 80], buf[65536];
        bool follow = argc == 3 && !strcmp(argv[1], "-f");
        const char *name = argv[argc - 1];

        if (argc < 2 || argc > 3 || (argc == 3 && !follow)) {
                fprintf(stderr, "usage: isola fn logs [-f] NAME\n");
                return 2;
        }
        if (db_paths_resolve(NULL, &p, &err) < 0) {
                fprintf(stderr, "isola fn logs: %s\n", err.msg);
                return 1;
        }
        snprintf(path, sizeof(path), "%s/fn/%s/log", p.runroot, name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "isola fn logs: function '%s': no log (never ran here)\n", name);
                return 1;
        }
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n > 0) {
                        fwrite(buf, 1, (size_t)n, stdout);
                        continue;
                }
                if (!follow)
                        break;
                fflush(stdout);
                struct timespec ts = {0, 200 * 1000000};
                nanosleep(&ts, NULL);
        }
        close(fd);
        return 0;
}

static int64_t parse_since(const char *s)
{
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s)
                return -1;
        int64_t now = (int64_t)time(NULL) * 1000;
        switch (*end) {
        case 's':
                return now - v * 1000;
        case 'm':
                return now - v * 60000;
        case 'h':
                return now - v * 3600000;
        case 'd':
                return now - v * 86400000;
        case 0:
                return v * 1000; /* unix seconds */
        default:
                return -1;
        }
}

int cli_fn_usage(int argc, char **argv)
{
        static const struct option opts[] = {{"since", required_argument, NULL, 's'},
                                             {"format", required_argument, NULL, 'f'},
                                             {NULL, 0, NULL, 0}};
        struct db_paths p;
        struct isola_err err = {0};
        struct fn_prices pr;
        struct fn_usage *u = NULL;
        size_t n = 0;
        sqlite3 *db;
        int64_t since = 0;
        bool json = false;
        int opt;

        while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                if (opt == 's' && (since = parse_since(optarg)) < 0) {
                        fprintf(stderr,
                                "isola fn usage: --since '%s': use 30m, 2h, 1d or unix "
                                "seconds\n",
                                optarg);
                        return 2;
                } else if (opt == 'f')
                        json = !strcmp(optarg, "json");
                else if (opt != 's')
                        return 2;
        }
        if (fn_prices_load(&pr, &err) < 0) {
                fprintf(stderr, "isola fn usage: %s\n", err.msg);
                return 1;
        }
        if (cli_fn_open("usage", &p, &db) < 0)
                return 1;
        if (fn_usage_query(db, optind < argc ? argv[optind] : NULL, since, &u, &n, &err) < 0) {
                fprintf(stderr, "isola fn usage: %s\n", err.msg);
                db_close(db);
                return 1;
        }
        if (json)
                printf("[");
        else
                printf("%-20s %8s %6s %5s %10s %12s %12s %10s %12s %12s\n", "FUNCTION", "INVOKED",
                       "ERRORS", "COLD", "BILLED_MS", "GB_SECONDS", "COST_LAMBDA", "CPU_S",
                       "USED_GB_S", "COST_USAGE");
        for (size_t i = 0; i < n; i++) {
                double req = (double)u[i].invocations * pr.per_request;
                double lam = req + u[i].billed_gb_s * pr.per_gb_second;
                double use =
                    req + u[i].cpu_s * pr.per_cpu_second + u[i].used_gb_s * pr.per_used_gb_second;
                if (json)
                        printf("%s{\"function\":\"%s\",\"invocations\":%lld,\"errors\":%lld,"
                               "\"cold_starts\":%lld,\"billed_ms\":%lld,\"wall_us\":%lld,"
                               "\"gb_seconds\":%.9f,\"cost_lambda_usd\":%.9f,"
                               "\"cpu_seconds\":%.6f,\"used_gb_seconds\":%.9f,"
                               "\"cost_usage_usd\":%.9f}",
                               i ? "," : "", u[i].function, (long long)u[i].invocations,
                               (long long)u[i].errors, (long long)u[i].cold_starts,
                               (long long)u[i].billed_ms, (long long)u[i].wall_us, u[i].billed_gb_s,
                               lam, u[i].cpu_s, u[i].used_gb_s, use);
                else
                        printf("%-20s %8lld %6lld %5lld %10lld %12.6f %12.9f %10.4f %12.6f "
                               "%12.9f\n",
                               u[i].function, (long long)u[i].invocations, (long long)u[i].errors,
                               (long long)u[i].cold_starts, (long long)u[i].billed_ms,
                               u[i].billed_gb_s, lam, u[i].cpu_s, u[i].used_gb_s, use);
        }
        if (json)
                printf("]\n");
        free(u);
        db_close(db);
        return 0;
}
