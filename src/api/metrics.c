/* GET /metrics: Prometheus text format 0.0.4. Per container CPU seconds,
 * memory, pids (cgroup v2 or v1 under isola/<id>), block I/O (io.stat)
 * and network bytes (/proc/<init pid>/net/dev, the container's netns). */
#include "api/api_internal.h"
#include "api/v1.h" /* apiv1: v1_metrics_vms */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sample {
        double cpu_s;
        uint64_t mem, pids, rd, wr, rx, tx;
};

uint64_t api_read_key(const char *path, const char *key)
{
        FILE *f = fopen(path, "re");
        char line[512];
        uint64_t v = 0;
        size_t kl = key ? strlen(key) : 0;

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                if (!key) {
                        v = strtoull(line, NULL, 10);
                        break;
                }
                if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
                        v = strtoull(line + kl + 1, NULL, 10);
                        break;
                }
        }
        fclose(f);
        return v;
}

/* io.stat: "MAJ:MIN rbytes=N wbytes=N ..." per device, summed */
static void io_stat(const char *path, uint64_t *rd, uint64_t *wr)
{
        FILE *f = fopen(path, "re");
        char line[1024];

        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                const char *p;
                if ((p = strstr(line, "rbytes=")))
                        *rd += strtoull(p + 7, NULL, 10);
                if ((p = strstr(line, "wbytes=")))
                        *wr += strtoull(p + 7, NULL, 10);
        }
        fclose(f);
}

static void net_dev(pid_t pid, uint64_t *rx, uint64_t *tx)
{
        char path[64], line[512];
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                char ifname[64];
                unsigned long long r, t;
                if (sscanf(line, " %63[^:]: %llu %*u %*u %*u %*u %*u %*u %*u %llu", ifname, &r,
                           &t) == 3 &&
                    strcmp(ifname, "lo") != 0) {
                        *rx += r;
                        *tx += t;
                }
        }
        fclose(f);
}

static void sample(const struct eng_container *ct, struct sample *s)
{
        char p[PATH_MAX];
        struct v1_usage u;

        memset(s, 0, sizeof(*s));
        snprintf(p, sizeof(p), "isola/%s", ct->id);
        v1_cgroup_usage(p, &u);
        s->cpu_s = u.cpu_s;
        s->mem = u.mem;
        s->pids = u.pids;
        snprintf(p, sizeof(p), "/sys/fs/cgroup/isola/%s/io.stat", ct->id);
        if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
                io_stat(p, &s->rd, &s->wr);
        if (ct->pid > 0)
                net_dev(ct->pid, &s->rx, &s->tx);
}

struct family {
        const char *name, *type, *help;
};

static const struct family fams[] = {
    {"isola_container_cpu_seconds_total", "counter", "CPU time used by the container's cgroup."},
    {"isola_container_memory_bytes", "gauge", "Memory charged to the container's cgroup."},
    {"isola_container_pids", "gauge", "Processes in the container's cgroup."},
    {"isola_container_block_read_bytes_total", "counter", "Bytes read from block devices."},
    {"isola_container_block_write_bytes_total", "counter", "Bytes written to block devices."},
    {"isola_container_network_receive_bytes_total", "counter", "Bytes received (all but lo)."},
    {"isola_container_network_transmit_bytes_total", "counter", "Bytes sent (all but lo)."},
};

static int metrics_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        struct eng_container **l = NULL;
        size_t n = 0, running = 0;
        struct sample *s;
        (void)arg;

        if (eng_list(e, &l, &n, err) < 0)
                return -1;
        s = calloc(n ? n : 1, sizeof(*s));
        if (!s) {
                eng_container_list_free(l, n);
                return err_set(err, ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
                if (strcmp(l[i]->state, "running") == 0 || strcmp(l[i]->state, "paused") == 0) {
                        sample(l[i], &s[i]);
                        running++;
                }
        fprintf(out,
                "# HELP isola_containers Containers known to the engine.\n"
                "# TYPE isola_containers gauge\nisola_containers %zu\n"
                "# HELP isola_containers_running Containers running or paused.\n"
                "# TYPE isola_containers_running gauge\nisola_containers_running %zu\n",
                n, running);
        for (size_t f = 0; f < ARRAY_SIZE(fams); f++) {
                fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", fams[f].name, fams[f].help,
                        fams[f].name, fams[f].type);
                for (size_t i = 0; i < n; i++) {
                        if (strcmp(l[i]->state, "running") != 0 &&
                            strcmp(l[i]->state, "paused") != 0)
                                continue;
                        /* names are [a-zA-Z0-9_.-] and ids hex: nothing to escape */
                        fprintf(out, "%s{id=\"%.12s\",name=\"%s\"} ", fams[f].name, l[i]->id,
                                l[i]->name);
                        uint64_t v[] = {0, s[i].mem, s[i].pids, s[i].rd, s[i].wr, s[i].rx, s[i].tx};
                        if (f == 0)
                                fprintf(out, "%.6f\n", s[i].cpu_s);
                        else
                                fprintf(out, "%" PRIu64 "\n", v[f]);
                }
        }
        free(s);
        eng_container_list_free(l, n);
        return v1_metrics_vms(e, out, err); /* apiv1: the VM families */
}

enum MHD_Result api_h_metrics(struct api_call *c)
{
        struct isola_err err = {0};
        _cleanup_free_ char *out = NULL;
        size_t len;

        if (api_work(c->srv, metrics_work, NULL, &out, &len, &err) < 0)
                return api_reply_err(c, &err);
        return api_reply_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", out, len);
}
