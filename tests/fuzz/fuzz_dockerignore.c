/* Fuzz target: .containerignore / .dockerignore patterns (a build context
 * may come from anyone): parsing, and matching every pattern against a few
 * paths, which exercises the glob matcher's backtracking bound. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "build/ignore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const paths[] = {
            "a",         "a/b/c.txt", "dir/sub/x.log",
            ".git/HEAD", "README.md", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"};
        struct isola_err err = {0};
        struct bld_ignore ig;
        if (bld_ignore_parse((const char *)data, size, &ig, &err) < 0)
                return 0;
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                (void)bld_ignore_match(&ig, paths[i]);
                for (size_t k = 0; k < ig.n; k++)
                        (void)bld_glob_match(ig.pats[k].pattern, paths[i]);
        }
        bld_ignore_free(&ig);
        return 0;
}
