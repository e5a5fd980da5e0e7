/* .containerignore / .dockerignore patterns (see ignore.h for the rules) and
 * Go-style path cleaning. Matching backtracks; a step budget bounds hostile
 * patterns such as "*a*a*a*a*...". */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/ignore.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define MATCH_BUDGET 100000

void bld_path_clean(char *path)
{
        bool rooted = path[0] == '/';
        char *out = path;
        size_t w = 0;      /* write index */
        size_t dotdot = 0; /* w below which ".." cannot backtrack */
        const char *r = path;
        if (rooted) {
                out[w++] = '/';
                dotdot = 1;
        }
        while (*r) {
                if (*r == '/' || (r[0] == '.' && (r[1] == '/' || !r[1]))) {
                        r++; /* empty and "." elements */
                } else if (r[0] == '.' && r[1] == '.' && (r[2] == '/' || !r[2])) {
                        r += 2;
                        if (w > dotdot) {
                                w--;
                                while (w > dotdot && out[w] != '/')
                                        w--;
                        } else if (!rooted) {
                                if (w > 0)
                                        out[w++] = '/';
                                out[w++] = '.';
                                out[w++] = '.';
                                dotdot = w;
                        }
                } else {
                        if ((rooted && w != 1) || (!rooted && w != 0))
                                out[w++] = '/';
                        while (*r && *r != '/')
                                out[w++] = *r++;
                }
        }
        if (w == 0)
                out[w++] = '.';
        out[w] = '\0';
}

/* ---- glob matching --------------------------------------------------- */

/* One character class at p ('[' already consumed); *end gets the text after
 * ']'. Returns 1/0 for c, -1 for a bad class. */
static int match_class(const char *p, char c, const char **end)
{
        bool neg = *p == '^';
        bool hit = false;
        int n = 0;
        if (neg)
                p++;
        for (;; n++) {
                if (*p == ']' && n > 0)
                        break;
                if (!*p)
                        return -1;
                char lo = *p++;
                if (lo == '\\') {
                        if (!*p)
                                return -1;
                        lo = *p++;
                }
                char hi = lo;
                if (*p == '-' && p[1] && p[1] != ']') {
                        p++;
                        hi = *p++;
                        if (hi == '\\') {
                                if (!*p)
                                        return -1;
                                hi = *p++;
                        }
                }
                if (lo <= c && c <= hi)
                        hit = true;
        }
        *end = p + 1;
        return hit != neg;
}

static int match(const char *p, const char *n, int *budget)
{
        while (*p) {
                if (--*budget <= 0)
                        return 0;
                if (p[0] == '*' && p[1] == '*') {
                        p += 2;
                        if (*p == '/') { /* "**\/": zero or more directories */
                                p++;
                                for (const char *s = n;; s++) {
                                        if (s == n || s[-1] == '/') {
                                                int m = match(p, s, budget);
                                                if (m)
                                                        return m;
                                        }
                                        if (!*s)
                                                return 0;
                                }
                        }
                        for (const char *s = n;; s++) {
                                int m = match(p, s, budget);
                                if (m || !*s)
                                        return m;
                        }
                }
                if (*p == '*') {
                        p++;
                        for (const char *s = n;; s++) {
                                int m = match(p, s, budget);
                                if (m || !*s || *s == '/')
                                        return m;
                        }
                }
                if (!*n)
                        return 0;
                if (*p == '?') {
                        if (*n == '/')
                                return 0;
                        p++;
                        n++;
                        continue;
                }
                if (*p == '[') {
                        const char *end;
                        int m = *n == '/' ? 0 : match_class(p + 1, *n, &end);
                        if (m <= 0)
                                return m;
                        p = end;
                        n++;
                        continue;
                }
                if (*p == '\\') {
                        p++;
                        if (!*p)
                                return -1;
                }
                if (*p != *n)
                        return 0;
                p++;
                n++;
        }
        return *n == '\0';
}

int bld_glob_match(const char *pattern, const char *name)
{
        int budget = MATCH_BUDGET;
        return match(pattern, name, &budget);
}

/* Refuses what filepath.Match calls ErrBadPattern, once, at load time. */
static bool pattern_valid(const char *p)
{
        for (; *p; p++) {
                if (*p == '\\') {
                        if (!*++p)
                                return false;
                } else if (*p == '[') {
                        const char *end;
                        if (match_class(p + 1, 'a', &end) < 0)
                                return false;
                        p = end - 1;
                }
        }
        return true;
}

/* ---- the pattern list ------------------------------------------------ */

static char *trim(char *s, size_t *len)
{
        size_t n = *len;
        while (n && (*s == ' ' || *s == '\t' || *s == '\r')) {
                s++;
                n--;
        }
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                n--;
        *len = n;
        return s;
}

static int add_pattern(struct bld_ignore *ig, const char *line, size_t len, int lineno,
                       struct isola_err *err)
{
        bool exception = false;
        char *s = (char *)line;
        s = trim(s, &len);
        if (!len || *s == '#')
                return 0;
        if (*s == '!') {
                exception = true;
                s++;
                len--;
                s = trim(s, &len);
        }
        if (ig->n >= BLD_IGNORE_PATTERNS)
                return err_set(err, E2BIG, "more than %d patterns", BLD_IGNORE_PATTERNS);
        char *pat = strndup(s, len);
        if (!pat)
                return err_set(err, ENOMEM, "out of memory");
        if (*pat) {
                bld_path_clean(pat);
                if (pat[0] == '/' && pat[1])
                        memmove(pat, pat + 1, strlen(pat));
        }
        if (!pattern_valid(pat)) {
                free(pat);
                return err_set(err, EINVAL, "line %d: syntax error in pattern", lineno);
        }
        struct bld_ignore_pat *v = realloc(ig->pats, (ig->n + 1) * sizeof(*v));
        if (!v) {
                free(pat);
                return err_set(err, ENOMEM, "out of memory");
        }
        ig->pats = v;
        v[ig->n].pattern = pat;
        v[ig->n].exception = exception;
        ig->n++;
        ig->has_exceptions = ig->has_exceptions || exception;
        return 0;
}

int bld_ignore_parse(const char *buf, size_t len, struct bld_ignore *out, struct isola_err *err)
{
        memset(out, 0, sizeof(*out));
        if (len > BLD_IGNORE_MAX)
                return err_set(err, EFBIG, "larger than %u bytes", BLD_IGNORE_MAX);
        int lineno = 0;
        for (size_t pos = 0; pos < len;) {
                const char *s = buf + pos;
                const char *nl = memchr(s, '\n', len - pos);
                size_t k = nl ? (size_t)(nl - s) : len - pos;
                pos += k + 1;
                lineno++;
                if (memchr(s, '\0', k)) {
                        bld_ignore_free(out);
                        return err_set(err, EINVAL, "line %d: NUL byte", lineno);
                }
                if (add_pattern(out, s, k, lineno, err) < 0) {
                        bld_ignore_free(out);
                        return -1;
                }
        }
        return 0;
}

int bld_ignore_load(int context_dirfd, struct bld_ignore *out, struct isola_err *err)
{
        static const char *const names[] = {".containerignore", ".dockerignore"};
        memset(out, 0, sizeof(*out));
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                _cleanup_close_ int fd =
                    openat(context_dirfd, names[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0 && errno == ENOENT)
                        continue;
                if (fd < 0)
                        return err_sys(err, "%s", names[i]);
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                if (fs_read_fd(fd, BLD_IGNORE_MAX + 1, &buf, &len, err) < 0 ||
                    bld_ignore_parse(buf, len, out, err) < 0)
                        return err_prefix(err, "%s", names[i]);
                return 0;
        }
        return 0;
}

void bld_ignore_free(struct bld_ignore *ig)
{
        for (size_t i = 0; i < ig->n; i++)
                free(ig->pats[i].pattern);
        free(ig->pats);
        memset(ig, 0, sizeof(*ig));
}

/* The pattern matches path or one of its parent directories. */
static bool pattern_hits(const char *pattern, const char *path)
{
        if (bld_glob_match(pattern, path) == 1)
                return true;
        char buf[4096];
        size_t len = strlen(path);
        if (len >= sizeof(buf))
                return false;
        memcpy(buf, path, len + 1);
        for (size_t i = 0; i < len; i++) {
                if (buf[i] != '/')
                        continue;
                buf[i] = '\0';
                bool hit = bld_glob_match(pattern, buf) == 1;
                buf[i] = '/';
                if (hit)
                        return true;
        }
        return false;
}

bool bld_ignore_match(const struct bld_ignore *ig, const char *path)
{
        bool excluded = false;
        for (size_t i = 0; i < ig->n; i++) {
                const struct bld_ignore_pat *p = &ig->pats[i];
                if (p->exception && !excluded)
                        continue;
                if (pattern_hits(p->pattern, path))
                        excluded = !p->exception;
        }
        return excluded;
}

bool bld_ignore_may_include_below(const struct bld_ignore *ig, const char *dir)
{
        (void)dir; /* conservative: any exception may reach inside */
        return ig->has_exceptions;
}
