/* .containerignore / .dockerignore: which files of the build context COPY
 * and ADD never see, with Docker's rules (moby/patternmatcher): one pattern
 * a line, '#' comments, white space trimmed, patterns cleaned like Go's
 * filepath.Clean with a leading '/' dropped; '*' '?' '[...]' as in Go's
 * filepath.Match, "**" any number of directories; "!pattern" re-includes;
 * the last matching pattern decides; a pattern that matches a directory
 * matches everything below it. Also path helpers shared by the builder. */
#ifndef ISOLA_BUILD_IGNORE_H
#define ISOLA_BUILD_IGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define BLD_IGNORE_MAX      (1u << 20) /* bytes of an ignore file */
#define BLD_IGNORE_PATTERNS 8192

struct bld_ignore_pat {
        char *pattern; /* cleaned, without the '!' */
        bool exception;
};

struct bld_ignore {
        struct bld_ignore_pat *pats;
        size_t n;
        bool has_exceptions;
};

int bld_ignore_parse(const char *buf, size_t len, struct bld_ignore *out, struct isola_err *err);
/* Reads .containerignore, else .dockerignore, from the context directory
 * (neither: an empty list). */
int bld_ignore_load(int context_dirfd, struct bld_ignore *out, struct isola_err *err);
void bld_ignore_free(struct bld_ignore *ig);
/* Whether the context-relative, cleaned path ("a/b") is excluded. */
bool bld_ignore_match(const struct bld_ignore *ig, const char *path);
/* Whether anything below the excluded directory dir may be re-included by
 * an exception (then the walk must still enter it). */
bool bld_ignore_may_include_below(const struct bld_ignore *ig, const char *dir);

/* Go's filepath.Match on one pattern (no "**"); exported for tests.
 * Returns 1 match, 0 no match, -1 bad pattern. */
int bld_glob_match(const char *pattern, const char *name);

/* Go's path.Clean, in place ("" becomes "."). */
void bld_path_clean(char *path);

#endif
