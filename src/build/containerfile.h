/* Containerfile (Dockerfile) syntax: the parser turns the text into typed
 * instructions (containerfile.c); the word lexer expands variables where
 * Docker does (lex.c). Prefix bld_. The text is user input: sizes are
 * bounded, every error names the file and line. */
#ifndef ISOLA_BUILD_CONTAINERFILE_H
#define ISOLA_BUILD_CONTAINERFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define BLD_FILE_MAX   (1u << 20) /* bytes of a Containerfile */
#define BLD_INSTR_MAX  4096       /* instructions in one file */
#define BLD_EXPAND_MAX (1u << 20) /* bytes of one expanded word list */

enum bld_op {
        BLD_OP_FROM,
        BLD_OP_RUN,
        BLD_OP_CMD,
        BLD_OP_LABEL,
        BLD_OP_MAINTAINER,
        BLD_OP_EXPOSE,
        BLD_OP_ENV,
        BLD_OP_ADD,
        BLD_OP_COPY,
        BLD_OP_ENTRYPOINT,
        BLD_OP_VOLUME,
        BLD_OP_USER,
        BLD_OP_WORKDIR,
        BLD_OP_ARG,
        BLD_OP_ONBUILD,
        BLD_OP_STOPSIGNAL,
        BLD_OP_HEALTHCHECK,
        BLD_OP_SHELL,
};

struct bld_flag {
        char *name;  /* without the leading "--" */
        char *value; /* NULL for a bare "--name" */
};

struct bld_kv {
        char *key;
        char *value; /* as written (quotes kept, unexpanded); NULL: ARG without default */
};

struct bld_instr {
        enum bld_op op;
        int line;   /* first line of the instruction, 1-based */
        char *text; /* as written, continuations joined: for history and the log */
        struct bld_flag *flags;
        size_t n_flags;
        /* Exec (JSON) form: argv; shell form: rest, the text after the flags
         * (HEALTHCHECK: after "CMD"). */
        bool exec_form;
        char **argv; /* NULL-terminated when exec_form */
        size_t argc;
        char *rest;
        struct bld_kv *kv; /* ENV, LABEL, ARG */
        size_t n_kv;
        bool healthcheck_none; /* HEALTHCHECK NONE */
        char *trigger;         /* ONBUILD: the instruction it stores */
};

struct bld_file {
        char *path; /* for messages */
        char escape;
        char *syntax; /* the "# syntax=" directive, NULL when absent */
        struct bld_instr *instrs;
        size_t n;
};

/* Parses buf (len bytes) read from path (used only in messages). */
int bld_file_parse(const char *path, const char *buf, size_t len, struct bld_file *out,
                   struct isola_err *err);
int bld_file_load(const char *path, struct bld_file *out, struct isola_err *err);
void bld_file_free(struct bld_file *f);

const char *bld_op_name(enum bld_op op); /* "RUN" */
/* The value of flag name, NULL when absent; *present tells a bare flag apart. */
const char *bld_instr_flag(const struct bld_instr *in, const char *name, bool *present);

/* ---- variables and the word lexer (lex.c) ---------------------------- */
struct bld_vars {
        char **names, **values;
        size_t n, cap;
};
const char *bld_vars_get(const struct bld_vars *v, const char *name);
int bld_vars_set(struct bld_vars *v, const char *name, const char *value, struct isola_err *err);
int bld_vars_copy(struct bld_vars *dst, const struct bld_vars *src, struct isola_err *err);
void bld_vars_free(struct bld_vars *v);

/* One word: quotes removed, escapes applied, $VAR / ${VAR} / ${VAR:-w}
 * / ${VAR-w} / ${VAR:+w} / ${VAR+w} / ${VAR:?msg} expanded from vars (NULL:
 * no expansion, quotes still removed). */
int bld_expand_word(const char *in, const struct bld_vars *vars, char escape, char **out,
                    struct isola_err *err);
/* Words split on unquoted white space (also inside unquoted expansions), as
 * Docker's ProcessWords. *out is NULL-terminated. */
int bld_expand_words(const char *in, const struct bld_vars *vars, char escape, char ***out,
                     size_t *n_out, struct isola_err *err);
void bld_strv_free(char **v);

#endif
