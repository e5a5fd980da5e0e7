/* Unit tests for error recording and context chaining. */
#include <errno.h>

#include "tap.h"
#include "util/err.h"
#include "util/fs.h"

int main(void)
{
        struct isola_err err = {0};
        char *buf = NULL;
        size_t len = 0;

        /* (err_set): the function itself, not err.h's always -1 wrapper. */
        TAP_EQ_INT((err_set)(&err, EINVAL, "field '%s' is bad", "x"), -1, "err_set returns -1");
        TAP_EQ_STR(err.msg, "field 'x' is bad", "err_set formats the message");
        err_prefix(&err, "config.json");
        TAP_EQ_STR(err.msg, "config.json: field 'x' is bad", "err_prefix adds context first");
        TAP_EQ_INT(err.errnum, EINVAL, "errnum is kept across prefixing");

        TAP_EQ_INT(fs_read_file("/nonexistent/isola", &buf, &len, &err), -1,
                   "reading a missing file fails");
        tap_ok(strstr(err.msg, "'/nonexistent/isola'") != NULL, "the message names the file");
        TAP_EQ_INT(err.errnum, ENOENT, "errnum is ENOENT");
        return tap_done();
}
