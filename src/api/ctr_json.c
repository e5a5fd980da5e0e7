/* Containers in Docker's JSON shapes (list entries and inspect), built in
 * the worker from the engine's rows and stored configs. */
#include "api/api_internal.h"

#include <string.h>
#include <time.h>

#include "engine/health.h"

static json_object *strv_json(char **v)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; v && v[i]; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static json_object *str_or_null(const char *s)
{
        return s ? json_object_new_string(s) : NULL;
}

static void status_text(const struct eng_container *ct, char *buf, size_t len)
{
        struct timespec now;
        int64_t since;

        clock_gettime(CLOCK_REALTIME, &now);
        if (strcmp(ct->state, "running") == 0 || strcmp(ct->state, "paused") == 0) {
                since = (int64_t)now.tv_sec - ct->started / 1000000000;
                snprintf(buf, len, "Up %lld seconds%s", (long long)since,
                         strcmp(ct->state, "paused") == 0 ? " (Paused)" : "");
        } else if (strcmp(ct->state, "exited") == 0) {
                since = (int64_t)now.tv_sec - ct->finished / 1000000000;
                snprintf(buf, len, "Exited (%d) %lld seconds ago", ct->exit_code, (long long)since);
        } else {
                snprintf(buf, len, "Created");
        }
}

static void command_text(const struct eng_config *cfg, char *buf, size_t len)
{
        size_t off = 0;
        char **parts[2] = {cfg->entrypoint, cfg->cmd};

        buf[0] = '\0';
        for (int k = 0; k < 2; k++)
                for (size_t i = 0; parts[k] && parts[k][i] && off < len; i++)
                        off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? " " : "",
                                                parts[k][i]);
}

static const char *net_mode(const struct eng_config *cfg)
{
        if (!cfg->network)
                return "none";
        return strcmp(cfg->network, "isola") == 0 ? "bridge" : cfg->network;
}

json_object *api_ctr_summary(const struct eng_container *ct)
{
        struct eng_config cfg = {0};
        struct isola_err err = {0};
        json_object *o = json_object_new_object(), *names = json_object_new_array();
        char name[ENG_NAME_MAX + 2], text[1024];

        eng_container_config(ct, &cfg, &err);
        snprintf(name, sizeof(name), "/%s", ct->name);
        json_object_array_add(names, json_object_new_string(name));
        json_object_object_add(o, "Id", json_object_new_string(ct->id));
        json_object_object_add(o, "Names", names);
        json_object_object_add(o, "Image",
                               json_object_new_string(ct->image_name ? ct->image_name : ""));
        json_object_object_add(o, "ImageID",
                               json_object_new_string(ct->image_id ? ct->image_id : ""));
        command_text(&cfg, text, sizeof(text));
        json_object_object_add(o, "Command", json_object_new_string(text));
        json_object_object_add(o, "Created", json_object_new_int64(ct->created / 1000000000));
        json_object_object_add(o, "State", json_object_new_string(ct->state));
        status_text(ct, text, sizeof(text));
        json_object_object_add(o, "Status", json_object_new_string(text));
        json_object_object_add(o, "Ports", json_object_new_array());
        json_object_object_add(o, "Labels", json_object_new_object());
        json_object *hc = json_object_new_object();
        json_object_object_add(hc, "NetworkMode", json_object_new_string(net_mode(&cfg)));
        json_object_object_add(o, "HostConfig", hc);
        json_object_object_add(o, "Mounts", json_object_new_array());
        eng_config_free(&cfg);
        return o;
}

static json_object *state_json(const struct eng_container *ct)
{
        json_object *s = json_object_new_object();
        char t[64];
        bool running = !strcmp(ct->state, "running") || !strcmp(ct->state, "paused");

        json_object_object_add(s, "Status", json_object_new_string(ct->state));
        json_object_object_add(s, "Running", json_object_new_boolean(running));
        json_object_object_add(s, "Paused", json_object_new_boolean(!strcmp(ct->state, "paused")));
        json_object_object_add(s, "Restarting", json_object_new_boolean(false));
        json_object_object_add(s, "OOMKilled", json_object_new_boolean(false));
        json_object_object_add(s, "Dead", json_object_new_boolean(false));
        json_object_object_add(s, "Pid", json_object_new_int(running ? ct->pid : 0));
        json_object_object_add(s, "ExitCode", json_object_new_int(ct->exit_code));
        json_object_object_add(s, "Error", json_object_new_string(""));
        api_time(ct->started, t, sizeof(t));
        json_object_object_add(s, "StartedAt", json_object_new_string(t));
        api_time(ct->finished, t, sizeof(t));
        json_object_object_add(s, "FinishedAt", json_object_new_string(t));
        return s;
}

static json_object *config_json(const struct eng_container *ct, const struct eng_config *cfg)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "Hostname",
                               json_object_new_string(cfg->hostname ? cfg->hostname : ct->id));
        json_object_object_add(o, "User", json_object_new_string(cfg->user ? cfg->user : ""));
        json_object_object_add(o, "Tty", json_object_new_boolean(cfg->tty));
        json_object_object_add(o, "OpenStdin", json_object_new_boolean(cfg->interactive));
        json_object_object_add(o, "AttachStdin", json_object_new_boolean(cfg->interactive));
        json_object_object_add(o, "AttachStdout", json_object_new_boolean(true));
        json_object_object_add(o, "AttachStderr", json_object_new_boolean(true));
        json_object_object_add(o, "Env", strv_json(cfg->env));
        json_object_object_add(o, "Cmd", cfg->cmd ? strv_json(cfg->cmd) : NULL);
        json_object_object_add(o, "Entrypoint",
                               cfg->entrypoint ? strv_json(cfg->entrypoint) : NULL);
        json_object_object_add(o, "Image",
                               json_object_new_string(ct->image_name ? ct->image_name : ""));
        json_object_object_add(o, "WorkingDir",
                               json_object_new_string(cfg->workdir ? cfg->workdir : ""));
        json_object_object_add(o, "StopSignal", str_or_null(cfg->stop_signal));
        json_object_object_add(o, "Labels", json_object_new_object());
        if (cfg->health.test) /* health: engine/health.h */
                json_object_object_add(o, "Healthcheck", eng_healthcheck_docker_json(&cfg->health));
        return o;
}

json_object *api_ctr_inspect_json(const struct eng_container *ct)
{
        struct eng_config cfg = {0};
        struct isola_err err = {0};
        json_object *o = json_object_new_object(), *hc = json_object_new_object();
        char name[ENG_NAME_MAX + 2], t[64];

        eng_container_config(ct, &cfg, &err);
        snprintf(name, sizeof(name), "/%s", ct->name);
        json_object_object_add(o, "Id", json_object_new_string(ct->id));
        json_object_object_add(o, "Name", json_object_new_string(name));
        api_time(ct->created, t, sizeof(t));
        json_object_object_add(o, "Created", json_object_new_string(t));
        json_object_object_add(o, "Path",
                               json_object_new_string(cfg.entrypoint && cfg.entrypoint[0]
                                                          ? cfg.entrypoint[0]
                                                      : cfg.cmd && cfg.cmd[0] ? cfg.cmd[0]
                                                                              : ""));
        json_object_object_add(o, "Args", strv_json(cfg.cmd));
        json_object_object_add(o, "State", state_json(ct));
        json_object_object_add(o, "Image",
                               json_object_new_string(ct->image_id ? ct->image_id : ""));
        json_object_object_add(o, "RestartCount", json_object_new_int(ct->restart_count));
        json_object_object_add(o, "Driver", json_object_new_string("overlay"));
        json_object_object_add(o, "Config", config_json(ct, &cfg));
        json_object_object_add(hc, "AutoRemove", json_object_new_boolean(cfg.auto_remove));
        json_object_object_add(hc, "NetworkMode", json_object_new_string(net_mode(&cfg)));
        json_object_object_add(hc, "Memory", json_object_new_int64(cfg.memory));
        json_object_object_add(hc, "Binds", strv_json(cfg.volumes));
        /* the monitor's log file is what json-file means to clients:
         * docker-compose shows logs only of containers with a driver */
        json_object *lc = json_object_new_object();
        json_object_object_add(lc, "Type", json_object_new_string("json-file"));
        json_object_object_add(lc, "Config", json_object_new_object());
        json_object_object_add(hc, "LogConfig", lc);
        json_object_object_add(o, "HostConfig", hc);
        json_object *ns = json_object_new_object();
        json_object_object_add(ns, "Networks", json_object_new_object());
        json_object_object_add(ns, "Ports", json_object_new_object());
        json_object_object_add(o, "NetworkSettings", ns);
        json_object_object_add(o, "Mounts", json_object_new_array());
        eng_config_free(&cfg);
        return o;
}
