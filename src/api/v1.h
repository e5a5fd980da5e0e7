/* isola's own API (/isola/v1/..., described by docs/api/openapi.yaml) and
 * the embedded dashboard (/ and /dashboard). Prefix api_v1_ / api_dash_.
 * Shared by the src/api/v1_*.c files and the route table (routes.c). */
#ifndef ISOLA_API_V1_H
#define ISOLA_API_V1_H

#include <stdint.h>

#include "api/api_internal.h"

/* The /isola/v1/{rest*} entries of routes.c: routes the rest itself. */
enum MHD_Result api_v1_dispatch(struct api_call *c);
/* GET / and /dashboard: the embedded page (web/, built by web/build.sh). */
enum MHD_Result api_dash_page(struct api_call *c);

/* GET / and GET /dashboard: the page itself, which the TCP listener
 * serves without a token (it holds no data; its API calls send the token
 * from the page's #token= fragment). */
bool api_dash_public(const char *method, const char *url);

/* The generated web/ bundle (dashboard_data.c). */
extern const unsigned char api_dash_html[];
extern const size_t api_dash_html_len;

/* ---- helpers shared by the v1 files ---------------------------------- */

/* A workload's usage from its cgroup (zeros where the file is missing). */
struct v1_usage {
        double cpu_s;
        uint64_t mem, pids;
};
void v1_cgroup_usage(const char *cgroup_rel, struct v1_usage *u);

/* Host-wide figures from /proc. */
struct v1_host {
        int ncpu;
        double cpu_s, idle_s, uptime_s, load[3];
        uint64_t mem_total, mem_avail;
};
void v1_host_read(struct v1_host *h);
json_object *v1_host_json(const struct v1_host *h);

/* Runs fn in a worker and answers its output (JSON text) with 200, or the
 * error with Docker's status. */
enum MHD_Result v1_reply_work(struct api_call *c, api_work_fn fn, void *arg);
/* The same with another success status (201). */
enum MHD_Result v1_reply_work_status(struct api_call *c, unsigned status, api_work_fn fn,
                                     void *arg);
/* Writes o (consumed) to out. */
int v1_emit(FILE *out, json_object *o);
/* Unix seconds now, with a fraction. */
double v1_now(void);

/* Handlers, one per route of the OpenAPI document. */
enum MHD_Result api_v1_system(struct api_call *c);
enum MHD_Result api_v1_cost(struct api_call *c);
enum MHD_Result api_v1_summary(struct api_call *c);
enum MHD_Result api_v1_ctr_list(struct api_call *c);
enum MHD_Result api_v1_ctr_get(struct api_call *c);
enum MHD_Result api_v1_vm_list(struct api_call *c);
enum MHD_Result api_v1_vm_create(struct api_call *c);
enum MHD_Result api_v1_vm_get(struct api_call *c);
enum MHD_Result api_v1_vm_delete(struct api_call *c);
enum MHD_Result api_v1_vm_start(struct api_call *c);
enum MHD_Result api_v1_vm_stop(struct api_call *c);
enum MHD_Result api_v1_vm_console(struct api_call *c);
enum MHD_Result api_v1_vm_counters(struct api_call *c);
/* snapshots, restore, revert (issue #13, in v1_vms.c) */
enum MHD_Result api_v1_vm_snap_list(struct api_call *c);
enum MHD_Result api_v1_vm_snap_create(struct api_call *c);
enum MHD_Result api_v1_vm_snap_delete(struct api_call *c);
enum MHD_Result api_v1_vm_restore(struct api_call *c);
enum MHD_Result api_v1_vm_revert(struct api_call *c);
/* live migration (v1_vm_migrate.c): send the running VM to a peer, take
 * one in (202); what it shares with v1_vms.c */
bool v1_have_vms(void);
enum MHD_Result v1_no_vms(struct api_call *c);
int v1_body_str(json_object *body, const char *key, bool required, const char **out,
                struct isola_err *err);
enum MHD_Result api_v1_vm_migrate(struct api_call *c);
enum MHD_Result api_v1_vm_receive(struct api_call *c);
enum MHD_Result api_v1_fn_list(struct api_call *c);
enum MHD_Result api_v1_fn_get(struct api_call *c);
enum MHD_Result api_v1_fn_usage(struct api_call *c);

/* Counts for /system and /system/cost (v1_vms.c): the managed VMs, their
 * VMM processes' CPU time and resident memory; workloads (may be NULL)
 * gets one Workload per running VM. Zeros in a build without the VM
 * manager. */
struct v1_vm_counts {
        size_t total, running;
        double cpu_s;
        uint64_t mem;
};
int v1_vm_counts(struct eng_ctx *e, struct v1_vm_counts *out, json_object *workloads,
                 struct isola_err *err);

/* The VM families of /metrics (v1_metrics.c), written to out; metrics.c
 * calls it from its worker. Nothing without the VM manager. */
int v1_metrics_vms(struct eng_ctx *e, FILE *out, struct isola_err *err);

/* Function instances alive now (cgroups isola-fn-NAME-*; name NULL = all):
 * how many, and their summed usage (v1_functions.c). */
void v1_fn_live(const char *name, size_t *instances, struct v1_usage *sum);
/* Deployed functions, with live instances and metered use, for /system,
 * /system/cost and /metrics/summary. */
struct v1_fn_totals {
        size_t count, running; /* running: functions with an instance now */
        int64_t invocations;
        double cpu_s;
        uint64_t mem;
};
int v1_fn_totals(struct eng_ctx *e, struct v1_fn_totals *out, json_object *workloads,
                 struct isola_err *err);

#endif
