/* `isola vm create|start|stop|kill|pause|resume|ls|inspect|console|logs|rm`:
 * argument parsing over the managed-VM library (vmm/mgr.h). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/vm_cli.h"
#include "vmm/mgr.h"

#define EXIT_USAGE 2

int vm_cli_fail(const char *verb, const struct isola_err *err)
{
        fprintf(stderr, "isola vm %s: %s\n", verb, err->msg);
        return 1;
}

int vm_cli_usage(const char *verb, const char *what)
{
        fprintf(stderr, "isola vm %s: %s (try 'isola vm --help')\n", verb, what);
        return EXIT_USAGE;
}

static int with_mgr(const char *verb, struct vm_mgr **m)
{
        struct isola_err err = {0};

        if (vm_mgr_open(NULL, m, &err) < 0)
                return vm_cli_fail(verb, &err);
        return 0;
}

static int vm_create(int argc, char **argv)
{
        struct machine_config cfg;
        struct isola_err err = {0};
        struct vm_mgr *m = NULL;
        char id[65];

        if (argc < 2 || argv[1][0] == '-')
                return vm_cli_usage("create", "expected NAME, then the machine flags of `vm run`");
        const char *name = argv[1];
        /* The flags parser sees "create FLAGS...". */
        argv[1] = argv[0];
        machine_config_init(&cfg);
        int rc = vm_cli_parse_machine(argc - 1, argv + 1, &cfg, &err);
        if (rc != 0) {
                machine_config_free(&cfg);
                return rc > 0 ? 0 : vm_cli_usage("create", err.msg);
        }
        rc = with_mgr("create", &m);
        if (rc == 0 && vm_mgr_create(m, name, &cfg, id, &err) < 0)
                rc = vm_cli_fail("create", &err);
        if (rc == 0)
                printf("%s\n", id);
        vm_mgr_close(m);
        machine_config_free(&cfg);
        return rc;
}

/* VERB NAME...: the same call for each name. */
static int for_each(int argc, char **argv,
                    int (*op)(struct vm_mgr *, const char *, void *, struct isola_err *), void *arg,
                    bool print)
{
        struct isola_err err = {0};
        struct vm_mgr *m = NULL;
        int rc = 0;

        if (argc < 2)
                return vm_cli_usage(argv[0], "expected a VM name");
        if (with_mgr(argv[0], &m) != 0)
                return 1;
        for (int i = 1; i < argc; i++) {
                if (op(m, argv[i], arg, &err) < 0)
                        rc = vm_cli_fail(argv[0], &err);
                else if (print)
                        printf("%s\n", argv[i]);
        }
        vm_mgr_close(m);
        return rc;
}

static int op_start(struct vm_mgr *m, const char *ref, void *arg, struct isola_err *err)
{
        (void)arg;
        return vm_mgr_start(m, ref, err);
}

static int op_stop(struct vm_mgr *m, const char *ref, void *arg, struct isola_err *err)
{
        return vm_mgr_stop(m, ref, *(unsigned *)arg, err);
}

static int op_kill(struct vm_mgr *m, const char *ref, void *arg, struct isola_err *err)
{
        return vm_mgr_kill(m, ref, *(int *)arg, err);
}

static int op_pause(struct vm_mgr *m, const char *ref, void *arg, struct isola_err *err)
{
        (void)arg;
        return vm_mgr_pause(m, ref, err);
}

static int op_resume(struct vm_mgr *m, const char *ref, void *arg, struct isola_err *err)
{
        (void)arg;
        return vm_mgr_resume(m, ref, err);
}

static int op_rm(struct vm_mgr *m, const char *ref, void *arg, struct isola_err *err)
{
        return vm_mgr_rm(m, ref, *(bool *)arg, err);
}

/* Options before the names: -t/--time N, -s/--signal SIG, -f/--force. */
static int take_uint(const char *verb, const char *s, unsigned max, unsigned *out)
{
        char *end;
        unsigned long v = strtoul(s, &end, 10);

        if (!*s || *end || s[0] == '-' || v > max)
                return vm_cli_usage(verb, "expected a number of seconds");
        *out = (unsigned)v;
        return 0;
}

static int parse_signal(const char *s, int *out)
{
        static const struct {
                const char *name;
                int sig;
        } names[] = {{"KILL", SIGKILL}, {"TERM", SIGTERM}, {"INT", SIGINT}, {"HUP", SIGHUP}};
        char *end;

        if (!strncmp(s, "SIG", 3))
                s += 3;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (!strcmp(s, names[i].name)) {
                        *out = names[i].sig;
                        return 0;
                }
        long v = strtol(s, &end, 10);
        if (!*s || *end || v < 1 || v > 64)
                return -1;
        *out = (int)v;
        return 0;
}

static int vm_stop(int argc, char **argv)
{
        unsigned timeout = 10;
        int i = 1;

        for (; i < argc && argv[i][0] == '-'; i++) {
                if ((!strcmp(argv[i], "-t") || !strcmp(argv[i], "--time")) && i + 1 < argc) {
                        if (take_uint("stop", argv[++i], 3600, &timeout) != 0)
                                return EXIT_USAGE;
                } else if (!strncmp(argv[i], "--time=", 7)) {
                        if (take_uint("stop", argv[i] + 7, 3600, &timeout) != 0)
                                return EXIT_USAGE;
                } else {
                        return vm_cli_usage("stop", "unknown option");
                }
        }
        argv[i - 1] = argv[0];
        return for_each(argc - i + 1, argv + i - 1, op_stop, &timeout, true);
}

static int vm_kill(int argc, char **argv)
{
        int signo = 0, i = 1;

        for (; i < argc && argv[i][0] == '-'; i++) {
                const char *v = NULL;
                if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--signal")) && i + 1 < argc)
                        v = argv[++i];
                else if (!strncmp(argv[i], "--signal=", 9))
                        v = argv[i] + 9;
                if (!v)
                        return vm_cli_usage("kill", "unknown option");
                if (parse_signal(v, &signo) < 0)
                        return vm_cli_usage("kill", "unknown signal");
        }
        argv[i - 1] = argv[0];
        return for_each(argc - i + 1, argv + i - 1, op_kill, &signo, true);
}

static int vm_rm(int argc, char **argv)
{
        bool force = false;
        int i = 1;

        for (; i < argc && argv[i][0] == '-'; i++) {
                if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force"))
                        force = true;
                else
                        return vm_cli_usage("rm", "unknown option");
        }
        argv[i - 1] = argv[0];
        return for_each(argc - i + 1, argv + i - 1, op_rm, &force, true);
}

static void fmt_age(char *buf, size_t len, int64_t t)
{
        int64_t d = (int64_t)time(NULL) - t;

        if (t <= 0)
                snprintf(buf, len, "-");
        else if (d < 120)
                snprintf(buf, len, "%llds ago", (long long)d);
        else if (d < 7200)
                snprintf(buf, len, "%lldm ago", (long long)(d / 60));
        else
                snprintf(buf, len, "%lldh ago", (long long)(d / 3600));
}

static int vm_ls(int argc, char **argv)
{
        struct isola_err err = {0};
        struct json_object *arr = NULL;
        struct vm_mgr *m = NULL;
        bool json = false;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--format") && i + 1 < argc && !strcmp(argv[i + 1], "json"))
                        json = true, i++;
                else if (!strcmp(argv[i], "--format=json"))
                        json = true;
                else
                        return vm_cli_usage("ls", "expected only --format json");
        }
        if (with_mgr("ls", &m) != 0)
                return 1;
        if (vm_mgr_list(m, &arr, &err) < 0) {
                vm_mgr_close(m);
                return vm_cli_fail("ls", &err);
        }
        if (json) {
                printf("%s\n", json_object_to_json_string_ext(
                                   arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        } else {
                printf("%-12s  %-20s  %-8s  %4s  %8s  %-4s  %s\n", "ID", "NAME", "STATE", "CPUS",
                       "MEMORY", "PV", "STATUS");
                for (size_t i = 0; i < json_object_array_length(arr); i++) {
                        struct json_object *o = json_object_array_get_idx(arr, i), *v;
                        char status[64], age[32];
                        const char *state = json_object_object_get_ex(o, "state", &v)
                                                ? json_object_get_string(v)
                                                : "";
                        json_object_object_get_ex(
                            o, !strcmp(state, "stopped") ? "finished" : "started", &v);
                        fmt_age(age, sizeof(age), json_object_get_int64(v));
                        if (!strcmp(state, "stopped")) {
                                json_object_object_get_ex(o, "exit_reason", &v);
                                snprintf(status, sizeof(status), "%s %s", json_object_get_string(v),
                                         age);
                        } else if (!strcmp(state, "created")) {
                                snprintf(status, sizeof(status), "-");
                        } else {
                                snprintf(status, sizeof(status), "up since %s", age);
                        }
                        struct json_object *id, *name, *cpus, *mem, *pv;
                        json_object_object_get_ex(o, "id", &id);
                        json_object_object_get_ex(o, "name", &name);
                        json_object_object_get_ex(o, "cpus", &cpus);
                        json_object_object_get_ex(o, "memory_mib", &mem);
                        json_object_object_get_ex(o, "pv", &pv);
                        printf("%-12.12s  %-20s  %-8s  %4d  %5lldMiB  %-4s  %s\n",
                               json_object_get_string(id), json_object_get_string(name), state,
                               json_object_get_int(cpus), (long long)json_object_get_int64(mem),
                               json_object_get_boolean(pv) ? "on" : "off", status);
                }
        }
        json_object_put(arr);
        vm_mgr_close(m);
        return 0;
}

static int vm_inspect(int argc, char **argv)
{
        struct isola_err err = {0};
        struct vm_mgr *m = NULL;
        struct json_object *arr = json_object_new_array();
        int rc = 0;

        if (argc < 2)
                return vm_cli_usage("inspect", "expected a VM name");
        if (with_mgr("inspect", &m) != 0)
                return 1;
        for (int i = 1; i < argc; i++) {
                struct json_object *o = NULL;
                if (vm_mgr_inspect(m, argv[i], &o, &err) < 0)
                        rc = vm_cli_fail("inspect", &err);
                else
                        json_object_array_add(arr, o);
        }
        if (json_object_array_length(arr))
                printf("%s\n", json_object_to_json_string_ext(
                                   arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(arr);
        vm_mgr_close(m);
        return rc;
}

static int cat_file(const char *path)
{
        char buf[65536];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return errno == ENOENT ? 0 : -1;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
                        break;
        close(fd);
        return 0;
}

static int vm_logs(int argc, char **argv)
{
        struct isola_err err = {0};
        struct vm_mgr *m = NULL;
        char path[4096], old[4100];

        if (argc != 2)
                return vm_cli_usage("logs", "expected one VM name");
        if (with_mgr("logs", &m) != 0)
                return 1;
        int rc = vm_mgr_path(m, argv[1], "log", path, sizeof(path), &err);
        vm_mgr_close(m);
        if (rc < 0)
                return vm_cli_fail("logs", &err);
        snprintf(old, sizeof(old), "%s.1", path);
        if (cat_file(old) < 0 || cat_file(path) < 0) {
                fprintf(stderr, "isola vm logs: '%s': %s\n", path, strerror(errno));
                return 1;
        }
        return 0;
}

static int vm_console(int argc, char **argv)
{
        struct isola_err err = {0};
        struct vm_mgr *m = NULL;
        char sock[4096];

        if (argc != 2)
                return vm_cli_usage("console", "expected one VM name");
        if (with_mgr("console", &m) != 0)
                return 1;
        /* The control socket answers only while the VM runs. */
        int rc = vm_mgr_ctl_path(m, argv[1], sock, sizeof(sock), &err);
        if (rc == 0)
                rc = vm_mgr_path(m, argv[1], "console", sock, sizeof(sock), &err);
        vm_mgr_close(m);
        if (rc < 0)
                return vm_cli_fail("console", &err);
        return vm_cli_console(sock, argv[1], 0x1d);
}

int cli_vm_managed(int argc, char **argv)
{
        static const struct {
                const char *verb;
                int (*run)(int, char **);
        } verbs[] = {{"create", vm_create},   {"stop", vm_stop}, {"kill", vm_kill},
                     {"rm", vm_rm},           {"ls", vm_ls},     {"list", vm_ls},
                     {"inspect", vm_inspect}, {"logs", vm_logs}, {"console", vm_console}};
        int zero = 0;

        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                if (!strcmp(argv[0], verbs[i].verb))
                        return verbs[i].run(argc, argv);
        if (!strcmp(argv[0], "compare"))
                return vm_cli_compare(argc, argv);
        if (!strcmp(argv[0], "_monitor") && argc == 3)
                return vm_mgr_monitor(argv[1], atoi(argv[2]));
        if (!strcmp(argv[0], "start"))
                return for_each(argc, argv, op_start, &zero, true);
        if (!strcmp(argv[0], "pause"))
                return for_each(argc, argv, op_pause, &zero, true);
        if (!strcmp(argv[0], "resume"))
                return for_each(argc, argv, op_resume, &zero, true);
        return -1;
}
