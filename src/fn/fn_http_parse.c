/* HTTP/1.x request and response parsing for the gateway. Everything is
 * bounded by the caller's buffer; lines are checked for control bytes. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fn/fn_http.h"

static const char *find_crlf(const char *p, const char *end)
{
        for (; p + 1 < end; p++)
                if (p[0] == '\r' && p[1] == '\n')
                        return p;
        return NULL;
}

static bool header_is(const char *line, size_t len, const char *name)
{
        size_t n = strlen(name);
        return len > n && line[n] == ':' && !strncasecmp(line, name, n);
}

static bool hop_header(const char *line, size_t len)
{
        static const char *const hop[] = {
            "Connection", "Keep-Alive", "Content-Length", "Transfer-Encoding", "Proxy-Connection",
            "Upgrade",    "TE"};
        for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
                if (header_is(line, len, hop[i]))
                        return true;
        return false;
}

bool fn_http_hop_header(const char *line)
{
        return hop_header(line, strlen(line));
}

static const char *value_of(const char *line, size_t len, size_t *vlen)
{
        const char *v = memchr(line, ':', len), *end = line + len;
        for (v++; v < end && (*v == ' ' || *v == '\t'); v++)
                ;
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        *vlen = (size_t)(end - v);
        return v;
}

static int parse_length(const char *v, size_t n, size_t max, size_t *out)
{
        size_t x = 0;
        if (n == 0)
                return 400;
        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char)v[i]))
                        return 400;
                if (x > max)
                        return 413;
                x = x * 10 + (size_t)(v[i] - '0');
        }
        if (x > max)
                return 413;
        *out = x;
        return 0;
}

static void split_target(struct fn_http_req *r)
{
        static const char pfx[] = "/function/";
        if (strncmp(r->target, pfx, sizeof(pfx) - 1) != 0)
                return;
        const char *n = r->target + sizeof(pfx) - 1;
        size_t len = strcspn(n, "/?");
        if (len == 0 || len >= sizeof(r->fn_name))
                return;
        memcpy(r->fn_name, n, len);
        r->fn_name[len] = 0;
        snprintf(r->fn_path, sizeof(r->fn_path), "%s", n + len);
}

static int request_line(struct fn_http_req *r, const char *p, size_t len)
{
        const char *sp1 = memchr(p, ' ', len), *sp2;
        if (!sp1 || sp1 == p || (size_t)(sp1 - p) >= sizeof(r->method))
                return 400;
        sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - p));
        if (!sp2 || sp2 == sp1 + 1 || (size_t)(sp2 - sp1 - 1) >= sizeof(r->target))
                return 400;
        memcpy(r->method, p, (size_t)(sp1 - p));
        r->method[sp1 - p] = 0;
        for (char *m = r->method; *m; m++)
                if (!isupper((unsigned char)*m))
                        return 400;
        memcpy(r->target, sp1 + 1, (size_t)(sp2 - sp1 - 1));
        r->target[sp2 - sp1 - 1] = 0;
        if (r->target[0] != '/')
                return 400;
        size_t vlen = len - (size_t)(sp2 + 1 - p);
        if (vlen == 8 && !memcmp(sp2 + 1, "HTTP/1.1", 8))
                r->close = false;
        else if (vlen == 8 && !memcmp(sp2 + 1, "HTTP/1.0", 8))
                r->close = true;
        else
                return 400;
        split_target(r);
        return 0;
}

/* The header lines [first, blank) as one heap block: n + 1 pointers, then
 * the lines, each NUL-terminated (one free; a request costs one malloc). */
static char **copy_headers(const char *first, const char *blank, size_t n)
{
        size_t bytes = (size_t)(blank - first) + 2;
        char **v = malloc((n + 1) * sizeof(char *) + bytes), *d;

        if (!v)
                return NULL;
        d = (char *)(v + n + 1);
        for (size_t i = 0; i < n; i++) {
                const char *eol = find_crlf(first, blank + 2);
                size_t l = (size_t)(eol - first);
                memcpy(d, first, l);
                d[l] = 0;
                v[i] = d;
                d += l + 1;
                first = eol + 2;
        }
        v[n] = NULL;
        return v;
}

int fn_http_parse(const char *buf, size_t len, size_t max_body, struct fn_http_req *out)
{
        const char *end = buf + len, *p = buf, *eol;
        size_t n = 0;
        int st;

        /* not a memset of the whole struct: its two 4 KiB strings are
         * written by request_line, which is every request */
        out->method[0] = out->target[0] = out->fn_name[0] = out->fn_path[0] = 0;
        out->headers = NULL;
        out->content_length = out->header_len = 0;
        out->close = false;
        /* complete headers first */
        const char *blank = len >= 4 ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
        if (!blank)
                return FN_HTTP_MORE;
        out->header_len = (size_t)(blank + 4 - buf);
        eol = find_crlf(p, end);
        if ((st = request_line(out, p, (size_t)(eol - p))) != 0)
                return st;
        const char *first = eol + 2;
        for (p = first; p < blank + 2; p = eol + 2) {
                eol = find_crlf(p, end);
                size_t l = (size_t)(eol - p);
                if (l == 0)
                        break;
                for (size_t i = 0; i < l; i++)
                        if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
                                return 400;
                const char *colon = memchr(p, ':', l);
                if (!colon || colon == p || n >= 100)
                        return 400;
                size_t vl;
                const char *v = value_of(p, l, &vl);
                if (header_is(p, l, "Content-Length")) {
                        if ((st = parse_length(v, vl, max_body, &out->content_length)) != 0)
                                return st;
                } else if (header_is(p, l, "Transfer-Encoding")) {
                        return 411; /* chunked uploads are not taken */
                } else if (header_is(p, l, "Connection")) {
                        if (vl == 5 && !strncasecmp(v, "close", 5))
                                out->close = true;
                        else if (vl == 10 && !strncasecmp(v, "keep-alive", 10))
                                out->close = false;
                }
                n++;
        }
        out->headers = copy_headers(first, blank, n);
        return out->headers ? 0 : 400;
}

void fn_http_req_free(struct fn_http_req *r)
{
        free(r->headers);
        r->headers = NULL;
}

int fn_http_parse_response(const char *buf, size_t len, struct fn_response *out)
{
        const char *end = buf + len, *eol, *p;
        size_t clen = (size_t)-1, hl = 0;
        char *h = NULL;

        memset(out, 0, sizeof(*out));
        if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
                return -1;
        for (int i = 9; i < 12; i++)
                if (!isdigit((unsigned char)buf[i]))
                        return -1;
        out->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
        if (out->status < 100 || out->status > 599 || !(eol = find_crlf(buf, end)))
                return -1;
        h = malloc(len + 1);
        if (!h)
                return -1;
        for (p = eol + 2;; p = eol + 2) {
                eol = find_crlf(p, end);
                if (!eol) {
                        free(h);
                        return -1;
                }
                size_t l = (size_t)(eol - p);
                if (l == 0)
                        break;
                if (header_is(p, l, "Content-Length")) {
                        size_t vl, x;
                        const char *v = value_of(p, l, &vl);
                        if (parse_length(v, vl, len, &x) == 0)
                                clen = x;
                        continue;
                }
                if (hop_header(p, l) || !memchr(p, ':', l))
                        continue;
                memcpy(h + hl, p, l);
                memcpy(h + hl + l, "\r\n", 2);
                hl += l + 2;
        }
        h[hl] = 0;
        out->headers = h;
        size_t blen = (size_t)(end - (eol + 2));
        if (clen != (size_t)-1 && clen < blen)
                blen = clen;
        out->body = malloc(blen + 1);
        if (!out->body) {
                free(h);
                out->headers = NULL;
                return -1;
        }
        memcpy(out->body, eol + 2, blen);
        out->body_len = blen;
        return 0;
}

void fn_response_free(struct fn_response *rs)
{
        free(rs->headers);
        free(rs->body);
        memset(rs, 0, sizeof(*rs));
}

/* Where the response's head ends and how long its body is ((size_t)-1 =
 * until the instance closes); whether the instance keeps the connection. */
bool fn_http_response_frame(const char *buf, size_t got, size_t *head, size_t *clen, bool *keep)
{
        const char *end = memmem(buf, got, "\r\n\r\n", 4);

        if (!end)
                return false;
        *head = (size_t)(end - buf) + 4;
        *clen = (size_t)-1;
        *keep = false;
        /* every read below stays before end: buf has no NUL after it */
        for (const char *p = memchr(buf, '\n', (size_t)(end - buf)); p && p + 1 < end;
             p = memchr(p + 1, '\n', (size_t)(end - p - 1))) {
                const char *l = p + 1, *eol = end;
                const char *nl = memchr(l, '\r', (size_t)(end - l));
                if (nl)
                        eol = nl;
                size_t n = (size_t)(eol - l);
                if (n >= 15 && !strncasecmp(l, "Content-Length:", 15)) {
                        const char *v = l + 15;
                        while (v < eol && (*v == ' ' || *v == '\t'))
                                v++;
                        unsigned long long x = 0;
                        const char *d = v;
                        while (d < eol && isdigit((unsigned char)*d) && x <= FN_BODY_MAX + 1ull)
                                x = x * 10 + (unsigned)(*d++ - '0');
                        if (d > v && x <= FN_BODY_MAX + 1ull)
                                *clen = (size_t)x;
                } else if (n >= 11 && !strncasecmp(l, "Connection:", 11)) {
                        const char *v = l + 11;
                        while (v < eol && (*v == ' ' || *v == '\t'))
                                v++;
                        *keep = (size_t)(eol - v) >= 10 && !strncasecmp(v, "keep-alive", 10);
                }
        }
        /* only a response whose end is known can leave the connection reusable */
        if (*clen == (size_t)-1)
                *keep = false;
        return true;
}
