/* Host cgroup layout: which mode (v1/v2/hybrid), where each hierarchy is
 * mounted, where the runtime itself sits in it, and how linux.cgroupsPath
 * (cgroupfs or systemd "slice:prefix:name" form) turns into a path below a
 * hierarchy. mountinfo and /proc/self/cgroup are read once per cgroup_create. */
#include "ctr/cgroup_internal.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

/* v1 controller names; anything else in a cgroup mount's options is an option. */
static const char *const v1_controllers[] = {
    "cpuset",  "cpu",        "cpuacct",  "blkio",   "io",   "memory", "devices", "freezer",
    "net_cls", "perf_event", "net_prio", "hugetlb", "pids", "rdma",   "misc",
};

int cgroup_detect_mode(enum cgroup_mode *mode_out, struct isola_err *err)
{
        struct statfs st;

        if (statfs(CGROUP_ROOT, &st) < 0)
                return err_sys(err, "cgroup: statfs '%s'", CGROUP_ROOT);
        if (st.f_type == CGROUP2_SUPER_MAGIC) {
                *mode_out = CGROUP_V2;
                return 0;
        }
        if (st.f_type != TMPFS_MAGIC)
                return err_set(err, ENOTSUP,
                               "cgroup: '%s' is neither cgroup2 nor a tmpfs of v1 "
                               "hierarchies",
                               CGROUP_ROOT);
        if (statfs(CGROUP_ROOT "/unified", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
                *mode_out = CGROUP_HYBRID;
        else
                *mode_out = CGROUP_V1;
        return 0;
}

static bool is_v1_controller(const char *name, size_t len)
{
        for (size_t i = 0; i < ARRAY_SIZE(v1_controllers); i++)
                if (strlen(v1_controllers[i]) == len && !memcmp(v1_controllers[i], name, len))
                        return true;
        return false;
}

/* Keeps the controller names of a comma list (mount options or the second field
 * of /proc/self/cgroup), in order; "" when there is none. */
static char *controllers_of(const char *list)
{
        char *out = malloc(strlen(list) + 1);
        size_t n = 0;

        if (!out)
                return NULL;
        for (const char *p = list; *p;) {
                size_t len = strcspn(p, ",");
                if (is_v1_controller(p, len)) {
                        if (n)
                                out[n++] = ',';
                        memcpy(out + n, p, len);
                        n += len;
                }
                p += len + (p[len] == ',');
        }
        out[n] = '\0';
        return out;
}

static bool in_list(const char *list, const char *name, size_t len)
{
        for (const char *p = list; *p;) {
                size_t l = strcspn(p, ",");
                if (l == len && !memcmp(p, name, len))
                        return true;
                p += l + (p[l] == ',');
        }
        return false;
}

/* Same set of names, whatever the order. */
static bool same_controllers(const char *a, const char *b)
{
        size_t na = 0, nb = 0;

        for (const char *p = a; *p;) {
                size_t l = strcspn(p, ",");
                if (!in_list(b, p, l))
                        return false;
                na++;
                p += l + (p[l] == ',');
        }
        for (const char *p = b; *p; p += strcspn(p, ","), p += (*p == ','))
                nb++;
        return na == nb;
}

/* mountinfo escapes blanks and backslashes as \ooo. Decodes in place. */
static void unescape_octal(char *s)
{
        char *w = s;

        for (char *r = s; *r;) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 4;
                } else {
                        *w++ = *r++;
                }
        }
        *w = '\0';
}

void cgroup_mounts_free(struct cgroup_mount *m, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(m[i].mount_point);
                free(m[i].root);
                free(m[i].controllers);
                free(m[i].own);
        }
        free(m);
}

static int mounts_push(struct cgroup_mount **m, size_t *n, const char *mp, const char *root,
                       char *controllers, bool unified)
{
        struct cgroup_mount *grown = realloc(*m, (*n + 1) * sizeof(**m));

        if (!grown) {
                free(controllers);
                return -1;
        }
        *m = grown;
        grown[*n] = (struct cgroup_mount){.mount_point = strdup(mp),
                                          .root = strdup(root),
                                          .controllers = controllers,
                                          .unified = unified};
        (*n)++;
        if (!grown[*n - 1].mount_point || !grown[*n - 1].root)
                return -1;
        return 0;
}

static bool have_controllers(const struct cgroup_mount *m, size_t n, const char *controllers)
{
        for (size_t i = 0; i < n; i++)
                if (!m[i].unified && same_controllers(m[i].controllers, controllers))
                        return true;
        return false;
}

/* One mountinfo line: "id parent maj:min root mountpoint opts [tags] - fstype source super". */
static int parse_mount_line(char *line, enum cgroup_mode mode, struct cgroup_mount **m, size_t *n)
{
        char *field[5], *save = NULL, *tok, *fstype, *super;
        size_t nf = 0;

        for (tok = strtok_r(line, " ", &save); tok && nf < 5; tok = strtok_r(NULL, " ", &save))
                field[nf++] = tok;
        if (nf < 5)
                return 0;
        while ((tok = strtok_r(NULL, " ", &save)) && strcmp(tok, "-") != 0)
                ;
        fstype = strtok_r(NULL, " ", &save);
        strtok_r(NULL, " ", &save); /* source */
        super = strtok_r(NULL, " \n", &save);
        if (!fstype || !super)
                return 0;
        unescape_octal(field[3]);
        unescape_octal(field[4]);
        if (!strcmp(fstype, "cgroup2")) {
                const char *want = mode == CGROUP_V2 ? CGROUP_ROOT : CGROUP_ROOT "/unified";
                if (mode == CGROUP_V1 || strcmp(field[4], want) != 0)
                        return 0;
                for (size_t i = 0; i < *n; i++)
                        if ((*m)[i].unified)
                                return 0;
                return mounts_push(m, n, field[4], field[3], strdup("unified"), true);
        }
        if (strcmp(fstype, "cgroup") != 0 || mode == CGROUP_V2)
                return 0;
        char *controllers = controllers_of(super);
        if (!controllers)
                return -1;
        /* Named-only hierarchies (name=systemd) carry no resources; a hierarchy
         * mounted twice is used once. */
        if (!controllers[0] || have_controllers(*m, *n, controllers)) {
                free(controllers);
                return 0;
        }
        return mounts_push(m, n, field[4], field[3], controllers, false);
}

/* Where the runtime sits in each hierarchy (/proc/self/cgroup), made relative
 * to the hierarchy's mount root. */
static int fill_own_paths(struct cgroup_mount *m, size_t n, struct isola_err *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        char *save = NULL;

        if (fs_read_file("/proc/self/cgroup", &buf, &len, err) < 0)
                return err_prefix(err, "cgroup");
        /* _cleanup_free_ frees ctl (clang 14's analyzer ignores cleanup). */
        // NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = '\0';
                bool unified = c1 + 1 == c2;
                _cleanup_free_ char *ctl = controllers_of(c1 + 1);
                if (!ctl)
                        return err_set(err, ENOMEM, "out of memory");
                for (size_t i = 0; i < n; i++) {
                        if (m[i].own || m[i].unified != unified ||
                            (!unified && !same_controllers(m[i].controllers, ctl)))
                                continue;
                        const char *path = c2 + 1;
                        size_t rl = strlen(m[i].root);
                        if (strcmp(m[i].root, "/") != 0 && !strncmp(path, m[i].root, rl) &&
                            (path[rl] == '/' || !path[rl]))
                                path += rl;
                        else if (strcmp(m[i].root, "/") != 0)
                                path = "/";
                        m[i].own = strdup(path);
                        if (!m[i].own)
                                return err_set(err, ENOMEM, "out of memory");
                }
        }
        for (size_t i = 0; i < n; i++)
                if (!m[i].own && !(m[i].own = strdup("/")))
                        return err_set(err, ENOMEM, "out of memory");
        return 0;
}

int cgroup_scan_mounts(enum cgroup_mode mode, struct cgroup_mount **out, size_t *n_out,
                       struct isola_err *err)
{
        _cleanup_free_ char *buf = NULL;
        struct cgroup_mount *m = NULL;
        size_t n = 0, len;
        char *save = NULL;

        if (fs_read_file("/proc/self/mountinfo", &buf, &len, err) < 0)
                return err_prefix(err, "cgroup");
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (!strstr(line, " - cgroup"))
                        continue;
                if (parse_mount_line(line, mode, &m, &n) < 0) {
                        cgroup_mounts_free(m, n);
                        return err_set(err, ENOMEM, "out of memory");
                }
        }
        if (n == 0) {
                cgroup_mounts_free(m, n);
                return err_set(err, ENOENT, "cgroup: no cgroup hierarchy mounted under '%s'",
                               CGROUP_ROOT);
        }
        if (fill_own_paths(m, n, err) < 0) {
                cgroup_mounts_free(m, n);
                return -1;
        }
        *out = m;
        *n_out = n;
        return 0;
}

/* Appends "/" comp to a normalised path being built in out (size cap). */
static int append_component(char *out, size_t cap, const char *comp, size_t len, const char *orig,
                            struct isola_err *err)
{
        size_t used = strlen(out);

        if (len == 2 && !memcmp(comp, "..", 2))
                return err_set(err, EINVAL,
                               "linux.cgroupsPath '%s': '..' would escape the "
                               "cgroup hierarchy",
                               orig);
        if (len == 0 || (len == 1 && comp[0] == '.'))
                return 0;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)comp[i] < 0x20 || comp[i] == 0x7f)
                        return err_set(err, EINVAL,
                                       "linux.cgroupsPath '%s': control character "
                                       "in path",
                                       orig);
        if (used + len + 2 > cap)
                return err_set(err, ENAMETOOLONG, "linux.cgroupsPath '%s': too long", orig);
        out[used] = '/';
        memcpy(out + used + 1, comp, len);
        out[used + 1 + len] = '\0';
        return 0;
}

static int append_path(char *out, size_t cap, const char *path, const char *orig,
                       struct isola_err *err)
{
        for (const char *p = path;;) {
                size_t len = strcspn(p, "/");
                if (append_component(out, cap, p, len, orig, err) < 0)
                        return -1;
                if (!p[len])
                        return 0;
                p += len + 1;
        }
}

/* systemd "slice:prefix:name": "a-b.slice" lives at a.slice/a-b.slice, and the
 * unit is the scope "<prefix>-<name>.scope" in it. */
static int map_systemd(const char *spec, char *out, size_t cap, struct isola_err *err)
{
        const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        char slice[256], unit[512];
        size_t sl;

        if (!c2 || strchr(c2 + 1, ':'))
                return err_set(err, EINVAL,
                               "linux.cgroupsPath '%s': expected "
                               "'slice:prefix:name'",
                               spec);
        sl = (size_t)(c1 - spec);
        if (sl >= sizeof(slice))
                return err_set(err, ENAMETOOLONG, "linux.cgroupsPath '%s': slice too long", spec);
        memcpy(slice, spec, sl);
        slice[sl] = '\0';
        if (!sl)
                strcpy(slice, "system.slice");
        if (strchr(slice, '/') || (strcmp(slice, "-.slice") != 0 &&
                                   (sl < 6 || strcmp(slice + strlen(slice) - 6, ".slice") != 0)))
                return err_set(err, EINVAL, "linux.cgroupsPath '%s': invalid slice '%s'", spec,
                               slice);
        if (strcmp(slice, "-.slice") != 0) {
                /* Each '-' opens a parent slice: a-b-c.slice -> a.slice/a-b.slice/a-b-c.slice */
                for (const char *d = strchr(slice, '-'); d; d = strchr(d + 1, '-')) {
                        char parent[260];
                        snprintf(parent, sizeof(parent), "%.*s.slice", (int)(d - slice), slice);
                        if (d == slice || append_path(out, cap, parent, spec, err) < 0)
                                return d == slice ? err_set(err, EINVAL,
                                                            "linux.cgroupsPath "
                                                            "'%s': invalid slice",
                                                            spec)
                                                  : -1;
                }
                if (append_path(out, cap, slice, spec, err) < 0)
                        return -1;
        }
        if (c2 == c1 + 1)
                snprintf(unit, sizeof(unit), "%s.scope", c2 + 1);
        else
                snprintf(unit, sizeof(unit), "%.*s-%s.scope", (int)(c2 - c1 - 1), c1 + 1, c2 + 1);
        if (strchr(unit, '/') || !c2[1])
                return err_set(err, EINVAL, "linux.cgroupsPath '%s': invalid unit name", spec);
        return append_path(out, cap, unit, spec, err);
}

int cgroup_resolve_path(const char *cgroups_path, const char *id, char *out, size_t cap,
                        bool *absolute_out, struct isola_err *err)
{
        out[0] = '\0';
        if (!cgroups_path || !cgroups_path[0]) {
                if (!id || !id[0] || strchr(id, '/') || !strcmp(id, "..") || !strcmp(id, "."))
                        return err_set(err, EINVAL, "cgroup: invalid container id '%s'",
                                       id ? id : "");
                *absolute_out = false;
                if (append_path(out, cap, "isola", "isola", err) < 0 ||
                    append_path(out, cap, id, id, err) < 0)
                        return -1;
                return 0;
        }
        if (cgroups_path[0] != '/' && strchr(cgroups_path, ':')) {
                *absolute_out = true;
                if (map_systemd(cgroups_path, out, cap, err) < 0)
                        return -1;
        } else {
                *absolute_out = cgroups_path[0] == '/';
                if (append_path(out, cap, cgroups_path, cgroups_path, err) < 0)
                        return -1;
        }
        if (!out[0])
                return err_set(err, EINVAL,
                               "linux.cgroupsPath '%s': names the hierarchy root, "
                               "not a container cgroup",
                               cgroups_path);
        return 0;
}
