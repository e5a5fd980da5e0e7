/* isola-engine.so: every `isola` verb, in a module the lean front (the
 * `isola` executable, isola_front.c) loads from its own directory for every
 * verb but `vm` and `disk`. Parses the verb and hands over to the verb's
 * front end; all work happens in the libraries. Its only exported symbol is
 * this entry point (isola-engine.map). */
#include <stddef.h>

#include "cli/isola_main.h"

int isola_engine_main(int argc, char **argv)
{
        return isola_main(argc, argv, cli_verbs, NULL);
}
