/* .env files (project .env, --env-file, a service's env_file): KEY=VALUE
 * lines as Compose reads them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compose/interp.h"

struct dotenv {
        struct cmp_arena *a;
        const char *file;
        const char *p, *end;
        unsigned line;
        const struct cmp_env *lookup;
        struct cmp_env *out;
        struct cmp_env merged; /* lookup overlaid with what was read */
        struct cmp_warns *w;
        struct isola_err *err;
};

static void skip_blank(struct dotenv *d)
{
        while (d->p < d->end && (*d->p == ' ' || *d->p == '\t'))
                d->p++;
}

static void skip_line(struct dotenv *d)
{
        while (d->p < d->end && *d->p != '\n')
                d->p++;
        if (d->p < d->end) {
                d->p++;
                d->line++;
        }
}

static int bad(struct dotenv *d, const char *what)
{
        return err_set(d->err, EINVAL, "%s:%u: %s", d->file, d->line, what);
}

/* Quoted value starting after the opening quote; the closing quote ends it. */
static int quoted(struct dotenv *d, char q, char **val)
{
        size_t cap = 64, n = 0;
        char *buf = malloc(cap);

        if (!buf)
                return bad(d, "out of memory");
        for (;;) {
                char c;

                if (d->p >= d->end) {
                        free(buf);
                        return bad(d, "unterminated quoted value");
                }
                c = *d->p++;
                if (c == q)
                        break;
                if (c == '\n')
                        d->line++;
                if (q == '"' && c == '\\' && d->p < d->end) {
                        char e = *d->p++;

                        c = (char)(e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e);
                }
                if (n + 2 > cap) {
                        char *nb;

                        cap *= 2;
                        nb = realloc(buf, cap);
                        if (!nb) {
                                free(buf);
                                return bad(d, "out of memory");
                        }
                        buf = nb;
                }
                buf[n++] = c;
        }
        buf[n] = '\0';
        *val = cmp_strndup(d->a, buf, n);
        free(buf);
        return *val ? 0 : bad(d, "out of memory");
}

static int unquoted(struct dotenv *d, char **val)
{
        const char *s = d->p;
        const char *e;

        while (d->p < d->end && *d->p != '\n')
                d->p++;
        e = d->p;
        /* an inline comment needs a blank before its # */
        for (const char *c = s; c < e; c++) {
                if (*c == '#' && (c == s || c[-1] == ' ' || c[-1] == '\t')) {
                        e = c;
                        break;
                }
        }
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                e--;
        *val = cmp_strndup(d->a, s, (size_t)(e - s));
        return *val ? 0 : bad(d, "out of memory");
}

static int one_line(struct dotenv *d)
{
        const char *k;
        char key[256];
        size_t klen;
        char *val, *ival;
        char q = 0;

        skip_blank(d);
        if (d->p >= d->end || *d->p == '\n' || *d->p == '\r' || *d->p == '#') {
                skip_line(d);
                return 0;
        }
        if ((size_t)(d->end - d->p) > 7 && !strncmp(d->p, "export ", 7)) {
                d->p += 7;
                skip_blank(d);
        }
        k = d->p;
        while (d->p < d->end && *d->p != '=' && *d->p != '\n' && *d->p != ' ' && *d->p != '\t')
                d->p++;
        klen = (size_t)(d->p - k);
        if (klen == 0 || klen >= sizeof(key))
                return bad(d, "expected KEY=VALUE");
        memcpy(key, k, klen);
        key[klen] = '\0';
        for (size_t i = 0; i < klen; i++)
                if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z') ||
                      (key[i] >= '0' && key[i] <= '9') || key[i] == '_' || key[i] == '.' ||
                      key[i] == '-'))
                        return bad(d, "invalid variable name");
        skip_blank(d);
        if (d->p >= d->end || *d->p != '=') {
                /* a bare KEY: nothing to set */
                skip_line(d);
                return 0;
        }
        d->p++;
        skip_blank(d);
        if (d->p < d->end && (*d->p == '"' || *d->p == '\'')) {
                q = *d->p++;
                if (quoted(d, q, &val) < 0)
                        return -1;
        } else if (unquoted(d, &val) < 0) {
                return -1;
        }
        skip_line(d);
        if (q == '\'') {
                ival = val;
        } else if (cmp_interpolate(d->a, &d->merged, d->w, val, strlen(val), &ival, key, d->err) <
                   0) {
                return err_prefix(d->err, "%s:%u", d->file, d->line);
        }
        if (cmp_env_put(d->a, d->out, key, ival, false) < 0 ||
            cmp_env_put(d->a, &d->merged, key, ival, false) < 0)
                return bad(d, "too many variables");
        return 0;
}

int cmp_dotenv_parse(struct cmp_arena *a, const char *file, const char *data, size_t len,
                     const struct cmp_env *lookup, struct cmp_env *out, bool replace,
                     struct cmp_warns *w, struct isola_err *err)
{
        struct dotenv d = {.a = a,
                           .file = file,
                           .p = data,
                           .end = data + len,
                           .line = 1,
                           .lookup = lookup,
                           .out = out,
                           .w = w,
                           .err = err};

        if (len > CMP_FILE_MAX)
                return err_set(err, EFBIG, "%s: file too large", file);
        /* Variables already known are looked up first, then those read here. */
        for (size_t i = 0; lookup && i < lookup->n; i++)
                if (cmp_env_put(a, &d.merged, lookup->names[i], lookup->vals[i], false) < 0)
                        return err_set(err, ENOMEM, "%s: too many variables", file);
        if (replace) {
                /* a service env_file: its own values win over earlier ones */
                struct cmp_env tmp = {0};

                d.out = &tmp;
                while (d.p < d.end)
                        if (one_line(&d) < 0)
                                return -1;
                for (size_t i = 0; i < tmp.n; i++)
                        if (cmp_env_put(a, out, tmp.names[i], tmp.vals[i], true) < 0)
                                return err_set(err, ENOMEM, "%s: too many variables", file);
                return 0;
        }
        while (d.p < d.end)
                if (one_line(&d) < 0)
                        return -1;
        return 0;
}
