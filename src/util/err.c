/* Error recording and context chaining (see err.h). */
#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void err_vset(struct isola_err *err, int errnum, const char *fmt, va_list ap)
{
        if (!err)
                return;
        err->errnum = errnum;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

void err_vsys(struct isola_err *err, const char *fmt, va_list ap)
{
        int saved = errno;
        size_t used;

        if (!err)
                return;
        err->errnum = saved;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        used = strlen(err->msg);
        if (used < sizeof(err->msg))
                snprintf(err->msg + used, sizeof(err->msg) - used, ": %s", strerror(saved));
        errno = saved;
}

void err_vprefix(struct isola_err *err, const char *fmt, va_list ap)
{
        char prefix[ISOLA_ERR_MSG_MAX];
        char joined[ISOLA_ERR_MSG_MAX];

        if (!err)
                return;
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg);
        memcpy(err->msg, joined, sizeof(err->msg));
}

void err_clear(struct isola_err *err)
{
        if (!err)
                return;
        err->errnum = 0;
        err->msg[0] = '\0';
}
