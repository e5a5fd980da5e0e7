/* `isola kube play|down|generate`: Kubernetes YAML on the engine
 * (src/kube). Parsing and printing only. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/verbs.h"
#include "kube/kube.h"
#include "util/fs.h"

#define EXIT_USAGE 125

static void usage(FILE *f)
{
        fprintf(f, "usage: isola kube play [--replace] [--down] FILE|-\n"
                   "       isola kube down [--keep-volumes] FILE|-\n"
                   "       isola kube generate [--service] [--deployment] [-f FILE] NAME...\n"
                   "\n"
                   "  play      runs the Pods and Deployments of FILE (with its ConfigMaps,\n"
                   "            Secrets, PersistentVolumeClaims and Services)\n"
                   "  down      removes what play made from FILE (claims' volumes too, unless\n"
                   "            --keep-volumes)\n"
                   "  generate  writes YAML for pods made by play or for containers\n");
}

static int fail(const char *verb, const struct isola_err *err)
{
        fprintf(stderr, "isola kube %s: %s\n", verb, err->msg);
        return 1;
}

/* Reads and parses FILE ("-": stdin), printing its warnings. */
static int load(const char *verb, const char *file, struct kube_manifest **m)
{
        struct isola_err err = {0};
        char *text = NULL;
        size_t len = 0;
        int rc;

        if (!strcmp(file, "-"))
                rc = fs_read_fd(STDIN_FILENO, KUBE_FILE_MAX + 1, &text, &len, &err);
        else {
                int fd = open(file, O_RDONLY | O_CLOEXEC);

                rc = fd < 0 ? err_sys(&err, "%s", file)
                            : fs_read_fd(fd, KUBE_FILE_MAX + 1, &text, &len, &err);
                if (fd >= 0)
                        close(fd);
        }
        if (rc < 0 && err.errnum == EFBIG) /* name the file and the real bound */
                err_set(&err, EFBIG, "%s: larger than %u bytes", file, KUBE_FILE_MAX);
        if (rc == 0)
                rc = kube_parse(!strcmp(file, "-") ? "<stdin>" : file, text, len, m, &err);
        free(text);
        if (rc < 0 || !*m)
                return fail(verb, &err);
        for (size_t i = 0; i < (*m)->n_warnings; i++)
                fprintf(stderr, "warning: %s\n", (*m)->warnings[i]);
        return 0;
}

static int play(int argc, char **argv)
{
        static const struct option opts[] = {{"replace", no_argument, NULL, 'r'},
                                             {"down", no_argument, NULL, 'd'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        struct kube_play_opts o = {0};
        struct kube_manifest *m = NULL;
        struct isola_err err = {0};
        bool down = false;
        int c, rc;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'r')
                        o.replace = true;
                else if (c == 'd')
                        down = true;
                else {
                        usage(c == 'h' ? stdout : stderr);
                        return c == 'h' ? 0 : EXIT_USAGE;
                }
        }
        if (optind + 1 != argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (load("play", argv[optind], &m) != 0)
                return 1;
        rc = down ? kube_down(NULL, m, false, stdout, &err) : kube_play(NULL, m, &o, stdout, &err);
        kube_manifest_free(m);
        return rc < 0 ? fail(down ? "play --down" : "play", &err) : 0;
}

static int down(int argc, char **argv)
{
        static const struct option opts[] = {{"keep-volumes", no_argument, NULL, 'k'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        struct kube_manifest *m = NULL;
        struct isola_err err = {0};
        bool keep = false;
        int c, rc;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'k')
                        keep = true;
                else {
                        usage(c == 'h' ? stdout : stderr);
                        return c == 'h' ? 0 : EXIT_USAGE;
                }
        }
        if (optind + 1 != argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (load("down", argv[optind], &m) != 0)
                return 1;
        rc = kube_down(NULL, m, keep, stdout, &err);
        kube_manifest_free(m);
        return rc < 0 ? fail("down", &err) : 0;
}

static int generate(int argc, char **argv)
{
        static const struct option opts[] = {{"service", no_argument, NULL, 's'},
                                             {"deployment", no_argument, NULL, 'D'},
                                             {"filename", required_argument, NULL, 'f'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        struct kube_gen_opts o = {0};
        struct isola_err err = {0};
        const char *file = NULL;
        FILE *out = stdout;
        int c, rc;

        optind = 1;
        while ((c = getopt_long(argc, argv, "sf:h", opts, NULL)) != -1) {
                if (c == 's')
                        o.service = true;
                else if (c == 'D')
                        o.deployment = true;
                else if (c == 'f')
                        file = optarg;
                else {
                        usage(c == 'h' ? stdout : stderr);
                        return c == 'h' ? 0 : EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (file && !(out = fopen(file, "we"))) {
                err_sys(&err, "%s", file);
                return fail("generate", &err);
        }
        rc = kube_generate(NULL, argv + optind, (size_t)(argc - optind), &o, out, &err);
        if (file && fclose(out) != 0 && rc == 0)
                rc = err_sys(&err, "%s", file);
        if (rc < 0 && file)
                unlink(file);
        return rc < 0 ? fail("generate", &err) : 0;
}

int cli_kube(int argc, char **argv)
{
        if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? EXIT_USAGE : 0;
        }
        if (!strcmp(argv[1], "play"))
                return play(argc - 1, argv + 1);
        if (!strcmp(argv[1], "down"))
                return down(argc - 1, argv + 1);
        if (!strcmp(argv[1], "generate"))
                return generate(argc - 1, argv + 1);
        fprintf(stderr, "isola kube: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
}
