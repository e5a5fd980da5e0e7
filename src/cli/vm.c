/* Placeholder until the VM commands land. */
#include <stdio.h>

#include "cli/verbs.h"

int cli_vm(int argc, char **argv)
{
        (void)argc;
        fprintf(stderr, "isola %s: not built yet\n", argv[0]);
        return 1;
}
