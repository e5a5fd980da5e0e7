/* `isola login` and `isola logout`: credentials from flags, stdin or a
 * prompt on the terminal, checked by reg_login before they are stored. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/registry_args.h"
#include "cli/verbs.h"
#include "util/cleanup.h"

#define SECRET_MAX 4096

enum { OPT_USERNAME = 300, OPT_PASSWORD, OPT_PASSWORD_STDIN, OPT_ALL };

static const struct option login_options[] = {
    {"username", required_argument, NULL, 'u'},
    {"password", required_argument, NULL, 'p'},
    {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
    CLI_REG_OPTIONS,
    {NULL, 0, NULL, 0},
};

static void login_usage(FILE *out)
{
        fprintf(out, "usage: isola login [options] REGISTRY\n"
                     "\n"
                     "  -u, --username USER    (prompted on a terminal when absent)\n"
                     "  -p, --password PASS    (prompted on a terminal when absent)\n"
                     "  --password-stdin       read the password from stdin\n" CLI_REG_USAGE);
}

/* Reads one line from fd (no trailing newline); echo off when asked. */
static char *read_line(int fd, const char *prompt, bool secret)
{
        struct termios old, raw;
        bool tty = prompt && isatty(fd);
        char *buf = malloc(SECRET_MAX);
        size_t n = 0;

        if (!buf)
                return NULL;
        if (tty) {
                fprintf(stderr, "%s", prompt);
                if (secret && tcgetattr(fd, &old) == 0) {
                        raw = old;
                        raw.c_lflag &= ~(tcflag_t)ECHO;
                        tcsetattr(fd, TCSAFLUSH, &raw);
                } else {
                        secret = false;
                }
        }
        for (;;) {
                char ch;
                ssize_t r = read(fd, &ch, 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0 || ch == '\n' || n + 1 >= SECRET_MAX)
                        break;
                buf[n++] = ch;
        }
        if (n && buf[n - 1] == '\r')
                n--;
        buf[n] = '\0';
        if (tty && secret) {
                tcsetattr(fd, TCSAFLUSH, &old);
                fprintf(stderr, "\n");
        }
        return buf;
}

static void wipe(char *s)
{
        if (s)
                explicit_bzero(s, strlen(s));
        free(s);
}

int cli_login(int argc, char **argv)
{
        struct cli_reg c = {0};
        struct isola_err err = {0};
        const char *user = NULL, *pass = NULL;
        bool pass_stdin = false;
        char *user_buf = NULL, *pass_buf = NULL;
        _cleanup_close_ int tty = -1;
        int opt, rc = 1;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "+u:p:", login_options, NULL)) != -1) {
                int r = cli_reg_flag(&c, "login", opt, optarg);
                if (r < 0)
                        goto out_usage;
                if (r > 0)
                        continue;
                if (opt == 'u')
                        user = optarg;
                else if (opt == 'p')
                        pass = optarg;
                else if (opt == OPT_PASSWORD_STDIN)
                        pass_stdin = true;
                else if (opt == CLI_REG_HELP) {
                        login_usage(stdout);
                        cli_reg_free(&c);
                        return 0;
                } else
                        goto out_usage;
        }
        if (optind != argc - 1) {
                fprintf(stderr, "isola login: expected one registry\n");
                goto out_usage;
        }
        if (pass && pass_stdin) {
                fprintf(stderr, "isola login: -p and --password-stdin exclude each other\n");
                goto out_usage;
        }
        tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (!user) {
                if (tty < 0 || pass_stdin) {
                        fprintf(stderr, "isola login: no username (-u)\n");
                        goto out_usage;
                }
                user = user_buf = read_line(tty, "Username: ", false);
        }
        if (pass_stdin) {
                pass = pass_buf = read_line(STDIN_FILENO, NULL, false);
        } else if (!pass) {
                if (tty < 0) {
                        fprintf(stderr, "isola login: no password (-p or --password-stdin)\n");
                        goto out_usage;
                }
                pass = pass_buf = read_line(tty, "Password: ", true);
        }
        if (!user || !pass)
                fprintf(stderr, "isola login: out of memory\n");
        else if (cli_reg_resolve_root(&c, &err) < 0 ||
                 reg_login(argv[optind], user, pass, &c.opts, &err) < 0)
                fprintf(stderr, "isola login: %s\n", err.msg);
        else {
                printf("Login Succeeded!\n");
                rc = 0;
        }
        wipe(user_buf);
        wipe(pass_buf);
        cli_reg_free(&c);
        return rc;
out_usage:
        login_usage(stderr);
        cli_reg_free(&c);
        return 2;
}

static const struct option logout_options[] = {
    {"all", no_argument, NULL, OPT_ALL},
    CLI_REG_OPTIONS,
    {NULL, 0, NULL, 0},
};

int cli_logout(int argc, char **argv)
{
        struct cli_reg c = {0};
        struct isola_err err = {0};
        bool all = false;
        int opt, rc = 1;

        optind = 1;
        while ((opt = getopt_long(argc, argv, "+a", logout_options, NULL)) != -1) {
                int r = cli_reg_flag(&c, "logout", opt, optarg);
                if (r > 0)
                        continue;
                if (r == 0 && (opt == OPT_ALL || opt == 'a')) {
                        all = true;
                        continue;
                }
                if (r == 0 && opt == CLI_REG_HELP) {
                        printf("usage: isola logout [--all] [--authfile FILE] [--root DIR] "
                               "REGISTRY\n");
                        cli_reg_free(&c);
                        return 0;
                }
                fprintf(stderr, "usage: isola logout [--all] [--authfile FILE] REGISTRY\n");
                cli_reg_free(&c);
                return 2;
        }
        if (all ? optind != argc : optind != argc - 1) {
                fprintf(stderr, "usage: isola logout [--all] [--authfile FILE] REGISTRY\n");
                cli_reg_free(&c);
                return 2;
        }
        const char *reg = all ? NULL : argv[optind];
        if (cli_reg_resolve_root(&c, &err) < 0 || reg_logout(reg, &c.opts, &err) < 0) {
                fprintf(stderr, "isola logout: %s\n", err.msg);
        } else {
                printf("Removed login credentials for %s\n", reg ? reg : "all registries");
                rc = 0;
        }
        cli_reg_free(&c);
        return rc;
}
