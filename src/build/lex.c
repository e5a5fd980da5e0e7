/* The word lexer Docker applies to instruction arguments: quotes ('...'
 * literal, "..." with expansions), the escape character, and $VAR, ${VAR}
 * with the -, +, ? modifiers (with or without ':'). RUN/CMD/ENTRYPOINT shell
 * text never comes here: the shell expands it at run time. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "build/containerfile.h"
#include "build/strbuf.h"
#include "util/cleanup.h"

#define LEX_DEPTH_MAX 16 /* nested ${a:-${b:-...}} */
#define LEX_WORDS_MAX 65536

/* ---- variables ------------------------------------------------------- */

const char *bld_vars_get(const struct bld_vars *v, const char *name)
{
        for (size_t i = 0; v && i < v->n; i++) {
                if (!strcmp(v->names[i], name))
                        return v->values[i];
        }
        return NULL;
}

int bld_vars_set(struct bld_vars *v, const char *name, const char *value, struct isola_err *err)
{
        char *val = strdup(value ? value : "");
        if (!val)
                return err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < v->n; i++) {
                if (!strcmp(v->names[i], name)) {
                        free(v->values[i]);
                        v->values[i] = val;
                        return 0;
                }
        }
        if (v->n == v->cap) {
                size_t cap = v->cap ? v->cap * 2 : 16;
                char **n = realloc(v->names, cap * sizeof(*n));
                if (n)
                        v->names = n;
                char **vv = n ? realloc(v->values, cap * sizeof(*vv)) : NULL;
                if (!vv) {
                        free(val);
                        return err_set(err, ENOMEM, "out of memory");
                }
                v->values = vv;
                v->cap = cap;
        }
        v->names[v->n] = strdup(name);
        if (!v->names[v->n]) {
                free(val);
                return err_set(err, ENOMEM, "out of memory");
        }
        v->values[v->n++] = val;
        return 0;
}

int bld_vars_copy(struct bld_vars *dst, const struct bld_vars *src, struct isola_err *err)
{
        for (size_t i = 0; i < src->n; i++) {
                if (bld_vars_set(dst, src->names[i], src->values[i], err) < 0)
                        return -1;
        }
        return 0;
}

void bld_vars_free(struct bld_vars *v)
{
        for (size_t i = 0; i < v->n; i++) {
                free(v->names[i]);
                free(v->values[i]);
        }
        free(v->names);
        free(v->values);
        memset(v, 0, sizeof(*v));
}

void bld_strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

/* ---- the lexer ------------------------------------------------------- */

struct lexer {
        const char *s;
        size_t i;
        char esc;
        const struct bld_vars *vars;
        bool words; /* split into words on unquoted white space */
        int depth;
        struct strbuf cur;
        bool in_word;
        char **out;
        size_t n, cap;
        struct isola_err *err;
};

static int finish_word(struct lexer *lx)
{
        if (!lx->in_word)
                return 0;
        if (lx->n + 2 > lx->cap) {
                size_t cap = lx->cap ? lx->cap * 2 : 8;
                if (cap > LEX_WORDS_MAX)
                        return err_set(lx->err, E2BIG, "too many words");
                char **o = realloc(lx->out, cap * sizeof(*o));
                if (!o)
                        return err_set(lx->err, ENOMEM, "out of memory");
                o[lx->n] = NULL; /* a list freed after a failure below ends here */
                lx->out = o;
                lx->cap = cap;
        }
        char *w = sb_take(&lx->cur);
        if (!w)
                return err_set(lx->err, E2BIG, "word too long");
        lx->out[lx->n++] = w;
        lx->out[lx->n] = NULL;
        lx->in_word = false;
        return 0;
}

/* raw: quoted or escaped text, which never splits a word. */
static int add_char(struct lexer *lx, char c, bool raw)
{
        if (lx->words && !raw && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
                return finish_word(lx);
        sb_putc(&lx->cur, c);
        lx->in_word = true;
        if (lx->cur.oom)
                return err_set(lx->err, E2BIG, "expanded text too long");
        return 0;
}

static int add_str(struct lexer *lx, const char *s, bool raw)
{
        for (; *s; s++) {
                if (add_char(lx, *s, raw) < 0)
                        return -1;
        }
        return 0;
}

static int process(struct lexer *lx, char stop);

static bool name_start(char c)
{
        return isalpha((unsigned char)c) || c == '_';
}

static bool name_char(char c)
{
        return isalnum((unsigned char)c) || c == '_';
}

/* The word of a ${VAR<mod>word} modifier, expanded as one string. */
static int modifier_word(struct lexer *lx, char **out)
{
        struct lexer sub = {.s = lx->s,
                            .i = lx->i,
                            .esc = lx->esc,
                            .vars = lx->vars,
                            .depth = lx->depth + 1,
                            .err = lx->err};
        if (sub.depth > LEX_DEPTH_MAX)
                return err_set(lx->err, ELOOP, "substitutions nested too deeply");
        if (process(&sub, '}') < 0) {
                sb_free(&sub.cur);
                return -1;
        }
        if (sub.s[sub.i] != '}') {
                sb_free(&sub.cur);
                return err_set(lx->err, EINVAL, "missing '}' in substitution");
        }
        lx->i = sub.i + 1;
        *out = sb_take(&sub.cur);
        return *out ? 0 : err_set(lx->err, E2BIG, "expanded text too long");
}

static int braced(struct lexer *lx, struct strbuf *val)
{
        char name[256];
        size_t n = 0;
        while (name_char(lx->s[lx->i]) && n + 1 < sizeof(name))
                name[n++] = lx->s[lx->i++];
        name[n] = '\0';
        if (!n || name_char(lx->s[lx->i]))
                return err_set(lx->err, EINVAL, "bad substitution at offset %zu", lx->i);
        const char *v = lx->vars ? bld_vars_get(lx->vars, name) : NULL;
        char c = lx->s[lx->i];
        if (c == '}') {
                lx->i++;
                sb_puts(val, v ? v : "");
                return 0;
        }
        bool colon = c == ':';
        if (colon)
                c = lx->s[++lx->i];
        if (c != '-' && c != '+' && c != '?')
                return err_set(lx->err, EINVAL, "unsupported modifier '%c' in substitution of %s",
                               c ? c : ' ', name);
        lx->i++;
        _cleanup_free_ char *word = NULL;
        if (modifier_word(lx, &word) < 0)
                return -1;
        bool set = v && (!colon || *v);
        if (c == '-')
                sb_puts(val, set ? v : word);
        else if (c == '+')
                sb_puts(val, set ? word : "");
        else if (!set)
                return err_set(lx->err, EINVAL, "%s: %s", name,
                               *word ? word : "is not allowed to be empty");
        else
                sb_puts(val, v);
        return 0;
}

/* At a '$': appends the expansion to val. */
static int dollar(struct lexer *lx, struct strbuf *val)
{
        lx->i++;
        if (!lx->vars) { /* quote removal only */
                sb_putc(val, '$');
                return 0;
        }
        char c = lx->s[lx->i];
        if (c == '{') {
                lx->i++;
                return braced(lx, val);
        }
        if (!name_start(c)) {
                sb_putc(val, '$');
                return 0;
        }
        char name[256];
        size_t n = 0;
        while (name_char(lx->s[lx->i]) && n + 1 < sizeof(name))
                name[n++] = lx->s[lx->i++];
        name[n] = '\0';
        const char *v = bld_vars_get(lx->vars, name);
        sb_puts(val, v ? v : "");
        return 0;
}

static int expansion(struct lexer *lx, bool raw)
{
        struct strbuf val = {0};
        int rc = dollar(lx, &val);
        if (rc == 0 && val.oom)
                rc = err_set(lx->err, E2BIG, "expanded text too long");
        if (rc == 0 && val.s)
                rc = add_str(lx, val.s, raw);
        sb_free(&val);
        return rc;
}

static int single_quoted(struct lexer *lx)
{
        lx->i++;
        lx->in_word = true;
        for (;;) {
                char c = lx->s[lx->i];
                if (!c)
                        return err_set(lx->err, EINVAL, "unterminated single quote");
                lx->i++;
                if (c == '\'')
                        return 0;
                if (add_char(lx, c, true) < 0)
                        return -1;
        }
}

static int double_quoted(struct lexer *lx)
{
        lx->i++;
        lx->in_word = true;
        for (;;) {
                char c = lx->s[lx->i];
                if (!c)
                        return err_set(lx->err, EINVAL, "unterminated double quote");
                if (c == '"') {
                        lx->i++;
                        return 0;
                }
                if (c == '$') {
                        if (expansion(lx, true) < 0)
                                return -1;
                        continue;
                }
                if (c == lx->esc) {
                        char next = lx->s[lx->i + 1];
                        if (next == '"' || next == '$' || next == lx->esc) {
                                c = next;
                                lx->i++;
                        }
                }
                lx->i++;
                if (add_char(lx, c, true) < 0)
                        return -1;
        }
}

static int process(struct lexer *lx, char stop)
{
        while (lx->s[lx->i] && lx->s[lx->i] != stop) {
                char c = lx->s[lx->i];
                int rc;
                if (c == '\'') {
                        rc = single_quoted(lx);
                } else if (c == '"') {
                        rc = double_quoted(lx);
                } else if (c == '$') {
                        rc = expansion(lx, false);
                } else if (c == lx->esc) {
                        lx->i++;
                        if (!lx->s[lx->i])
                                break; /* a trailing escape is dropped, as Docker does */
                        rc = add_char(lx, lx->s[lx->i++], true);
                } else {
                        lx->i++;
                        rc = add_char(lx, c, false);
                }
                if (rc < 0)
                        return -1;
        }
        return 0;
}

int bld_expand_word(const char *in, const struct bld_vars *vars, char escape, char **out,
                    struct isola_err *err)
{
        struct lexer lx = {.s = in, .esc = escape, .vars = vars, .err = err};
        if (process(&lx, '\0') < 0) {
                sb_free(&lx.cur);
                return -1;
        }
        *out = sb_take(&lx.cur);
        return *out ? 0 : err_set(err, E2BIG, "expanded text too long");
}

int bld_expand_words(const char *in, const struct bld_vars *vars, char escape, char ***out,
                     size_t *n_out, struct isola_err *err)
{
        struct lexer lx = {.s = in, .esc = escape, .vars = vars, .words = true, .err = err};
        if (process(&lx, '\0') < 0 || finish_word(&lx) < 0) {
                sb_free(&lx.cur);
                bld_strv_free(lx.out);
                return -1;
        }
        if (!lx.out) {
                lx.out = calloc(1, sizeof(char *));
                if (!lx.out)
                        return err_set(err, ENOMEM, "out of memory");
        }
        *out = lx.out;
        if (n_out)
                *n_out = lx.n;
        return 0;
}
