/* The function gateway mounted in `isola serve`: /function/NAME[/path] on
 * the serve listeners (the same token rules as every other route). Prefix
 * api_fn_ / fn_mount_. See docs/functions.md. */
#ifndef ISOLA_API_FN_MOUNT_H
#define ISOLA_API_FN_MOUNT_H

#include "api/api_internal.h"
#include "fn/fn.h"

/* The route handler for {"*", "/function/{rest*}"} (routes.c). */
enum MHD_Result api_fn_mount(struct api_call *c);
/* The server's gateway, NULL until the first /function/ request. */
struct fn_gateway *fn_mount_gateway(struct api_server *s);
/* Stops the gateway (if any) and closes its events connection. */
void fn_mount_close(struct api_server *s);

#endif
