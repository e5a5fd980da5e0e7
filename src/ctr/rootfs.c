/* Container root file system: propagation, the self-bind of the rootfs,
 * every spec mount, pivot_root (or MS_MOVE + chroot) and the read-only root.
 * Mount destinations come from an untrusted image, so they are resolved with
 * openat2(RESOLVE_IN_ROOT): a symlink or ".." can never lead outside the
 * rootfs, and the mount is made on the resolved fd via /proc/self/fd/N, never
 * on a path string that could be re-resolved differently. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctr/devices.h"
#include "ctr/process_attrs.h"
#include "ctr/rootfs.h"
#include "ctr/rootfs_internal.h"
#include "util/cleanup.h"

#define PROPAGATION_FLAGS (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)
#define MAX_LINK_DEPTH    8

struct fd_path fd_path_of(int fd)
{
        struct fd_path p;

        snprintf(p.s, sizeof(p.s), "/proc/self/fd/%d", fd);
        return p;
}

int rootfs_mount_fd(const char *src, int target_fd, const char *type, unsigned long flags,
                    const void *data)
{
        struct fd_path t = fd_path_of(target_fd);

        return mount(src, t.s, type, flags, data);
}

unsigned long rootfs_locked_flags(int fd)
{
        struct statvfs st;

        if (fstatvfs(fd, &st) < 0)
                return 0;
        return st.f_flag &
               (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME | ST_NODIRATIME | ST_RELATIME);
}

bool rootfs_has_ns(const struct spec *spec, enum spec_ns_kind kind)
{
        for (size_t i = 0; i < spec->linux.n_namespaces; i++)
                if (spec->linux.namespaces[i].kind == kind)
                        return true;
        return false;
}

static int openat2_in_root(int root_fd, const char *path, int flags)
{
        struct open_how how = {
            .flags = (uint64_t)(flags | O_CLOEXEC),
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };

        return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
}

int rootfs_open_in_root(int root_fd, const char *path, int flags, struct isola_err *err)
{
        int fd = openat2_in_root(root_fd, path, flags);

        if (fd < 0)
                return err_sys(err, "resolving '%s' inside the rootfs", path);
        return fd;
}

static int create_component(int parent_fd, const char *name, bool as_file)
{
        int fd;

        if (!as_file)
                return mkdirat(parent_fd, name, 0755);
        fd = openat(parent_fd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -1;
        close(fd);
        return 0;
}

static int mkpath(int root_fd, const char *path, bool last_is_file, int depth,
                  struct isola_err *err);

/* `name` in the directory `parent` exists but does not resolve: a dangling
 * symlink. Create its target (inside the root). */
static int create_link_target(int root_fd, int parent_fd, const char *parent, const char *name,
                              bool as_file, int depth, struct isola_err *err)
{
        char target[PATH_MAX], joined[PATH_MAX * 2 + 2];
        ssize_t n;
        int fd;

        n = readlinkat(parent_fd, name, target, sizeof(target) - 1);
        if (n < 0)
                return err_sys(err, "'%s/%s' exists but cannot be resolved", parent, name);
        target[n] = '\0';
        if (depth >= MAX_LINK_DEPTH)
                return err_set(err, ELOOP, "'%s/%s': too many levels of symlinks", parent, name);
        if (target[0] == '/')
                snprintf(joined, sizeof(joined), "%s", target);
        else
                snprintf(joined, sizeof(joined), "%s/%s", parent, target);
        fd = mkpath(root_fd, joined, as_file, depth + 1, err);
        if (fd >= 0)
                close(fd);
        return fd < 0 ? -1 : 0;
}

/* Creates path[pos..], the missing components below dir_fd (which is
 * path[0..pos) resolved), one at a time; consumes dir_fd. Entries it creates
 * are opened without following links; an existing entry that did not
 * resolve is a dangling symlink whose target gets created in the root. */
static int create_below(int root_fd, int dir_fd, const char *path, size_t pos, bool last_is_file,
                        int depth, struct isola_err *err)
{
        char name[NAME_MAX + 1], prefix[PATH_MAX];

        while (path[pos]) {
                size_t n = strcspn(path + pos, "/");
                bool last = path[pos + n + strspn(path + pos + n, "/")] == '\0';
                int next;

                if (n == 0 || (n == 1 && path[pos] == '.')) {
                        pos += n ? n : 1;
                        continue;
                }
                if (n > NAME_MAX || (n == 2 && !strncmp(path + pos, "..", 2))) {
                        close(dir_fd);
                        return err_set(err, EINVAL, "'%s': cannot create component '%.*s'", path,
                                       (int)n, path + pos);
                }
                memcpy(name, path + pos, n);
                name[n] = '\0';
                memcpy(prefix, path, pos + n);
                prefix[pos + n] = '\0';
                if (create_component(dir_fd, name, last && last_is_file) == 0) {
                        next = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                } else if (errno != EEXIST) {
                        close(dir_fd);
                        return err_sys(err, "creating '%s' inside the rootfs", prefix);
                } else {
                        prefix[pos] = '\0';
                        next = create_link_target(root_fd, dir_fd, prefix, name,
                                                  last && last_is_file, depth, err);
                        if (next < 0) {
                                close(dir_fd);
                                return -1;
                        }
                        memcpy(prefix, path, pos + n);
                        next = openat2_in_root(root_fd, prefix, O_PATH);
                }
                close(dir_fd);
                if (next < 0)
                        return err_sys(err, "opening '%s' inside the rootfs after creating it",
                                       prefix);
                dir_fd = next;
                pos += n;
        }
        return dir_fd;
}

/* Walks up from the end of the path to the deepest ancestor that exists, so
 * that only the missing tail costs syscalls, then creates the tail. */
static int mkpath(int root_fd, const char *path, bool last_is_file, int depth,
                  struct isola_err *err)
{
        char buf[PATH_MAX];
        size_t cut = strlen(path);
        int fd = openat2_in_root(root_fd, path, O_PATH);

        if (fd >= 0 || errno != ENOENT)
                return fd >= 0 ? fd : err_sys(err, "resolving '%s' inside the rootfs", path);
        if (cut >= sizeof(buf))
                return err_set(err, ENAMETOOLONG, "'%.64s...': path too long", path);
        for (;;) {
                while (cut > 0 && path[cut - 1] == '/')
                        cut--;
                while (cut > 0 && path[cut - 1] != '/')
                        cut--;
                memcpy(buf, path, cut);
                buf[cut] = '\0';
                fd = openat2_in_root(root_fd, cut ? buf : "/", O_PATH);
                if (fd >= 0)
                        break;
                if (errno != ENOENT || cut == 0)
                        return err_sys(err, "resolving '%s' inside the rootfs", cut ? buf : "/");
        }
        return create_below(root_fd, fd, path, cut, last_is_file, depth, err);
}

int rootfs_mkpath_in_root(int root_fd, const char *path, bool last_is_file, struct isola_err *err)
{
        return mkpath(root_fd, path, last_is_file, 0, err);
}

static const char *mount_type(const struct spec_mount *m)
{
        return m->type ? m->type : "bind";
}

static bool is_bind(const struct spec_mount *m)
{
        return m->bind || (m->type && !strcmp(m->type, "bind"));
}

/* Bind sources decide whether the mount point is a file or a directory. */
static bool source_is_file(const struct spec_mount *m)
{
        struct stat st;

        if (!is_bind(m) || !m->source || stat(m->source, &st) < 0)
                return false;
        return !S_ISDIR(st.st_mode);
}

/* devpts always gets its own instance with a usable ptmx, as runc does. */
static char *devpts_data(const char *data)
{
        const char *d = data ? data : "";
        const char *ni = strstr(d, "newinstance") ? "" : ",newinstance";
        const char *ptmx = strstr(d, "ptmxmode=") ? "" : ",ptmxmode=0666";
        char *out = NULL;

        if (asprintf(&out, "%s%s%s", d, ni, ptmx) < 0)
                return NULL;
        return out[0] == ',' ? memmove(out, out + 1, strlen(out)) : out;
}

/* Remount flags and propagation apply to the mount just made, which a fresh
 * resolution of the destination (not the pre-mount fd) refers to. */
static int finish_mount(const struct spec_mount *m, int root_fd, unsigned long remount,
                        struct isola_err *err)
{
        _cleanup_close_ int fd = -1;

        if (!remount && !m->propagation)
                return 0;
        fd = openat2_in_root(root_fd, m->destination, O_PATH);
        if (fd < 0)
                return err_sys(err, "reopening the mount");
        if (remount) {
                unsigned long keep = rootfs_locked_flags(fd) & ~m->clear;

                if (rootfs_mount_fd(NULL, fd, NULL, MS_BIND | MS_REMOUNT | remount | keep, NULL) <
                    0)
                        return err_sys(err, "remounting with flags 0x%lx", remount);
        }
        if (m->propagation && rootfs_mount_fd(NULL, fd, NULL, m->propagation, NULL) < 0)
                return err_sys(err, "setting propagation 0x%lx", m->propagation);
        return 0;
}

static int mount_bind(const char *src, bool recursive, const struct spec_mount *m, int root_fd,
                      int target_fd, struct isola_err *err)
{
        unsigned long extra = m->flags & ~(MS_BIND | MS_REC | PROPAGATION_FLAGS);

        if (rootfs_mount_fd(src, target_fd, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL) < 0)
                return err_sys(err, "bind mount of '%s'", src);
        return finish_mount(m, root_fd, extra, err);
}

static int mount_one(const struct spec *spec, const struct spec_mount *m, int root_fd,
                     int target_fd, struct isola_err *err)
{
        const char *type = mount_type(m);
        unsigned long flags = m->flags & ~(MS_BIND | MS_REC | PROPAGATION_FLAGS);
        _cleanup_free_ char *data = NULL;

        if (is_bind(m))
                return mount_bind(m->source, m->recursive, m, root_fd, target_fd, err);
        if (!strcmp(type, "sysfs") && !rootfs_has_ns(spec, NS_NET))
                /* A new sysfs shows the netns of the mounter, so without one
                 * of its own the container sees the host's sysfs. */
                return mount_bind("/sys", true, m, root_fd, target_fd, err);
        if (!strcmp(type, "cgroup") || !strcmp(type, "cgroup2"))
                return rootfs_mount_cgroup(spec, m, root_fd, target_fd, err);
        if (!strcmp(type, "devpts")) {
                data = devpts_data(m->data);
                if (!data)
                        return err_set(err, ENOMEM, "building devpts options");
        }
        if (rootfs_mount_fd(m->source ? m->source : type, target_fd, type, flags,
                            data ? data : m->data) < 0)
                return err_sys(err, "mount(type '%s', options '%s')", type,
                               data      ? data
                               : m->data ? m->data
                                         : "");
        return finish_mount(m, root_fd, 0, err);
}

static int open_target(const struct spec_mount *m, int root_fd, struct isola_err *err)
{
        int fd = openat2_in_root(root_fd, m->destination, O_PATH);

        /* Only a missing mount point costs the stat of the source and the
         * component-wise walk. */
        if (fd >= 0 || errno != ENOENT)
                return fd >= 0 ? fd : err_sys(err, "resolving the destination in the rootfs");
        return rootfs_mkpath_in_root(root_fd, m->destination, source_is_file(m), err);
}

static int mount_all_at(const struct spec *spec, int root_fd, struct isola_err *err)
{
        for (size_t i = 0; i < spec->n_mounts; i++) {
                const struct spec_mount *m = &spec->mounts[i];
                _cleanup_close_ int target = open_target(m, root_fd, err);

                if (target < 0 || mount_one(spec, m, root_fd, target, err) < 0)
                        return err_prefix(err, "mount '%s' on '%s'",
                                          m->source ? m->source : mount_type(m), m->destination);
        }
        return 0;
}

int rootfs_mount_all(const struct spec *spec, const char *rootfs_abs, struct isola_err *err)
{
        _cleanup_close_ int root_fd = open(rootfs_abs, O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (root_fd < 0)
                return err_sys(err, "opening rootfs '%s'", rootfs_abs);
        return mount_all_at(spec, root_fd, err);
}

/* pivot_root refuses a shared parent mount: make the mount holding the
 * rootfs private (walking up until a path is a mount point). */
static int make_parent_private(const char *rootfs_abs, struct isola_err *err)
{
        char path[PATH_MAX];
        char *slash;

        snprintf(path, sizeof(path), "%s", rootfs_abs);
        for (;;) {
                slash = strrchr(path, '/');
                if (!slash)
                        return 0;
                if (slash == path)
                        slash[1] = '\0';
                else
                        *slash = '\0';
                if (mount(NULL, path, NULL, MS_PRIVATE, NULL) == 0)
                        return 0;
                if (errno != EINVAL)
                        return err_sys(err, "making '%s' private", path);
                if (slash == path)
                        return 0;
        }
}

static int prepare_root(const struct spec *spec, const char *rootfs_abs, struct isola_err *err)
{
        unsigned long prop = spec->linux.rootfs_propagation;

        if (!prop)
                prop = MS_SLAVE | MS_REC;
        if (mount(NULL, "/", NULL, prop | MS_REC, NULL) < 0)
                return err_sys(err, "rootfs propagation 0x%lx on '/'", prop);
        if ((prop & MS_SHARED) && make_parent_private(rootfs_abs, err) < 0)
                return -1;
        if (mount(rootfs_abs, rootfs_abs, NULL, MS_BIND | MS_REC, NULL) < 0)
                return err_sys(err, "bind mount of rootfs '%s' onto itself", rootfs_abs);
        return 0;
}

int rootfs_pivot(const char *rootfs_abs, bool no_pivot, struct isola_err *err)
{
        if (chdir(rootfs_abs) < 0)
                return err_sys(err, "chdir to rootfs '%s'", rootfs_abs);
        if (no_pivot) {
                if (mount(rootfs_abs, "/", NULL, MS_MOVE, NULL) < 0)
                        return err_sys(err, "moving rootfs '%s' to '/'", rootfs_abs);
                if (chroot(".") < 0)
                        return err_sys(err, "chroot to rootfs '%s'", rootfs_abs);
        } else {
                /* The old root ends up stacked on "."; detach it without
                 * letting the unmount propagate to the host. */
                if (syscall(SYS_pivot_root, ".", ".") < 0)
                        return err_sys(err, "pivot_root to '%s'", rootfs_abs);
                if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                        return err_sys(err, "making the old root a slave");
                if (umount2(".", MNT_DETACH) < 0)
                        return err_sys(err, "detaching the old root");
        }
        if (chdir("/") < 0)
                return err_sys(err, "chdir to '/' of the container");
        return 0;
}

int rootfs_readonly_root(struct isola_err *err)
{
        _cleanup_close_ int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        unsigned long keep = fd >= 0 ? rootfs_locked_flags(fd) : 0;

        if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0)
                return err_sys(err, "remounting the root read-only");
        return 0;
}

/* After unshare(CLONE_NEWUSER) the credentials are still the host's, which
 * the new namespace does not map: files created on namespace-owned mounts
 * (the /dev tmpfs) would fail with EOVERFLOW. Switch to the namespace's root,
 * as runc does, unless the caller already did or uid 0 is not mapped. */
static int become_userns_root(struct isola_err *err)
{
        if (getuid() == 0)
                return 0;
        if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
                return err_sys(err, "becoming gid 0 of the user namespace");
        if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
                return err_sys(err, "becoming uid 0 of the user namespace");
        return 0;
}

int rootfs_setup(const struct spec *spec, const char *rootfs_abs, int console_slave_fd,
                 bool no_pivot, bool in_userns, struct isola_err *err)
{
        _cleanup_close_ int root_fd = -1;

        if (in_userns && become_userns_root(err) < 0)
                return -1;
        if (prepare_root(spec, rootfs_abs, err) < 0)
                return -1;
        /* Opened after the self-bind so that it refers to the new mount. */
        root_fd = open(rootfs_abs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return err_sys(err, "opening rootfs '%s'", rootfs_abs);
        if (mount_all_at(spec, root_fd, err) < 0)
                return -1;
        if (devices_setup_at(spec, root_fd, console_slave_fd, in_userns, err) < 0)
                return -1;
        if (rootfs_pivot(rootfs_abs, no_pivot, err) < 0)
                return -1;
        /* Before readonlyPaths (usually /proc/sys) close the door, as runc. */
        if (process_sysctl_apply(spec, err) < 0)
                return -1;
        if (rootfs_apply_paths(spec, err) < 0)
                return -1;
        if (spec->root_readonly && rootfs_readonly_root(err) < 0)
                return -1;
        return 0;
}
