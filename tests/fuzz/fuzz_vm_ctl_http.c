/* Fuzz target: the managed VM control socket's HTTP/1.1 request parser
 * (src/vmm/ctl_http.c) over arbitrary bytes, fed whole and in two pieces
 * as a socket may deliver them. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(char *buf, size_t len)
{
        struct ctl_request req;
        struct isola_err err = {0};
        int status = 0;
        int rc = ctl_http_parse(buf, len, &req, &status, &err);

        if (rc < 0 && (status < 400 || status > 599))
                __builtin_trap();
        if (rc == 1) {
                if (req.path[0] != '/' || strlen(req.path) >= sizeof(req.path) ||
                    strlen(req.method) >= sizeof(req.method) || req.body_len > CTL_MAX_BODY ||
                    req.body < buf || req.body + req.body_len > buf + len || req.body[req.body_len])
                        __builtin_trap();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > CTL_MAX_HEAD + CTL_MAX_BODY)
                return 0;
        /* The server's buffer has one byte more than it reads, for the NUL. */
        char *buf = malloc(size + 1);

        if (!buf)
                return 0;
        memcpy(buf, data, size);
        check(buf, size / 2);
        memcpy(buf, data, size);
        check(buf, size);
        free(buf);
        return 0;
}
