/* /dev inside the container, populated before pivot_root: the OCI default
 * devices plus linux.devices (mknod, or a bind of the host node in a user
 * namespace where mknod is refused), the /dev/fd and std* symlinks, /dev/ptmx
 * pointing into the devpts instance, and /dev/console as a bind of the pty
 * slave. Skipped entirely when the spec bind-mounts /dev from the host. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ctr/devices.h"
#include "ctr/rootfs_internal.h"
#include "util/cleanup.h"

struct dev_node {
        const char *path;
        mode_t type; /* S_IFCHR, S_IFBLK, S_IFIFO */
        unsigned major, minor;
        mode_t mode;
        bool set_owner;
        uid_t uid;
        gid_t gid;
};

static const struct dev_node default_devices[] = {
    {"/dev/null", S_IFCHR, 1, 3, 0666, false, 0, 0},
    {"/dev/zero", S_IFCHR, 1, 5, 0666, false, 0, 0},
    {"/dev/full", S_IFCHR, 1, 7, 0666, false, 0, 0},
    {"/dev/random", S_IFCHR, 1, 8, 0666, false, 0, 0},
    {"/dev/urandom", S_IFCHR, 1, 9, 0666, false, 0, 0},
    {"/dev/tty", S_IFCHR, 5, 0, 0666, false, 0, 0},
};

static const struct {
        const char *name, *target;
} dev_links[] = {
    {"fd", "/proc/self/fd"},
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
};

static bool spec_binds_dev(const struct spec *spec)
{
        for (size_t i = 0; i < spec->n_mounts; i++) {
                const struct spec_mount *m = &spec->mounts[i];

                if (!strcmp(m->destination, "/dev") &&
                    (m->bind || (m->type && !strcmp(m->type, "bind"))))
                        return true;
        }
        return false;
}

static bool spec_has_devpts(const struct spec *spec)
{
        for (size_t i = 0; i < spec->n_mounts; i++)
                if (!strcmp(spec->mounts[i].destination, "/dev/pts") && spec->mounts[i].type &&
                    !strcmp(spec->mounts[i].type, "devpts"))
                        return true;
        return false;
}

static bool overridden_by_spec(const struct spec *spec, const char *path)
{
        for (size_t i = 0; i < spec->linux.n_devices; i++)
                if (!strcmp(spec->linux.devices[i].path, path))
                        return true;
        return false;
}

static struct dev_node from_spec(const struct spec_device *d)
{
        struct dev_node n = {
            .path = d->path,
            .type = d->type == 'b'   ? S_IFBLK
                    : d->type == 'p' ? S_IFIFO
                                     : S_IFCHR,
            .major = (unsigned)d->major,
            .minor = (unsigned)d->minor,
            .mode = d->has_file_mode ? (d->file_mode & 07777) : 0666,
            .set_owner = d->has_uid || d->has_gid,
            .uid = d->has_uid ? d->uid : (uid_t)-1,
            .gid = d->has_gid ? d->gid : (gid_t)-1,
        };
        return n;
}

/* Splits "/dev/net/tun" into the parent "/dev/net" (resolved, created) and
 * "tun"; returns the parent fd. */
static int open_parent(int root_fd, const char *path, const char **name, struct isola_err *err)
{
        char parent[4096];
        const char *slash = strrchr(path, '/');

        if (!slash || !slash[1] || !strcmp(slash + 1, "..") || !strcmp(slash + 1, "."))
                return err_set(err, EINVAL, "device '%s': not an absolute path to a node", path);
        snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
        *name = slash + 1;
        return rootfs_mkpath_in_root(root_fd, parent[0] ? parent : "/", false, err);
}

static int bind_host_node(int parent_fd, const char *name, const char *host, struct isola_err *err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_close_ int target = -1;

        /* O_EXCL: whatever the image has there (maybe a device node) must not
         * be opened, only mounted over. */
        fd = openat(parent_fd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
                return err_sys(err, "device '%s': creating the mount point", host);
        target = openat(parent_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (target < 0 || rootfs_mount_fd(host, target, NULL, MS_BIND, NULL) < 0)
                return err_sys(err, "device '%s': bind mount from the host", host);
        return 0;
}

static int make_node(int parent_fd, const char *name, const struct dev_node *n,
                     struct isola_err *err)
{
        dev_t dev = n->type == S_IFIFO ? 0 : makedev(n->major, n->minor);

        if (mknodat(parent_fd, name, n->type | n->mode, dev) < 0) {
                if (errno != EEXIST)
                        return err_sys(err, "device '%s': mknod", n->path);
                /* An image may ship placeholder files in /dev. */
                if (unlinkat(parent_fd, name, 0) < 0 ||
                    mknodat(parent_fd, name, n->type | n->mode, dev) < 0)
                        return err_sys(err, "device '%s': replacing the existing file", n->path);
        }
        if (n->set_owner && fchownat(parent_fd, name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return err_sys(err, "device '%s': chown to %d:%d", n->path, (int)n->uid,
                               (int)n->gid);
        return 0;
}

static int create_device(int root_fd, int dev_fd, const struct dev_node *n, bool in_userns,
                         struct isola_err *err)
{
        const char *name = n->path + strlen("/dev/");
        _cleanup_close_ int own_parent = -1;
        int parent = dev_fd;

        /* Most nodes live directly in /dev, whose fd is already open. */
        if (strncmp(n->path, "/dev/", 5) != 0 || strchr(name, '/') || !strcmp(name, "..") ||
            !*name) {
                own_parent = open_parent(root_fd, n->path, &name, err);
                if (own_parent < 0)
                        return -1;
                parent = own_parent;
        }
        if (in_userns)
                return bind_host_node(parent, name, n->path, err);
        return make_node(parent, name, n, err);
}

static int create_links(int dev_fd, bool ptmx, struct isola_err *err)
{
        for (size_t i = 0; i < ARRAY_SIZE(dev_links); i++)
                if (symlinkat(dev_links[i].target, dev_fd, dev_links[i].name) < 0 &&
                    errno != EEXIST)
                        return err_sys(err, "creating symlink '/dev/%s'", dev_links[i].name);
        if (!ptmx)
                return 0;
        if (unlinkat(dev_fd, "ptmx", 0) < 0 && errno != ENOENT)
                return err_sys(err, "removing '/dev/ptmx'");
        if (symlinkat("pts/ptmx", dev_fd, "ptmx") < 0)
                return err_sys(err, "creating symlink '/dev/ptmx'");
        return 0;
}

/* O_EXCL: an image may ship a /dev/console node, which must not be opened. */
static int create_console(int dev_fd, struct isola_err *err)
{
        int fd =
            openat(dev_fd, "console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);

        if (fd < 0 && errno != EEXIST)
                return err_sys(err, "creating '/dev/console'");
        if (fd >= 0)
                close(fd);
        return 0;
}

static int bind_console(int dev_fd, int console_slave_fd, struct isola_err *err)
{
        struct fd_path src;
        _cleanup_close_ int fd = -1;

        if (create_console(dev_fd, err) < 0)
                return -1;
        fd = openat(dev_fd, "console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        src = fd_path_of(console_slave_fd);
        if (fd < 0 || rootfs_mount_fd(src.s, fd, NULL, MS_BIND, NULL) < 0)
                return err_sys(err, "bind mount of the console pty on '/dev/console'");
        return 0;
}

int devices_bind_console(int slave_fd, struct isola_err *err)
{
        _cleanup_close_ int dev_fd = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (dev_fd < 0)
                return err_sys(err, "opening '/dev'");
        return bind_console(dev_fd, slave_fd, err);
}

static int create_all(const struct spec *spec, int root_fd, int dev_fd, bool in_userns,
                      struct isola_err *err)
{
        for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
                if (overridden_by_spec(spec, default_devices[i].path))
                        continue;
                if (create_device(root_fd, dev_fd, &default_devices[i], in_userns, err) < 0)
                        return -1;
        }
        for (size_t i = 0; i < spec->linux.n_devices; i++) {
                struct dev_node n = from_spec(&spec->linux.devices[i]);

                if (create_device(root_fd, dev_fd, &n, in_userns, err) < 0)
                        return -1;
        }
        return 0;
}

int devices_setup_at(const struct spec *spec, int root_fd, int console_slave_fd, bool in_userns,
                     struct isola_err *err)
{
        _cleanup_close_ int dev_fd = -1;
        mode_t old_umask;
        int r;

        if (spec_binds_dev(spec))
                return 0;
        dev_fd = rootfs_mkpath_in_root(root_fd, "/dev", false, err);
        if (dev_fd < 0)
                return -1;
        /* Node modes must be exactly those of the spec. */
        old_umask = umask(0);
        r = create_all(spec, root_fd, dev_fd, in_userns, err);
        umask(old_umask);
        if (r < 0)
                return -1;
        if (create_links(dev_fd, spec_has_devpts(spec), err) < 0)
                return -1;
        if (console_slave_fd >= 0)
                return bind_console(dev_fd, console_slave_fd, err);
        if (spec->process && spec->process->terminal)
                return create_console(dev_fd, err);
        return 0;
}

int devices_setup(const struct spec *spec, const char *rootfs_abs, int console_slave_fd,
                  bool in_userns, struct isola_err *err)
{
        _cleanup_close_ int root_fd = open(rootfs_abs, O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (root_fd < 0)
                return err_sys(err, "opening rootfs '%s'", rootfs_abs);
        return devices_setup_at(spec, root_fd, console_slave_fd, in_userns, err);
}
