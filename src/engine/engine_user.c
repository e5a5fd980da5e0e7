/* User and group names of an image: /etc/passwd and /etc/group read from
 * the container's root with openat2(RESOLVE_IN_ROOT), so a hostile image's
 * symlinked /etc/passwd cannot make us read a host file, and bounded in
 * size. */
#include "engine/engine_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define DB_FILE_MAX (4u << 20)

int eng_open_in_root(int rootfd, const char *path, int flags)
{
        struct open_how how = {.flags = (uint64_t)flags | O_CLOEXEC,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
        return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

static char *read_in_root(const char *rootfs, const char *path)
{
        _cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int fd = -1;
        struct isola_err err = {0};
        char *buf = NULL;
        size_t len;

        if (rootfd < 0)
                return NULL;
        fd = eng_open_in_root(rootfd, path, O_RDONLY | O_NONBLOCK);
        if (fd < 0 || fs_read_fd(fd, DB_FILE_MAX, &buf, &len, &err) < 0)
                return NULL;
        return buf;
}

static bool parse_id(const char *s, unsigned long *out)
{
        char *end;
        if (!*s || *s < '0' || *s > '9')
                return false;
        errno = 0;
        *out = strtoul(s, &end, 10);
        return !*end && !errno && *out < 0xFFFFFFFFul;
}

/* Field k (0-based) of a ':' separated line, copied into buf. */
static const char *field(const char *line, int k, char *buf, size_t len)
{
        for (; k > 0 && line; k--) {
                line = strchr(line, ':');
                if (line)
                        line++;
        }
        if (!line)
                return NULL;
        size_t n = strcspn(line, ":\n");
        if (n >= len)
                n = len - 1;
        memcpy(buf, line, n);
        buf[n] = '\0';
        return buf;
}

/* Finds the line whose field 0 (name) or field 2 (id) matches key. */
static const char *find_entry(const char *db, const char *key, bool by_id)
{
        char f[256];
        for (const char *l = db; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                if (*l == '#' || *l == '\n')
                        continue;
                if (field(l, by_id ? 2 : 0, f, sizeof(f)) && !strcmp(f, key))
                        return l;
        }
        return NULL;
}

static void member_groups(const char *group_db, const char *user, gid_t primary, gid_t *groups,
                          size_t *n)
{
        size_t max = *n, k = 0;
        char members[4096], gidbuf[32];
        unsigned long g;

        /* as docker: the primary group is listed among the groups too */
        if (k < max)
                groups[k++] = primary;

        for (const char *l = group_db; l && *l && k < max;
             l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                if (!field(l, 3, members, sizeof(members)) ||
                    !field(l, 2, gidbuf, sizeof(gidbuf)) || !parse_id(gidbuf, &g) || g == primary)
                        continue;
                for (char *m = strtok(members, ","); m; m = strtok(NULL, ","))
                        if (!strcmp(m, user) && k < max)
                                groups[k++] = (gid_t)g;
        }
        *n = k;
}

int eng_user_lookup(const char *passwd, const char *group, const char *spec, uid_t *uid, gid_t *gid,
                    char home[PATH_MAX], gid_t *groups, size_t *n_groups, struct isola_err *err)
{
        char copy[256], *grp, buf[256], name[256] = "";
        unsigned long v;
        const char *line;

        if (snprintf(copy, sizeof(copy), "%s", spec) >= (int)sizeof(copy))
                return err_set(err, EINVAL, "user '%.32s...': too long", spec);
        grp = strchr(copy, ':');
        if (grp)
                *grp++ = '\0';
        if (parse_id(copy, &v)) {
                *uid = (uid_t)v;
                *gid = 0;
                line = passwd ? find_entry(passwd, copy, true) : NULL;
        } else {
                line = passwd ? find_entry(passwd, copy, false) : NULL;
                if (!line || !field(line, 2, buf, sizeof(buf)) || !parse_id(buf, &v))
                        return err_set(err, ENOENT, "no user '%s' in the image's /etc/passwd",
                                       copy);
                *uid = (uid_t)v;
        }
        snprintf(home, PATH_MAX, "%s", *uid == 0 ? "/root" : "/");
        if (line) {
                if (field(line, 3, buf, sizeof(buf)) && parse_id(buf, &v))
                        *gid = (gid_t)v;
                if (field(line, 5, buf, sizeof(buf)) && buf[0] == '/')
                        snprintf(home, PATH_MAX, "%s", buf);
                field(line, 0, name, sizeof(name));
        }
        if (grp && *grp) {
                if (parse_id(grp, &v)) {
                        *gid = (gid_t)v;
                } else {
                        const char *g = group ? find_entry(group, grp, false) : NULL;
                        if (!g || !field(g, 2, buf, sizeof(buf)) || !parse_id(buf, &v))
                                return err_set(err, ENOENT,
                                               "no group '%s' in the image's /etc/group", grp);
                        *gid = (gid_t)v;
                }
        }
        if (name[0] && group && !grp)
                member_groups(group, name, *gid, groups, n_groups);
        else
                *n_groups = 0;
        return 0;
}

int eng_user_resolve(const char *rootfs, const char *spec, uid_t *uid, gid_t *gid,
                     char home[PATH_MAX], gid_t *groups, size_t *n_groups, struct isola_err *err)
{
        char *passwd = read_in_root(rootfs, "/etc/passwd");
        char *group = read_in_root(rootfs, "/etc/group");
        int rc = eng_user_lookup(passwd, group, spec, uid, gid, home, groups, n_groups, err);

        free(passwd);
        free(group);
        return rc;
}
