/* Fuzz target: the Containerfile parser and the word lexer (a build context
 * may come from anyone). Every instruction's arguments are expanded the way
 * the builder does, with a few variables set. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "build/containerfile.h"

static void expand_all(const struct bld_instr *in, const struct bld_vars *v, char esc)
{
        struct isola_err err = {0};
        char *s = NULL;
        char **w = NULL;
        size_t n = 0;
        if (in->rest && bld_expand_words(in->rest, v, esc, &w, &n, &err) == 0)
                bld_strv_free(w);
        for (size_t i = 0; i < in->n_kv; i++) {
                if (bld_expand_word(in->kv[i].key, v, esc, &s, &err) == 0)
                        free(s);
                if (in->kv[i].value && bld_expand_word(in->kv[i].value, v, esc, &s, &err) == 0)
                        free(s);
        }
        for (size_t i = 0; i < in->n_flags; i++) {
                if (in->flags[i].value &&
                    bld_expand_word(in->flags[i].value, v, esc, &s, &err) == 0)
                        free(s);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct isola_err err = {0};
        struct bld_file f;
        struct bld_vars v = {0};

        if (bld_file_parse("fuzz", (const char *)data, size, &f, &err) == 0) {
                bld_vars_set(&v, "A", "a b", &err);
                bld_vars_set(&v, "E", "", &err);
                for (size_t i = 0; i < f.n; i++) {
                        if (!f.instrs[i].text || f.instrs[i].line <= 0)
                                abort();
                        expand_all(&f.instrs[i], &v, f.escape);
                }
        }
        bld_file_free(&f);
        bld_vars_free(&v);
        return 0;
}
