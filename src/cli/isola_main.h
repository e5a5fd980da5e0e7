/* The part of main() that both halves of `isola` share: the lean front
 * (isola_front.c: the executable, runs the `vm` and `disk` verbs) and the
 * engine module (isola.c: isola-engine.so beside it, every verb). */
#ifndef ISOLA_CLI_ISOLA_MAIN_H
#define ISOLA_CLI_ISOLA_MAIN_H

#include "cli/verbs.h"

/* Called with main's own argc/argv (global flags included) for a verb that
 * is not in the table; returns the exit status. */
typedef int (*isola_main_other_fn)(int argc, char **argv);

/* The global flags (--root), help, version, then the verb from verbs; any
 * other verb goes to other when it is set, else it is an unknown command.
 * Returns main's exit status. */
int isola_main(int argc, char **argv, const struct cli_verb *verbs, isola_main_other_fn other);

/* The engine module's entry point (isola.c), looked up by name with dlsym:
 * isola_main over every verb, with the front's argv unchanged. */
int isola_engine_main(int argc, char **argv);

#endif
