/* The /isola/v1 route table (each pattern is a path of
 * docs/api/openapi.yaml below /isola/v1; tests/api/v1_routes.sh reads this
 * table and the document and checks that they agree) and the dashboard. */
#include "api/v1.h"

#include <string.h>

struct v1_entry {
        struct api_route r;
        api_handler fn;
};

/* BEGIN v1 routes (parsed by tests/api/v1_routes.sh: one entry a line) */
static const struct v1_entry v1_routes[] = {
    {{"GET", "/system"}, api_v1_system},
    {{"GET", "/system/cost"}, api_v1_cost},
    {{"GET", "/containers"}, api_v1_ctr_list},
    {{"GET", "/containers/{id}"}, api_v1_ctr_get},
    {{"GET", "/vms"}, api_v1_vm_list},
    {{"POST", "/vms"}, api_v1_vm_create},
    {{"GET", "/vms/{name}"}, api_v1_vm_get},
    {{"DELETE", "/vms/{name}"}, api_v1_vm_delete},
    {{"POST", "/vms/{name}/start"}, api_v1_vm_start},
    {{"POST", "/vms/{name}/stop"}, api_v1_vm_stop},
    {{"GET", "/vms/{name}/console"}, api_v1_vm_console},
    {{"GET", "/vms/{name}/counters"}, api_v1_vm_counters},
    {{"GET", "/vms/{name}/snapshots"}, api_v1_vm_snap_list},
    {{"POST", "/vms/{name}/snapshots"}, api_v1_vm_snap_create},
    {{"DELETE", "/vms/{name}/snapshots/{snap}"}, api_v1_vm_snap_delete},
    {{"POST", "/vms/{name}/restore"}, api_v1_vm_restore},
    {{"POST", "/vms/{name}/revert"}, api_v1_vm_revert},
    {{"POST", "/vms/{name}/migrate"}, api_v1_vm_migrate},
    {{"POST", "/vms/{name}/receive"}, api_v1_vm_receive},
    {{"GET", "/functions"}, api_v1_fn_list},
    {{"GET", "/functions/{name}"}, api_v1_fn_get},
    {{"GET", "/functions/{name}/usage"}, api_v1_fn_usage},
    {{"GET", "/metrics/summary"}, api_v1_summary},
};
/* END v1 routes */

enum MHD_Result api_v1_dispatch(struct api_call *c)
{
        struct api_route table[ARRAY_SIZE(v1_routes)];
        char rest[API_PARAM_MAX + 1];

        for (size_t i = 0; i < ARRAY_SIZE(v1_routes); i++)
                table[i] = v1_routes[i].r;
        /* the outer router gave the rest after /isola/v1 as one parameter */
        snprintf(rest, sizeof(rest), "/%s", c->m.n_params ? c->m.params[0] : "");
        api_route_match(table, ARRAY_SIZE(v1_routes), c->method, rest, &c->m);
        if (c->m.route >= 0)
                return v1_routes[c->m.route].fn(c);
        if (c->m.bad_method)
                return api_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
        return api_reply_error(c, MHD_HTTP_NOT_FOUND, "page not found");
}

bool api_dash_public(const char *method, const char *url)
{
        return method && url && strcmp(method, "GET") == 0 &&
               (strcmp(url, "/") == 0 || strcmp(url, "/dashboard") == 0);
}

enum MHD_Result api_dash_page(struct api_call *c)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(
            api_dash_html_len, (void *)api_dash_html, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
        /* everything is inline: nothing else may load (no external network) */
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; script-src 'unsafe-inline'; "
                                "style-src 'unsafe-inline'; img-src 'self' data:");
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        ret = MHD_queue_response(c->conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}
