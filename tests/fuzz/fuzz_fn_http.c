/* Fuzz target: the function gateway's HTTP parsers over arbitrary bytes — a
 * client's request (headers, Content-Length, /function/NAME routing) and an
 * instance's response (status, headers, body). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fn/fn_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct fn_http_req r;
        struct fn_response rs;
        /* the parsers take a buffer the gateway NUL-terminates */
        char *buf = malloc(size + 1);

        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = 0;
        if (fn_http_parse(buf, size, 1u << 20, &r) == 0) {
                if (r.header_len > size || strlen(r.fn_name) >= sizeof(r.fn_name) ||
                    r.content_length > (1u << 20))
                        __builtin_trap();
                for (size_t i = 0; r.headers && r.headers[i]; i++)
                        fn_http_hop_header(r.headers[i]);
                fn_http_req_free(&r);
        }
        /* the framing of a response read from an instance (no NUL after it) */
        char *exact = malloc(size ? size : 1);
        size_t head, clen;
        bool keep;
        if (exact) {
                memcpy(exact, data, size);
                if (fn_http_response_frame(exact, size, &head, &clen, &keep) &&
                    (head > size || (keep && clen == (size_t)-1)))
                        __builtin_trap();
                free(exact);
        }
        if (fn_http_parse_response(buf, size, &rs) == 0) {
                if (rs.body_len > size || rs.status < 100 || rs.status > 599)
                        __builtin_trap();
                fn_response_free(&rs);
        }
        free(buf);
        return 0;
}
