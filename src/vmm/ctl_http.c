/* The control socket's HTTP/1.1 request parser. Whatever connects to the
 * socket is untrusted: the head is bounded (CTL_MAX_HEAD), the body is
 * taken only with a Content-Length up to CTL_MAX_BODY, chunked bodies are
 * refused, and every field is checked before use. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vmm/ctl.h"

static int bad(int *status, int code, struct isola_err *err, const char *what)
{
        *status = code;
        return err_set(err, EINVAL, "%s", what);
}

static const char *find_crlf(const char *p, const char *end)
{
        for (; p + 1 < end; p++)
                if (p[0] == '\r' && p[1] == '\n')
                        return p;
        return NULL;
}

static bool token_char(char c)
{
        return c >= 'A' && c <= 'Z';
}

/* "METHOD /path HTTP/1.x" */
static int parse_request_line(const char *p, const char *eol, struct ctl_request *req, int *status,
                              struct isola_err *err)
{
        size_t n = 0;

        while (p < eol && token_char(*p) && n < sizeof(req->method) - 1)
                req->method[n++] = *p++;
        req->method[n] = '\0';
        if (n == 0 || p >= eol || *p != ' ')
                return bad(status, 400, err, "malformed request line");
        p++;
        n = 0;
        if (p >= eol || *p != '/')
                return bad(status, 400, err, "the path must start with '/'");
        while (p < eol && *p != ' ' && *p != '?') {
                if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                        return bad(status, 400, err, "bad character in the path");
                if (n == sizeof(req->path) - 1)
                        return bad(status, 414, err, "path too long");
                req->path[n++] = *p++;
        }
        req->path[n] = '\0';
        while (p < eol && *p != ' ') /* query string: ignored */
                p++;
        if (eol - p != 9 || strncmp(p, " HTTP/1.", 8) != 0 || (p[8] != '0' && p[8] != '1'))
                return bad(status, 505, err, "expected HTTP/1.0 or HTTP/1.1");
        return 0;
}

static int parse_length(const char *v, const char *eol, size_t *out, int *status,
                        struct isola_err *err)
{
        size_t n = 0;
        bool digits = false;

        while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
        for (; v < eol && *v >= '0' && *v <= '9'; v++) {
                n = n * 10 + (size_t)(*v - '0');
                digits = true;
                if (n > CTL_MAX_BODY)
                        return bad(status, 413, err, "body too large");
        }
        while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
        if (!digits || v != eol)
                return bad(status, 400, err, "bad Content-Length");
        *out = n;
        return 0;
}

static bool header_is(const char *p, const char *colon, const char *name)
{
        size_t n = strlen(name);

        return (size_t)(colon - p) == n && strncasecmp(p, name, n) == 0;
}

/* Headers between p and end (the blank line excluded). */
static int parse_headers(const char *p, const char *end, size_t *length, int *status,
                         struct isola_err *err)
{
        bool have_length = false;

        while (p < end) {
                const char *eol = find_crlf(p, end + 2);
                if (!eol)
                        return bad(status, 400, err, "malformed header");
                const char *colon = memchr(p, ':', (size_t)(eol - p));
                if (!colon || colon == p)
                        return bad(status, 400, err, "malformed header");
                if (header_is(p, colon, "Transfer-Encoding"))
                        return bad(status, 501, err, "chunked bodies are not supported");
                if (header_is(p, colon, "Content-Length")) {
                        size_t n;
                        if (parse_length(colon + 1, eol, &n, status, err) < 0)
                                return -1;
                        if (have_length && n != *length)
                                return bad(status, 400, err, "conflicting Content-Length");
                        *length = n;
                        have_length = true;
                }
                p = eol + 2;
        }
        return 0;
}

int ctl_http_parse(char *buf, size_t len, struct ctl_request *req, int *status,
                   struct isola_err *err)
{
        const char *head_end = NULL;
        size_t length = 0;

        *status = 0;
        memset(req, 0, sizeof(*req));
        for (size_t i = 0; i + 3 < len && i + 4 <= CTL_MAX_HEAD; i++) {
                if (!memcmp(buf + i, "\r\n\r\n", 4)) {
                        head_end = buf + i;
                        break;
                }
        }
        if (!head_end)
                return len >= CTL_MAX_HEAD ? bad(status, 431, err, "request head too large") : 0;
        const char *eol = find_crlf(buf, head_end + 2);
        if (parse_request_line(buf, eol, req, status, err) < 0 ||
            parse_headers(eol + 2, head_end, &length, status, err) < 0)
                return -1;
        size_t body_off = (size_t)(head_end - buf) + 4;
        if (len - body_off < length)
                return 0;
        if (len - body_off > length)
                return bad(status, 400, err, "bytes after the body");
        buf[body_off + length] = '\0';
        req->body = buf + body_off;
        req->body_len = length;
        return 1;
}
