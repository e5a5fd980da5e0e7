/* The route table: every path with and without the /v1.xx prefix. */
#include "api/api_internal.h"
#include "api/v1.h"       /* apiv1 */
#include "api/fn_mount.h" /* fn */

#include <string.h>

struct route_entry {
        struct api_route r;
        api_handler fn;
};

static const struct route_entry routes[] = {
    {{"GET", "/_ping"}, api_h_ping},
    {{"HEAD", "/_ping"}, api_h_ping},
    {{"GET", "/version"}, api_h_version},
    {{"GET", "/info"}, api_h_info},
    {{"GET", "/events"}, api_h_events},
    {{"GET", "/metrics"}, api_h_metrics},
    {{"GET", "/containers/json"}, api_h_ctr_list},
    {{"POST", "/containers/create"}, api_h_ctr_create},
    {{"GET", "/containers/{id}/json"}, api_h_ctr_inspect},
    {{"POST", "/containers/{id}/start"}, api_h_ctr_start},
    {{"POST", "/containers/{id}/stop"}, api_h_ctr_stop},
    {{"POST", "/containers/{id}/restart"}, api_h_ctr_restart},
    {{"POST", "/containers/{id}/kill"}, api_h_ctr_kill},
    {{"POST", "/containers/{id}/wait"}, api_h_ctr_wait},
    {{"DELETE", "/containers/{id}"}, api_h_ctr_delete},
    {{"POST", "/containers/{id}/pause"}, api_h_ctr_pause},
    {{"POST", "/containers/{id}/unpause"}, api_h_ctr_unpause},
    {{"POST", "/containers/{id}/rename"}, api_h_ctr_rename},
    {{"GET", "/containers/{id}/top"}, api_h_ctr_top},
    {{"GET", "/containers/{id}/stats"}, api_h_ctr_stats},
    {{"GET", "/containers/{id}/logs"}, api_h_ctr_logs},
    {{"POST", "/containers/{id}/attach"}, api_h_ctr_attach},
    {{"POST", "/containers/{id}/resize"}, api_h_ctr_resize},
    {{"POST", "/containers/{id}/exec"}, api_h_exec_create},
    {{"POST", "/exec/{id}/start"}, api_h_exec_start},
    {{"POST", "/exec/{id}/resize"}, api_h_ctr_resize},
    {{"GET", "/exec/{id}/json"}, api_h_exec_inspect},
    {{"GET", "/images/json"}, api_h_img_list},
    {{"POST", "/images/create"}, api_h_img_create},
    {{"GET", "/images/{name*}/json"}, api_h_img_inspect},
    {{"POST", "/images/{name*}/tag"}, api_h_img_tag},
    {{"POST", "/images/{name*}/push"}, api_h_img_push},
    {{"DELETE", "/images/{name*}"}, api_h_img_delete},
    {{"GET", "/volumes"}, api_h_vol_list},
    {{"POST", "/volumes/create"}, api_h_vol_create},
    {{"GET", "/volumes/{name}"}, api_h_vol_inspect},
    {{"DELETE", "/volumes/{name}"}, api_h_vol_delete},
    {{"GET", "/networks"}, api_h_net_list},
    {{"POST", "/networks/create"}, api_h_net_create},
    {{"GET", "/networks/{id}"}, api_h_net_inspect},
    {{"DELETE", "/networks/{id}"}, api_h_net_delete},
    /* apid, session 2 */
    {{"GET", "/containers/{id}/archive"}, api_h_ctr_archive_get},
    {{"HEAD", "/containers/{id}/archive"}, api_h_ctr_archive_get},
    {{"PUT", "/containers/{id}/archive"}, api_h_ctr_archive_put},
    {{"GET", "/images/get"}, api_h_img_get},
    {{"GET", "/images/{name*}/get"}, api_h_img_get_one},
    {{"POST", "/images/load"}, api_h_img_load},
    {{"POST", "/build"}, api_h_build},
    {{"POST", "/networks/{id}/connect"}, api_h_net_connect},
    {{"POST", "/networks/{id}/disconnect"}, api_h_net_disconnect},
    /* apiv1: isola's own API (v1_routes.c has its table) and the dashboard */
    {{"GET", "/isola/v1/{rest*}"}, api_v1_dispatch},
    {{"POST", "/isola/v1/{rest*}"}, api_v1_dispatch},
    {{"DELETE", "/isola/v1/{rest*}"}, api_v1_dispatch},
    {{"GET", "/"}, api_dash_page},
    {{"GET", "/dashboard"}, api_dash_page},
    /* fn: the function gateway (fn_mount.c) */
    {{"GET", "/function/{rest*}"}, api_fn_mount},
    {{"POST", "/function/{rest*}"}, api_fn_mount},
    {{"PUT", "/function/{rest*}"}, api_fn_mount},
    {{"DELETE", "/function/{rest*}"}, api_fn_mount},
    {{"PATCH", "/function/{rest*}"}, api_fn_mount},
    {{"HEAD", "/function/{rest*}"}, api_fn_mount},
};

enum MHD_Result api_dispatch(struct api_call *c, const char *path)
{
        struct api_route table[ARRAY_SIZE(routes)];

        for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
                table[i] = routes[i].r;
        api_route_match(table, ARRAY_SIZE(routes), c->method, path, &c->m);
        if (c->m.route >= 0)
                return routes[c->m.route].fn(c);
        if (c->m.bad_method)
                return api_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
        return api_reply_error(c, MHD_HTTP_NOT_FOUND, "page not found");
}
