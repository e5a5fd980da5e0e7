/* Read-only views of a container: inspect (JSON), port, top (processes)
 * and stats (CPU, memory and pids from its cgroup). */
#include "engine/engine_internal.h"
#include "engine/health.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctr/container.h"
#include "util/cleanup.h"
#include "util/fs.h"

static void rfc3339(int64_t ns, char *buf, size_t len)
{
        time_t s = (time_t)(ns / 1000000000);
        struct tm tm;

        gmtime_r(&s, &tm);
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09" PRId64 "Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ns % 1000000000);
}

static json_object *state_json(const struct eng_container *ct)
{
        json_object *s = json_object_new_object();
        char t[64];

        json_object_object_add(s, "Status", json_object_new_string(ct->state));
        json_object_object_add(
            s, "Running",
            json_object_new_boolean(!strcmp(ct->state, "running") || !strcmp(ct->state, "paused")));
        json_object_object_add(s, "Paused", json_object_new_boolean(!strcmp(ct->state, "paused")));
        json_object_object_add(s, "Pid", json_object_new_int(ct->pid));
        json_object_object_add(s, "MonitorPid", json_object_new_int(ct->monitor_pid));
        json_object_object_add(s, "ExitCode", json_object_new_int(ct->exit_code));
        rfc3339(ct->started, t, sizeof(t));
        json_object_object_add(s, "StartedAt", json_object_new_string(ct->started ? t : ""));
        rfc3339(ct->finished, t, sizeof(t));
        json_object_object_add(s, "FinishedAt", json_object_new_string(ct->finished ? t : ""));
        return s;
}

static json_object *graph_json(struct eng_ctx *c, const struct eng_container *ct)
{
        json_object *g = json_object_new_object(), *d = json_object_new_object();
        struct isola_err ignore = {0};
        char **lowers = NULL, path[PATH_MAX];
        size_t n = 0, len = 0;

        if (eng_rootfs_lowers(c, ct, &lowers, &n, &ignore) == 0) {
                char *joined = calloc(1, n * PATH_MAX + 1);
                for (size_t i = n; joined && i-- > 0;)
                        len += (size_t)snprintf(joined + len, PATH_MAX + 1, "%s%s", lowers[i],
                                                i ? ":" : "");
                if (joined)
                        json_object_object_add(d, "LowerDir", json_object_new_string(joined));
                free(joined);
                for (size_t i = 0; i < n; i++)
                        free(lowers[i]);
                free(lowers);
        }
        eng_ctr_path(c, ct->id, "upper", path, sizeof(path));
        json_object_object_add(d, "UpperDir", json_object_new_string(path));
        eng_ctr_path(c, ct->id, "work", path, sizeof(path));
        json_object_object_add(d, "WorkDir", json_object_new_string(path));
        eng_ctr_path(c, ct->id, "merged", path, sizeof(path));
        json_object_object_add(d, "MergedDir", json_object_new_string(path));
        json_object_object_add(g, "Name", json_object_new_string("overlay"));
        json_object_object_add(g, "Data", d);
        return g;
}

int eng_inspect(struct eng_ctx *c, const char *ref, char **json_out, struct isola_err *err)
{
        struct eng_container *ct = NULL;
        json_object *o, *cfg, *spec = NULL, *v;
        char t[64], path[PATH_MAX];
        _cleanup_free_ char *spec_text = NULL;
        size_t len;

        if (eng_get(c, ref, &ct, err) < 0)
                return -1;
        cfg = json_tokener_parse(ct->config_json);
        o = json_object_new_object();
        json_object_object_add(o, "Id", json_object_new_string(ct->id));
        json_object_object_add(o, "Name", json_object_new_string(ct->name));
        rfc3339(ct->created, t, sizeof(t));
        json_object_object_add(o, "Created", json_object_new_string(t));
        eng_ctr_path(c, ct->id, "config.json", path, sizeof(path));
        if (fs_read_file(path, &spec_text, &len, err) == 0)
                spec = json_tokener_parse(spec_text);
        err_clear(err);
        if (spec && json_object_object_get_ex(spec, "process", &v) &&
            json_object_object_get_ex(v, "args", &v)) {
                json_object_object_add(o, "Path", json_object_get(json_object_array_get_idx(v, 0)));
                json_object_object_add(o, "Args", json_object_get(v));
        }
        json_object *state = state_json(ct);
        eng_health_state_add(c, ct, state);
        json_object_object_add(o, "State", state);
        json_object_object_add(o, "Image",
                               json_object_new_string(ct->image_id ? ct->image_id : ""));
        json_object_object_add(o, "ImageName",
                               json_object_new_string(ct->image_name ? ct->image_name : ""));
        json_object_object_add(o, "RestartCount", json_object_new_int(ct->restart_count));
        eng_ctr_path(c, ct->id, MON_LOG_FILE, path, sizeof(path));
        json_object_object_add(o, "LogPath", json_object_new_string(path));
        json_object_object_add(o, "Config", cfg);
        json_object_object_add(o, "GraphDriver", graph_json(c, ct));
        json_object_object_add(o, "NetworkSettings", eng_net_settings_json(c, ct->id));
        if (spec && json_object_object_get_ex(spec, "mounts", &v))
                json_object_object_add(o, "Mounts", json_object_get(v));
        json_object_put(spec);
        *json_out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        eng_container_free(ct);
        return *json_out ? 0 : err_set(err, ENOMEM, "out of memory");
}

/* The published ports as the network component resolved them (random host
 * ports of -P and HOST-less -p included). */
int eng_port(struct eng_ctx *c, const char *ref, char **text_out, struct isola_err *err)
{
        struct eng_container *ct = NULL;

        if (eng_get(c, ref, &ct, err) < 0)
                return -1;
        int rc = eng_net_ports_text(c, ct->id, text_out, err);
        eng_container_free(ct);
        return rc;
}

static void proc_line(pid_t pid, char *buf, size_t len)
{
        char path[64], cmd[1024] = "", user[64] = "?";
        unsigned long long utime = 0, stime = 0;
        _cleanup_fclose_ FILE *f = NULL;
        size_t n = 0;
        unsigned uid = 0;

        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        f = fopen(path, "re");
        if (f) {
                n = fread(cmd, 1, sizeof(cmd) - 1, f);
                for (size_t i = 0; i + 1 < n; i++)
                        if (!cmd[i])
                                cmd[i] = ' ';
                cmd[n] = '\0';
                fclose(f);
        }
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        char line[256];
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "Uid: %u", &uid) == 1)
                        break;
        struct passwd *pw = getpwuid(uid);
        snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "");
        if (!pw)
                snprintf(user, sizeof(user), "%u", uid);
        if (f)
                fclose(f);
        f = NULL;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        f = fopen(path, "re");
        if (f && fgets(line, sizeof(line), f)) {
                const char *p = strrchr(line, ')');
                if (p)
                        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                               &utime, &stime);
        }
        long hz = sysconf(_SC_CLK_TCK);
        unsigned long long secs = (utime + stime) / (unsigned long long)(hz > 0 ? hz : 100);
        snprintf(buf, len, "%-8d %-10s %02llu:%02llu:%02llu %s\n", (int)pid, user, secs / 3600,
                 secs / 60 % 60, secs % 60, cmd);
}

int eng_top(struct eng_ctx *c, const char *ref, char **text_out, struct isola_err *err)
{
        struct eng_container *ct = NULL;
        struct ctr_opts o = {.root = c->ctr_root};
        pid_t *pids = NULL;
        size_t n = 0;

        if (eng_get(c, ref, &ct, err) < 0)
                return -1;
        if (strcmp(ct->state, "running") != 0 && strcmp(ct->state, "paused") != 0) {
                err_set(err, EINVAL, "container '%s' is not running", ref);
                eng_container_free(ct);
                return -1;
        }
        int rc = ctr_ps(&o, ct->id, &pids, &n, err);
        eng_container_free(ct);
        if (rc < 0)
                return -1;
        char *out = malloc((n + 1) * 1200);
        size_t len = 0;
        if (out) {
                len =
                    (size_t)sprintf(out, "%-8s %-10s %-8s %s\n", "PID", "USER", "TIME", "COMMAND");
                for (size_t i = 0; i < n; i++) {
                        proc_line(pids[i], out + len, 1200);
                        len += strlen(out + len);
                }
        }
        free(pids);
        *text_out = out;
        return out ? 0 : err_set(err, ENOMEM, "out of memory");
}

static uint64_t read_u64(const char *fmt, const char *id, const char *key)
{
        char path[PATH_MAX], line[256];
        _cleanup_fclose_ FILE *f = NULL;
        unsigned long long v = 0;

        snprintf(path, sizeof(path), fmt, id);
        f = fopen(path, "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                if (!key) {
                        if (!strncmp(line, "max", 3))
                                return UINT64_MAX;
                        sscanf(line, "%llu", &v);
                        return v;
                }
                if (!strncmp(line, key, strlen(key)) &&
                    sscanf(line + strlen(key), " %llu", &v) == 1)
                        return v;
        }
        return v;
}

/* CPU time in ns, memory usage and limit, pids: cgroup v2 or v1 (hybrid). */
static void sample(const char *id, uint64_t *cpu, struct eng_stats *s)
{
        if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
                *cpu = read_u64("/sys/fs/cgroup/isola/%s/cpu.stat", id, "usage_usec") * 1000;
                s->mem_usage = read_u64("/sys/fs/cgroup/isola/%s/memory.current", id, NULL);
                s->mem_limit = read_u64("/sys/fs/cgroup/isola/%s/memory.max", id, NULL);
                s->pids = read_u64("/sys/fs/cgroup/isola/%s/pids.current", id, NULL);
        } else {
                *cpu = read_u64("/sys/fs/cgroup/cpuacct/isola/%s/cpuacct.usage", id, NULL);
                s->mem_usage =
                    read_u64("/sys/fs/cgroup/memory/isola/%s/memory.usage_in_bytes", id, NULL);
                s->mem_limit =
                    read_u64("/sys/fs/cgroup/memory/isola/%s/memory.limit_in_bytes", id, NULL);
                s->pids = read_u64("/sys/fs/cgroup/pids/isola/%s/pids.current", id, NULL);
        }
}

int eng_stats(struct eng_ctx *c, const char *ref, int interval_ms, struct eng_stats *out,
              struct isola_err *err)
{
        struct eng_container *ct = NULL;
        uint64_t cpu0, cpu1;
        int64_t t0, t1;

        if (eng_get(c, ref, &ct, err) < 0)
                return -1;
        memset(out, 0, sizeof(*out));
        snprintf(out->id, sizeof(out->id), "%s", ct->id);
        snprintf(out->name, sizeof(out->name), "%s", ct->name);
        bool running = !strcmp(ct->state, "running") || !strcmp(ct->state, "paused");
        eng_container_free(ct);
        if (!running)
                return 0;
        t0 = eng_now_ns();
        sample(out->id, &cpu0, out);
        struct timespec ts = {.tv_sec = interval_ms / 1000,
                              .tv_nsec = (long)(interval_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        t1 = eng_now_ns();
        sample(out->id, &cpu1, out);
        if (t1 > t0 && cpu1 >= cpu0)
                out->cpu_percent = (double)(cpu1 - cpu0) * 100.0 / (double)(t1 - t0);
        return 0;
}
