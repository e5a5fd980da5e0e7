/* A managed VM's control socket: a small REST API over HTTP/1.1 on a Unix
 * socket, one request per connection, JSON bodies (Firecracker's style).
 * ctl_http.c parses requests (bounded; fuzzed), ctl.c serves them from a
 * thread of the VMM process, ctl_client.c is the CLI's side. */
#ifndef ISOLA_VMM_CTL_H
#define ISOLA_VMM_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

struct json_object;

#define CTL_MAX_HEAD   8192      /* request line + headers */
#define CTL_MAX_BODY   65536     /* request body */
#define CTL_MAX_ANSWER (1 << 20) /* what the client accepts */
#define CTL_TIMEOUT_MS 2000      /* per request, either side */

/* A parsed request; method/path/body point into the parser's buffer. */
struct ctl_request {
        char method[8];
        char path[256];
        const char *body; /* NUL-terminated, body_len bytes */
        size_t body_len;
};

/* Parses one complete request in buf[0..len) (buf must have room for one
 * more byte, for the body's NUL). Returns 1 when complete, 0 when more bytes
 * are needed, -1 with err (and *status, an HTTP status) when malformed or
 * too large. */
int ctl_http_parse(char *buf, size_t len, struct ctl_request *req, int *status,
                   struct isola_err *err);

struct ctl_response {
        int status;               /* 200, 204, 400, ... */
        struct json_object *body; /* taken over; NULL for no body */
};

typedef void (*ctl_handler)(void *opaque, const struct ctl_request *req, struct ctl_response *resp);

struct ctl_server;

/* Binds sock_path (0600; an old socket file is replaced). */
int ctl_server_new(const char *sock_path, struct ctl_server **out, struct isola_err *err);
/* Routes match method and path exactly; at most 32. */
int ctl_route_add(struct ctl_server *s, const char *method, const char *path, ctl_handler h,
                  void *opaque, struct isola_err *err);
/* Serves on a thread until ctl_server_free. */
int ctl_server_start(struct ctl_server *s, struct isola_err *err);
/* Stops the thread, removes the socket file. */
void ctl_server_free(struct ctl_server *s);

/* {"fault_message": "..."} with the status. */
void ctl_reply_error(struct ctl_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Client: one request; *answer (malloc'd, NUL-terminated, may be "") and
 * *status on success. body may be NULL. */
int ctl_request(const char *sock_path, const char *method, const char *path, const char *body,
                int *status, char **answer, struct isola_err *err);
/* The same with the wait for each piece of the answer set by the caller
 * (-1: until the VMM answers or exits). Snapshots and migrations answer
 * only when done, which takes longer than any fixed limit for a big or busy
 * guest; the VMM closing the socket (it died) still ends the wait. */
int ctl_request_wait(const char *sock_path, const char *method, const char *path, const char *body,
                     int idle_ms, int *status, char **answer, struct isola_err *err);
/* A failed answer as an error with errnum: the VMM's "fault_message", or
 * the answer as it is when it has none. Returns -1. */
int ctl_fault(int errnum, const char *answer, struct isola_err *err);

#endif
