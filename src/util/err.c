/* Error recording and context chaining (see err.h). */
#include "util/err.h"

/* The functions themselves, not err.h's wrappers for the analyzer. */
#undef err_set
#undef err_sys
#undef err_prefix

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void err_vformat(struct isola_err *err, const char *fmt, va_list ap)
{
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int err_set(struct isola_err *err, int errnum, const char *fmt, ...)
{
        va_list ap;

        if (!err)
                return -1;
        err->errnum = errnum;
        va_start(ap, fmt);
        err_vformat(err, fmt, ap);
        va_end(ap);
        return -1;
}

int err_sys(struct isola_err *err, const char *fmt, ...)
{
        int saved = errno;
        va_list ap;
        size_t used;

        if (!err)
                return -1;
        err->errnum = saved;
        va_start(ap, fmt);
        err_vformat(err, fmt, ap);
        va_end(ap);
        used = strlen(err->msg);
        if (used < sizeof(err->msg))
                snprintf(err->msg + used, sizeof(err->msg) - used, ": %s", strerror(saved));
        errno = saved;
        return -1;
}

int err_prefix(struct isola_err *err, const char *fmt, ...)
{
        char prefix[ISOLA_ERR_MSG_MAX];
        char joined[ISOLA_ERR_MSG_MAX];
        va_list ap;

        if (!err)
                return -1;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg);
        memcpy(err->msg, joined, sizeof(err->msg));
        return -1;
}

void err_clear(struct isola_err *err)
{
        if (!err)
                return;
        err->errnum = 0;
        err->msg[0] = '\0';
}
