/* struct eng_config <-> the JSON kept in the container row: what `create`
 * was asked for, re-read by start, inspect, port, restart. */
#include "engine/engine_internal.h"
#include "engine/health.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void add_str(json_object *o, const char *key, const char *v)
{
        if (v)
                json_object_object_add(o, key, json_object_new_string(v));
}

static void add_strv(json_object *o, const char *key, char **v)
{
        if (!v)
                return;
        json_object *a = json_object_new_array();
        for (; *v; v++)
                json_object_array_add(a, json_object_new_string(*v));
        json_object_object_add(o, key, a);
}

static const char *const restart_names[] = {"no", "on-failure", "always"};

json_object *eng_config_to_json(const struct eng_config *cfg)
{
        json_object *o = json_object_new_object();

        add_str(o, "name", cfg->name);
        add_str(o, "image", cfg->image);
        add_str(o, "rootfs", cfg->rootfs);
        add_strv(o, "cmd", cfg->cmd);
        add_strv(o, "entrypoint", cfg->entrypoint);
        json_object_object_add(o, "entrypoint_set", json_object_new_boolean(cfg->entrypoint_set));
        add_strv(o, "env", cfg->env);
        add_str(o, "workdir", cfg->workdir);
        add_str(o, "user", cfg->user);
        add_str(o, "hostname", cfg->hostname);
        add_strv(o, "volumes", cfg->volumes);
        add_strv(o, "tmpfs", cfg->tmpfs);
        json_object_object_add(o, "memory", json_object_new_int64(cfg->memory));
        json_object_object_add(o, "cpus", json_object_new_double(cfg->cpus));
        json_object_object_add(o, "pids_limit", json_object_new_int64(cfg->pids_limit));
        json_object_object_add(o, "read_only", json_object_new_boolean(cfg->read_only));
        json_object_object_add(o, "no_new_privs", json_object_new_boolean(cfg->no_new_privs));
        json_object_object_add(o, "init", json_object_new_boolean(cfg->init));
        json_object_object_add(o, "tty", json_object_new_boolean(cfg->tty));
        json_object_object_add(o, "interactive", json_object_new_boolean(cfg->interactive));
        json_object_object_add(o, "auto_remove", json_object_new_boolean(cfg->auto_remove));
        add_strv(o, "cap_add", cfg->cap_add);
        add_strv(o, "cap_drop", cfg->cap_drop);
        add_str(o, "seccomp", cfg->seccomp);
        add_strv(o, "ulimits", cfg->ulimits);
        json_object_object_add(o, "restart", json_object_new_string(restart_names[cfg->restart]));
        json_object_object_add(o, "restart_max", json_object_new_int(cfg->restart_max));
        add_str(o, "network", cfg->network);
        add_strv(o, "networks", cfg->networks);
        add_str(o, "ip", cfg->ip);
        add_strv(o, "ports", cfg->ports);
        json_object_object_add(o, "publish_all", json_object_new_boolean(cfg->publish_all));
        add_strv(o, "dns", cfg->dns);
        add_strv(o, "add_hosts", cfg->add_hosts);
        add_strv(o, "aliases", cfg->aliases);
        add_str(o, "stop_signal", cfg->stop_signal);
        json_object_object_add(o, "stop_timeout", json_object_new_int(cfg->stop_timeout));
        json_object *hc = eng_healthcheck_to_json(&cfg->health);
        if (hc)
                json_object_object_add(o, "healthcheck", hc);
        return o;
}

static char *get_str(json_object *o, const char *key)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return strdup(json_object_get_string(v));
}

static char **get_strv(json_object *o, const char *key)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
                return NULL;
        size_t n = json_object_array_length(v);
        char **r = calloc(n + 1, sizeof(*r));
        for (size_t i = 0; r && i < n; i++) {
                const char *s = json_object_get_string(json_object_array_get_idx(v, i));
                r[i] = strdup(s ? s : "");
        }
        return r;
}

static int64_t get_int(json_object *o, const char *key)
{
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static bool get_bool(json_object *o, const char *key)
{
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

int eng_config_from_json(const char *text, struct eng_config *out, struct isola_err *err)
{
        json_object *o = json_tokener_parse(text), *v;

        memset(out, 0, sizeof(*out));
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return err_set(err, EINVAL, "container config: not a JSON object");
        }
        out->name = get_str(o, "name");
        out->image = get_str(o, "image");
        out->rootfs = get_str(o, "rootfs");
        out->cmd = get_strv(o, "cmd");
        out->entrypoint = get_strv(o, "entrypoint");
        out->entrypoint_set = get_bool(o, "entrypoint_set");
        out->env = get_strv(o, "env");
        out->workdir = get_str(o, "workdir");
        out->user = get_str(o, "user");
        out->hostname = get_str(o, "hostname");
        out->volumes = get_strv(o, "volumes");
        out->tmpfs = get_strv(o, "tmpfs");
        out->memory = get_int(o, "memory");
        out->cpus = json_object_object_get_ex(o, "cpus", &v) ? json_object_get_double(v) : 0;
        out->pids_limit = get_int(o, "pids_limit");
        out->read_only = get_bool(o, "read_only");
        out->no_new_privs = get_bool(o, "no_new_privs");
        out->init = get_bool(o, "init");
        out->tty = get_bool(o, "tty");
        out->interactive = get_bool(o, "interactive");
        out->auto_remove = get_bool(o, "auto_remove");
        out->cap_add = get_strv(o, "cap_add");
        out->cap_drop = get_strv(o, "cap_drop");
        out->seccomp = get_str(o, "seccomp");
        out->ulimits = get_strv(o, "ulimits");
        if (json_object_object_get_ex(o, "restart", &v)) {
                for (int i = 0; i < 3; i++)
                        if (!strcmp(json_object_get_string(v), restart_names[i]))
                                out->restart = (enum eng_restart)i;
        }
        out->restart_max = (int)get_int(o, "restart_max");
        out->network = get_str(o, "network");
        out->networks = get_strv(o, "networks");
        out->ip = get_str(o, "ip");
        out->ports = get_strv(o, "ports");
        out->publish_all = get_bool(o, "publish_all");
        out->dns = get_strv(o, "dns");
        out->add_hosts = get_strv(o, "add_hosts");
        out->aliases = get_strv(o, "aliases");
        out->stop_signal = get_str(o, "stop_signal");
        out->stop_timeout = (int)get_int(o, "stop_timeout");
        if (json_object_object_get_ex(o, "healthcheck", &v))
                eng_healthcheck_from_json(v, &out->health);
        json_object_put(o);
        return 0;
}

int eng_container_config(const struct eng_container *ct, struct eng_config *out,
                         struct isola_err *err)
{
        return eng_config_from_json(ct->config_json, out, err);
}

static void strv_free(char **v)
{
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

void eng_config_free(struct eng_config *cfg)
{
        free(cfg->name);
        free(cfg->image);
        free(cfg->rootfs);
        strv_free(cfg->cmd);
        strv_free(cfg->entrypoint);
        strv_free(cfg->env);
        free(cfg->workdir);
        free(cfg->user);
        free(cfg->hostname);
        strv_free(cfg->volumes);
        strv_free(cfg->tmpfs);
        strv_free(cfg->cap_add);
        strv_free(cfg->cap_drop);
        free(cfg->seccomp);
        strv_free(cfg->ulimits);
        free(cfg->network);
        strv_free(cfg->networks);
        free(cfg->ip);
        strv_free(cfg->ports);
        strv_free(cfg->dns);
        strv_free(cfg->add_hosts);
        strv_free(cfg->aliases);
        free(cfg->stop_signal);
        eng_healthcheck_free(&cfg->health);
        memset(cfg, 0, sizeof(*cfg));
}
