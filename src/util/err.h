/* Error propagation for the whole library: a failing function fills an
 * isola_err (errno + a message naming the object) and returns -1; each caller
 * may prefix context; only front ends print. */
#ifndef ISOLA_UTIL_ERR_H
#define ISOLA_UTIL_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define ISOLA_ERR_MSG_MAX 1024

struct isola_err {
        int errnum;                  /* errno value, 0 when not a system error */
        char msg[ISOLA_ERR_MSG_MAX]; /* human readable, context first */
};

/* Out-of-line bodies of err_set, err_sys and err_prefix. */
void err_vset(struct isola_err *err, int errnum, const char *fmt, va_list ap);
void err_vsys(struct isola_err *err, const char *fmt, va_list ap);
void err_vprefix(struct isola_err *err, const char *fmt, va_list ap);

/* The three below are inline so that static analysis, which does not look
 * into err.c, sees that they always return -1 (else every `return err_set()`
 * reads to it as a possible success with the out-parameters unwritten). */

/* Records the error and returns -1, so callers can `return err_set(...)`. */
static inline __attribute__((format(printf, 3, 4))) int err_set(struct isola_err *err, int errnum,
                                                                const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        err_vset(err, errnum, fmt, ap);
        va_end(ap);
        return -1;
}

/* Like err_set with errno as the error number; appends strerror(errno). */
static inline __attribute__((format(printf, 2, 3))) int err_sys(struct isola_err *err,
                                                                const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        err_vsys(err, fmt, ap);
        va_end(ap);
        return -1;
}

/* Prepends "context: " to an error already recorded; returns -1. */
static inline __attribute__((format(printf, 2, 3))) int err_prefix(struct isola_err *err,
                                                                   const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        err_vprefix(err, fmt, ap);
        va_end(ap);
        return -1;
}

void err_clear(struct isola_err *err);

#endif
