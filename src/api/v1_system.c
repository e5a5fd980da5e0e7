/* /isola/v1/system, /system/cost and /metrics/summary: host figures from
 * /proc, each workload's from its cgroup (v2, or v1 hybrid as on Debian
 * 12 hosts with the legacy layout), functions from their metering rows. */
#include "api/v1.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

double v1_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int v1_emit(FILE *out, json_object *o)
{
        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), out);
        json_object_put(o);
        return 0;
}

enum MHD_Result v1_reply_work_status(struct api_call *c, unsigned status, api_work_fn fn, void *arg)
{
        struct isola_err err = {0};
        _cleanup_free_ char *out = NULL;
        size_t len = 0;

        if (api_work(c->srv, fn, arg, &out, &len, &err) < 0) {
                /* the VM manager says "not running" with ENOTCONN: a conflict */
                if (err.errnum == ENOTCONN)
                        return api_reply_error(c, MHD_HTTP_CONFLICT, err.msg);
                return api_reply_err(c, &err);
        }
        return api_reply_text(c, status, "application/json", out, len);
}

enum MHD_Result v1_reply_work(struct api_call *c, api_work_fn fn, void *arg)
{
        return v1_reply_work_status(c, MHD_HTTP_OK, fn, arg);
}

/* CPU seconds, memory and pids of a cgroup (v2, or the v1 controllers). */
void v1_cgroup_usage(const char *rel, struct v1_usage *u)
{
        char p[PATH_MAX];

        memset(u, 0, sizeof(*u));
        if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
                snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/cpu.stat", rel);
                u->cpu_s = (double)api_read_key(p, "usage_usec") / 1e6;
                snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/memory.current", rel);
                u->mem = api_read_key(p, NULL);
                snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/pids.current", rel);
                u->pids = api_read_key(p, NULL);
                return;
        }
        snprintf(p, sizeof(p), "/sys/fs/cgroup/cpuacct/%s/cpuacct.usage", rel);
        u->cpu_s = (double)api_read_key(p, NULL) / 1e9;
        snprintf(p, sizeof(p), "/sys/fs/cgroup/memory/%s/memory.usage_in_bytes", rel);
        u->mem = api_read_key(p, NULL);
        snprintf(p, sizeof(p), "/sys/fs/cgroup/pids/%s/pids.current", rel);
        u->pids = api_read_key(p, NULL);
}

void v1_host_read(struct v1_host *h)
{
        double tick = (double)sysconf(_SC_CLK_TCK);
        unsigned long long v[8] = {0};
        FILE *f;

        memset(h, 0, sizeof(*h));
        h->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
        f = fopen("/proc/stat", "re");
        /* cpu user nice system idle iowait irq softirq steal */
        if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                        &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
                h->cpu_s = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tick;
                h->idle_s = (double)(v[3] + v[4]) / tick;
        }
        if (f)
                fclose(f);
        h->mem_total = api_read_key("/proc/meminfo", "MemTotal:") * 1024;
        h->mem_avail = api_read_key("/proc/meminfo", "MemAvailable:") * 1024;
        f = fopen("/proc/uptime", "re");
        if (f && fscanf(f, "%lf", &h->uptime_s) != 1)
                h->uptime_s = 0;
        if (f)
                fclose(f);
        f = fopen("/proc/loadavg", "re");
        if (f && fscanf(f, "%lf %lf %lf", &h->load[0], &h->load[1], &h->load[2]) != 3)
                h->load[0] = h->load[1] = h->load[2] = 0;
        if (f)
                fclose(f);
}

json_object *v1_host_json(const struct v1_host *h)
{
        json_object *o = json_object_new_object();
        uint64_t used = h->mem_total > h->mem_avail ? h->mem_total - h->mem_avail : 0;

        json_object_object_add(o, "ncpu", json_object_new_int(h->ncpu));
        json_object_object_add(o, "cpu_seconds", json_object_new_double(h->cpu_s));
        json_object_object_add(o, "idle_seconds", json_object_new_double(h->idle_s));
        json_object_object_add(o, "memory_total_bytes",
                               json_object_new_int64((int64_t)h->mem_total));
        json_object_object_add(o, "memory_used_bytes", json_object_new_int64((int64_t)used));
        return o;
}

static bool is_live(const struct eng_container *ct)
{
        return strcmp(ct->state, "running") == 0 || strcmp(ct->state, "paused") == 0;
}

/* Every workload of the host, one sample. */
struct totals {
        size_t ctr, ctr_running;
        struct v1_usage ctr_use;
        struct v1_vm_counts vm;
        struct v1_fn_totals fn;
};

/* workloads (may be NULL) gets one Workload object per live workload. */
static int gather(struct eng_ctx *e, struct totals *t, json_object *workloads,
                  struct isola_err *err)
{
        struct eng_container **l = NULL;
        size_t n = 0;

        memset(t, 0, sizeof(*t));
        if (eng_list(e, &l, &n, err) < 0)
                return -1;
        t->ctr = n;
        for (size_t i = 0; i < n; i++) {
                char rel[ENG_ID_LEN + 8];
                struct v1_usage u = {0};
                if (!is_live(l[i]))
                        continue;
                t->ctr_running++;
                snprintf(rel, sizeof(rel), "isola/%s", l[i]->id);
                v1_cgroup_usage(rel, &u);
                t->ctr_use.cpu_s += u.cpu_s;
                t->ctr_use.mem += u.mem;
                if (!workloads)
                        continue;
                json_object *w = json_object_new_object();
                json_object_object_add(w, "kind", json_object_new_string("container"));
                json_object_object_add(w, "id", json_object_new_string(l[i]->id));
                json_object_object_add(w, "name", json_object_new_string(l[i]->name));
                json_object_object_add(w, "state", json_object_new_string(l[i]->state));
                json_object_object_add(w, "cpu_seconds", json_object_new_double(u.cpu_s));
                json_object_object_add(w, "memory_bytes", json_object_new_int64((int64_t)u.mem));
                json_object_array_add(workloads, w);
        }
        eng_container_list_free(l, n);
        /* VMs and functions are optional parts: their absence is zeros */
        if (v1_vm_counts(e, &t->vm, workloads, err) < 0)
                return -1;
        return v1_fn_totals(e, &t->fn, workloads, err);
}

static int system_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct api_server *s = arg;
        struct totals t;
        struct v1_host h;
        struct utsname u;
        char host[256] = "", started[64];
        json_object *o, *k, *load;

        if (gather(e, &t, NULL, err) < 0)
                return -1;
        v1_host_read(&h);
        uname(&u);
        gethostname(host, sizeof(host) - 1);
        api_time(s->started_ns, started, sizeof(started));
        o = json_object_new_object();
        json_object_object_add(o, "version", json_object_new_string(ISOLA_VERSION));
        json_object_object_add(o, "api_version", json_object_new_string("1"));
        json_object_object_add(o, "hostname", json_object_new_string(host));
        json_object_object_add(o, "kernel", json_object_new_string(u.release));
        json_object_object_add(o, "arch", json_object_new_string(u.machine));
        json_object_object_add(o, "ncpu", json_object_new_int(h.ncpu));
        json_object_object_add(o, "memory_total_bytes",
                               json_object_new_int64((int64_t)h.mem_total));
        json_object_object_add(o, "memory_available_bytes",
                               json_object_new_int64((int64_t)h.mem_avail));
        json_object_object_add(o, "uptime_seconds", json_object_new_double(h.uptime_s));
        load = json_object_new_array();
        for (int i = 0; i < 3; i++)
                json_object_array_add(load, json_object_new_double(h.load[i]));
        json_object_object_add(o, "load", load);
        json_object_object_add(o, "serve_started", json_object_new_string(started));
        int kfd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        json_object_object_add(o, "kvm", json_object_new_boolean(kfd >= 0));
        if (kfd >= 0)
                close(kfd);
        k = json_object_new_object();
        json_object_object_add(k, "containers", json_object_new_int64((int64_t)t.ctr));
        json_object_object_add(k, "containers_running",
                               json_object_new_int64((int64_t)t.ctr_running));
        json_object_object_add(k, "vms", json_object_new_int64((int64_t)t.vm.total));
        json_object_object_add(k, "vms_running", json_object_new_int64((int64_t)t.vm.running));
        json_object_object_add(k, "functions", json_object_new_int64((int64_t)t.fn.count));
        json_object_object_add(o, "counts", k);
        return v1_emit(out, o);
}

enum MHD_Result api_v1_system(struct api_call *c)
{
        return v1_reply_work(c, system_work, c->srv);
}

static json_object *kind_json(const char *kind, size_t count, size_t running, double cpu_s,
                              uint64_t mem)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "kind", json_object_new_string(kind));
        json_object_object_add(o, "count", json_object_new_int64((int64_t)count));
        json_object_object_add(o, "running", json_object_new_int64((int64_t)running));
        json_object_object_add(o, "cpu_seconds", json_object_new_double(cpu_s));
        json_object_object_add(o, "memory_bytes", json_object_new_int64((int64_t)mem));
        return o;
}

static int cost_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        bool summary = *(const bool *)arg;
        json_object *workloads = summary ? json_object_new_array() : NULL;
        struct totals t;
        struct v1_host h;
        json_object *o;

        if (gather(e, &t, workloads, err) < 0) {
                json_object_put(workloads);
                return -1;
        }
        v1_host_read(&h);
        o = json_object_new_object();
        json_object_object_add(o, "time", json_object_new_double(v1_now()));
        json_object_object_add(o, "host", v1_host_json(&h));
        if (summary) {
                json_object_object_add(o, "workloads", workloads);
                return v1_emit(out, o);
        }
        json_object *kinds = json_object_new_array(), *fk;
        json_object_array_add(
            kinds, kind_json("container", t.ctr, t.ctr_running, t.ctr_use.cpu_s, t.ctr_use.mem));
        json_object_array_add(kinds,
                              kind_json("vm", t.vm.total, t.vm.running, t.vm.cpu_s, t.vm.mem));
        fk = kind_json("function", t.fn.count, t.fn.running, t.fn.cpu_s, t.fn.mem);
        json_object_object_add(fk, "invocations", json_object_new_int64(t.fn.invocations));
        json_object_array_add(kinds, fk);
        json_object_object_add(o, "kinds", kinds);
        return v1_emit(out, o);
}

enum MHD_Result api_v1_cost(struct api_call *c)
{
        bool summary = false;
        return v1_reply_work(c, cost_work, &summary);
}

enum MHD_Result api_v1_summary(struct api_call *c)
{
        bool summary = true;
        return v1_reply_work(c, cost_work, &summary);
}
