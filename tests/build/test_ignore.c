/* .dockerignore rules and Go-style path cleaning, as Docker documents them. */
#include <string.h>

#include "build/ignore.h"
#include "tap.h"

static void clean(const char *in, const char *want)
{
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", in);
        bld_path_clean(buf);
        char name[300];
        snprintf(name, sizeof(name), "clean '%s'", in);
        TAP_EQ_STR(buf, want, name);
}

static void glob(const char *pat, const char *name, int want)
{
        TAP_EQ_INT(bld_glob_match(pat, name), want, pat);
}

static void excluded(const char *rules, const char *path, bool want)
{
        struct bld_ignore ig;
        struct isola_err err = {0};
        if (bld_ignore_parse(rules, strlen(rules), &ig, &err) < 0) {
                tap_ok(0, "parse: %s", err.msg);
                return;
        }
        tap_ok(bld_ignore_match(&ig, path) == want, "%s %s", path, want ? "excluded" : "included");
        bld_ignore_free(&ig);
}

int main(void)
{
        clean("a//b/./c/..", "a/b");
        clean("/../a", "/a");
        clean("../../a/b/..", "../../a");
        clean("", ".");
        clean("./", ".");
        clean("a/../..", "..");
        clean("/", "/");
        clean("a/b/", "a/b");
        clean("./x/../y", "y");

        glob("*.go", "a.go", 1);
        glob("*.go", "d/a.go", 0);
        glob("**/*.go", "a.go", 1);
        glob("**/*.go", "x/y/a.go", 1);
        glob("a/**/b", "a/b", 1);
        glob("a/**/b", "a/x/y/b", 1);
        glob("a**", "a/x", 1);
        glob("temp?", "temp1", 1);
        glob("temp?", "temp/", 0);
        glob("[a-c]x", "bx", 1);
        glob("[^a-c]x", "bx", 0);
        glob("[!]", "!", 1);
        glob("\\*", "*", 1);
        glob("\\*", "a", 0);
        glob("[", "[", -1);
        glob("*a*a*a*a*a*a*a*a*a*a*a*b",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0);

        excluded("*/temp*\n", "somedir/temporary.txt", true);
        excluded("*/temp*\n", "temp", false);
        excluded("*/*/temp*\n", "a/b/temp.txt", true);
        excluded("temp?\n", "tempa", true);
        excluded("# comment\n  *.md  \n", "x.md", true);
        excluded("*.md\n!README.md\n", "README.md", false);
        excluded("*.md\n!README.md\n", "x.md", true);
        excluded("*.md\n!README*.md\nREADME-secret.md\n", "README-secret.md", true);
        excluded("*.md\n!README*.md\nREADME-secret.md\n", "README-x.md", false);
        excluded("dir\n", "dir/sub/file", true);
        excluded("dir\n!dir/keep\n", "dir/keep", false);
        excluded("dir\n!dir/keep\n", "dir/other", true);
        excluded("/abs\n", "abs", true);
        excluded("./x/../y\n", "y/z", true);
        excluded("**/*.o\n", "a/b/c.o", true);
        excluded("!x\n", "x", false);
        excluded("", "anything", false);

        struct bld_ignore ig;
        struct isola_err err = {0};
        tap_ok(bld_ignore_parse("a[\n", 3, &ig, &err) < 0 && strstr(err.msg, "line 1"),
               "bad pattern names its line");
        return tap_done();
}
