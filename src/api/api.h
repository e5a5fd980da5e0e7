/* isola serve: a Docker Engine API subset (and /metrics) over the same
 * libraries the CLI uses, on a Unix socket and optionally on TCP behind a
 * bearer token. Prefix api_. See docs/api.md. */
#ifndef ISOLA_API_API_H
#define ISOLA_API_API_H

#include <stddef.h>

#include "util/err.h"

#define API_DEFAULT_SOCKET "/run/isola/isola.sock"

struct api_opts {
        const char *root;       /* --root (NULL: ISOLA_ROOT or the default) */
        const char *socket;     /* Unix socket path (NULL: API_DEFAULT_SOCKET) */
        const char *listen;     /* "ADDR:PORT" for TCP, or NULL */
        const char *token_file; /* required with listen */
};

/* Runs until SIGINT or SIGTERM (blocked in every thread, taken by sigwait); -1 when a listener
 * cannot be set up. */
int api_serve(const struct api_opts *o, struct isola_err *err);

#endif
