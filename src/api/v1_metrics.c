/* The VM families of /metrics (called from metrics.c in its worker): per
 * running VM the VMM process's CPU seconds and resident memory, and its
 * exits per reason from the VMM's live counters (vm_mgr_inspect "stats":
 * exits_pio, exits_mmio, and KVM's own *_exits). Nothing in a binary
 * without the VM manager (weak references, as in v1_vms.c). */
#include "api/v1.h"

#include <inttypes.h>
#include <string.h>

#include "vmm/mgr.h"

#pragma weak vm_mgr_open
#pragma weak vm_mgr_close
#pragma weak vm_mgr_list
#pragma weak vm_mgr_inspect

/* Label values are VM names ([a-zA-Z0-9][a-zA-Z0-9_.-]*) and the VMM's
 * counter names: nothing to escape; anything else is skipped. */
static bool label_ok(const char *s)
{
        return s[0] &&
               strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
                   strlen(s);
}

static void exits(FILE *out, const char *name, json_object *stats)
{
        json_object *kvm = NULL;

        json_object_object_foreach(stats, key, val)
        {
                /* the VMM's own: exits_pio, exits_mmio (exits_total is their sum) */
                if (strncmp(key, "exits_", 6) == 0 && strcmp(key, "exits_total") != 0 &&
                    label_ok(key + 6))
                        fprintf(out,
                                "isola_vm_exits_total{name=\"%s\",source=\"vmm\",reason=\"%s\"} "
                                "%" PRId64 "\n",
                                name, key + 6, json_object_get_int64(val));
        }
        if (!json_object_object_get_ex(stats, "kvm", &kvm) ||
            !json_object_is_type(kvm, json_type_object))
                return;
        json_object_object_foreach(kvm, k, v)
        {
                size_t len = strlen(k);
                char reason[64];
                if (len <= 6 || len - 6 >= sizeof(reason) || strcmp(k + len - 6, "_exits") != 0)
                        continue;
                snprintf(reason, sizeof(reason), "%.*s", (int)(len - 6), k);
                if (label_ok(reason))
                        fprintf(out,
                                "isola_vm_exits_total{name=\"%s\",source=\"kvm\",reason=\"%s\"} "
                                "%" PRId64 "\n",
                                name, reason, json_object_get_int64(v));
        }
}

int v1_metrics_vms(struct eng_ctx *e, FILE *out, struct isola_err *err)
{
        struct v1_vm_counts k;
        json_object *w = json_object_new_array();

        if (!vm_mgr_open || !vm_mgr_close || !vm_mgr_list || !vm_mgr_inspect) {
                json_object_put(w);
                return 0;
        }
        if (v1_vm_counts(e, &k, w, err) < 0) {
                json_object_put(w);
                return -1;
        }
        fprintf(out,
                "# HELP isola_vms Managed VMs.\n# TYPE isola_vms gauge\nisola_vms %zu\n"
                "# HELP isola_vms_running Managed VMs running or paused.\n"
                "# TYPE isola_vms_running gauge\nisola_vms_running %zu\n",
                k.total, k.running);
        fputs("# HELP isola_vm_cpu_seconds_total CPU time of the VM's VMM process (vCPUs and "
              "devices).\n"
              "# TYPE isola_vm_cpu_seconds_total counter\n",
              out);
        for (size_t i = 0; i < json_object_array_length(w); i++) {
                json_object *v = json_object_array_get_idx(w, i), *x = NULL;
                json_object_object_get_ex(v, "cpu_seconds", &x);
                const char *name = json_object_get_string(json_object_object_get(v, "name"));
                if (label_ok(name))
                        fprintf(out, "isola_vm_cpu_seconds_total{name=\"%s\"} %.6f\n", name,
                                json_object_get_double(x));
        }
        fputs("# HELP isola_vm_memory_bytes Resident memory of the VM's VMM process.\n"
              "# TYPE isola_vm_memory_bytes gauge\n",
              out);
        for (size_t i = 0; i < json_object_array_length(w); i++) {
                json_object *v = json_object_array_get_idx(w, i), *x = NULL;
                json_object_object_get_ex(v, "memory_bytes", &x);
                const char *name = json_object_get_string(json_object_object_get(v, "name"));
                if (label_ok(name))
                        fprintf(out, "isola_vm_memory_bytes{name=\"%s\"} %" PRId64 "\n", name,
                                json_object_get_int64(x));
        }
        fputs("# HELP isola_vm_exits_total VM exits per reason (source vmm: as the VMM handled "
              "them; kvm: KVM's counters).\n# TYPE isola_vm_exits_total counter\n",
              out);
        struct vm_mgr *m = NULL;
        if (vm_mgr_open(e->paths.root, &m, err) < 0) {
                json_object_put(w);
                return -1;
        }
        for (size_t i = 0; i < json_object_array_length(w); i++) {
                const char *name = json_object_get_string(
                    json_object_object_get(json_object_array_get_idx(w, i), "name"));
                json_object *v = NULL, *stats = NULL;
                struct isola_err ignore = {0};
                /* a VM that stopped since the list has no live counters: skipped */
                if (!label_ok(name) || vm_mgr_inspect(m, name, &v, &ignore) < 0)
                        continue;
                if (json_object_object_get_ex(v, "stats", &stats) &&
                    json_object_is_type(stats, json_type_object))
                        exits(out, name, stats);
                json_object_put(v);
        }
        vm_mgr_close(m);
        json_object_put(w);
        return 0;
}
