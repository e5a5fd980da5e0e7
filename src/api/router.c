/* Route matching on '/'-separated segments. Paths come from the network:
 * lengths and segment counts are bounded, and no parameter may be empty,
 * "." or "..". */
#include "api/router.h"

#include <ctype.h>
#include <string.h>

#define SEG_MAX 64

struct segs {
        size_t n;
        const char *s[SEG_MAX];
        size_t len[SEG_MAX];
};

const char *api_strip_version(const char *path)
{
        const char *p = path;

        if (!path || path[0] != '/' || strnlen(path, API_PATH_MAX) >= API_PATH_MAX)
                return NULL;
        if (p[1] != 'v' || !isdigit((unsigned char)p[2]))
                return path;
        p += 2;
        while (isdigit((unsigned char)*p))
                p++;
        if (*p != '.' || !isdigit((unsigned char)p[1]))
                return path;
        p++;
        while (isdigit((unsigned char)*p))
                p++;
        if (*p == '\0')
                return "/";
        return *p == '/' ? p : path;
}

/* false when there are too many segments */
static bool split(const char *path, struct segs *out)
{
        const char *p = path;

        out->n = 0;
        while (*p == '/')
                p++;
        while (*p) {
                const char *e = strchr(p, '/');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                if (out->n == SEG_MAX)
                        return false;
                out->s[out->n] = p;
                out->len[out->n++] = len;
                p += len;
                while (*p == '/')
                        p++;
        }
        return true;
}

static bool seg_eq(const char *a, size_t alen, const char *b, size_t blen)
{
        return alen == blen && memcmp(a, b, alen) == 0;
}

static bool param_ok(const char *s, size_t len)
{
        return len > 0 && len < API_PARAM_MAX && !seg_eq(s, len, ".", 1) &&
               !seg_eq(s, len, "..", 2);
}

/* Joins path segments [from, to) into a parameter. */
static bool put_param(struct api_match *m, const struct segs *p, size_t from, size_t to)
{
        size_t off = 0;
        char *dst;

        if (m->n_params == API_PARAMS_MAX)
                return false;
        dst = m->params[m->n_params];
        for (size_t i = from; i < to; i++) {
                if (!param_ok(p->s[i], p->len[i]) || off + p->len[i] + 1 >= API_PARAM_MAX)
                        return false;
                if (i > from)
                        dst[off++] = '/';
                memcpy(dst + off, p->s[i], p->len[i]);
                off += p->len[i];
        }
        dst[off] = '\0';
        m->n_params++;
        return true;
}

static bool is_param(const char *s, size_t len, bool *greedy)
{
        if (len < 3 || s[0] != '{' || s[len - 1] != '}')
                return false;
        *greedy = s[len - 2] == '*';
        return true;
}

static bool match_one(const struct segs *pat, const struct segs *p, struct api_match *m)
{
        size_t j = 0;

        m->n_params = 0;
        for (size_t i = 0; i < pat->n; i++) {
                bool greedy = false;
                if (!is_param(pat->s[i], pat->len[i], &greedy)) {
                        if (j >= p->n || !seg_eq(pat->s[i], pat->len[i], p->s[j], p->len[j]))
                                return false;
                        j++;
                        continue;
                }
                if (!greedy) {
                        if (j >= p->n || !put_param(m, p, j, j + 1))
                                return false;
                        j++;
                        continue;
                }
                /* the literal tail after a greedy parameter fixes its end */
                size_t tail = pat->n - i - 1;
                if (p->n < j + 1 + tail || !put_param(m, p, j, p->n - tail))
                        return false;
                j = p->n - tail;
        }
        return j == p->n;
}

void api_route_match(const struct api_route *table, size_t n, const char *method, const char *path,
                     struct api_match *m)
{
        struct segs p, pat;

        m->route = -1;
        m->bad_method = false;
        m->n_params = 0;
        path = api_strip_version(path);
        if (!path || !method || !split(path, &p))
                return;
        for (size_t i = 0; i < n; i++) {
                if (!split(table[i].pattern, &pat) || !match_one(&pat, &p, m))
                        continue;
                if (strcmp(table[i].method, method) == 0) {
                        m->route = (int)i;
                        return;
                }
                m->bad_method = true;
        }
        m->n_params = 0;
}
