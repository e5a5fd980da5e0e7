/* The Containerfile parser: parser directives (# escape=, # syntax=), comment
 * and continuation handling, then one typed bld_instr per instruction with
 * its --flags, exec (JSON) or shell form, and ENV/LABEL/ARG pairs. Values
 * stay unexpanded: expansion needs the build's variables (lex.c). Heredocs
 * (<<EOF) are not supported; they fail as an error naming the line. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "build/containerfile.h"
#include "build/strbuf.h"
#include "util/cleanup.h"
#include "util/fs.h"

struct op_def {
        const char *name;
        enum bld_op op;
        const char *const *flags; /* allowed --flags */
};

static const char *const no_flags[] = {NULL};
static const char *const from_flags[] = {"platform", NULL};
static const char *const run_flags[] = {"mount", "network", "security", NULL};
static const char *const copy_flags[] = {"from",    "chown",   "chmod", "link",
                                         "parents", "exclude", NULL};
static const char *const add_flags[] = {"chown",        "chmod",   "link", "checksum",
                                        "keep-git-dir", "exclude", NULL};
static const char *const hc_flags[] = {"interval",       "timeout", "start-period",
                                       "start-interval", "retries", NULL};

static const struct op_def op_defs[] = {
    {"FROM", BLD_OP_FROM, from_flags},
    {"RUN", BLD_OP_RUN, run_flags},
    {"CMD", BLD_OP_CMD, no_flags},
    {"LABEL", BLD_OP_LABEL, no_flags},
    {"MAINTAINER", BLD_OP_MAINTAINER, no_flags},
    {"EXPOSE", BLD_OP_EXPOSE, no_flags},
    {"ENV", BLD_OP_ENV, no_flags},
    {"ADD", BLD_OP_ADD, add_flags},
    {"COPY", BLD_OP_COPY, copy_flags},
    {"ENTRYPOINT", BLD_OP_ENTRYPOINT, no_flags},
    {"VOLUME", BLD_OP_VOLUME, no_flags},
    {"USER", BLD_OP_USER, no_flags},
    {"WORKDIR", BLD_OP_WORKDIR, no_flags},
    {"ARG", BLD_OP_ARG, no_flags},
    {"ONBUILD", BLD_OP_ONBUILD, no_flags},
    {"STOPSIGNAL", BLD_OP_STOPSIGNAL, no_flags},
    {"HEALTHCHECK", BLD_OP_HEALTHCHECK, hc_flags},
    {"SHELL", BLD_OP_SHELL, no_flags},
};

const char *bld_op_name(enum bld_op op)
{
        for (size_t i = 0; i < ARRAY_SIZE(op_defs); i++) {
                if (op_defs[i].op == op)
                        return op_defs[i].name;
        }
        return "?";
}

const char *bld_instr_flag(const struct bld_instr *in, const char *name, bool *present)
{
        const char *v = NULL;
        bool seen = false;
        for (size_t i = 0; i < in->n_flags; i++) { /* the last one wins */
                if (!strcmp(in->flags[i].name, name)) {
                        v = in->flags[i].value;
                        seen = true;
                }
        }
        if (present)
                *present = seen;
        return v;
}

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static const char *skip_space(const char *s)
{
        while (is_space(*s))
                s++;
        return s;
}

static char *dup_trimmed(const char *s, size_t n)
{
        while (n && is_space(s[0])) {
                s++;
                n--;
        }
        while (n && is_space(s[n - 1]))
                n--;
        return strndup(s, n);
}

/* ---- quote-aware word splitting that keeps quotes and escapes -------- */

/* Splits at unquoted white space; the words keep their quotes and escapes
 * (the lexer removes them once the variables are known). */
static int raw_words(const char *s, char escape, char ***out, size_t *n_out, struct isola_err *err)
{
        char **v = NULL;
        size_t n = 0;
        struct strbuf cur = {0};
        bool in_word = false;
        char quote = 0;
        for (const char *p = s;; p++) {
                char c = *p;
                bool end = !c || (!quote && is_space(c));
                if (end && in_word) {
                        char **nv = realloc(v, (n + 2) * sizeof(*nv));
                        char *w = sb_take(&cur);
                        if (!nv || !w) {
                                free(w);
                                if (nv)
                                        v = nv;
                                goto oom;
                        }
                        v = nv;
                        v[n++] = w;
                        v[n] = NULL;
                        in_word = false;
                }
                if (!c)
                        break;
                if (end)
                        continue;
                in_word = true;
                sb_putc(&cur, c);
                if (c == escape && quote != '\'' && p[1]) {
                        sb_putc(&cur, *++p);
                } else if (quote && c == quote) {
                        quote = 0;
                } else if (!quote && (c == '"' || c == '\'')) {
                        quote = c;
                }
        }
        if (cur.oom)
                goto oom;
        sb_free(&cur);
        if (!v && !(v = calloc(1, sizeof(*v))))
                return err_set(err, ENOMEM, "out of memory");
        *out = v;
        *n_out = n;
        return 0;
oom:
        sb_free(&cur);
        bld_strv_free(v);
        return err_set(err, ENOMEM, "out of memory");
}

/* ---- per-instruction argument parsing -------------------------------- */

/* A JSON array of strings: the exec form. Anything else is shell form. */
static bool parse_json_args(struct bld_instr *in, const char *rest)
{
        if (*rest != '[')
                return false;
        json_object *j = json_tokener_parse(rest);
        if (!j || !json_object_is_type(j, json_type_array)) {
                json_object_put(j);
                return false;
        }
        size_t n = json_object_array_length(j);
        char **argv = calloc(n + 1, sizeof(*argv));
        if (!argv) {
                json_object_put(j);
                return false;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(j, i);
                if (!json_object_is_type(e, json_type_string) ||
                    !(argv[i] = strdup(json_object_get_string(e)))) {
                        bld_strv_free(argv);
                        json_object_put(j);
                        return false;
                }
        }
        json_object_put(j);
        in->exec_form = true;
        in->argv = argv;
        in->argc = n;
        return true;
}

static int add_kv(struct bld_instr *in, const char *key, size_t klen, const char *value,
                  struct isola_err *err)
{
        struct bld_kv *kv = realloc(in->kv, (in->n_kv + 1) * sizeof(*kv));
        if (!kv)
                return err_set(err, ENOMEM, "out of memory");
        in->kv = kv;
        kv[in->n_kv].key = strndup(key, klen);
        kv[in->n_kv].value = value ? strdup(value) : NULL;
        in->n_kv++;
        if (!kv[in->n_kv - 1].key || (value && !kv[in->n_kv - 1].value))
                return err_set(err, ENOMEM, "out of memory");
        return 0;
}

/* ENV and LABEL: "k=v k2=v2" or the legacy "k value with spaces". */
static int parse_name_val(struct bld_instr *in, const char *rest, char escape,
                          struct isola_err *err)
{
        char **w = NULL;
        size_t n = 0;
        if (raw_words(rest, escape, &w, &n, err) < 0)
                return -1;
        int rc = 0;
        if (n == 0) {
                rc = err_set(err, EINVAL, "%s requires at least one argument", bld_op_name(in->op));
        } else if (!strchr(w[0], '=')) {
                const char *val = skip_space(rest + strlen(w[0]));
                if (!*val)
                        rc =
                            err_set(err, EINVAL, "%s must have two arguments", bld_op_name(in->op));
                else
                        rc = add_kv(in, w[0], strlen(w[0]), val, err);
        } else {
                for (size_t i = 0; i < n && rc == 0; i++) {
                        const char *eq = strchr(w[i], '=');
                        if (!eq || eq == w[i])
                                rc = err_set(err, EINVAL,
                                             "can't find = in '%s'; must be of the form name=value",
                                             w[i]);
                        else
                                rc = add_kv(in, w[i], (size_t)(eq - w[i]), eq + 1, err);
                }
        }
        bld_strv_free(w);
        return rc;
}

static int parse_arg(struct bld_instr *in, const char *rest, char escape, struct isola_err *err)
{
        char **w = NULL;
        size_t n = 0;
        if (raw_words(rest, escape, &w, &n, err) < 0)
                return -1;
        int rc = n ? 0 : err_set(err, EINVAL, "ARG requires at least one argument");
        for (size_t i = 0; i < n && rc == 0; i++) {
                const char *eq = strchr(w[i], '=');
                size_t klen = eq ? (size_t)(eq - w[i]) : strlen(w[i]);
                if (!klen)
                        rc = err_set(err, EINVAL, "ARG '%s': empty name", w[i]);
                else
                        rc = add_kv(in, w[i], klen, eq ? eq + 1 : NULL, err);
        }
        bld_strv_free(w);
        return rc;
}

static int parse_from(struct bld_instr *in, const char *rest, char escape, struct isola_err *err)
{
        char **w = NULL;
        size_t n = 0;
        if (raw_words(rest, escape, &w, &n, err) < 0)
                return -1;
        int rc = 0;
        if (n != 1 && !(n == 3 && !strcasecmp(w[1], "as")))
                rc = err_set(err, EINVAL,
                             "FROM requires either one or three arguments "
                             "(IMAGE [AS NAME])");
        if (rc == 0 && n == 3) {
                for (char *p = w[2]; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                bool valid = isalpha((unsigned char)w[2][0]);
                for (const char *p = w[2]; *p; p++)
                        valid = valid && (isalnum((unsigned char)*p) || strchr("-_.", *p));
                if (!valid)
                        rc = err_set(err, EINVAL, "invalid stage name '%s'", w[2]);
        }
        if (rc == 0)
                rc = add_kv(in, w[0], strlen(w[0]), n == 3 ? w[2] : NULL, err);
        bld_strv_free(w);
        return rc;
}

static int parse_healthcheck(struct bld_instr *in, const char *rest, struct isola_err *err)
{
        size_t k = 0;
        while (rest[k] && !is_space(rest[k]))
                k++;
        if (k == 4 && !strncasecmp(rest, "NONE", 4) && !*skip_space(rest + k)) {
                if (in->n_flags)
                        return err_set(err, EINVAL, "HEALTHCHECK NONE takes no flags");
                in->healthcheck_none = true;
                return 0;
        }
        if (k != 3 || strncasecmp(rest, "CMD", 3) != 0)
                return err_set(err, EINVAL, "HEALTHCHECK: expected NONE or CMD");
        rest = skip_space(rest + k);
        if (!*rest)
                return err_set(err, EINVAL, "HEALTHCHECK CMD requires a command");
        if (!parse_json_args(in, rest) && !(in->rest = strdup(rest)))
                return err_set(err, ENOMEM, "out of memory");
        return 0;
}

static void instr_free(struct bld_instr *in)
{
        free(in->text);
        for (size_t k = 0; k < in->n_flags; k++) {
                free(in->flags[k].name);
                free(in->flags[k].value);
        }
        free(in->flags);
        bld_strv_free(in->argv);
        free(in->rest);
        for (size_t k = 0; k < in->n_kv; k++) {
                free(in->kv[k].key);
                free(in->kv[k].value);
        }
        free(in->kv);
        free(in->trigger);
}

static int parse_instruction(const char *text, char escape, struct bld_instr *in,
                             struct isola_err *err);

static int parse_args(struct bld_instr *in, const char *rest, char escape, struct isola_err *err)
{
        switch (in->op) {
        case BLD_OP_FROM:
                return parse_from(in, rest, escape, err);
        case BLD_OP_ENV:
        case BLD_OP_LABEL:
                return parse_name_val(in, rest, escape, err);
        case BLD_OP_ARG:
                return parse_arg(in, rest, escape, err);
        case BLD_OP_HEALTHCHECK:
                return parse_healthcheck(in, rest, err);
        case BLD_OP_ONBUILD: {
                struct bld_instr t = {0};
                int rc = parse_instruction(rest, escape, &t, err);
                bool bad = rc == 0 && (t.op == BLD_OP_ONBUILD || t.op == BLD_OP_FROM ||
                                       t.op == BLD_OP_MAINTAINER);
                if (bad)
                        rc = err_set(err, EINVAL, "ONBUILD does not take %s", bld_op_name(t.op));
                instr_free(&t); /* only checked; the trigger is stored as text */
                if (rc < 0)
                        return err_prefix(err, "ONBUILD");
                in->trigger = strdup(rest);
                return in->trigger ? 0 : err_set(err, ENOMEM, "out of memory");
        }
        default:
                break;
        }
        bool json_ok = in->op == BLD_OP_RUN || in->op == BLD_OP_CMD ||
                       in->op == BLD_OP_ENTRYPOINT || in->op == BLD_OP_COPY ||
                       in->op == BLD_OP_ADD || in->op == BLD_OP_VOLUME || in->op == BLD_OP_SHELL;
        if (json_ok && parse_json_args(in, rest)) {
                if ((in->op == BLD_OP_COPY || in->op == BLD_OP_ADD) && in->argc < 2)
                        return err_set(err, EINVAL, "%s requires at least two arguments",
                                       bld_op_name(in->op));
                if ((in->op == BLD_OP_SHELL || in->op == BLD_OP_VOLUME) && in->argc < 1)
                        return err_set(err, EINVAL, "%s requires at least one argument",
                                       bld_op_name(in->op));
                return 0;
        }
        if (in->op == BLD_OP_SHELL)
                return err_set(err, EINVAL, "SHELL requires the arguments in JSON form");
        if (!*rest)
                return err_set(err, EINVAL, "%s requires at least one argument",
                               bld_op_name(in->op));
        if (strstr(rest, "<<") &&
            (in->op == BLD_OP_RUN || in->op == BLD_OP_COPY || in->op == BLD_OP_ADD)) {
                const char *h = strstr(rest, "<<");
                if (h[2] == '-' || h[2] == '"' || h[2] == '\'' || isupper((unsigned char)h[2]))
                        return err_set(err, ENOTSUP, "heredocs (<<%c...) are not supported", h[2]);
        }
        if (in->op == BLD_OP_COPY || in->op == BLD_OP_ADD) {
                char **w = NULL;
                size_t n = 0;
                if (raw_words(rest, escape, &w, &n, err) < 0)
                        return -1;
                bld_strv_free(w);
                if (n < 2)
                        return err_set(err, EINVAL, "%s requires at least two arguments",
                                       bld_op_name(in->op));
        }
        in->rest = strdup(rest);
        return in->rest ? 0 : err_set(err, ENOMEM, "out of memory");
}

static int add_flag(struct bld_instr *in, const char *word, const char *const *allowed, char escape,
                    struct isola_err *err)
{
        const char *eq = strchr(word, '=');
        size_t nlen = eq ? (size_t)(eq - word) : strlen(word);
        bool known = false;
        for (const char *const *a = allowed; *a; a++)
                known = known || (strlen(*a) == nlen && !strncmp(*a, word, nlen));
        if (!known)
                return err_set(err, EINVAL, "unknown flag: --%.*s", (int)nlen, word);
        struct bld_flag *f = realloc(in->flags, (in->n_flags + 1) * sizeof(*f));
        if (!f)
                return err_set(err, ENOMEM, "out of memory");
        in->flags = f;
        f = &in->flags[in->n_flags++];
        f->value = NULL;
        f->name = strndup(word, nlen);
        if (!f->name)
                return err_set(err, ENOMEM, "out of memory");
        /* flag values lose their quotes, nothing more: expansion comes later */
        if (eq && bld_expand_word(eq + 1, NULL, escape, &f->value, err) < 0)
                return err_prefix(err, "--%s", f->name);
        return 0;
}

/* Leading --flags; returns the text after them. */
static int parse_flags(struct bld_instr *in, const char *rest, const char *const *allowed,
                       char escape, const char **after, struct isola_err *err)
{
        while (rest[0] == '-' && rest[1] == '-') {
                size_t k = 0;
                char quote = 0;
                while (rest[k] && (quote || !is_space(rest[k]))) {
                        if (quote && rest[k] == quote)
                                quote = 0;
                        else if (!quote && (rest[k] == '"' || rest[k] == '\''))
                                quote = rest[k];
                        k++;
                }
                if (k == 2) { /* "--" ends the flags */
                        rest = skip_space(rest + k);
                        break;
                }
                char *word = strndup(rest + 2, k - 2);
                int rc = word ? add_flag(in, word, allowed, escape, err)
                              : err_set(err, ENOMEM, "out of memory");
                free(word);
                if (rc < 0)
                        return -1;
                rest = skip_space(rest + k);
        }
        *after = rest;
        return 0;
}

static const struct op_def *op_lookup(const char *p, size_t k)
{
        for (size_t i = 0; i < ARRAY_SIZE(op_defs) && k; i++) {
                if (strlen(op_defs[i].name) == k && !strncasecmp(op_defs[i].name, p, k))
                        return &op_defs[i];
        }
        return NULL;
}

static int unknown_instruction(const char *p, struct isola_err *err)
{
        size_t k = 0;
        while (p[k] && !is_space(p[k]) && k < 64)
                k++;
        return err_set(err, EINVAL, "unknown instruction: %.*s", (int)k, p);
}

static int parse_instruction(const char *text, char escape, struct bld_instr *in,
                             struct isola_err *err)
{
        const char *p = skip_space(text);
        size_t k = 0;
        while (isalpha((unsigned char)p[k]))
                k++;
        const struct op_def *def = (p[k] && !is_space(p[k])) ? NULL : op_lookup(p, k);
        if (!def)
                return unknown_instruction(p, err);
        in->op = def->op;
        in->text = dup_trimmed(p, strlen(p));
        char *rest = dup_trimmed(p + k, strlen(p + k));
        const char *args = NULL;
        int rc;
        if (!in->text || !rest)
                rc = err_set(err, ENOMEM, "out of memory");
        else if (parse_flags(in, rest, def->flags, escape, &args, err) < 0)
                rc = -1;
        else
                rc = parse_args(in, args, escape, err);
        free(rest);
        return rc;
}

/* ---- lines, directives, continuations -------------------------------- */

struct reader {
        const char *buf;
        size_t len, pos;
        int lineno;
};

static bool next_line(struct reader *r, const char **line, size_t *n)
{
        if (r->pos >= r->len)
                return false;
        const char *s = r->buf + r->pos;
        const char *nl = memchr(s, '\n', r->len - r->pos);
        size_t k = nl ? (size_t)(nl - s) : r->len - r->pos;
        r->pos += k + (nl ? 1 : 0);
        r->lineno++;
        if (k && s[k - 1] == '\r')
                k--;
        *line = s;
        *n = k;
        return true;
}

/* "# name = value" before the first instruction or comment. */
static bool directive(const char *line, size_t n, char *name, size_t name_len, char *value,
                      size_t value_len)
{
        size_t i = 0;
        while (i < n && is_space(line[i]))
                i++;
        if (i >= n || line[i] != '#')
                return false;
        i++;
        while (i < n && is_space(line[i]))
                i++;
        size_t s = i;
        if (i >= n || !isalpha((unsigned char)line[i]))
                return false;
        while (i < n && isalnum((unsigned char)line[i]))
                i++;
        size_t e = i;
        while (i < n && is_space(line[i]))
                i++;
        if (i >= n || line[i] != '=' || e - s >= name_len)
                return false;
        i++;
        while (i < n && is_space(line[i]))
                i++;
        size_t ve = n;
        while (ve > i && is_space(line[ve - 1]))
                ve--;
        if (ve == i || ve - i >= value_len)
                return false;
        for (size_t k = 0; k < e - s; k++)
                name[k] = (char)tolower((unsigned char)line[s + k]);
        name[e - s] = '\0';
        memcpy(value, line + i, ve - i);
        value[ve - i] = '\0';
        return true;
}

static int parse_directives(struct reader *r, struct bld_file *f, struct isola_err *err)
{
        bool seen_escape = false;
        for (;;) {
                struct reader save = *r;
                const char *line;
                size_t n;
                char name[32], value[256];
                if (!next_line(r, &line, &n))
                        return 0;
                if (!directive(line, n, name, sizeof(name), value, sizeof(value))) {
                        *r = save;
                        return 0;
                }
                if (!strcmp(name, "escape")) {
                        if (seen_escape)
                                return err_set(err, EINVAL,
                                               "%s:%d: only one escape directive "
                                               "may be used",
                                               f->path, r->lineno);
                        if (strcmp(value, "\\") != 0 && strcmp(value, "`") != 0)
                                return err_set(err, EINVAL,
                                               "%s:%d: invalid escape character "
                                               "'%s': must be ` or \\",
                                               f->path, r->lineno, value);
                        f->escape = value[0];
                        seen_escape = true;
                } else if (!strcmp(name, "syntax")) {
                        free(f->syntax);
                        if (!(f->syntax = strdup(value)))
                                return err_set(err, ENOMEM, "out of memory");
                }
                /* other names ("check", ...) are directives BuildKit knows;
                 * they change nothing here */
        }
}

static bool blank_or_comment(const char *line, size_t n)
{
        size_t i = 0;
        while (i < n && is_space(line[i]))
                i++;
        return i == n || line[i] == '#';
}

/* Strips a trailing escape (and the white space after it): continuation. */
static bool continues(struct strbuf *b, char escape)
{
        size_t n = b->len;
        while (n && is_space(b->s[n - 1]))
                n--;
        if (!n || b->s[n - 1] != escape)
                return false;
        b->len = n - 1;
        b->s[b->len] = '\0';
        return true;
}

static int add_instr(struct bld_file *f, struct strbuf *text, int line, struct isola_err *err)
{
        if (f->n >= BLD_INSTR_MAX)
                return err_set(err, E2BIG, "%s:%d: more than %d instructions", f->path, line,
                               BLD_INSTR_MAX);
        struct bld_instr *v = realloc(f->instrs, (f->n + 1) * sizeof(*v));
        if (!v)
                return err_set(err, ENOMEM, "out of memory");
        f->instrs = v;
        struct bld_instr *in = &v[f->n++];
        memset(in, 0, sizeof(*in));
        in->line = line;
        if (text->oom)
                return err_set(err, E2BIG, "%s:%d: instruction too long", f->path, line);
        if (parse_instruction(text->s, f->escape, in, err) < 0)
                return err_prefix(err, "%s:%d", f->path, line);
        return 0;
}

int bld_file_parse(const char *path, const char *buf, size_t len, struct bld_file *out,
                   struct isola_err *err)
{
        memset(out, 0, sizeof(*out));
        out->escape = '\\';
        out->path = strdup(path);
        if (!out->path)
                return err_set(err, ENOMEM, "out of memory");
        if (!buf || !len) {
                buf = "";
                len = 0;
        }
        if (len > BLD_FILE_MAX)
                return err_set(err, EFBIG, "%s: larger than %u bytes", path, BLD_FILE_MAX);
        if (memchr(buf, '\0', len))
                return err_set(err, EINVAL, "%s: binary content (NUL byte)", path);
        if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) { /* UTF-8 byte order mark */
                buf += 3;
                len -= 3;
        }
        struct reader r = {.buf = buf, .len = len};
        if (parse_directives(&r, out, err) < 0)
                return -1;
        const char *line;
        size_t n;
        while (next_line(&r, &line, &n)) {
                if (blank_or_comment(line, n))
                        continue;
                int start = r.lineno;
                struct strbuf text = {0};
                sb_putn(&text, line, n);
                /* blank and comment lines inside a continuation are skipped */
                bool more = continues(&text, out->escape);
                while (more && next_line(&r, &line, &n)) {
                        if (blank_or_comment(line, n))
                                continue;
                        sb_putn(&text, line, n);
                        more = continues(&text, out->escape);
                }
                int rc = add_instr(out, &text, start, err);
                sb_free(&text);
                if (rc < 0)
                        return -1;
        }
        if (out->n == 0)
                return err_set(err, EINVAL, "%s: no instructions", path);
        if (out->instrs[0].op != BLD_OP_FROM && out->instrs[0].op != BLD_OP_ARG)
                return err_set(err, EINVAL, "%s:%d: the first instruction must be FROM or ARG",
                               path, out->instrs[0].line);
        return 0;
}

int bld_file_load(const char *path, struct bld_file *out, struct isola_err *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        memset(out, 0, sizeof(*out));
        if (fd < 0)
                return err_sys(err, "%s", path);
        if (fs_read_fd(fd, BLD_FILE_MAX + 1, &buf, &len, err) < 0)
                return err_prefix(err, "%s", path);
        return bld_file_parse(path, buf, len, out, err);
}

void bld_file_free(struct bld_file *f)
{
        for (size_t i = 0; i < f->n; i++)
                instr_free(&f->instrs[i]);
        free(f->instrs);
        free(f->path);
        free(f->syntax);
        memset(f, 0, sizeof(*f));
}
