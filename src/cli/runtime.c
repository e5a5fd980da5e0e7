/* Placeholder until the runtime commands land. */
#include <stdio.h>

#include "cli/verbs.h"

int runtime_main(int argc, char **argv)
{
        (void)argc;
        fprintf(stderr, "%s: not built yet\n", argv[0]);
        return 1;
}
