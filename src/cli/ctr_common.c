/* Helpers shared by the container verbs. */
#include "cli/ctr_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_eng_open(const char *root, struct eng_ctx *c)
{
        struct isola_err err = {0};

        if (eng_open(root, c, &err) < 0) {
                fprintf(stderr, "isola: %s\n", err.msg);
                return -1;
        }
        return 0;
}

int cli_fail(const char *verb, const struct isola_err *err)
{
        fprintf(stderr, "isola %s: %s\n", verb, err->msg);
        return 125;
}

void cli_strv_add(char ***v, const char *s)
{
        size_t n = 0;
        while (*v && (*v)[n])
                n++;
        char **t = realloc(*v, (n + 2) * sizeof(*t));
        if (!t)
                return;
        t[n] = strdup(s);
        t[n + 1] = NULL;
        *v = t;
}

int64_t cli_parse_size(const char *s)
{
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        int64_t mul = 1;

        if (errno || end == s || v < 0)
                return -1;
        switch (*end) {
        case 'b':
        case 'B':
        case '\0':
                break;
        case 'k':
        case 'K':
                mul = 1024;
                break;
        case 'm':
        case 'M':
                mul = 1024 * 1024;
                break;
        case 'g':
        case 'G':
                mul = 1024 * 1024 * 1024;
                break;
        default:
                return -1;
        }
        if (*end && end[1] && strcasecmp(end + 1, "b") != 0 && strcasecmp(end + 1, "ib") != 0)
                return -1;
        return (int64_t)(v * (double)mul);
}

void cli_ago(int64_t ns, char *buf, size_t len)
{
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t s = now.tv_sec - ns / 1000000000;

        if (ns == 0)
                snprintf(buf, len, "-");
        else if (s < 60)
                snprintf(buf, len, "%lld seconds ago", (long long)s);
        else if (s < 3600)
                snprintf(buf, len, "%lld minutes ago", (long long)s / 60);
        else if (s < 86400)
                snprintf(buf, len, "%lld hours ago", (long long)s / 3600);
        else
                snprintf(buf, len, "%lld days ago", (long long)s / 86400);
}
