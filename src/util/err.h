/* Error propagation for the whole library: a failing function fills an
 * isola_err (errno + a message naming the object) and returns -1; each caller
 * may prefix context; only front ends print. */
#ifndef ISOLA_UTIL_ERR_H
#define ISOLA_UTIL_ERR_H

#include <stddef.h>

#define ISOLA_ERR_MSG_MAX 1024

struct isola_err {
        int errnum;                  /* errno value, 0 when not a system error */
        char msg[ISOLA_ERR_MSG_MAX]; /* human readable, context first */
};

/* Records the error and returns -1, so callers can `return err_set(...)`. */
int err_set(struct isola_err *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like err_set with errno as the error number; appends strerror(errno). */
int err_sys(struct isola_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "context: " to an error already recorded; returns -1. */
int err_prefix(struct isola_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void err_clear(struct isola_err *err);

/* The analyzer neither looks into err.c nor inlines variadic calls, so it
 * took every `return err_set(...)` for a possible success with out-parameters
 * unwritten; these wrappers show it the -1 that callers rely on. */
// clang-format off
#define err_set(...)    ({ err_set(__VA_ARGS__); -1; })
#define err_sys(...)    ({ err_sys(__VA_ARGS__); -1; })
#define err_prefix(...) ({ err_prefix(__VA_ARGS__); -1; })
// clang-format on

#endif
