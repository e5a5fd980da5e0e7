/* The "cgroup" mount of a container. On a cgroup2-only host it is a cgroup2
 * mount. On v1/hybrid hosts it is a tmpfs holding one directory per hierarchy
 * listed in /proc/self/cgroup (the init is already in its cgroups): with a
 * cgroup namespace each hierarchy is mounted afresh (the kernel roots it at
 * the container's cgroup); without one the container's own cgroup directory
 * is bind-mounted from the host, so it never sees its siblings. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "ctr/rootfs.h"
#include "ctr/rootfs_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define HOST_CGROUP_ROOT "/sys/fs/cgroup"

struct hierarchy {
        const char *controllers; /* "cpu,cpuacct", "name=systemd" or "" for v2 */
        const char *path;        /* the init's cgroup inside it */
};

static bool host_is_unified(void)
{
        struct statfs st;

        return statfs(HOST_CGROUP_ROOT, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

static const char *dir_name(const struct hierarchy *h)
{
        if (!*h->controllers)
                return "unified";
        if (!strncmp(h->controllers, "name=", 5))
                return h->controllers + 5;
        return h->controllers;
}

/* With a cgroup namespace, flags go to the fresh mount; a bind mount gets
 * them from a remount in add_hierarchy. */
static int mount_hierarchy(const struct hierarchy *h, int dir_fd, unsigned long flags,
                           bool cgroupns, struct isola_err *err)
{
        char host[4096];
        const char *type = *h->controllers ? "cgroup" : "cgroup2";

        if (cgroupns) {
                if (rootfs_mount_fd(type, dir_fd, type, flags,
                                    *h->controllers ? h->controllers : NULL) < 0)
                        return err_sys(err, "mounting %s hierarchy '%s'", type, dir_name(h));
                return 0;
        }
        snprintf(host, sizeof(host), HOST_CGROUP_ROOT "/%s%s", dir_name(h), h->path);
        if (rootfs_mount_fd(host, dir_fd, NULL, MS_BIND, NULL) < 0)
                return err_sys(err, "bind mount of '%s'", host);
        return 0;
}

/* "cpu,cpuacct" also answers to "cpu" and "cpuacct", as on the host. */
static void link_comounted(int tmpfs_fd, const char *controllers)
{
        char buf[256], *save = NULL;

        if (!strchr(controllers, ',') || strlen(controllers) >= sizeof(buf))
                return;
        snprintf(buf, sizeof(buf), "%s", controllers);
        for (char *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save))
                if (strncmp(c, "name=", 5) != 0)
                        symlinkat(controllers, tmpfs_fd, c);
}

/* The tmpfs is fresh and holds no symlinks, so plain *at calls are safe. */
static int add_hierarchy(const struct hierarchy *h, const struct spec_mount *m, int tmpfs_fd,
                         unsigned long flags, bool cgroupns, struct isola_err *err)
{
        const char *name = dir_name(h);
        _cleanup_close_ int dir_fd = -1;
        _cleanup_close_ int mnt_fd = -1;

        if (mkdirat(tmpfs_fd, name, 0755) < 0 && errno != EEXIST)
                return err_sys(err, "creating '%s/%s'", m->destination, name);
        dir_fd = openat(tmpfs_fd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return err_sys(err, "opening '%s/%s'", m->destination, name);
        if (mount_hierarchy(h, dir_fd, flags, cgroupns, err) < 0)
                return -1;
        if (cgroupns || !flags)
                return 0;
        /* A bind ignores flags: remount the new mount, reached afresh. */
        mnt_fd = openat(tmpfs_fd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
        if (mnt_fd < 0 ||
            rootfs_mount_fd(NULL, mnt_fd, NULL,
                            MS_BIND | MS_REMOUNT | flags | rootfs_locked_flags(mnt_fd), NULL) < 0)
                return err_sys(err, "remounting '%s/%s' with flags 0x%lx", m->destination, name,
                               flags);
        return 0;
}

static int mount_v1(const struct spec *spec, const struct spec_mount *m, int root_fd, int target_fd,
                    struct isola_err *err)
{
        unsigned long flags = m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
        bool cgroupns = rootfs_has_ns(spec, NS_CGROUP);
        _cleanup_free_ char *self = NULL;
        _cleanup_close_ int tmpfs_fd = -1;
        char *save = NULL;

        if (fs_read_file("/proc/self/cgroup", &self, NULL, err) < 0)
                return -1;
        if (rootfs_mount_fd("tmpfs", target_fd, "tmpfs", flags & ~MS_RDONLY, "mode=755") < 0)
                return err_sys(err, "mounting the tmpfs for the hierarchies");
        tmpfs_fd = rootfs_open_in_root(root_fd, m->destination, O_PATH | O_DIRECTORY, err);
        if (tmpfs_fd < 0)
                return -1;
        for (char *line = strtok_r(self, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                /* "<id>:<controllers>:<path>" */
                char *c = strchr(line, ':'), *p = c ? strchr(c + 1, ':') : NULL;
                struct hierarchy h;

                if (!p)
                        continue;
                *p = '\0';
                h = (struct hierarchy){.controllers = c + 1, .path = p + 1};
                if (add_hierarchy(&h, m, tmpfs_fd, flags, cgroupns, err) < 0)
                        return -1;
                link_comounted(tmpfs_fd, h.controllers);
        }
        if ((flags & MS_RDONLY) &&
            rootfs_mount_fd(NULL, tmpfs_fd, NULL, MS_REMOUNT | flags, "mode=755") < 0)
                return err_sys(err, "remounting the tmpfs read-only");
        return 0;
}

int rootfs_mount_cgroup(const struct spec *spec, const struct spec_mount *m, int root_fd,
                        int target_fd, struct isola_err *err)
{
        unsigned long flags = m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);

        if (!strcmp(m->type, "cgroup2") || host_is_unified()) {
                if (rootfs_mount_fd("cgroup2", target_fd, "cgroup2", flags, NULL) == 0)
                        return 0;
                if (errno != EPERM && errno != EBUSY)
                        return err_sys(err, "mounting cgroup2");
                /* Without a cgroup namespace the kernel may refuse a fresh
                 * cgroup2 mount: show the host's tree instead. */
                if (rootfs_mount_fd(HOST_CGROUP_ROOT, target_fd, NULL, MS_BIND | MS_REC, NULL) < 0)
                        return err_sys(err, "bind mount of '" HOST_CGROUP_ROOT "'");
                return 0;
        }
        return mount_v1(spec, m, root_fd, target_fd, err);
}
