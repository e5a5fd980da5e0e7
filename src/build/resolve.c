/* Paths inside a build root (an image's file system, or the context): every
 * lookup goes through openat2(RESOLVE_IN_ROOT), so a symlink planted in a
 * layer or in the context ("/app -> /etc", "../../..") resolves inside the
 * root and never reaches the host. Also USER name lookups in the image's
 * /etc/passwd and /etc/group. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "build/resolve.h"
#include "util/cleanup.h"
#include "util/fs.h"

int bld_open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
        struct open_how how = {
            .flags = (uint64_t)(flags | O_CLOEXEC),
            .mode = (flags & O_CREAT) ? mode : 0,
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        while (*path == '/')
                path++;
        if (!*path)
                path = ".";
        long fd;
        do
                fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN);
        return (int)fd;
}

int bld_mkdir_in_root(int rootfd, const char *path, mode_t mode, const struct bld_owner *own,
                      struct isola_err *err)
{
        char buf[PATH_MAX];
        if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
                return err_set(err, ENAMETOOLONG, "'%s': path too long", path);
        int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return err_sys(err, "dup");
        char *save = NULL;
        for (char *comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
                /* the prefix so far, resolved in the root: walking component
                 * by component from fd would let ".." or a symlink leave it */
                size_t plen = (size_t)(comp - buf) + strlen(comp);
                char prefix[PATH_MAX];
                snprintf(prefix, sizeof(prefix), "%.*s", (int)plen, path);
                int next = bld_open_in_root(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
                if (next < 0 && errno == ENOENT) {
                        if (mkdirat(fd, comp, mode) < 0 && errno != EEXIST) {
                                close(fd);
                                return err_sys(err, "mkdir '%s'", prefix);
                        }
                        if (own && own->set &&
                            fchownat(fd, comp, own->uid, own->gid, AT_SYMLINK_NOFOLLOW) < 0) {
                                close(fd);
                                return err_sys(err, "chown '%s'", prefix);
                        }
                        next = bld_open_in_root(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
                }
                close(fd);
                if (next < 0)
                        return err_sys(err, "'%s'", prefix);
                fd = next;
        }
        return fd;
}

/* Looks name up in an /etc/passwd or /etc/group style file of the root:
 * field 3 is the id, field 4 (passwd) the primary group. */
static int lookup_db(int rootfd, const char *file, const char *name, long *id, long *gid)
{
        _cleanup_close_ int fd = bld_open_in_root(rootfd, file, O_RDONLY, 0);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        struct isola_err err = {0};
        if (fd < 0 || fs_read_fd(fd, 4u << 20, &buf, &len, &err) < 0)
                return -1;
        size_t nlen = strlen(name);
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (strncmp(line, name, nlen) != 0 || line[nlen] != ':')
                        continue;
                char *f = strchr(line + nlen + 1, ':'); /* after the password */
                if (!f)
                        return -1;
                *id = strtol(f + 1, &f, 10);
                if (gid && *f == ':')
                        *gid = strtol(f + 1, NULL, 10);
                return 0;
        }
        return -1;
}

static bool numeric(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++) {
                if (!isdigit((unsigned char)*s))
                        return false;
        }
        return true;
}

int bld_lookup_owner(int rootfd, const char *spec, bool chown, struct bld_owner *out,
                     struct isola_err *err)
{
        char user[256], group[256] = "";
        const char *colon = strchr(spec, ':');
        size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
        if (!ulen || ulen >= sizeof(user) || (colon && strlen(colon + 1) >= sizeof(group)))
                return err_set(err, EINVAL, "user '%s': invalid", spec);
        memcpy(user, spec, ulen);
        user[ulen] = '\0';
        if (colon)
                snprintf(group, sizeof(group), "%s", colon + 1);
        long uid = 0, gid = 0;
        bool have_gid = false;
        if (numeric(user)) {
                uid = strtol(user, NULL, 10);
        } else if (lookup_db(rootfd, "/etc/passwd", user, &uid, &gid) == 0) {
                have_gid = !chown;
        } else {
                return err_set(err, ENOENT, "user '%s': not found in the image's /etc/passwd",
                               user);
        }
        if (group[0]) {
                if (numeric(group))
                        gid = strtol(group, NULL, 10);
                else if (lookup_db(rootfd, "/etc/group", group, &gid, NULL) < 0)
                        return err_set(err, ENOENT,
                                       "group '%s': not found in the image's /etc/group", group);
                have_gid = true;
        }
        /* --chown=USER means USER:USER's id; USER=1000 at run time gets gid 0
         * unless the image's passwd names a group for it */
        if (!have_gid)
                gid = chown ? uid : 0;
        if (uid > 0x7fffffff || gid > 0x7fffffff)
                return err_set(err, EINVAL, "user '%s': id out of range", spec);
        out->uid = (uid_t)uid;
        out->gid = (gid_t)gid;
        out->set = true;
        return 0;
}
