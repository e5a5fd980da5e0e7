/* kube generate: YAML that `kube play` (and kubectl) accepts for pods made
 * by play (NAME is the pod: its infra container and the containers joined
 * to it) or plain containers (together one pod, <first>-pod, as podman
 * names it). Named volumes become claims (with a PersistentVolumeClaim
 * document), a pod's read-only ConfigMap/Secret directories become a
 * ConfigMap with their files, its other directories emptyDir, other host
 * directories hostPath. --service adds a NodePort Service for the published
 * ports (which then leave the containers' hostPort, as podman does). A
 * compose project's name gives its service containers as one pod. */
#include "kube/gen_yaml.h"
#include "kube/kube_int.h"
#include "kube/model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define GEN_VOLS_MAX 64

enum gen_vol { GV_PVC, GV_HOSTPATH, GV_EMPTYDIR, GV_TMPFS, GV_CONFIGMAP };

struct gen_volume {
        char name[64];
        enum gen_vol type;
        char source[4096];
};

struct gen_ctr {
        char name[ENG_NAME_MAX];
        char *image;
        struct eng_config cfg;
};

struct gen_pod {
        char name[ENG_NAME_MAX];
        struct gen_ctr *ctrs;
        size_t n;
        char **ports; /* owned, NULL-terminated */
        size_t n_ports;
        bool host_network;
        const char *hostname;
        struct gen_volume vols[GEN_VOLS_MAX];
        size_t n_vols;
        char dir[4096]; /* the pod's directory (pods made by play) */
};

/* Lower-case DNS label from any name: other characters become '-'. */
static void label_of(const char *s, char *out, size_t len)
{
        size_t o = 0;

        for (; *s && o + 1 < len && o < KUBE_NAME_MAX; s++) {
                char ch = '-';

                if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9'))
                        ch = *s;
                else if (*s >= 'A' && *s <= 'Z')
                        ch = "abcdefghijklmnopqrstuvwxyz"[*s - 'A'];
                out[o++] = ch;
        }
        while (o && out[o - 1] == '-')
                o--;
        out[o] = '\0';
        if (!o || out[0] == '-')
                snprintf(out, len, "c%s", o ? out : "");
}

static void pod_free(struct gen_pod *p)
{
        for (size_t i = 0; i < p->n; i++) {
                free(p->ctrs[i].image);
                eng_config_free(&p->ctrs[i].cfg);
        }
        free(p->ctrs);
        p->ctrs = NULL;
        p->n = 0;
        for (size_t i = 0; i < p->n_ports; i++)
                free(p->ports[i]);
        free(p->ports);
        p->ports = NULL;
        p->n_ports = 0;
}

/* Adds copies of a container's published ports to the pod's. */
static int ports_add(struct gen_pod *p, char *const *v, struct isola_err *err)
{
        for (; v && *v; v++) {
                char **nv = realloc(p->ports, (p->n_ports + 2) * sizeof(*nv));

                if (!nv)
                        return err_set(err, ENOMEM, "out of memory");
                p->ports = nv;
                if (!(nv[p->n_ports] = strdup(*v)))
                        return err_set(err, ENOMEM, "out of memory");
                nv[++p->n_ports] = NULL;
        }
        return 0;
}

static int add_ctr(struct gen_pod *p, struct eng_container *ct, const char *name,
                   struct isola_err *err)
{
        struct gen_ctr *v = realloc(p->ctrs, (p->n + 1) * sizeof(*v));
        struct gen_ctr *g;

        if (!v)
                return err_set(err, ENOMEM, "out of memory");
        p->ctrs = v;
        g = &p->ctrs[p->n];
        memset(g, 0, sizeof(*g));
        if (eng_container_config(ct, &g->cfg, err) < 0)
                return -1;
        if (!g->cfg.image)
                return err_set(err, EINVAL, "container '%s' has no image (--rootfs)", ct->name);
        label_of(name, g->name, sizeof(g->name));
        g->image = strdup(ct->image_name ? ct->image_name : g->cfg.image);
        p->n++;
        return 0;
}

/* NAME as a pod made by play: its infra container and members. */
static int load_pod(struct eng_ctx *c, const char *name, struct gen_pod *p, bool *is_pod,
                    struct isola_err *err)
{
        char infra[ENG_NAME_MAX + 8];
        struct eng_container *ic = NULL, **l = NULL;
        struct eng_config icfg = {0};
        struct isola_err ignore = {0};
        size_t n = 0, plen = strlen(name);
        int rc = 0;

        snprintf(infra, sizeof(infra), "%s%s", name, KUBE_INFRA_SUFFIX);
        *is_pod = eng_get(c, infra, &ic, &ignore) == 0;
        if (!*is_pod)
                return 0;
        if (eng_container_config(ic, &icfg, err) < 0 || eng_list(c, &l, &n, err) < 0) {
                eng_container_free(ic);
                eng_config_free(&icfg);
                return -1;
        }
        snprintf(p->name, sizeof(p->name), "%s", name);
        p->host_network = icfg.network && !strcmp(icfg.network, "host");
        for (size_t i = n; i-- > 0 && rc == 0;) { /* oldest first: the manifest's order */
                struct eng_config cfg = {0};
                bool member;

                if (!strcmp(l[i]->id, ic->id) || eng_container_config(l[i], &cfg, &ignore) < 0)
                        continue;
                member = kube_is_member(&cfg, ic->id, infra) ||
                         (p->host_network && cfg.network && !strcmp(cfg.network, "host") &&
                          !strncmp(l[i]->name, name, plen) && l[i]->name[plen] == '-');
                eng_config_free(&cfg);
                if (member)
                        rc = add_ctr(p, l[i],
                                     !strncmp(l[i]->name, name, plen) && l[i]->name[plen] == '-'
                                         ? l[i]->name + plen + 1
                                         : l[i]->name,
                                     err);
        }
        eng_container_list_free(l, n);
        /* the infra's published ports and hostname are the pod's */
        if (rc == 0 && p->n) {
                rc = ports_add(p, icfg.ports, err);
                p->hostname = p->ctrs[0].cfg.hostname;
        }
        eng_config_free(&icfg);
        eng_container_free(ic);
        if (rc == 0 && !p->n)
                rc = err_set(err, ENOENT, "pod %s has no containers", name);
        kube_pod_dir(c, name, p->dir, sizeof(p->dir));
        return rc;
}

static int vol_add(struct gen_pod *p, enum gen_vol type, const char *src, size_t *idx,
                   struct isola_err *err)
{
        static const char *const kinds[] = {"pvc", "hostpath", "emptydir", "tmpfs", "configmap"};
        char base[64];

        for (size_t i = 0; i < p->n_vols; i++)
                if (p->vols[i].type == type && type != GV_EMPTYDIR && type != GV_TMPFS &&
                    !strcmp(p->vols[i].source, src)) {
                        *idx = i;
                        return 0;
                }
        if (p->n_vols == GEN_VOLS_MAX)
                return err_set(err, E2BIG, "pod %s: more than %d volumes", p->name, GEN_VOLS_MAX);
        struct gen_volume *v = &p->vols[p->n_vols];
        const char *slash = strrchr(src, '/');

        v->type = type;
        snprintf(v->source, sizeof(v->source), "%s", src);
        label_of(type == GV_PVC ? src : slash ? slash + 1 : kinds[type], base, 40);
        snprintf(v->name, sizeof(v->name), "%s-%s-%zu", base, kinds[type], p->n_vols);
        *idx = p->n_vols++;
        return 0;
}

/* Mount text "SRC:DST[:ro]" | "DST" -> volume index, target, read-only. */
static int mount_of(struct gen_pod *p, const char *spec, size_t *idx, char *dst, size_t dlen,
                    bool *ro, struct isola_err *err)
{
        char buf[8192], *a, *b, *o;
        size_t dl = strlen(p->dir);

        snprintf(buf, sizeof(buf), "%s", spec);
        a = buf;
        b = strchr(a, ':');
        *ro = false;
        if (!b) {
                snprintf(dst, dlen, "%s", a);
                return vol_add(p, GV_EMPTYDIR, "", idx, err);
        }
        *b++ = '\0';
        o = strchr(b, ':');
        if (o) {
                *o++ = '\0';
                *ro = strstr(o, "ro") != NULL && strstr(o, "rw") == NULL;
        }
        snprintf(dst, dlen, "%s", b);
        if (a[0] != '/')
                return vol_add(p, GV_PVC, a, idx, err);
        if (p->dir[0] && !strncmp(a, p->dir, dl) && a[dl] == '/')
                return vol_add(p, *ro ? GV_CONFIGMAP : GV_EMPTYDIR, a, idx, err);
        return vol_add(p, GV_HOSTPATH, a, idx, err);
}

static void emit_limits(FILE *f, const struct eng_config *cfg)
{
        if (!cfg->memory && cfg->cpus <= 0)
                return;
        fprintf(f, "    resources:\n      limits:\n");
        if (cfg->cpus > 0)
                fprintf(f, "        cpu: \"%lldm\"\n", (long long)(cfg->cpus * 1000 + 0.5));
        if (cfg->memory) {
                static const char *const sfx[] = {"Gi", "Mi", "Ki"};
                long long v = cfg->memory;
                size_t i;

                for (i = 0; i < 3 && v % (1LL << (10 * (3 - i))) != 0; i++)
                        ;
                if (i < 3)
                        fprintf(f, "        memory: \"%lld%s\"\n", v >> (10 * (3 - i)), sfx[i]);
                else
                        fprintf(f, "        memory: \"%lld\"\n", v);
        }
}

/* Kubernetes names capabilities without the CAP_ prefix. */
static void emit_caps(FILE *f, const char *key, char *const *v)
{
        if (!v || !v[0])
                return;
        fprintf(f, "        %s:\n", key);
        for (; *v; v++) {
                fprintf(f, "        - ");
                kube_yq(f, strncasecmp(*v, "CAP_", 4) ? *v : *v + 4);
                fputc('\n', f);
        }
}

static void emit_security(FILE *f, const struct eng_config *cfg)
{
        unsigned uid = 0, gid = 0;
        int n = cfg->user ? sscanf(cfg->user, "%u:%u", &uid, &gid) : 0;
        bool caps = (cfg->cap_add && cfg->cap_add[0]) || (cfg->cap_drop && cfg->cap_drop[0]);

        if (n < 1 && !cfg->read_only && !cfg->no_new_privs && !caps)
                return;
        fprintf(f, "    securityContext:\n");
        if (n >= 1)
                fprintf(f, "      runAsUser: %u\n", uid);
        if (n == 2)
                fprintf(f, "      runAsGroup: %u\n", gid);
        if (cfg->read_only)
                fprintf(f, "      readOnlyRootFilesystem: true\n");
        if (cfg->no_new_privs)
                fprintf(f, "      allowPrivilegeEscalation: false\n");
        if (caps) {
                fprintf(f, "      capabilities:\n");
                emit_caps(f, "add", cfg->cap_add);
                emit_caps(f, "drop", cfg->cap_drop);
        }
}

/* "[IP:]HOST:CTR[/proto]" -> host, ctr, proto. */
static bool port_of(const char *s, int *host, int *ctr, char proto[8])
{
        const char *colon = strrchr(s, ':'), *slash = strchr(s, '/'), *h;
        int n;

        snprintf(proto, 8, "%s", slash && !strncmp(slash + 1, "udp", 3) ? "UDP" : "TCP");
        *host = 0;
        if (!colon)
                return sscanf(s, "%d", ctr) == 1;
        *ctr = atoi(colon + 1);
        h = colon;
        while (h > s && h[-1] != ':')
                h--;
        n = sscanf(h, "%d", host);
        return n == 1 && *ctr > 0;
}

static void emit_ports(FILE *f, const struct gen_pod *p, bool service)
{
        bool head = false;

        for (size_t i = 0; p->ports && p->ports[i]; i++) {
                int host, ctr;
                char proto[8];

                if (!port_of(p->ports[i], &host, &ctr, proto))
                        continue;
                if (!head)
                        fprintf(f, "    ports:\n");
                head = true;
                fprintf(f, "    - containerPort: %d\n", ctr);
                if (host && !service)
                        fprintf(f, "      hostPort: %d\n", host);
                fprintf(f, "      protocol: %s\n", proto);
        }
}

static int emit_ctr(FILE *f, struct gen_pod *p, size_t k, bool service, struct isola_err *err)
{
        const struct gen_ctr *g = &p->ctrs[k];
        const struct eng_config *cfg = &g->cfg;
        bool head = false;

        fprintf(f, "  - name: %s\n", g->name);
        kube_ykv(f, 4, "image", g->image);
        if (cfg->entrypoint_set)
                kube_ylist(f, 4, "command", cfg->entrypoint);
        kube_ylist(f, 4, "args", cfg->cmd);
        for (size_t i = 0; cfg->env && cfg->env[i]; i++) {
                const char *eq = strchr(cfg->env[i], '=');
                char key[512];

                if (!eq)
                        continue;
                if (!head)
                        fprintf(f, "    env:\n");
                head = true;
                snprintf(key, sizeof(key), "%.*s", (int)(eq - cfg->env[i]), cfg->env[i]);
                fprintf(f, "    - name: ");
                kube_yq(f, key);
                fprintf(f, "\n      value: ");
                kube_yq(f, eq + 1);
                fputc('\n', f);
        }
        if (k == 0)
                emit_ports(f, p, service);
        emit_limits(f, cfg);
        emit_security(f, cfg);
        if (cfg->workdir)
                kube_ykv(f, 4, "workingDir", cfg->workdir);
        if (cfg->tty)
                fprintf(f, "    tty: true\n");
        if (cfg->interactive)
                fprintf(f, "    stdin: true\n");
        head = false;
        for (size_t i = 0; cfg->volumes && cfg->volumes[i]; i++) {
                char dst[4096];
                size_t idx;
                bool ro;

                if (mount_of(p, cfg->volumes[i], &idx, dst, sizeof(dst), &ro, err) < 0)
                        return -1;
                if (!head)
                        fprintf(f, "    volumeMounts:\n");
                head = true;
                fprintf(f, "    - name: %s\n", p->vols[idx].name);
                kube_ykv(f, 6, "mountPath", dst);
                if (ro)
                        fprintf(f, "      readOnly: true\n");
        }
        for (size_t i = 0; cfg->tmpfs && cfg->tmpfs[i]; i++) {
                char dst[4096], *colon;
                size_t idx;

                snprintf(dst, sizeof(dst), "%s", cfg->tmpfs[i]);
                colon = strchr(dst, ':');
                if (colon)
                        *colon = '\0';
                if (vol_add(p, GV_TMPFS, "", &idx, err) < 0)
                        return -1;
                if (!head)
                        fprintf(f, "    volumeMounts:\n");
                head = true;
                fprintf(f, "    - name: %s\n", p->vols[idx].name);
                kube_ykv(f, 6, "mountPath", dst);
        }
        return 0;
}

/* A named volume's claim: its name when Kubernetes allows it, else a label
 * (compose's "project_data" becomes "project-data"). */
static void claim_name(const char *vol, char *buf, size_t len)
{
        if (kube_name_ok(vol, true))
                snprintf(buf, len, "%s", vol);
        else
                label_of(vol, buf, len);
}

static void emit_volumes(FILE *f, const struct gen_pod *p, int in)
{
        char claim[256];

        if (!p->n_vols)
                return;
        fprintf(f, "%*svolumes:\n", in, "");
        for (size_t i = 0; i < p->n_vols; i++) {
                const struct gen_volume *v = &p->vols[i];

                fprintf(f, "%*s- name: %s\n", in, "", v->name);
                switch (v->type) {
                case GV_PVC:
                        claim_name(v->source, claim, sizeof(claim));
                        fprintf(f, "%*s  persistentVolumeClaim:\n", in, "");
                        kube_ykv(f, in + 4, "claimName", claim);
                        break;
                case GV_HOSTPATH: {
                        struct stat sb;

                        fprintf(f, "%*s  hostPath:\n", in, "");
                        kube_ykv(f, in + 4, "path", v->source);
                        if (stat(v->source, &sb) == 0)
                                fprintf(f, "%*s    type: %s\n", in, "",
                                        S_ISDIR(sb.st_mode) ? "Directory" : "File");
                        break;
                }
                case GV_CONFIGMAP:
                        fprintf(f, "%*s  configMap:\n%*s    name: %s-%s\n", in, "", in, "", p->name,
                                v->name);
                        break;
                case GV_TMPFS:
                        fprintf(f, "%*s  emptyDir:\n%*s    medium: Memory\n", in, "", in, "");
                        break;
                default:
                        fprintf(f, "%*s  emptyDir: {}\n", in, "");
                        break;
                }
        }
}

/* A ConfigMap with the files of a read-only pod directory. */
static int emit_configmap(FILE *f, const struct gen_pod *p, const struct gen_volume *v,
                          struct isola_err *err)
{
        struct dirent *e;
        _cleanup_closedir_ DIR *d = opendir(v->source);

        if (!d)
                return err_sys(err, "pod %s: %s", p->name, v->source);
        fprintf(f, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-%s\ndata:\n",
                p->name, v->name);
        while ((e = readdir(d))) {
                char path[8192], *text = NULL;
                size_t len = 0;
                struct isola_err ignore = {0};

                if (e->d_name[0] == '.' || e->d_type != DT_REG)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", v->source, e->d_name);
                if (fs_read_file(path, &text, &len, &ignore) < 0 || strlen(text) != len ||
                    len > (1u << 20)) {
                        free(text);
                        continue; /* binary or huge: not for a ConfigMap */
                }
                kube_ykv(f, 2, e->d_name, text);
                free(text);
        }
        return 0;
}

static void emit_labels(FILE *f, int in, const char *app)
{
        fprintf(f, "%*slabels:\n%*s  app: %s\n", in, "", in, "", app);
}

static int emit_pod(FILE *out, struct gen_pod *p, const struct kube_gen_opts *o,
                    struct isola_err *err)
{
        char *body = NULL;
        size_t len = 0;
        int in = o->deployment ? 4 : 0, rc = 0;
        FILE *f = open_memstream(&body, &len);
        const char *restart = "Never";

        if (!f)
                return err_sys(err, "memstream");
        for (size_t k = 0; k < p->n && rc == 0; k++)
                rc = emit_ctr(f, p, k, o->service, err);
        fclose(f);
        if (rc < 0) {
                free(body);
                return -1;
        }
        for (size_t i = 0; i < p->n_vols && rc == 0; i++)
                if (p->vols[i].type == GV_CONFIGMAP)
                        rc = emit_configmap(out, p, &p->vols[i], err);
                else if (p->vols[i].type == GV_PVC) {
                        char claim[256];

                        claim_name(p->vols[i].source, claim, sizeof(claim));
                        fprintf(out,
                                "---\napiVersion: v1\nkind: PersistentVolumeClaim\n"
                                "metadata:\n  name: %s\nspec:\n  accessModes:\n"
                                "  - ReadWriteOnce\n  resources:\n    requests:\n"
                                "      storage: 1Gi\n",
                                claim);
                }
        if (p->ctrs[0].cfg.restart == ENG_RESTART_ALWAYS)
                restart = "Always";
        else if (p->ctrs[0].cfg.restart == ENG_RESTART_ON_FAILURE)
                restart = "OnFailure";
        if (o->deployment)
                fprintf(out,
                        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                        "  name: %s\n",
                        p->name);
        else
                fprintf(out, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n", p->name);
        emit_labels(out, 2, p->name);
        if (o->deployment) {
                fprintf(out,
                        "spec:\n  replicas: 1\n  selector:\n    matchLabels:\n"
                        "      app: %s\n  template:\n    metadata:\n",
                        p->name);
                emit_labels(out, 6, p->name);
        }
        fprintf(out, "%*sspec:\n", in, "");
        if (p->host_network)
                fprintf(out, "%*s  hostNetwork: true\n", in, "");
        if (p->hostname && strcmp(p->hostname, p->name) != 0)
                fprintf(out, "%*s  hostname: %s\n", in, "", p->hostname);
        fprintf(out, "%*s  restartPolicy: %s\n%*s  containers:\n", in, "", restart, in, "");
        /* the body was written for a Pod (two spaces); a template is deeper */
        for (char *line = body, *nl; line && *line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                fprintf(out, "%*s%.*s\n", in, "", (int)(nl ? nl - line : (long)strlen(line)), line);
        }
        free(body);
        emit_volumes(out, p, in + 2);
        return rc;
}

static void emit_service(FILE *f, const struct gen_pod *p)
{
        bool head = false;

        for (size_t i = 0; p->ports && p->ports[i]; i++) {
                int host, ctr;
                char proto[8];

                if (!port_of(p->ports[i], &host, &ctr, proto) || !host)
                        continue;
                if (!head)
                        fprintf(f,
                                "---\napiVersion: v1\nkind: Service\nmetadata:\n"
                                "  name: %s\nspec:\n  type: NodePort\n  selector:\n"
                                "    app: %s\n  ports:\n",
                                p->name, p->name);
                head = true;
                fprintf(f,
                        "  - name: \"%d-%s\"\n    port: %d\n    targetPort: %d\n"
                        "    nodePort: %d\n    protocol: %s\n",
                        ctr, proto[0] == 'U' ? "udp" : "tcp", ctr, ctr, host, proto);
        }
}

static bool container_exists(struct eng_ctx *c, const char *ref)
{
        char id[ENG_ID_LEN + 1];
        struct isola_err ignore = {0};

        return eng_resolve(c, ref, id, &ignore) == 0;
}

/* Plain containers into one pod named after the first. */
static int load_ctrs(struct eng_ctx *c, char *const *names, size_t n, struct gen_pod *p,
                     struct isola_err *err)
{
        for (size_t i = 0; i < n; i++) {
                struct eng_container *ct = NULL;
                int rc;

                if (eng_get(c, names[i], &ct, err) < 0)
                        return err_prefix(err, "'%s' is no pod, container or compose project",
                                          names[i]);
                if (i == 0) {
                        char base[ENG_NAME_MAX];

                        label_of(ct->name, base, 56);
                        snprintf(p->name, sizeof(p->name), "%s-pod", base);
                }
                rc = add_ctr(p, ct, ct->name, err);
                eng_container_free(ct);
                if (rc < 0 || ports_add(p, p->ctrs[p->n - 1].cfg.ports, err) < 0)
                        return -1;
        }
        return 0;
}

/* NAME as a compose project (rows of compose_containers, src/compose): its
 * service containers into one pod named after the project, where they reach
 * each other on localhost instead of by service name. */
static int load_project(struct eng_ctx *c, const char *name, struct gen_pod *p, bool *found,
                        struct isola_err *err)
{
        sqlite3_stmt *st;
        int rc = 0;

        *found = false;
        if (sqlite3_prepare_v2(c->db,
                               "SELECT container_id FROM compose_containers WHERE project = ?1 "
                               "AND number > 0 ORDER BY service, number",
                               -1, &st, NULL) != SQLITE_OK)
                return 0; /* no compose table in this root */
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        label_of(name, p->name, 56);
        while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
                struct eng_container *ct = NULL;
                struct isola_err ignore = {0};
                size_t plen = strlen(name);

                if (eng_get(c, (const char *)sqlite3_column_text(st, 0), &ct, &ignore) < 0)
                        continue;
                *found = true;
                /* <project>-<service>-<n>: the container is <service>-<n> in the pod */
                rc = add_ctr(p, ct,
                             !strncmp(ct->name, name, plen) && ct->name[plen] == '-'
                                 ? ct->name + plen + 1
                                 : ct->name,
                             err);
                eng_container_free(ct);
                if (rc == 0)
                        rc = ports_add(p, p->ctrs[p->n - 1].cfg.ports, err);
        }
        sqlite3_finalize(st);
        return rc;
}

int kube_generate(const char *root, char *const *names, size_t n, const struct kube_gen_opts *o,
                  FILE *out, struct isola_err *err)
{
        struct eng_ctx c;
        char **plain = calloc(n + 1, sizeof(*plain));
        size_t n_plain = 0;
        int rc = 0;

        if (!plain)
                return err_set(err, ENOMEM, "out of memory");
        if (eng_open(root, &c, err) < 0) {
                free(plain);
                return -1;
        }
        fprintf(out,
                "# Generated by isola %s (isola kube generate); apply with\n"
                "# isola kube play FILE or kubectl apply -f FILE\n",
                ISOLA_VERSION);
        for (size_t i = 0; i < n && rc == 0; i++) {
                struct gen_pod *p = calloc(1, sizeof(*p));
                bool is_pod = false;

                if (!p) {
                        rc = err_set(err, ENOMEM, "out of memory");
                        break;
                }
                rc = load_pod(&c, names[i], p, &is_pod, err);
                if (rc == 0 && !is_pod && !container_exists(&c, names[i])) {
                        pod_free(p);
                        rc = load_project(&c, names[i], p, &is_pod, err);
                }
                if (rc == 0 && is_pod) {
                        rc = emit_pod(out, p, o, err);
                        if (rc == 0 && o->service)
                                emit_service(out, p);
                }
                if (!is_pod)
                        plain[n_plain++] = names[i];
                pod_free(p);
                free(p);
        }
        if (rc == 0 && n_plain) {
                struct gen_pod *p = calloc(1, sizeof(*p));

                rc = p ? load_ctrs(&c, plain, n_plain, p, err)
                       : err_set(err, ENOMEM, "out of memory");
                if (rc == 0)
                        rc = emit_pod(out, p, o, err);
                if (rc == 0 && o->service)
                        emit_service(out, p);
                if (p)
                        pod_free(p);
                free(p);
        }
        free(plain);
        eng_close(&c);
        return rc;
}
