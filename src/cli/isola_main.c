/* isola's main() minus the verb table: the global flags, help and version,
 * shared by the lean front and the engine module so that both answer the
 * same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/isola_main.h"

static void usage(FILE *out)
{
        fprintf(out,
                "usage: isola [--root DIR] <command> [args]   (state: ISOLA_ROOT, default "
                "/var/lib/isola)\n"
                "\n"
                "images:      pull, push, login, logout, images, rmi, tag, history, save, load,\n"
                "             import, image (ls|rm|tag|inspect|history|save|load|import|prune),\n"
                "             build, builder prune\n"
                "containers:  create, run, start, stop, kill, rm, ps, logs, exec, inspect, wait,\n"
                "             top, cp, commit, pause, unpause, stats, rename, port,\n"
                "             container VERB, volume, system (df|prune)\n"
                "networks:    network (create|ls|inspect|rm|prune|connect|disconnect)\n"
                "apps:        compose VERB\n"
                "functions:   fn (deploy|ls|inspect|rm|invoke|logs|usage)\n"
                "service:     serve (Docker-compatible API, isola API, dashboard, metrics)\n"
                "VMs:         vm (run|create|start|stop|kill|pause|resume|ls|inspect|console|\n"
                "             logs|rm|compare), disk (create|info)\n"
                "low level:   runtime ... (the OCI runtime, same as isola-runtime)\n"
                "             version\n"
                "\n"
                "'isola COMMAND --help' describes a command.\n");
}

int isola_main(int argc, char **argv, const struct cli_verb *verbs, isola_main_other_fn other)
{
        int all_argc = argc;
        char **all = argv;

        /* A global --root moves the state for every component: they all
         * resolve it through db_paths_resolve, which reads ISOLA_ROOT. */
        while (argc >= 2 && (!strcmp(argv[1], "--root") || !strncmp(argv[1], "--root=", 7))) {
                const char *dir = argv[1][6] == '=' ? argv[1] + 7 : argc >= 3 ? argv[2] : NULL;
                int used = argv[1][6] == '=' ? 1 : 2;
                if (!dir || !dir[0]) {
                        fprintf(stderr, "isola: --root needs a directory\n");
                        return 2;
                }
                if (setenv("ISOLA_ROOT", dir, 1) < 0) {
                        perror("isola: --root");
                        return 1;
                }
                argc -= used;
                argv += used;
        }
        if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
                printf("isola %s\n", ISOLA_VERSION);
                return 0;
        }
        for (const struct cli_verb *v = verbs; v->name; v++) {
                if (!strcmp(argv[1], v->name))
                        return v->run(argc - 1, argv + 1);
        }
        if (other)
                return other(all_argc, all);
        fprintf(stderr, "isola: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
}
