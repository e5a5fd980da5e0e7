/* In-memory files for the compose loader's read hook (unit tests, fuzzing). */
#ifndef ISOLA_TESTS_COMPOSE_MEM_FILES_H
#define ISOLA_TESTS_COMPOSE_MEM_FILES_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"

struct mem_file {
        const char *path;
        const char *data;
        size_t len; /* 0: strlen(data) */
};

static inline int mem_read(void *ctx, const char *path, char **buf, size_t *len,
                           struct isola_err *err)
{
        for (const struct mem_file *f = ctx; f && f->path; f++) {
                size_t n;

                if (strcmp(f->path, path))
                        continue;
                n = f->len ? f->len : strlen(f->data);
                *buf = malloc(n + 1);
                if (!*buf)
                        return err_set(err, ENOMEM, "oom");
                memcpy(*buf, f->data, n);
                (*buf)[n] = '\0';
                *len = n;
                return 0;
        }
        return err_set(err, ENOENT, "%s: No such file or directory", path);
}

#endif
