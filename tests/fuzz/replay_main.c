/* Without libFuzzer, each fuzz target is linked with this driver: it feeds
 * every file named on the command line (or found in a directory) to
 * LLVMFuzzerTestOneInput once, so the corpus and crash regressions run in the
 * normal ASan+UBSan test build. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/err.h"
#include "util/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
        struct isola_err err = {0};
        char *buf = NULL;
        size_t len = 0;

        if (fs_read_file(path, &buf, &len, &err) < 0) {
                fprintf(stderr, "replay: %s\n", err.msg);
                return -1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
        free(buf);
        return 0;
}

static int replay_path(const char *path, int *count)
{
        struct stat st;
        DIR *dir;
        struct dirent *de;
        int rc = 0;

        if (stat(path, &st) < 0) {
                perror(path);
                return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
                (*count)++;
                return replay_file(path);
        }
        dir = opendir(path);
        if (!dir)
                return -1;
        while ((de = readdir(dir))) {
                char child[4096];
                if (de->d_name[0] == '.')
                        continue;
                snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
                if (replay_path(child, count) < 0)
                        rc = -1;
        }
        closedir(dir);
        return rc;
}

int main(int argc, char **argv)
{
        int count = 0, rc = 0;

        for (int i = 1; i < argc; i++)
                if (replay_path(argv[i], &count) < 0)
                        rc = 1;
        printf("1..1\n%sok 1 - replayed %d inputs without a crash\n", rc ? "not " : "", count);
        return rc;
}
