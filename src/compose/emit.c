/* `isola compose config`: the model as YAML in the long syntax, keys in
 * alphabetical order like `docker compose config`. The same text of one
 * service (minus its replica count) is hashed into the config hash that
 * makes `up` idempotent. */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"

/* Plain when YAML would read it back as the same string, else double-quoted. */
static void str(FILE *f, const char *s)
{
        static const char *const special[] = {
            "",      "~",     "null", "Null", "NULL", "true", "True", "TRUE", "false",
            "False", "FALSE", "yes",  "Yes",  "YES",  "no",   "No",   "NO",   "on",
            "On",    "ON",    "off",  "Off",  "OFF",  "y",    "Y",    "n",    "N"};
        bool plain = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_./-@+=,:") == strlen(s);
        char *end;

        for (size_t i = 0; plain && i < sizeof(special) / sizeof(*special); i++)
                plain = strcmp(s, special[i]) != 0;
        /* indicators; and YAML 1.1 reads 1:2 as a base-60 number */
        if (plain && (strchr("-.@=:", s[0]) || s[strlen(s) - 1] == ':' ||
                      (s[0] >= '0' && s[0] <= '9' && strchr(s, ':'))))
                plain = false;
        if (plain) {
                (void)strtod(s, &end);
                plain = *end != '\0'; /* numbers would change type */
        }
        if (plain) {
                fputs(s, f);
                return;
        }
        fputc('"', f);
        /* $ doubled: the output is a compose file, interpolated when read */
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '$')
                        fputs("$$", f);
                else if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p == '\t')
                        fputs("\\t", f);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

static void ind(FILE *f, int n)
{
        fprintf(f, "%*s", n, "");
}

static void key_str(FILE *f, int n, const char *k, const char *v)
{
        if (!v)
                return;
        ind(f, n);
        str(f, k);
        fputs(": ", f);
        str(f, v);
        fputc('\n', f);
}

static void key_bool(FILE *f, int n, const char *k, bool v)
{
        if (v)
                fprintf(f, "%*s%s: true\n", n, "", k);
}

static void list(FILE *f, int n, const char *k, const struct cmp_strv *v)
{
        if (!v->n)
                return;
        fprintf(f, "%*s%s:\n", n, "", k);
        for (size_t i = 0; i < v->n; i++) {
                ind(f, n + 2);
                fputs("- ", f);
                str(f, v->v[i]);
                fputc('\n', f);
        }
}

static void kvs(FILE *f, int n, const char *k, const struct cmp_kvs *v)
{
        if (!v->n)
                return;
        fprintf(f, "%*s%s:\n", n, "", k);
        for (size_t i = 0; i < v->n; i++) {
                ind(f, n + 2);
                str(f, v->v[i].key);
                fputs(": ", f);
                if (v->v[i].val)
                        str(f, v->v[i].val);
                else
                        fputs("null", f);
                fputc('\n', f);
        }
}

static void dur(FILE *f, int n, const char *k, int64_t ms)
{
        if (ms <= 0)
                return;
        if (ms % 1000)
                fprintf(f, "%*s%s: %" PRId64 "ms\n", n, "", k, ms);
        else
                fprintf(f, "%*s%s: %" PRId64 "s\n", n, "", k, ms / 1000);
}

static const char *const cond_names[] = {"service_started", "service_healthy",
                                         "service_completed_successfully"};
static const char *const vol_types[] = {"volume", "bind", "tmpfs"};

static void build(FILE *f, int n, const struct cmp_service *s)
{
        if (!s->has_build)
                return;
        fprintf(f, "%*sbuild:\n", n, "");
        kvs(f, n + 2, "args", &s->build.args);
        key_str(f, n + 2, "context", s->build.context);
        key_str(f, n + 2, "dockerfile", s->build.dockerfile);
        key_str(f, n + 2, "target", s->build.target);
}

static void deploy(FILE *f, int n, const struct cmp_service *s, bool for_hash)
{
        const struct cmp_limits *l = &s->limits;
        bool lim = l->cpus > 0 || l->memory || l->pids;

        if (!lim && (for_hash || s->replicas < 0))
                return;
        fprintf(f, "%*sdeploy:\n", n, "");
        if (!for_hash && s->replicas >= 0)
                fprintf(f, "%*sreplicas: %d\n", n + 2, "", s->replicas);
        if (!lim)
                return;
        fprintf(f, "%*sresources:\n%*slimits:\n", n + 2, "", n + 4, "");
        if (l->cpus > 0)
                fprintf(f, "%*scpus: %g\n", n + 6, "", l->cpus);
        if (l->memory)
                fprintf(f, "%*smemory: \"%" PRId64 "\"\n", n + 6, "", l->memory);
        if (l->pids)
                fprintf(f, "%*spids: %" PRId64 "\n", n + 6, "", l->pids);
}

static void healthcheck(FILE *f, int n, const struct cmp_healthcheck *h)
{
        if (!h->present)
                return;
        fprintf(f, "%*shealthcheck:\n", n, "");
        key_bool(f, n + 2, "disable", h->disable);
        dur(f, n + 2, "interval", h->interval_ms);
        if (h->retries >= 0)
                fprintf(f, "%*sretries: %d\n", n + 2, "", h->retries);
        dur(f, n + 2, "start_interval", h->start_interval_ms);
        dur(f, n + 2, "start_period", h->start_period_ms);
        list(f, n + 2, "test", &h->test);
        dur(f, n + 2, "timeout", h->timeout_ms);
}

static void ports(FILE *f, int n, const struct cmp_service *s)
{
        if (!s->n_ports)
                return;
        fprintf(f, "%*sports:\n", n, "");
        for (size_t i = 0; i < s->n_ports; i++) {
                const struct cmp_port *p = &s->ports[i];

                fprintf(f, "%*s- mode: %s\n", n + 2, "", p->mode);
                key_str(f, n + 4, "host_ip", p->host_ip);
                fprintf(f, "%*starget: %u\n", n + 4, "", p->target);
                if (p->published)
                        fprintf(f, "%*spublished: \"%u\"\n", n + 4, "", p->published);
                fprintf(f, "%*sprotocol: %s\n", n + 4, "", p->protocol);
        }
}

static void volumes(FILE *f, int n, const struct cmp_service *s)
{
        if (!s->n_volumes)
                return;
        fprintf(f, "%*svolumes:\n", n, "");
        for (size_t i = 0; i < s->n_volumes; i++) {
                const struct cmp_mount *m = &s->volumes[i];

                fprintf(f, "%*s- type: %s\n", n + 2, "", vol_types[m->type]);
                key_str(f, n + 4, "source", m->source);
                key_str(f, n + 4, "target", m->target);
                key_bool(f, n + 4, "read_only", m->read_only);
                if (m->type == CMP_VOL_BIND && m->create_host_path)
                        fprintf(f, "%*sbind:\n%*screate_host_path: true\n", n + 4, "", n + 6, "");
                if (m->type == CMP_VOL_VOLUME && m->nocopy)
                        fprintf(f, "%*svolume:\n%*snocopy: true\n", n + 4, "", n + 6, "");
                if (m->type == CMP_VOL_TMPFS && m->tmpfs_size)
                        fprintf(f, "%*stmpfs:\n%*ssize: %" PRId64 "\n", n + 4, "", n + 6, "",
                                m->tmpfs_size);
        }
}

static void file_refs(FILE *f, int n, const char *k, const struct cmp_file_ref *r, size_t cnt)
{
        if (!cnt)
                return;
        fprintf(f, "%*s%s:\n", n, "", k);
        for (size_t i = 0; i < cnt; i++) {
                fprintf(f, "%*s- source: ", n + 2, "");
                str(f, r[i].source);
                fputc('\n', f);
                key_str(f, n + 4, "target", r[i].target);
                key_str(f, n + 4, "uid", r[i].uid);
                key_str(f, n + 4, "gid", r[i].gid);
                if (r[i].mode >= 0)
                        fprintf(f, "%*smode: 0%o\n", n + 4, "", (unsigned)r[i].mode);
        }
}

static void networks(FILE *f, int n, const struct cmp_service *s)
{
        if (!s->n_networks)
                return;
        fprintf(f, "%*snetworks:\n", n, "");
        for (size_t i = 0; i < s->n_networks; i++) {
                const struct cmp_svc_net *sn = &s->networks[i];

                ind(f, n + 2);
                str(f, sn->name);
                if (!sn->aliases.n && !sn->ipv4_address) {
                        fputs(": null\n", f);
                        continue;
                }
                fputs(":\n", f);
                list(f, n + 4, "aliases", &sn->aliases);
                key_str(f, n + 4, "ipv4_address", sn->ipv4_address);
        }
}

static void depends(FILE *f, int n, const struct cmp_service *s)
{
        if (!s->n_depends_on)
                return;
        fprintf(f, "%*sdepends_on:\n", n, "");
        for (size_t i = 0; i < s->n_depends_on; i++) {
                const struct cmp_dep *d = &s->depends_on[i];

                ind(f, n + 2);
                str(f, d->service);
                fprintf(f, ":\n%*scondition: %s\n%*srequired: %s\n", n + 4, "",
                        cond_names[d->condition], n + 4, "", d->required ? "true" : "false");
                key_bool(f, n + 4, "restart", d->restart);
        }
}

int cmp_emit_service(const struct cmp_project *p, const struct cmp_service *s, FILE *f, int n,
                     bool for_hash)
{
        (void)p;
        build(f, n, s);
        list(f, n, "cap_add", &s->cap_add);
        list(f, n, "cap_drop", &s->cap_drop);
        if (s->has_command)
                list(f, n, "command", &s->command);
        if (s->has_command && !s->command.n)
                fprintf(f, "%*scommand: []\n", n, "");
        file_refs(f, n, "configs", s->configs, s->n_configs);
        key_str(f, n, "container_name", s->container_name);
        depends(f, n, s);
        deploy(f, n, s, for_hash);
        list(f, n, "dns", &s->dns);
        if (s->has_entrypoint)
                list(f, n, "entrypoint", &s->entrypoint);
        if (s->has_entrypoint && !s->entrypoint.n)
                fprintf(f, "%*sentrypoint: []\n", n, "");
        kvs(f, n, "environment", &s->environment);
        list(f, n, "expose", &s->expose);
        list(f, n, "extra_hosts", &s->extra_hosts);
        healthcheck(f, n, &s->healthcheck);
        key_str(f, n, "hostname", s->hostname);
        key_str(f, n, "image", s->image);
        key_bool(f, n, "init", s->init);
        kvs(f, n, "labels", &s->labels);
        key_str(f, n, "network_mode", s->network_mode);
        networks(f, n, s);
        ports(f, n, s);
        key_bool(f, n, "privileged", s->privileged);
        if (!for_hash)
                list(f, n, "profiles", &s->profiles);
        key_str(f, n, "pull_policy", s->pull_policy);
        key_bool(f, n, "read_only", s->read_only);
        key_str(f, n, "restart", s->restart);
        file_refs(f, n, "secrets", s->secrets, s->n_secrets);
        key_bool(f, n, "stdin_open", s->stdin_open);
        dur(f, n, "stop_grace_period", s->stop_grace_period_ms);
        key_str(f, n, "stop_signal", s->stop_signal);
        key_bool(f, n, "tty", s->tty);
        key_str(f, n, "user", s->user);
        volumes(f, n, s);
        key_str(f, n, "working_dir", s->working_dir);
        return ferror(f) ? -1 : 0;
}

static void filedefs(FILE *f, const char *k, const struct cmp_filedef *d, size_t n)
{
        if (!n)
                return;
        fprintf(f, "%s:\n", k);
        for (size_t i = 0; i < n; i++) {
                ind(f, 2);
                str(f, d[i].key);
                fputs(":\n", f);
                key_str(f, 4, "name", d[i].name);
                key_str(f, 4, "file", d[i].file);
                key_str(f, 4, "environment", d[i].environment);
                key_str(f, 4, "content", d[i].content);
        }
}

int cmp_emit_project(const struct cmp_project *p, FILE *f)
{
        fputs("name: ", f);
        str(f, p->name);
        fputs("\nservices:\n", f);
        for (size_t i = 0; i < p->n_services; i++) {
                ind(f, 2);
                str(f, p->services[i].name);
                fputs(":\n", f);
                if (cmp_emit_service(p, &p->services[i], f, 4, false) < 0)
                        return -1;
        }
        if (p->n_networks)
                fputs("networks:\n", f);
        for (size_t i = 0; i < p->n_networks; i++) {
                const struct cmp_network *nw = &p->networks[i];

                ind(f, 2);
                str(f, nw->key);
                fputs(":\n", f);
                key_str(f, 4, "name", nw->name);
                key_bool(f, 4, "external", nw->external);
                key_bool(f, 4, "internal", nw->internal);
                if (nw->subnet || nw->gateway) {
                        fprintf(f, "    ipam:\n      config:\n");
                        fprintf(f, "        - subnet: ");
                        str(f, nw->subnet ? nw->subnet : "");
                        fputc('\n', f);
                        key_str(f, 10, "gateway", nw->gateway);
                }
                kvs(f, 4, "labels", &nw->labels);
        }
        if (p->n_volumes)
                fputs("volumes:\n", f);
        for (size_t i = 0; i < p->n_volumes; i++) {
                ind(f, 2);
                str(f, p->volumes[i].key);
                fputs(":\n", f);
                key_str(f, 4, "name", p->volumes[i].name);
                key_bool(f, 4, "external", p->volumes[i].external);
                kvs(f, 4, "labels", &p->volumes[i].labels);
        }
        filedefs(f, "secrets", p->secrets, p->n_secrets);
        filedefs(f, "configs", p->configs, p->n_configs);
        return ferror(f) ? -1 : 0;
}

int cmp_service_hash(const struct cmp_project *p, const struct cmp_service *s, char out[65],
                     struct isola_err *err)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        int ok;

        if (!f)
                return err_sys(err, "open_memstream");
        ok = cmp_emit_service(p, s, f, 0, true) == 0;
        fclose(f);
        if (ok)
                ok = EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL) == 1;
        free(text);
        if (!ok)
                return err_set(err, EIO, "services.%s: cannot hash the configuration", s->name);
        for (unsigned int i = 0; i < mdlen && i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
        return 0;
}
