/* isola: the user CLI. Parses the verb and hands over to the verb's front
 * end; all work happens in the libraries. */
#include <stdio.h>
#include <string.h>

#include "cli/verbs.h"

static void usage(FILE *out)
{
        fprintf(out, "usage: isola <command> [args]\n"
                     "\n"
                     "commands:\n"
                     "  vm run ...        boot a virtual machine (see 'isola vm run --help')\n"
                     "  runtime ...       the OCI runtime (same as isola-runtime)\n"
                     "  version           print the version\n");
}

int main(int argc, char **argv)
{
        if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
                printf("isola %s\n", ISOLA_VERSION);
                return 0;
        }
        for (const struct cli_verb *v = cli_verbs; v->name; v++) {
                if (!strcmp(argv[1], v->name))
                        return v->run(argc - 1, argv + 1);
        }
        fprintf(stderr, "isola: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
}
