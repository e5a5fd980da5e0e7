/* `isola stop|kill|rm|wait|pause|unpause|rename|port` and the monitor's
 * internal `_cleanup` / `_restart`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/ctr_common.h"
#include "cli/verbs.h"

struct ops_args {
        const char *root, *signal;
        int time;
        bool force, volumes;
};

enum { OPT_ROOT = 256 };

/* Common flags: --root, -t/--time, -f/--force, -v/--volumes, -s/--signal. */
static int parse_ops(int argc, char **argv, struct ops_args *a, int min_args)
{
        static const struct option opts[] = {
            {"root", required_argument, NULL, OPT_ROOT}, {"time", required_argument, NULL, 't'},
            {"force", no_argument, NULL, 'f'},           {"volumes", no_argument, NULL, 'v'},
            {"signal", required_argument, NULL, 's'},    {NULL, 0, NULL, 0}};
        int opt;

        a->time = -1;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, "+t:fvs:", opts, NULL)) != -1) {
                switch (opt) {
                case OPT_ROOT:
                        a->root = optarg;
                        break;
                case 't':
                        a->time = atoi(optarg);
                        break;
                case 'f':
                        a->force = true;
                        break;
                case 'v':
                        a->volumes = true;
                        break;
                case 's':
                        a->signal = optarg;
                        break;
                default:
                        fprintf(stderr, "isola %s: unknown option '%s'\n", argv[0],
                                argv[optind - 1]);
                        return -1;
                }
        }
        if (argc - optind < min_args) {
                fprintf(stderr, "isola %s: missing container name or id\n", argv[0]);
                return -1;
        }
        return 0;
}

enum op { OP_STOP, OP_KILL, OP_RM, OP_WAIT, OP_PAUSE, OP_UNPAUSE };

static int each(int argc, char **argv, enum op op)
{
        struct ops_args a = {0};
        struct isola_err err = {0};
        struct eng_ctx c;
        int rc = 0;

        if (parse_ops(argc, argv, &a, 1) < 0)
                return 125;
        if (cli_eng_open(a.root, &c) < 0)
                return 125;
        for (int i = optind; i < argc; i++) {
                int r = 0, code = 0;
                switch (op) {
                case OP_STOP:
                        r = eng_stop(&c, argv[i], a.time, &err);
                        break;
                case OP_KILL:
                        r = eng_kill(&c, argv[i], a.signal, &err);
                        break;
                case OP_RM:
                        r = eng_remove(&c, argv[i], a.force, a.volumes, &err);
                        break;
                case OP_WAIT:
                        r = eng_wait(&c, argv[i], &code, &err);
                        break;
                case OP_PAUSE:
                        r = eng_pause(&c, argv[i], true, &err);
                        break;
                case OP_UNPAUSE:
                        r = eng_pause(&c, argv[i], false, &err);
                        break;
                }
                if (r < 0)
                        rc = cli_fail(argv[0], &err);
                else if (op == OP_WAIT)
                        printf("%d\n", code);
                else
                        printf("%s\n", argv[i]);
                err_clear(&err);
        }
        eng_close(&c);
        return rc;
}

int cli_stop(int argc, char **argv)
{
        return each(argc, argv, OP_STOP);
}
int cli_kill(int argc, char **argv)
{
        return each(argc, argv, OP_KILL);
}
int cli_rm(int argc, char **argv)
{
        return each(argc, argv, OP_RM);
}
int cli_wait(int argc, char **argv)
{
        return each(argc, argv, OP_WAIT);
}
int cli_pause(int argc, char **argv)
{
        return each(argc, argv, OP_PAUSE);
}
int cli_unpause(int argc, char **argv)
{
        return each(argc, argv, OP_UNPAUSE);
}

int cli_rename(int argc, char **argv)
{
        struct ops_args a = {0};
        struct isola_err err = {0};
        struct eng_ctx c;
        int rc = 0;

        if (parse_ops(argc, argv, &a, 2) < 0)
                return 125;
        if (cli_eng_open(a.root, &c) < 0)
                return 125;
        if (eng_rename(&c, argv[optind], argv[optind + 1], &err) < 0)
                rc = cli_fail("rename", &err);
        eng_close(&c);
        return rc;
}

int cli_port(int argc, char **argv)
{
        struct ops_args a = {0};
        struct isola_err err = {0};
        struct eng_ctx c;
        char *text = NULL;
        int rc = 0;

        if (parse_ops(argc, argv, &a, 1) < 0)
                return 125;
        if (cli_eng_open(a.root, &c) < 0)
                return 125;
        if (eng_port(&c, argv[optind], &text, &err) < 0)
                rc = cli_fail("port", &err);
        else
                fputs(text, stdout);
        free(text);
        eng_close(&c);
        return rc;
}

/* `isola _cleanup ID CODE`: exec'd by the monitor after the last exit. */
int cli_internal_cleanup(int argc, char **argv)
{
        struct isola_err err = {0};
        struct eng_ctx c;
        int rc = 0;

        if (argc != 3 || cli_eng_open(NULL, &c) < 0)
                return 125;
        if (eng_cleanup(&c, argv[1], atoi(argv[2]), 0, &err) < 0)
                rc = cli_fail("_cleanup", &err);
        eng_close(&c);
        return rc;
}

/* `isola _restart ID`: run by the monitor; reports on fd 3. */
int cli_internal_restart(int argc, char **argv)
{
        struct isola_err err = {0};
        struct eng_ctx c;
        int rc = 0;

        if (argc != 2 || cli_eng_open(NULL, &c) < 0)
                return 125;
        if (eng_restart_in_monitor(&c, argv[1], 3, &err) < 0) {
                char msg[ISOLA_ERR_MSG_MAX + 4];
                int n = snprintf(msg, sizeof(msg), "E %s", err.msg);
                if (write(3, msg, (size_t)n) < 0)
                        fprintf(stderr, "isola _restart: %s\n", err.msg);
                rc = 125;
        }
        eng_close(&c);
        return rc;
}
