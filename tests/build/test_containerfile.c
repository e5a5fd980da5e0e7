/* Containerfile parser and word lexer: directives, continuations, forms,
 * every instruction, flags, expansions, and errors that name file:line. */
#include <string.h>

#include "build/containerfile.h"
#include "tap.h"

static int parse(const char *text, struct bld_file *f, struct isola_err *err)
{
        return bld_file_parse("Containerfile", text, strlen(text), f, err);
}

static void test_error(const char *text, const char *want, const char *name)
{
        struct bld_file f;
        struct isola_err err = {0};
        int rc = parse(text, &f, &err);
        tap_ok(rc < 0 && strstr(err.msg, want) != NULL, "%s", name);
        if (rc == 0 || !strstr(err.msg, want))
                printf("#   got '%s', want '%s'\n", err.msg, want);
        bld_file_free(&f);
}

static void test_basic(void)
{
        struct bld_file f;
        struct isola_err err = {0};
        const char *text = "# syntax=docker/dockerfile:1\n"
                           "# a comment\n"
                           "ARG BASE=busybox\n"
                           "FROM --platform=linux/amd64 ${BASE} AS Build\n"
                           "RUN echo a \\\n"
                           "  # comment inside\n"
                           "\n"
                           "    && echo b\n"
                           "run [\"/bin/sh\", \"-c\", \"echo hi\"]\n"
                           "COPY --from=build --chown=1:2 --chmod=0644 a b /dst/\n"
                           "ENV A=1 B=\"two words\" C=x\\ y\n"
                           "ENV LEGACY value with spaces\n"
                           "LABEL a=b \"c d\"=e\n"
                           "HEALTHCHECK --interval=5s CMD [\"true\"]\n"
                           "HEALTHCHECK NONE\n"
                           "ONBUILD RUN echo later\n"
                           "SHELL [\"/bin/sh\", \"-ec\"]\n"
                           "CMD [not json\n";
        int rc = parse(text, &f, &err);
        TAP_EQ_INT(rc, 0, "parses");
        if (rc < 0) {
                printf("# %s\n", err.msg);
                return;
        }
        TAP_EQ_INT(f.n, 13, "13 instructions");
        TAP_EQ_STR(f.syntax, "docker/dockerfile:1", "syntax directive");
        TAP_EQ_INT(f.instrs[0].op, BLD_OP_ARG, "ARG first");
        TAP_EQ_STR(f.instrs[0].kv[0].value, "busybox", "ARG default");
        const struct bld_instr *from = &f.instrs[1];
        TAP_EQ_STR(bld_instr_flag(from, "platform", NULL), "linux/amd64", "FROM --platform");
        TAP_EQ_STR(from->kv[0].key, "${BASE}", "FROM image unexpanded");
        TAP_EQ_STR(from->kv[0].value, "build", "stage name lower-cased");
        const struct bld_instr *run = &f.instrs[2];
        TAP_EQ_INT(run->line, 5, "RUN line");
        TAP_EQ_STR(run->rest, "echo a     && echo b", "continuation joins, comment dropped");
        TAP_EQ_INT(f.instrs[3].exec_form, 1, "lower-case run, exec form");
        TAP_EQ_STR(f.instrs[3].argv[2], "echo hi", "exec form argv");
        const struct bld_instr *cp = &f.instrs[4];
        TAP_EQ_STR(bld_instr_flag(cp, "chown", NULL), "1:2", "COPY --chown");
        TAP_EQ_STR(bld_instr_flag(cp, "chmod", NULL), "0644", "COPY --chmod");
        TAP_EQ_STR(cp->rest, "a b /dst/", "COPY args");
        const struct bld_instr *env = &f.instrs[5];
        TAP_EQ_INT(env->n_kv, 3, "ENV three pairs");
        TAP_EQ_STR(env->kv[1].value, "\"two words\"", "ENV value keeps quotes until expansion");
        TAP_EQ_STR(f.instrs[6].kv[0].key, "LEGACY", "legacy ENV key");
        TAP_EQ_STR(f.instrs[6].kv[0].value, "value with spaces", "legacy ENV value");
        TAP_EQ_STR(f.instrs[7].kv[1].key, "\"c d\"", "LABEL quoted key");
        TAP_EQ_INT(f.instrs[8].exec_form, 1, "HEALTHCHECK CMD exec form");
        TAP_EQ_STR(bld_instr_flag(&f.instrs[8], "interval", NULL), "5s", "HEALTHCHECK flag");
        TAP_EQ_INT(f.instrs[9].healthcheck_none, 1, "HEALTHCHECK NONE");
        TAP_EQ_STR(f.instrs[10].trigger, "RUN echo later", "ONBUILD trigger");
        TAP_EQ_INT(f.instrs[11].argc, 2, "SHELL argv");
        TAP_EQ_INT(f.instrs[12].exec_form, 0, "broken JSON is shell form");
        TAP_EQ_STR(f.instrs[12].rest, "[not json", "shell form text");
        bld_file_free(&f);
}

static void test_escape_directive(void)
{
        struct bld_file f;
        struct isola_err err = {0};
        const char *text = "# escape=`\n"
                           "FROM scratch\n"
                           "COPY a `\n"
                           "  c:\\path\\ /\n";
        int rc = parse(text, &f, &err);
        TAP_EQ_INT(rc, 0, "escape=` parses");
        if (rc == 0) {
                TAP_EQ_INT(f.escape, '`', "escape is backtick");
                TAP_EQ_STR(f.instrs[1].rest, "a   c:\\path\\ /", "backtick continues a line");
        }
        bld_file_free(&f);
        /* a directive after a comment is a comment */
        rc = parse("# hello\n# escape=`\nFROM scratch\nRUN a \\\n b\n", &f, &err);
        TAP_EQ_INT(rc == 0 && f.escape == '\\' && f.n == 2, 1, "late directive is a comment");
        bld_file_free(&f);
}

static void test_errors(void)
{
        test_error("FROM a\nFOO bar\n", "Containerfile:2: unknown instruction: FOO",
                   "unknown instruction names file:line");
        test_error("FROM a\n\nRUN\n", "Containerfile:3: RUN requires at least one argument",
                   "empty RUN");
        test_error("FROM a\nCOPY onlyone\n", "Containerfile:2: COPY requires at least two",
                   "COPY one arg");
        test_error("FROM a\nENV a=1 b\n", "Containerfile:2: can't find =", "ENV missing =");
        test_error("FROM a\nENV a\n", "ENV must have two arguments", "ENV one word");
        test_error("FROM a b\n", "FROM requires either one or three", "FROM two words");
        test_error("FROM a AS 1x\n", "invalid stage name", "bad stage name");
        test_error("FROM a\nRUN --bogus=1 true\n", "Containerfile:2: unknown flag: --bogus",
                   "unknown flag");
        test_error("FROM a\nSHELL sh -c\n", "SHELL requires the arguments in JSON form",
                   "SHELL shell form");
        test_error("FROM a\nONBUILD FROM b\n", "ONBUILD does not take FROM", "ONBUILD FROM");
        test_error("FROM a\nONBUILD NOPE x\n", "unknown instruction: NOPE", "ONBUILD unknown");
        test_error("RUN x\n", "the first instruction must be FROM or ARG", "RUN before FROM");
        test_error("# escape=x\nFROM a\n", "invalid escape character", "bad escape");
        test_error("", "no instructions", "empty file");
        test_error("FROM a\nRUN <<EOF\nx\nEOF\n", "heredocs", "heredoc refused by name");
        test_error("FROM a\nHEALTHCHECK --retries=3 NONE\n", "takes no flags",
                   "HEALTHCHECK NONE with flags");
        test_error("FROM a\nHEALTHCHECK CMD\n", "requires a command", "HEALTHCHECK empty CMD");
        struct bld_file f;
        struct isola_err err = {0};
        int rc = bld_file_parse("Containerfile", "FROM a\0\n", 8, &f, &err);
        tap_ok(rc < 0 && strstr(err.msg, "binary content"), "NUL byte refused");
        bld_file_free(&f);
}

static void expand(const char *in, const struct bld_vars *v, const char *want, const char *name)
{
        struct isola_err err = {0};
        char *out = NULL;
        int rc = bld_expand_word(in, v, '\\', &out, &err);
        if (rc < 0)
                printf("# %s\n", err.msg);
        TAP_EQ_STR(out, want, name);
        free(out);
}

static void test_expand(void)
{
        struct bld_vars v = {0};
        struct isola_err err = {0};
        bld_vars_set(&v, "A", "alpha", &err);
        bld_vars_set(&v, "E", "", &err);
        bld_vars_set(&v, "W", "x  y", &err);
        bld_vars_set(&v, "A", "apple", &err); /* later set wins */
        expand("$A", &v, "apple", "$VAR");
        expand("${A}s", &v, "apples", "${VAR}");
        expand("${U:-def}", &v, "def", ":- unset");
        expand("${E:-def}", &v, "def", ":- empty");
        expand("${E-def}", &v, "", "- empty is set");
        expand("${A:+x}", &v, "x", ":+ set");
        expand("${U:+x}", &v, "", ":+ unset");
        expand("${U:-${A}}", &v, "apple", "nested default");
        expand("'$A'", &v, "$A", "single quotes literal");
        expand("\"$A b\"", &v, "apple b", "double quotes expand");
        expand("\\$A", &v, "$A", "escaped dollar");
        expand("\"\\$A\\\"\"", &v, "$A\"", "escapes in double quotes");
        expand("a\\ b", &v, "a b", "escaped space");
        expand("$1x", &v, "$1x", "$ before a digit is literal");
        expand("$U", &v, "", "unset is empty");
        char *out = NULL;
        int rc = bld_expand_word("${U:?needed}", &v, '\\', &out, &err);
        tap_ok(rc < 0 && strstr(err.msg, "U: needed"), ":? errors with the message");
        rc = bld_expand_word("${A", &v, '\\', &out, &err);
        tap_ok(rc < 0, "unterminated ${ is an error");
        rc = bld_expand_word("\"abc", &v, '\\', &out, &err);
        tap_ok(rc < 0 && strstr(err.msg, "unterminated"), "unterminated quote");
        rc = bld_expand_word("${A%x}", &v, '\\', &out, &err);
        tap_ok(rc < 0 && strstr(err.msg, "unsupported modifier"), "unsupported modifier");

        char **w = NULL;
        size_t n = 0;
        rc = bld_expand_words("a \"b c\" $W ''", &v, '\\', &w, &n, &err);
        tap_ok(rc == 0 && n == 5 && !strcmp(w[1], "b c") && !strcmp(w[2], "x") &&
                   !strcmp(w[3], "y") && !strcmp(w[4], ""),
               "words: quotes keep spaces, unquoted expansion splits, '' is a word");
        bld_strv_free(w);
        rc = bld_expand_words("\"$W\"", &v, '\\', &w, &n, &err);
        tap_ok(rc == 0 && n == 1 && !strcmp(w[0], "x  y"), "quoted expansion does not split");
        bld_strv_free(w);
        rc = bld_expand_words("a`$A b", &v, '`', &w, &n, &err);
        tap_ok(rc == 0 && n == 2 && !strcmp(w[0], "a$A"), "backtick escape");
        bld_strv_free(w);
        bld_vars_free(&v);
}

int main(void)
{
        test_basic();
        test_escape_directive();
        test_errors();
        test_expand();
        return tap_done();
}
