/* The machine description: defaults, the JSON file (json-c), the --disk and
 * --net specs, and validation with messages that name the flag or key. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "vmm/machine.h"

void machine_config_init(struct machine_config *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        cfg->cpus = 1;
        cfg->memory_mib = 128;
        cfg->console = MACHINE_CONSOLE_SERIAL;
        cfg->pv = true;
}

static void free_disks(struct machine_config *cfg)
{
        for (unsigned i = 0; i < cfg->n_disks; i++)
                free(cfg->disks[i].path);
        cfg->n_disks = 0;
}

static void free_nets(struct machine_config *cfg)
{
        for (unsigned i = 0; i < cfg->n_nets; i++)
                free(cfg->nets[i].tap);
        cfg->n_nets = 0;
}

void machine_config_free(struct machine_config *cfg)
{
        free(cfg->kernel);
        free(cfg->initrd);
        free(cfg->cmdline);
        free(cfg->console_log);
        free_disks(cfg);
        free_nets(cfg);
        memset(cfg, 0, sizeof(*cfg));
}

int machine_config_set_str(char **dst, const char *src, struct isola_err *err)
{
        char *copy = strdup(src);

        if (!copy)
                return err_set(err, ENOMEM, "out of memory");
        free(*dst);
        *dst = copy;
        return 0;
}

int machine_config_parse_mac(const char *s, uint8_t mac[6])
{
        unsigned v[6];
        char tail;

        if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &tail) != 6 ||
            strlen(s) != 17)
                return -1;
        for (int i = 0; i < 6; i++)
                mac[i] = (uint8_t)v[i];
        return 0;
}

static int parse_bus(const char *s, enum machine_disk_bus *bus)
{
        if (!strcmp(s, "virtio"))
                *bus = MACHINE_DISK_VIRTIO;
        else if (!strcmp(s, "ide"))
                *bus = MACHINE_DISK_IDE;
        else
                return -1;
        return 0;
}

int machine_config_parse_disk(const char *spec, struct machine_disk *disk, struct isola_err *err)
{
        _cleanup_free_ char *copy = strdup(spec);
        char *save = NULL;

        memset(disk, 0, sizeof(*disk));
        if (!copy)
                return err_set(err, ENOMEM, "out of memory");
        /* _cleanup_free_ frees copy (clang 14's analyzer ignores cleanup). */
        // NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
        char *path = strtok_r(copy, ",", &save);
        if (!path || !*path || spec[0] == ',')
                return err_set(err, EINVAL, "--disk '%s': missing path", spec);
        for (char *opt = strtok_r(NULL, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
                if (!strcmp(opt, "ro"))
                        disk->readonly = true;
                else if (!strcmp(opt, "rw"))
                        disk->readonly = false;
                else if (!strncmp(opt, "bus=", 4)) {
                        if (parse_bus(opt + 4, &disk->bus) < 0)
                                return err_set(err, EINVAL,
                                               "--disk '%s': bus must be virtio or ide, not '%s'",
                                               spec, opt + 4);
                } else
                        return err_set(err, EINVAL, "--disk '%s': unknown option '%s'", spec, opt);
        }
        disk->path = strdup(path);
        if (!disk->path)
                return err_set(err, ENOMEM, "out of memory");
        return 0;
}

int machine_config_parse_net(const char *spec, struct machine_net *net, struct isola_err *err)
{
        _cleanup_free_ char *copy = strdup(spec);
        char *save = NULL, *tap = NULL;

        memset(net, 0, sizeof(*net));
        if (!copy)
                return err_set(err, ENOMEM, "out of memory");
        /* _cleanup_free_ frees copy (clang 14's analyzer ignores cleanup). */
        // NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
        for (char *opt = strtok_r(copy, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
                if (!strncmp(opt, "tap=", 4) && opt[4])
                        tap = opt + 4;
                else if (!strncmp(opt, "mac=", 4)) {
                        if (machine_config_parse_mac(opt + 4, net->mac) < 0)
                                return err_set(err, EINVAL,
                                               "--net '%s': mac '%s' is not aa:bb:cc:dd:ee:ff",
                                               spec, opt + 4);
                        net->has_mac = true;
                } else
                        return err_set(err, EINVAL, "--net '%s': unknown option '%s'", spec, opt);
        }
        if (!tap)
                return err_set(err, EINVAL, "--net '%s': missing tap=NAME", spec);
        net->tap = strdup(tap);
        if (!net->tap)
                return err_set(err, ENOMEM, "out of memory");
        return 0;
}

/* --- JSON --- */

static int json_want(struct json_object *v, json_type type, const char *key, struct isola_err *err)
{
        if (!json_object_is_type(v, type))
                return err_set(err, EINVAL, "\"%s\" must be %s", key,
                               type == json_type_string    ? "a string"
                               : type == json_type_int     ? "an integer"
                               : type == json_type_boolean ? "a boolean"
                               : type == json_type_array   ? "an array"
                                                           : "an object");
        return 0;
}

static int json_str(struct json_object *v, const char *key, char **dst, struct isola_err *err)
{
        if (json_want(v, json_type_string, key, err) < 0)
                return -1;
        return machine_config_set_str(dst, json_object_get_string(v), err);
}

static int json_uint(struct json_object *v, const char *key, uint64_t max, uint64_t *dst,
                     struct isola_err *err)
{
        if (json_want(v, json_type_int, key, err) < 0)
                return -1;
        int64_t n = json_object_get_int64(v);
        if (n < 1 || (uint64_t)n > max)
                return err_set(err, ERANGE, "\"%s\": %lld is out of range (1..%llu)", key,
                               (long long)n, (unsigned long long)max);
        *dst = (uint64_t)n;
        return 0;
}

static int json_disk(struct json_object *o, unsigned i, struct machine_disk *d,
                     struct isola_err *err)
{
        char key[64];

        snprintf(key, sizeof(key), "disks[%u]", i);
        if (json_want(o, json_type_object, key, err) < 0)
                return -1;
        memset(d, 0, sizeof(*d));
        json_object_object_foreach(o, k, v)
        {
                snprintf(key, sizeof(key), "disks[%u].%s", i, k);
                if (!strcmp(k, "path")) {
                        if (json_str(v, key, &d->path, err) < 0)
                                return -1;
                } else if (!strcmp(k, "readonly")) {
                        if (json_want(v, json_type_boolean, key, err) < 0)
                                return -1;
                        d->readonly = json_object_get_boolean(v);
                } else if (!strcmp(k, "bus")) {
                        if (json_want(v, json_type_string, key, err) < 0)
                                return -1;
                        if (parse_bus(json_object_get_string(v), &d->bus) < 0)
                                return err_set(err, EINVAL, "\"%s\" must be \"virtio\" or \"ide\"",
                                               key);
                } else
                        return err_set(err, EINVAL, "unknown key \"%s\"", key);
        }
        if (!d->path)
                return err_set(err, EINVAL, "\"disks[%u]\" has no \"path\"", i);
        return 0;
}

static int json_net(struct json_object *o, unsigned i, struct machine_net *n, struct isola_err *err)
{
        char key[64];

        snprintf(key, sizeof(key), "net[%u]", i);
        if (json_want(o, json_type_object, key, err) < 0)
                return -1;
        memset(n, 0, sizeof(*n));
        json_object_object_foreach(o, k, v)
        {
                snprintf(key, sizeof(key), "net[%u].%s", i, k);
                if (!strcmp(k, "tap")) {
                        if (json_str(v, key, &n->tap, err) < 0)
                                return -1;
                } else if (!strcmp(k, "mac")) {
                        if (json_want(v, json_type_string, key, err) < 0)
                                return -1;
                        if (machine_config_parse_mac(json_object_get_string(v), n->mac) < 0)
                                return err_set(err, EINVAL, "\"%s\" is not aa:bb:cc:dd:ee:ff", key);
                        n->has_mac = true;
                } else
                        return err_set(err, EINVAL, "unknown key \"%s\"", key);
        }
        if (!n->tap)
                return err_set(err, EINVAL, "\"net[%u]\" has no \"tap\"", i);
        return 0;
}

static int json_array(struct json_object *v, const char *key, unsigned max, struct isola_err *err)
{
        if (json_want(v, json_type_array, key, err) < 0)
                return -1;
        size_t n = json_object_array_length(v);
        if (n > max)
                return err_set(err, E2BIG, "\"%s\": at most %u entries", key, max);
        return (int)n;
}

static int json_disks(struct machine_config *cfg, struct json_object *v, struct isola_err *err)
{
        int n = json_array(v, "disks", MACHINE_MAX_DISKS, err);

        if (n < 0)
                return -1;
        free_disks(cfg);
        for (int i = 0; i < n; i++) {
                int rc = json_disk(json_object_array_get_idx(v, (size_t)i), (unsigned)i,
                                   &cfg->disks[i], err);
                cfg->n_disks = (unsigned)i + 1;
                if (rc < 0)
                        return -1;
        }
        return 0;
}

static int json_nets(struct machine_config *cfg, struct json_object *v, struct isola_err *err)
{
        int n = json_array(v, "net", MACHINE_MAX_NETS, err);

        if (n < 0)
                return -1;
        free_nets(cfg);
        for (int i = 0; i < n; i++) {
                int rc = json_net(json_object_array_get_idx(v, (size_t)i), (unsigned)i,
                                  &cfg->nets[i], err);
                cfg->n_nets = (unsigned)i + 1;
                if (rc < 0)
                        return -1;
        }
        return 0;
}

static int json_console(struct machine_config *cfg, struct json_object *v, struct isola_err *err)
{
        if (json_want(v, json_type_string, "console", err) < 0)
                return -1;
        const char *s = json_object_get_string(v);
        if (!strcmp(s, "serial"))
                cfg->console = MACHINE_CONSOLE_SERIAL;
        else if (!strcmp(s, "virtio"))
                cfg->console = MACHINE_CONSOLE_VIRTIO;
        else
                return err_set(err, EINVAL, "\"console\" must be \"serial\" or \"virtio\"");
        return 0;
}

static int json_pv(struct machine_config *cfg, struct json_object *v, struct isola_err *err)
{
        if (json_object_is_type(v, json_type_boolean)) {
                cfg->pv = json_object_get_boolean(v);
                return 0;
        }
        const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
        if (!strcmp(s, "on") || !strcmp(s, "off")) {
                cfg->pv = !strcmp(s, "on");
                return 0;
        }
        return err_set(err, EINVAL, "\"pv\" must be \"on\", \"off\" or a boolean");
}

static int json_key(struct machine_config *cfg, const char *k, struct json_object *v,
                    struct isola_err *err)
{
        uint64_t n;

        if (!strcmp(k, "kernel"))
                return json_str(v, k, &cfg->kernel, err);
        if (!strcmp(k, "initrd"))
                return json_str(v, k, &cfg->initrd, err);
        if (!strcmp(k, "cmdline"))
                return json_str(v, k, &cfg->cmdline, err);
        if (!strcmp(k, "console_log"))
                return json_str(v, k, &cfg->console_log, err);
        if (!strcmp(k, "cpus")) {
                if (json_uint(v, k, MACHINE_MAX_CPUS, &n, err) < 0)
                        return -1;
                cfg->cpus = (unsigned)n;
                return 0;
        }
        if (!strcmp(k, "memory_mib"))
                return json_uint(v, k, MACHINE_MAX_MEMORY_MIB, &cfg->memory_mib, err);
        if (!strcmp(k, "disks"))
                return json_disks(cfg, v, err);
        if (!strcmp(k, "net"))
                return json_nets(cfg, v, err);
        if (!strcmp(k, "console"))
                return json_console(cfg, v, err);
        if (!strcmp(k, "pv"))
                return json_pv(cfg, v, err);
        if (!strcmp(k, "rng")) {
                if (json_want(v, json_type_boolean, k, err) < 0)
                        return -1;
                cfg->rng = json_object_get_boolean(v);
                return 0;
        }
        return err_set(err, EINVAL, "unknown key \"%s\"", k);
}

static int load_object(struct machine_config *cfg, struct json_object *root, const char *what,
                       struct isola_err *err)
{
        if (!json_object_is_type(root, json_type_object))
                return err_set(err, EINVAL, "%s: the top level must be an object", what);
        json_object_object_foreach(root, k, v)
        {
                if (json_key(cfg, k, v, err) < 0)
                        return err_prefix(err, "%s", what);
        }
        return 0;
}

int machine_config_load_json(struct machine_config *cfg, const char *path, struct isola_err *err)
{
        struct json_object *root = json_object_from_file(path);
        char what[PATH_MAX + 16];

        if (!root) {
                FILE *f = fopen(path, "r");
                if (!f)
                        return err_sys(err, "--config '%s'", path);
                fclose(f);
                return err_set(err, EINVAL, "--config '%s': invalid JSON (%s)", path,
                               json_util_get_last_err() ? json_util_get_last_err() : "parse error");
        }
        snprintf(what, sizeof(what), "--config '%s'", path);
        int rc = load_object(cfg, root, what, err);
        json_object_put(root);
        return rc;
}

int machine_config_load_string(struct machine_config *cfg, const char *json, const char *what,
                               struct isola_err *err)
{
        struct json_object *root = json_tokener_parse(json);

        if (!root)
                return err_set(err, EINVAL, "%s: invalid JSON", what);
        int rc = load_object(cfg, root, what, err);
        json_object_put(root);
        return rc;
}

int machine_config_validate(const struct machine_config *cfg, struct isola_err *err)
{
        if (!cfg->kernel)
                return err_set(err, EINVAL, "--kernel is required");
        if (cfg->cpus < 1 || cfg->cpus > MACHINE_MAX_CPUS)
                return err_set(err, ERANGE, "--cpus %u: must be 1..%d", cfg->cpus,
                               MACHINE_MAX_CPUS);
        if (cfg->memory_mib < MACHINE_MIN_MEMORY_MIB || cfg->memory_mib > MACHINE_MAX_MEMORY_MIB)
                return err_set(err, ERANGE, "--memory %llu: must be %d..%d MiB",
                               (unsigned long long)cfg->memory_mib, MACHINE_MIN_MEMORY_MIB,
                               MACHINE_MAX_MEMORY_MIB);
        for (unsigned i = 0; i < cfg->n_nets; i++) {
                size_t len = strlen(cfg->nets[i].tap);
                if (len == 0 || len >= IFNAMSIZ)
                        return err_set(err, EINVAL,
                                       "--net tap=%s: interface names have 1 to %d characters",
                                       cfg->nets[i].tap, IFNAMSIZ - 1);
        }
        return 0;
}

struct json_object *machine_config_to_json(const struct machine_config *cfg)
{
        struct json_object *o = json_object_new_object(), *disks = json_object_new_array(),
                           *nets = json_object_new_array();

        json_object_object_add(o, "kernel", json_object_new_string(cfg->kernel ? cfg->kernel : ""));
        if (cfg->initrd)
                json_object_object_add(o, "initrd", json_object_new_string(cfg->initrd));
        if (cfg->cmdline)
                json_object_object_add(o, "cmdline", json_object_new_string(cfg->cmdline));
        json_object_object_add(o, "cpus", json_object_new_int((int)cfg->cpus));
        json_object_object_add(o, "memory_mib", json_object_new_uint64(cfg->memory_mib));
        for (unsigned i = 0; i < cfg->n_disks; i++) {
                struct json_object *d = json_object_new_object();
                json_object_object_add(d, "path", json_object_new_string(cfg->disks[i].path));
                json_object_object_add(d, "readonly",
                                       json_object_new_boolean(cfg->disks[i].readonly));
                json_object_object_add(d, "bus",
                                       json_object_new_string(cfg->disks[i].bus == MACHINE_DISK_IDE
                                                                  ? "ide"
                                                                  : "virtio"));
                json_object_array_add(disks, d);
        }
        json_object_object_add(o, "disks", disks);
        for (unsigned i = 0; i < cfg->n_nets; i++) {
                struct json_object *n = json_object_new_object();
                json_object_object_add(n, "tap", json_object_new_string(cfg->nets[i].tap));
                if (cfg->nets[i].has_mac) {
                        char mac[18];
                        const uint8_t *a = cfg->nets[i].mac;
                        snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1],
                                 a[2], a[3], a[4], a[5]);
                        json_object_object_add(n, "mac", json_object_new_string(mac));
                }
                json_object_array_add(nets, n);
        }
        json_object_object_add(o, "net", nets);
        json_object_object_add(
            o, "console",
            json_object_new_string(cfg->console == MACHINE_CONSOLE_VIRTIO ? "virtio" : "serial"));
        json_object_object_add(o, "pv", json_object_new_boolean(cfg->pv));
        json_object_object_add(o, "rng", json_object_new_boolean(cfg->rng));
        return o;
}
