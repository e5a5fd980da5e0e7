/* POST /containers/create: Docker's ContainerConfig + HostConfig +
 * NetworkingConfig -> struct eng_config. Unknown fields are ignored as
 * Docker ignores them; a known field of the wrong type is a 400 naming it. */
#include "api/api_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STRV_MAX 4096 /* entries in one array field */

static json_object *get(json_object *o, const char *key)
{
        json_object *v = NULL;
        if (!o || !json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return NULL;
        return v;
}

static int want(json_object *v, json_type t, const char *path, struct isola_err *err)
{
        if (json_object_is_type(v, t))
                return 0;
        return err_set(err, EINVAL, "%s: wrong type (want %s)", path, json_type_to_name(t));
}

static int str(json_object *o, const char *key, const char *path, char **out, struct isola_err *err)
{
        json_object *v = get(o, key);
        if (!v)
                return 0;
        if (want(v, json_type_string, path, err) < 0)
                return -1;
        if (json_object_get_string_len(v) == 0)
                return 0;
        *out = strdup(json_object_get_string(v));
        return *out ? 0 : err_set(err, ENOMEM, "out of memory");
}

static int boolean(json_object *o, const char *key, const char *path, bool *out,
                   struct isola_err *err)
{
        json_object *v = get(o, key);
        if (!v)
                return 0;
        if (want(v, json_type_boolean, path, err) < 0)
                return -1;
        *out = json_object_get_boolean(v);
        return 0;
}

static int integer(json_object *o, const char *key, const char *path, int64_t *out,
                   struct isola_err *err)
{
        json_object *v = get(o, key);
        if (!v)
                return 0;
        if (want(v, json_type_int, path, err) < 0)
                return -1;
        *out = json_object_get_int64(v);
        return 0;
}

static int add_str(char ***v, size_t *n, const char *s, struct isola_err *err)
{
        char **t;

        if (*n >= STRV_MAX)
                return err_set(err, E2BIG, "too many entries");
        t = realloc(*v, (*n + 2) * sizeof(*t));
        if (!t)
                return err_set(err, ENOMEM, "out of memory");
        *v = t;
        t[*n] = strdup(s);
        if (!t[*n])
                return err_set(err, ENOMEM, "out of memory");
        t[++*n] = NULL;
        return 0;
}

/* A JSON array of strings, or (Docker allows it for Cmd/Entrypoint) one string. */
static int strv(json_object *o, const char *key, const char *path, char ***out,
                struct isola_err *err)
{
        json_object *v = get(o, key);
        size_t n = 0;

        if (!v)
                return 0;
        if (json_object_is_type(v, json_type_string))
                return add_str(out, &n, json_object_get_string(v), err);
        if (want(v, json_type_array, path, err) < 0)
                return -1;
        for (size_t i = 0; i < json_object_array_length(v); i++) {
                json_object *e = json_object_array_get_idx(v, i);
                if (!json_object_is_type(e, json_type_string))
                        return err_set(err, EINVAL, "%s[%zu]: wrong type (want string)", path, i);
                if (add_str(out, &n, json_object_get_string(e), err) < 0)
                        return -1;
        }
        if (n == 0 && !*out) /* [] means "set to nothing" */
                *out = calloc(1, sizeof(char *));
        return 0;
}

/* PortBindings {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]} -> -p specs */
static int ports(json_object *hc, struct eng_config *cfg, struct isola_err *err)
{
        json_object *pb = get(hc, "PortBindings");
        size_t n = 0;

        if (!pb)
                return 0;
        if (want(pb, json_type_object, "HostConfig.PortBindings", err) < 0)
                return -1;
        json_object_object_foreach(pb, port, list)
        {
                if (!list)
                        continue;
                if (want(list, json_type_array, "HostConfig.PortBindings[]", err) < 0)
                        return -1;
                for (size_t i = 0; i < json_object_array_length(list); i++) {
                        json_object *b = json_object_array_get_idx(list, i);
                        char *ip = NULL, *hp = NULL, spec[512];
                        if (!json_object_is_type(b, json_type_object))
                                return err_set(err, EINVAL, "HostConfig.PortBindings: wrong type");
                        if (str(b, "HostIp", "HostIp", &ip, err) < 0 ||
                            str(b, "HostPort", "HostPort", &hp, err) < 0) {
                                free(ip);
                                free(hp);
                                return -1;
                        }
                        snprintf(spec, sizeof(spec), "%s%s%s:%s", ip ? ip : "", ip ? ":" : "",
                                 hp ? hp : "0", port);
                        free(ip);
                        free(hp);
                        if (add_str(&cfg->ports, &n, spec, err) < 0)
                                return -1;
                }
        }
        return 0;
}

static int restart_policy(json_object *hc, struct eng_config *cfg, struct isola_err *err)
{
        json_object *rp = get(hc, "RestartPolicy");
        char name[32] = "";
        json_object *v;
        int64_t max = 0;

        if (!rp)
                return 0;
        if (want(rp, json_type_object, "HostConfig.RestartPolicy", err) < 0 ||
            integer(rp, "MaximumRetryCount", "HostConfig.RestartPolicy.MaximumRetryCount", &max,
                    err) < 0)
                return -1;
        if ((v = get(rp, "Name"))) {
                if (want(v, json_type_string, "HostConfig.RestartPolicy.Name", err) < 0)
                        return -1;
                snprintf(name, sizeof(name), "%s", json_object_get_string(v));
        }
        if (!name[0] || strcmp(name, "no") == 0)
                cfg->restart = ENG_RESTART_NO;
        else if (strcmp(name, "always") == 0 || strcmp(name, "unless-stopped") == 0)
                cfg->restart = ENG_RESTART_ALWAYS;
        else if (strcmp(name, "on-failure") == 0)
                cfg->restart = ENG_RESTART_ON_FAILURE;
        else
                return err_set(err, EINVAL, "invalid restart policy '%s'", name);
        if (max < 0 || max > 1000000)
                return err_set(err, EINVAL, "invalid MaximumRetryCount");
        cfg->restart_max = (int)max;
        return 0;
}

/* "default" keeps the CLI's default (no network); "bridge" is isola's
 * default bridge network. */
static int network(json_object *hc, json_object *nc, struct eng_config *cfg, struct isola_err *err)
{
        json_object *eps = get(nc, "EndpointsConfig"), *m = get(hc, "NetworkMode");

        if (m && want(m, json_type_string, "HostConfig.NetworkMode", err) < 0)
                return -1;
        const char *mode = m ? json_object_get_string(m) : NULL;
        if (mode && *mode && strcmp(mode, "default") != 0)
                cfg->network = strdup(strcmp(mode, "bridge") == 0 ? "isola" : mode);
        if (!eps || !cfg->network)
                return 0;
        if (want(eps, json_type_object, "NetworkingConfig.EndpointsConfig", err) < 0)
                return -1;
        json_object *ep = get(eps, strcmp(cfg->network, "isola") == 0 ? "bridge" : cfg->network);
        if (ep && json_object_is_type(ep, json_type_object))
                return strv(ep, "Aliases", "EndpointsConfig.Aliases", &cfg->aliases, err);
        return 0;
}

/* api3: Config.Healthcheck (docker run --health-*): Test ["CMD", ...],
 * ["CMD-SHELL", "cmd"], ["NONE"] or [] (the image's); durations in ns, 0
 * for the image's or Docker's default; the engine runs it (health.h). */
static int healthcheck(json_object *h, struct eng_config *cfg, struct isola_err *err)
{
        struct eng_healthcheck *c = &cfg->health;
        int64_t retries = 0,
                *d[] = {&c->interval, &c->timeout, &c->start_period, &c->start_interval};

        if (!h)
                return 0;
        if (want(h, json_type_object, "Healthcheck", err) < 0 ||
            strv(h, "Test", "Healthcheck.Test", &c->test, err) < 0 ||
            integer(h, "Interval", "Healthcheck.Interval", &c->interval, err) < 0 ||
            integer(h, "Timeout", "Healthcheck.Timeout", &c->timeout, err) < 0 ||
            integer(h, "StartPeriod", "Healthcheck.StartPeriod", &c->start_period, err) < 0 ||
            integer(h, "StartInterval", "Healthcheck.StartInterval", &c->start_interval, err) < 0 ||
            integer(h, "Retries", "Healthcheck.Retries", &retries, err) < 0)
                return -1;
        for (size_t i = 0; i < ARRAY_SIZE(d); i++)
                if (*d[i] < 0 || (*d[i] > 0 && *d[i] < 1000000))
                        return err_set(err, EINVAL,
                                       "Healthcheck: durations must be 0 or at least 1ms");
        if (retries < 0 || retries > 1000000)
                return err_set(err, EINVAL, "Healthcheck.Retries: out of range");
        c->retries = (int)retries;
        if (c->test && !c->test[0]) { /* []: the image's */
                free(c->test);
                c->test = NULL;
        }
        if (c->test && strcmp(c->test[0], "NONE") != 0 &&
            ((strcmp(c->test[0], "CMD") != 0 && strcmp(c->test[0], "CMD-SHELL") != 0) ||
             !c->test[1]))
                return err_set(err, EINVAL,
                               "Healthcheck.Test: want [\"CMD\", ...], [\"CMD-SHELL\", cmd] or "
                               "[\"NONE\"]");
        return 0;
}

static int host_config(json_object *hc, struct eng_config *cfg, struct isola_err *err)
{
        int64_t nano = 0, pids = 0;

        if (!hc)
                return 0;
        if (want(hc, json_type_object, "HostConfig", err) < 0)
                return -1;
        if (strv(hc, "Binds", "HostConfig.Binds", &cfg->volumes, err) < 0 ||
            boolean(hc, "AutoRemove", "HostConfig.AutoRemove", &cfg->auto_remove, err) < 0 ||
            integer(hc, "Memory", "HostConfig.Memory", &cfg->memory, err) < 0 ||
            integer(hc, "NanoCpus", "HostConfig.NanoCpus", &nano, err) < 0 ||
            integer(hc, "PidsLimit", "HostConfig.PidsLimit", &pids, err) < 0 ||
            boolean(hc, "ReadonlyRootfs", "HostConfig.ReadonlyRootfs", &cfg->read_only, err) < 0 ||
            boolean(hc, "Init", "HostConfig.Init", &cfg->init, err) < 0 ||
            boolean(hc, "PublishAllPorts", "HostConfig.PublishAllPorts", &cfg->publish_all, err) <
                0 ||
            strv(hc, "CapAdd", "HostConfig.CapAdd", &cfg->cap_add, err) < 0 ||
            strv(hc, "CapDrop", "HostConfig.CapDrop", &cfg->cap_drop, err) < 0 ||
            strv(hc, "Dns", "HostConfig.Dns", &cfg->dns, err) < 0 ||
            strv(hc, "ExtraHosts", "HostConfig.ExtraHosts", &cfg->add_hosts, err) < 0 ||
            ports(hc, cfg, err) < 0 || restart_policy(hc, cfg, err) < 0)
                return -1;
        if (cfg->memory < 0 || nano < 0)
                return err_set(err, EINVAL, "HostConfig: negative Memory or NanoCpus");
        cfg->cpus = (double)nano / 1e9;
        cfg->pids_limit = pids > 0 ? pids : 0;
        return 0;
}

int api_parse_create(const char *body, size_t len, const char *name, struct eng_config *out,
                     struct isola_err *err)
{
        json_tokener *tok = json_tokener_new();
        json_object *o = tok ? json_tokener_parse_ex(tok, body, (int)len) : NULL;
        int64_t timeout = 10;
        int rc = -1;

        json_tokener_free(tok);
        memset(out, 0, sizeof(*out));
        if (!o || !json_object_is_type(o, json_type_object)) {
                err_set(err, EINVAL, "invalid JSON: the body must be a JSON object");
                goto out;
        }
        if (name && *name && !(out->name = strdup(name)))
                goto oom;
        if (str(o, "Image", "Image", &out->image, err) < 0 ||
            strv(o, "Cmd", "Cmd", &out->cmd, err) < 0 ||
            strv(o, "Entrypoint", "Entrypoint", &out->entrypoint, err) < 0 ||
            strv(o, "Env", "Env", &out->env, err) < 0 ||
            str(o, "WorkingDir", "WorkingDir", &out->workdir, err) < 0 ||
            str(o, "User", "User", &out->user, err) < 0 ||
            str(o, "Hostname", "Hostname", &out->hostname, err) < 0 ||
            str(o, "StopSignal", "StopSignal", &out->stop_signal, err) < 0 ||
            integer(o, "StopTimeout", "StopTimeout", &timeout, err) < 0 ||
            boolean(o, "Tty", "Tty", &out->tty, err) < 0 ||
            boolean(o, "OpenStdin", "OpenStdin", &out->interactive, err) < 0 ||
            healthcheck(get(o, "Healthcheck"), out, err) < 0 ||
            host_config(get(o, "HostConfig"), out, err) < 0 ||
            network(get(o, "HostConfig"), get(o, "NetworkingConfig"), out, err) < 0)
                goto out;
        out->entrypoint_set = out->entrypoint != NULL;
        if (!out->image) {
                err_set(err, EINVAL, "config: Image is required");
                goto out;
        }
        if (timeout < 0 || timeout > 86400) {
                err_set(err, EINVAL, "StopTimeout: out of range");
                goto out;
        }
        out->stop_timeout = (int)timeout;
        rc = 0;
        goto out;
oom:
        err_set(err, ENOMEM, "out of memory");
out:
        json_object_put(o);
        if (rc < 0)
                eng_config_free(out);
        return rc;
}
