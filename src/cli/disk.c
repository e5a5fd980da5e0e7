/* `isola disk create` and `isola disk info`: make raw or qcow2 images and
 * show an image's format, size and backing chain (devices/block). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/verbs.h"
#include "devices/block/bdev.h"

#define EXIT_USAGE 2

static void usage(FILE *out)
{
        fprintf(out, "usage: isola disk create [-f raw|qcow2] [-b BACKING [-F raw|qcow2]] FILE "
                     "[SIZE]\n"
                     "       isola disk info FILE\n"
                     "\n"
                     "  SIZE is bytes with an optional K, M, G or T suffix (powers of 1024);\n"
                     "  with -b it defaults to the backing file's size.\n");
}

static int parse_size(const char *s, uint64_t *out)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || s[0] == '-')
                return -1;
        unsigned shift = 0;
        switch (*end) {
        case 'T':
        case 't':
                shift = 40;
                break;
        case 'G':
        case 'g':
                shift = 30;
                break;
        case 'M':
        case 'm':
                shift = 20;
                break;
        case 'K':
        case 'k':
                shift = 10;
                break;
        case 0:
                break;
        default:
                return -1;
        }
        if (*end && end[1])
                return -1;
        if (shift && v > (~0ull >> shift))
                return -1;
        *out = (uint64_t)v << shift;
        return 0;
}

static int create_raw(const char *path, uint64_t size, struct isola_err *err)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
                return err_sys(err, "%s: create", path);
        int rc = ftruncate(fd, (off_t)size) < 0 ? err_sys(err, "%s: truncate", path) : 0;
        close(fd);
        if (rc < 0)
                unlink(path);
        return rc;
}

static int disk_create(int argc, char **argv)
{
        const char *fmt = "qcow2", *backing = NULL, *backing_fmt = NULL;
        int c;
        optind = 1;
        while ((c = getopt(argc, argv, "+f:b:F:h")) != -1) {
                switch (c) {
                case 'f':
                        fmt = optarg;
                        break;
                case 'b':
                        backing = optarg;
                        break;
                case 'F':
                        backing_fmt = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        int rest = argc - optind;
        if (rest < 1 || rest > 2 || (rest == 1 && !backing)) {
                usage(stderr);
                return EXIT_USAGE;
        }
        const char *path = argv[optind];
        uint64_t size = 0;
        if (rest == 2 && parse_size(argv[optind + 1], &size) < 0) {
                fprintf(stderr, "isola disk create: bad size '%s'\n", argv[optind + 1]);
                return EXIT_USAGE;
        }
        struct isola_err err = {0};
        int rc;
        if (!strcmp(fmt, "qcow2"))
                rc = bdev_qcow2_create(path, size, backing, backing_fmt, &err);
        else if (!strcmp(fmt, "raw") && !backing)
                rc = create_raw(path, size, &err);
        else {
                fprintf(stderr, "isola disk create: format '%s' %s\n", fmt,
                        strcmp(fmt, "raw") ? "unknown (raw, qcow2)" : "has no backing file");
                return EXIT_USAGE;
        }
        if (rc < 0) {
                fprintf(stderr, "isola disk create: %s\n", err.msg);
                return 1;
        }
        return 0;
}

static int disk_info(int argc, char **argv)
{
        if (argc != 2 || argv[1][0] == '-') {
                usage(argc == 2 && !strcmp(argv[1], "-h") ? stdout : stderr);
                return argc == 2 && !strcmp(argv[1], "-h") ? 0 : EXIT_USAGE;
        }
        struct isola_err err = {0};
        struct bdev *bd;
        if (bdev_open(argv[1], BDEV_FMT_AUTO, BDEV_RDONLY, &bd, &err) < 0) {
                fprintf(stderr, "isola disk info: %s\n", err.msg);
                return 1;
        }
        int depth = 0;
        for (struct bdev *b = bd; b; b = b->backing, depth++) {
                if (depth)
                        printf("\n");
                printf("image: %s\nformat: %s\nvirtual size: %llu bytes\n", b->path,
                       bdev_format_name(b->fmt), (unsigned long long)b->size);
                if (b->backing_name)
                        printf("backing file: %s\nbacking format: %s\n", b->backing_name,
                               b->backing ? bdev_format_name(b->backing->fmt) : "none");
        }
        bdev_close(bd);
        return 0;
}

int cli_disk(int argc, char **argv)
{
        if (argc < 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (!strcmp(argv[1], "create"))
                return disk_create(argc - 1, argv + 1);
        if (!strcmp(argv[1], "info"))
                return disk_info(argc - 1, argv + 1);
        if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
                usage(stdout);
                return 0;
        }
        fprintf(stderr, "isola disk: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
}
