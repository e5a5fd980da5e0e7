/* Small value parsers of the Compose format: durations, byte sizes, and
 * the shell-like splitting of a command string. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"

#define MS_MAX (INT64_C(1) << 50) /* ~35 000 years: bounds every product */

int cmp_parse_duration(const char *s, int64_t *ms_out)
{
        int64_t total = 0;

        if (!*s)
                return -1;
        /* a bare number is seconds */
        if (strspn(s, "0123456789") == strlen(s)) {
                if (strlen(s) > 12)
                        return -1;
                *ms_out = strtoll(s, NULL, 10) * 1000;
                return 0;
        }
        while (*s) {
                char *end;
                double v;
                double unit;

                if ((*s < '0' || *s > '9') && *s != '.')
                        return -1;
                v = strtod(s, &end);
                if (end == s)
                        return -1;
                s = end;
                if (!strncmp(s, "ms", 2)) {
                        unit = 1;
                        s += 2;
                } else if (!strncmp(s, "us", 2) || !strncmp(s, "µs", 3)) {
                        unit = 0.001;
                        s += s[0] == 'u' ? 2 : 3;
                } else if (!strncmp(s, "ns", 2)) {
                        unit = 0.000001;
                        s += 2;
                } else if (*s == 'h') {
                        unit = 3600000;
                        s++;
                } else if (*s == 'm') {
                        unit = 60000;
                        s++;
                } else if (*s == 's') {
                        unit = 1000;
                        s++;
                } else {
                        return -1;
                }
                if (!(v >= 0) || v * unit > (double)MS_MAX)
                        return -1;
                total += (int64_t)(v * unit);
                if (total > MS_MAX)
                        return -1;
        }
        *ms_out = total;
        return 0;
}

int cmp_parse_bytes(const char *s, int64_t *out)
{
        char *end;
        double v;
        int64_t mult = 1;

        if (!*s || ((*s < '0' || *s > '9') && *s != '.'))
                return -1;
        v = strtod(s, &end);
        if (end == s || !(v >= 0))
                return -1;
        switch (*end | 0x20) {
        case 'b':
                break;
        case 'k':
                mult = INT64_C(1) << 10;
                break;
        case 'm':
                mult = INT64_C(1) << 20;
                break;
        case 'g':
                mult = INT64_C(1) << 30;
                break;
        case 't':
                mult = INT64_C(1) << 40;
                break;
        default:
                if (*end)
                        return -1;
        }
        if (*end) {
                end++;
                if (mult > 1 && (*end == 'b' || *end == 'B'))
                        end++;
                if (*end)
                        return -1;
        }
        if (v * (double)mult > (double)(INT64_C(1) << 52))
                return -1;
        *out = (int64_t)(v * (double)mult);
        return 0;
}

int cmp_split_words(struct cmp_arena *a, const char *s, struct cmp_strv *out)
{
        size_t len = strlen(s), n = 0;
        char *buf = cmp_alloc(a, len + 1);
        const char **v = cmp_alloc(a, (len / 2 + 2) * sizeof(*v));
        char *o = buf;

        memset(out, 0, sizeof(*out));
        if (!buf || !v)
                return -1;
        while (*s) {
                char q = 0;
                bool word = false;
                char *start = o;

                while (*s == ' ' || *s == '\t' || *s == '\n')
                        s++;
                while (*s && (q || (*s != ' ' && *s != '\t' && *s != '\n'))) {
                        word = true;
                        if (q && *s == q) {
                                q = 0;
                        } else if (!q && (*s == '"' || *s == '\'')) {
                                q = *s;
                        } else if (*s == '\\' && q != '\'' && s[1]) {
                                s++;
                                *o++ = *s;
                        } else {
                                *o++ = *s;
                        }
                        s++;
                }
                if (q)
                        return -1;
                if (word) {
                        *o++ = '\0';
                        v[n++] = start;
                }
        }
        out->v = v;
        out->n = n;
        return 0;
}
