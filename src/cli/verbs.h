/* The table of `isola` verbs; each verb group lives in its own file. */
#ifndef ISOLA_CLI_VERBS_H
#define ISOLA_CLI_VERBS_H

struct cli_verb {
        const char *name;
        /* argv[0] is the verb itself */
        int (*run)(int argc, char **argv);
};

extern const struct cli_verb cli_verbs[];

int cli_vm(int argc, char **argv);
int runtime_main(int argc, char **argv);
/* image verbs */
/* container verbs */
/* network verbs */

#endif
