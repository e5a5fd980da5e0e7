/* Scope-bound cleanup for short-lived resources (fds, heap, FILE*, DIR*).
 * `steal_fd`/`steal_ptr` hand ownership out of a scope and disarm the cleanup. */
#ifndef ISOLA_UTIL_CLEANUP_H
#define ISOLA_UTIL_CLEANUP_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep(void *p)
{
        free(*(void **)p);
}
static inline void cleanup_closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
static inline void cleanup_fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
static inline void cleanup_closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

#define _cleanup_free_     __attribute__((cleanup(cleanup_freep)))
#define _cleanup_close_    __attribute__((cleanup(cleanup_closep)))
#define _cleanup_fclose_   __attribute__((cleanup(cleanup_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(cleanup_closedirp)))

static inline int steal_fd(int *fd)
{
        int v = *fd;
        *fd = -1;
        return v;
}

static inline void *steal_ptr(void *pp)
{
        void **p = pp;
        void *v = *p;
        *p = NULL;
        return v;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
