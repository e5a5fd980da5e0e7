/* Registry of `isola` verbs. */
#include <stddef.h>

#include "cli/verbs.h"

const struct cli_verb cli_verbs[] = {
    {"vm", cli_vm},
    {"runtime", runtime_main},
    {NULL, NULL},
};
