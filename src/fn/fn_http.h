/* Bounded HTTP/1.x parsing for the gateway (hostile input: the client's
 * request and the instance's response). Fuzzed by tests/fuzz/fuzz_fn_http.c. */
#ifndef ISOLA_FN_HTTP_H
#define ISOLA_FN_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "fn/fn.h"

#define FN_HTTP_MORE (-1)

struct fn_http_req {
        char method[16];
        char target[4096];
        char fn_name[FN_NAME_MAX]; /* "" unless target is /function/NAME[...] */
        char fn_path[4096];        /* what follows NAME: "", "/x", "?q", "/x?q" */
        char **headers;            /* "Name: value", NULL-terminated, heap */
        size_t content_length;
        size_t header_len; /* bytes up to and including the blank line */
        bool close;        /* HTTP/1.0 without keep-alive, or Connection: close */
};
/* 0 = complete headers in *out (free with fn_http_req_free); FN_HTTP_MORE =
 * need more bytes; else an HTTP status (400, 411, 413, 501). */
int fn_http_parse(const char *buf, size_t len, size_t max_body, struct fn_http_req *out);
void fn_http_req_free(struct fn_http_req *r);
/* Whole response → status, end-to-end headers, body (Content-Length trims);
 * -1 when it is not HTTP. */
int fn_http_parse_response(const char *buf, size_t len, struct fn_response *out);
/* A response's framing once its head is complete (false before): head
 * length, body length ((size_t)-1 = until close), whether the connection
 * stays usable (keep-alive with a Content-Length). buf need not end in NUL. */
bool fn_http_response_frame(const char *buf, size_t got, size_t *head, size_t *clen, bool *keep);
/* Hop-by-hop and framing headers the gateway sets itself. */
bool fn_http_hop_header(const char *line);

#endif
