/* Responses in Docker's shapes: JSON bodies, {"message": ...} errors with
 * Docker's status codes. */
#include "api/api_internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

enum MHD_Result api_reply_text(struct api_call *c, unsigned status, const char *type,
                               const char *text, size_t len)
{
        struct MHD_Response *r =
            MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        if (type)
                MHD_add_response_header(r, "Content-Type", type);
        MHD_add_response_header(r, "Api-Version", "1.41");
        MHD_add_response_header(r, "Server", "isola/" ISOLA_VERSION);
        ret = MHD_queue_response(c->conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

enum MHD_Result api_reply_json(struct api_call *c, unsigned status, json_object *o)
{
        size_t len = 0;
        const char *s;
        enum MHD_Result ret;

        if (!o)
                return api_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
        ret = api_reply_text(c, status, "application/json", s, len);
        json_object_put(o);
        return ret;
}

enum MHD_Result api_reply_empty(struct api_call *c, unsigned status)
{
        return api_reply_text(c, status, NULL, "", 0);
}

enum MHD_Result api_reply_error(struct api_call *c, unsigned status, const char *msg)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "message", json_object_new_string(msg));
        return api_reply_json(c, status, o);
}

enum MHD_Result api_reply_err(struct api_call *c, const struct isola_err *err)
{
        unsigned status = MHD_HTTP_INTERNAL_SERVER_ERROR;

        switch (err->errnum) {
        case ENOENT:
        case ESRCH:
                status = MHD_HTTP_NOT_FOUND;
                break;
        case EEXIST:
        case EBUSY:
        case EADDRINUSE:
        case ENOTEMPTY:
                status = MHD_HTTP_CONFLICT;
                break;
        case EINVAL:
        case ENAMETOOLONG:
        case E2BIG:
                status = MHD_HTTP_BAD_REQUEST;
                break;
        case EPERM:
        case EACCES:
                status = MHD_HTTP_FORBIDDEN;
                break;
        default:
                break;
        }
        /* the engine says "not running" with EINVAL; Docker answers 409 */
        if (status == MHD_HTTP_BAD_REQUEST && strstr(err->msg, "is not running"))
                status = MHD_HTTP_CONFLICT;
        return api_reply_error(c, status, err->msg[0] ? err->msg : "internal error");
}

const char *api_query(struct api_call *c, const char *key)
{
        return MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, key);
}

bool api_query_bool(struct api_call *c, const char *key)
{
        const char *v = api_query(c, key);
        return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0);
}

json_object *api_body_json(struct api_call *c, enum MHD_Result *r)
{
        json_tokener *tok;
        json_object *o;

        if (c->body_len == 0)
                return json_object_new_object();
        tok = json_tokener_new();
        o = tok ? json_tokener_parse_ex(tok, c->body, (int)c->body_len) : NULL;
        size_t end = o ? json_tokener_get_parse_end(tok) : 0;
        while (end < c->body_len && strchr(" \t\r\n", c->body[end]) && c->body[end])
                end++;
        if (o && end != c->body_len) {
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                *r = api_reply_error(c, MHD_HTTP_BAD_REQUEST,
                                     "invalid JSON: the body must be a JSON object");
                return NULL;
        }
        return o;
}

void api_time(int64_t ns, char *buf, size_t len)
{
        time_t t = (time_t)(ns / 1000000000);
        struct tm tm;

        if (ns <= 0) {
                snprintf(buf, len, "0001-01-01T00:00:00Z");
                return;
        }
        gmtime_r(&t, &tm);
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(ns % 1000000000));
}
