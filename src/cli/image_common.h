/* Shared by the image store verbs (src/cli/image*.c): opening the store at
 * --root / $ISOLA_ROOT and the exit codes. */
#ifndef ISOLA_CLI_IMAGE_COMMON_H
#define ISOLA_CLI_IMAGE_COMMON_H

#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>

#include "db/db.h"
#include "image/image.h"

#define CLI_IMG_EXIT_USAGE 2
#define CLI_IMG_OPT_ROOT   600
#define CLI_IMG_OPT_HELP   601

#define CLI_IMG_ROOT_USAGE                                                                         \
        "  --root DIR             the store (default $ISOLA_ROOT or /var/lib/isola)\n"

struct cli_img {
        struct db_paths paths;
        sqlite3 *db;
        struct img_store store;
};

/* Opens the database and the store; prints "isola VERB: ..." on failure. */
int cli_img_open(const char *verb, const char *root, struct cli_img *c);
void cli_img_close(struct cli_img *c);
/* Prints "isola VERB: message" and returns 1. */
int cli_img_fail(const char *verb, const struct isola_err *err);
/* "1.2 MB" style size (podman's SI units). */
void cli_img_size(int64_t bytes, char *buf, size_t len);
/* "3 days ago" style age of a unix time. */
void cli_img_ago(int64_t t, char *buf, size_t len);

/* The verbs of src/cli/image*.c, dispatched by cli_image and cli_verbs. */
int cli_images(int argc, char **argv);
int cli_rmi(int argc, char **argv);
int cli_tag(int argc, char **argv);
int cli_image_prune(int argc, char **argv);
int cli_image_inspect(int argc, char **argv);
int cli_history(int argc, char **argv);
int cli_save(int argc, char **argv);
int cli_load(int argc, char **argv);
int cli_import(int argc, char **argv);

#endif
