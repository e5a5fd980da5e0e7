/* Registry of `isola` verbs. Owners add their verbs in their section. */
#include <stddef.h>

#include "cli/verbs.h"

const struct cli_verb cli_verbs[] = {
    {"vm", cli_vm},
    {"runtime", runtime_main},
    /* image verbs */
    /* container verbs */
    /* network verbs */
    {NULL, NULL},
};
