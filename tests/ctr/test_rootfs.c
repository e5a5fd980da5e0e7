/* rootfs_setup on a busybox rootfs in a temp dir, run in forked children that
 * unshare their mount namespace: spec mounts appear (including destinations
 * that need creating), devices exist with the right type/mode/owner, masked
 * and read-only paths behave, the root is read-only, a mount destination
 * reached through an escaping symlink stays inside the rootfs, and in the
 * parent no mount leaked into the host and the escape target is untouched.
 * Variants: pivot_root, --no-pivot (MS_MOVE + chroot), user-namespace style
 * device binds. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/ioctl.h>
#include <sys/mount.h>

#include "child_check.h"
#include "ctr/devices.h"
#include "ctr/rootfs.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define MQUEUE_MAGIC_NR 0x19800202

static char tmp[64], rootfs[128], hostdir[128], hostfile[128], outside[128];

static struct spec_mount mnt(const char *dest, const char *type, const char *src,
                             unsigned long flags, const char *data)
{
        return (struct spec_mount){.destination = (char *)dest,
                                   .type = (char *)type,
                                   .source = (char *)src,
                                   .flags = flags,
                                   .data = (char *)data};
}

static struct spec_mount bindmnt(const char *dest, const char *src, unsigned long flags)
{
        struct spec_mount m = mnt(dest, NULL, src, flags, NULL);

        m.bind = true;
        m.recursive = true;
        return m;
}

static char escape_abs[256], escape_rel[256];
static struct spec_mount mounts[16];
static char *masked[] = {"/proc/kcore", "/etc/secretfile", "/secret", "/does/not/exist"};
static char *readonly[] = {"/proc/sys", "/rodir"};
/* /dev/net/tun exists on the host, so the user-namespace variant can bind it. */
static struct spec_device devices[] = {{
    .path = "/dev/net/tun",
    .type = 'c',
    .major = 10,
    .minor = 200,
    .has_file_mode = true,
    .file_mode = 0640,
    .has_uid = true,
    .uid = 1000,
    .has_gid = true,
    .gid = 1001,
}};

static void build_spec(struct spec *spec)
{
        size_t n = 0;

        mounts[n++] = mnt("/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        mounts[n++] = mnt("/dev", "tmpfs", "tmpfs", MS_NOSUID, "mode=755,size=65536k");
        mounts[n++] = mnt("/dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620");
        mounts[n++] =
            mnt("/dev/mqueue", "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        mounts[n++] = mnt("/sys", "sysfs", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
        mounts[n++] = mnt("/sys/fs/cgroup", "cgroup", "cgroup", MS_RDONLY | MS_NOSUID, NULL);
        mounts[n++] = bindmnt("/mnt/data/deep", hostdir, MS_RDONLY);
        mounts[n++] = bindmnt("/etc/hostfile", hostfile, 0);
        mounts[n++] = mnt(escape_abs, "tmpfs", "tmpfs", 0, NULL);
        mounts[n++] = mnt(escape_rel, "tmpfs", "tmpfs", 0, NULL);
        mounts[n++] = mnt("/var/run/sub", "tmpfs", "tmpfs", 0, NULL);
        mounts[n++] = mnt("/dangling-rel/x", "tmpfs", "tmpfs", 0, NULL);
        *spec = (struct spec){.root_readonly = true, .mounts = mounts, .n_mounts = n};
        spec->linux.masked_paths = masked;
        spec->linux.n_masked_paths = ARRAY_SIZE(masked);
        spec->linux.readonly_paths = readonly;
        spec->linux.n_readonly_paths = ARRAY_SIZE(readonly);
        spec->linux.devices = devices;
        spec->linux.n_devices = ARRAY_SIZE(devices);
}

static int copy_file(const char *from, const char *to)
{
        char *buf = NULL;
        size_t len = 0;
        struct isola_err err;
        int r;

        if (fs_read_file(from, &buf, &len, &err) < 0)
                return -1;
        r = fs_write_file(to, buf, len, O_CREAT, 0755, &err);
        free(buf);
        return r;
}

static int make_tree(void)
{
        char p[256];
        struct isola_err err;

        snprintf(tmp, sizeof(tmp), "/tmp/isola-rootfs-XXXXXX");
        /* Traversable by the user-namespace variant's root (uid 100000). */
        if (!mkdtemp(tmp) || chmod(tmp, 0755) < 0)
                return -1;
        snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmp);
        snprintf(hostdir, sizeof(hostdir), "%s/hostdir", tmp);
        snprintf(hostfile, sizeof(hostfile), "%s/hostfile", tmp);
        snprintf(outside, sizeof(outside), "%s/outside", tmp);
        snprintf(p, sizeof(p), "%s/bin", rootfs);
        if (fs_mkdir_p(p, 0755, &err) < 0 || fs_mkdir_p(hostdir, 0755, &err) < 0 ||
            fs_mkdir_p(outside, 0755, &err) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/bin/busybox", rootfs);
        if (copy_file("/bin/busybox", p) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/secret", rootfs);
        if (fs_mkdir_p(p, 0755, &err) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/secret/key", rootfs);
        if (fs_write_file(p, "k", 1, O_CREAT, 0644, &err) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/etc", rootfs);
        if (fs_mkdir_p(p, 0755, &err) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/etc/secretfile", rootfs);
        if (fs_write_file(p, "s", 1, O_CREAT, 0644, &err) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/rodir", rootfs);
        if (fs_mkdir_p(p, 0755, &err) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/marker", hostdir);
        if (fs_write_file(p, "m", 1, O_CREAT, 0644, &err) < 0 ||
            fs_write_file(hostfile, "hello", 5, O_CREAT, 0644, &err) < 0)
                return -1;
        /* Two symlinks aiming at the host directory `outside`: one absolute,
         * one climbing with "..". */
        snprintf(p, sizeof(p), "%s/escape", rootfs);
        if (symlink(outside, p) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/dotdot", rootfs);
        snprintf(escape_rel, sizeof(escape_rel), "../../../../../../..%s", outside);
        if (symlink(escape_rel, p) < 0)
                return -1;
        /* Dangling links, as images have them: absolute and relative. */
        snprintf(p, sizeof(p), "%s/var", rootfs);
        if (fs_mkdir_p(p, 0755, &err) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/var/run", rootfs);
        if (symlink("/run", p) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/dangling-rel", rootfs);
        if (symlink("../../../not/yet", p) < 0)
                return -1;
        snprintf(escape_abs, sizeof(escape_abs), "/escape/sub");
        snprintf(escape_rel, sizeof(escape_rel), "/dotdot/sub2");
        return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)ftw;
        return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static bool fs_is(const char *path, long magic)
{
        struct statfs st;

        return statfs(path, &st) == 0 && st.f_type == magic;
}

static bool erofs(int r)
{
        return r < 0 && errno == EROFS;
}

/* access(W_OK) reports EACCES before EROFS for files the user namespace
 * does not own, so ask the mount. */
static bool mounted_ro(const char *path)
{
        struct statvfs st;

        return statvfs(path, &st) == 0 && (st.f_flag & ST_RDONLY);
}

static bool is_chr(const char *path, unsigned maj, unsigned min, mode_t mode)
{
        struct stat st;

        return stat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == maj &&
               minor(st.st_rdev) == min && (st.st_mode & 07777) == mode;
}

static bool link_is(const char *path, const char *target)
{
        char buf[256];
        ssize_t n = readlink(path, buf, sizeof(buf) - 1);

        if (n < 0)
                return false;
        buf[n] = '\0';
        return !strcmp(buf, target);
}

static ssize_t read_some(const char *path, char *buf, size_t len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -1;
        n = read(fd, buf, len);
        close(fd);
        return n;
}

static void check_layout(bool userns)
{
        struct stat st;
        char buf[16] = "", p[256];

        child_ok(access("/bin/busybox", X_OK) == 0, "busybox is at /bin/busybox");
        child_ok(access(hostfile, F_OK) < 0 && errno == ENOENT, "host files are not visible");
        child_ok(fs_is("/proc", PROC_SUPER_MAGIC) && access("/proc/self/status", R_OK) == 0,
                 "proc mounted on /proc");
        child_ok(fs_is("/dev", TMPFS_MAGIC), "tmpfs on /dev");
        child_ok(fs_is("/dev/pts", DEVPTS_SUPER_MAGIC), "devpts on /dev/pts");
        child_ok(link_is("/dev/ptmx", "pts/ptmx"), "/dev/ptmx -> pts/ptmx");
        child_ok(fs_is("/dev/mqueue", MQUEUE_MAGIC_NR), "mqueue on /dev/mqueue");
        child_ok(fs_is("/sys", SYSFS_MAGIC) && erofs(access("/sys/kernel", W_OK)),
                 "/sys (host bind without a netns) is read-only");
        child_ok(access("/sys/fs/cgroup/memory/memory.limit_in_bytes", R_OK) == 0 ||
                     access("/sys/fs/cgroup/cgroup.controllers", R_OK) == 0,
                 "cgroup hierarchy visible under /sys/fs/cgroup");
        child_ok(erofs(mkdir("/sys/fs/cgroup/x", 0755)), "/sys/fs/cgroup is read-only");
        child_ok(access("/mnt/data/deep/marker", R_OK) == 0,
                 "bind to a missing nested destination created it");
        child_ok(erofs(mkdir("/mnt/data/deep/x", 0755)), "read-only bind is read-only");
        child_ok(read_some("/etc/hostfile", buf, sizeof(buf)) == 5 && !strncmp(buf, "hello", 5),
                 "file bind mounted on a created file");
        child_ok(is_chr("/dev/null", 1, 3, 0666), "/dev/null is char 1:3 mode 0666");
        child_ok(is_chr("/dev/urandom", 1, 9, 0666), "/dev/urandom is char 1:9");
        child_ok(link_is("/dev/fd", "/proc/self/fd") && link_is("/dev/stderr", "/proc/self/fd/2"),
                 "/dev/fd and /dev/stderr symlinks");
        if (userns) {
                child_ok(is_chr("/dev/net/tun", 10, 200, 0600),
                         "user-namespace mode binds the host node");
        } else {
                child_ok(is_chr("/dev/net/tun", 10, 200, 0640) && stat("/dev/net/tun", &st) == 0 &&
                             st.st_uid == 1000 && st.st_gid == 1001,
                         "linux.devices node in a created dir, mode 0640 owner 1000:1001");
        }
        child_ok(fs_is("/escape/sub", TMPFS_MAGIC) && fs_is("/dotdot/sub2", TMPFS_MAGIC),
                 "destinations through escaping symlinks are mounted");
        child_ok(fs_is("/run/sub", TMPFS_MAGIC), "dangling absolute link: target created in root");
        child_ok(fs_is("/not/yet/x", TMPFS_MAGIC),
                 "dangling relative link: target created in root");
        snprintf(p, sizeof(p), "%s/sub", outside);
        child_ok(fs_is(p, TMPFS_MAGIC), "... on the symlink target taken inside the rootfs");
}

static void check_paths(void)
{
        char buf[16];

        child_ok(read_some("/etc/secretfile", buf, sizeof(buf)) == 0, "masked file reads empty");
        child_ok(access("/secret/key", F_OK) < 0 && errno == ENOENT, "masked dir hides content");
        child_ok(erofs(mkdir("/secret/x", 0755)), "masked dir is read-only");
        child_ok(mounted_ro("/proc/sys"), "/proc/sys is read-only");
        child_ok(erofs(mkdir("/rodir/x", 0755)), "readonlyPaths dir is read-only");
        child_ok(erofs(mkdir("/newdir", 0755)), "root.readonly: / is read-only");
        child_ok(mkdir("/dev/x", 0755) == 0, "/dev stays writable under a read-only root");
}

/* The runc way: a pty from the container's own devpts, bound afterwards. */
static void check_console_after_pivot(void)
{
        struct isola_err err = {0};
        int unlock = 0, master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC), slave = -1;
        struct stat want, got;
        char *name;

        if (master >= 0 && ioctl(master, TIOCSPTLCK, &unlock) == 0)
                slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        child_ok(slave >= 0, "pty from the container's /dev/ptmx");
        if (slave < 0)
                return;
        name = ttyname(slave);
        child_ok(name && !strncmp(name, "/dev/pts/", 9), "its slave is %s inside the container",
                 name ? name : "(none)");
        child_ok(devices_bind_console(slave, &err) == 0, "devices_bind_console (%s)", err.msg);
        child_ok(fstat(slave, &want) == 0 && stat("/dev/console", &got) == 0 &&
                     got.st_rdev == want.st_rdev,
                 "/dev/console now is that slave");
}

static struct spec the_spec;
static bool opt_no_pivot, opt_userns;

static void setup_and_check(void)
{
        struct isola_err err = {0};
        int r;

        if (unshare(CLONE_NEWNS) < 0) {
                child_ok(0, "unshare(CLONE_NEWNS): %s", strerror(errno));
                return;
        }
        int pty = -1, slave = -1;
        struct stat want, got;

        /* A pty slave for /dev/console, as `process.terminal` gives. */
        pty = posix_openpt(O_RDWR | O_NOCTTY);
        if (pty >= 0 && grantpt(pty) == 0 && unlockpt(pty) == 0)
                slave = open(ptsname(pty), O_RDWR | O_NOCTTY);
        if (slave < 0 || fstat(slave, &want) < 0) {
                child_ok(0, "opening a pty: %s", strerror(errno));
                return;
        }
        r = rootfs_setup(&the_spec, rootfs, slave, opt_no_pivot, opt_userns, &err);
        child_ok(r == 0, "rootfs_setup (no_pivot=%d, userns=%d) %s", opt_no_pivot, opt_userns,
                 err.msg);
        if (r < 0)
                return;
        check_layout(opt_userns);
        check_paths();
        child_ok(stat("/dev/console", &got) == 0 && S_ISCHR(got.st_mode) &&
                     got.st_rdev == want.st_rdev,
                 "/dev/console is the pty slave");
        check_console_after_pivot();
}

static void bad_source(void)
{
        struct spec_mount m = bindmnt("/x", "/nonexistent-source", 0);
        struct spec spec = {.mounts = &m, .n_mounts = 1};
        struct isola_err err = {0};

        if (unshare(CLONE_NEWNS) < 0)
                return;
        child_ok(rootfs_setup(&spec, rootfs, -1, false, false, &err) < 0 &&
                     strstr(err.msg, "mount '/nonexistent-source' on '/x'"),
                 "missing bind source: error names source and destination: %s", err.msg);
}

/* A real user namespace (0 -> 100000, 65536 ids) with its own mount, pid and
 * network namespaces, as the runtime creates them: mknod is refused, mounts
 * inherited from the host are locked, proc needs the new pid namespace. */
static struct spec_namespace userns_ns[] = {
    {.kind = NS_USER}, {.kind = NS_MNT}, {.kind = NS_PID}, {.kind = NS_NET}, {.kind = NS_IPC}};

static int write_id_maps(pid_t pid)
{
        char path[64];
        struct isola_err err;

        snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
        if (fs_write_str(path, "0 100000 65536", &err) < 0)
                return -1;
        snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
        return fs_write_str(path, "0 100000 65536", &err);
}

/* Runs fn as pid 1 of a new pid namespace inside a new user namespace. */
static void in_userns(void (*fn)(void))
{
        int up[2], down[2], status;
        char c;
        pid_t pid;

        if (pipe(up) < 0 || pipe(down) < 0)
                return;
        pid = fork();
        if (pid == 0) {
                if (unshare(CLONE_NEWUSER) < 0 || write(up[1], "u", 1) != 1 ||
                    read(down[0], &c, 1) != 1 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 ||
                    unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC) < 0) {
                        child_ok(0, "entering the user namespace: %s", strerror(errno));
                        _exit(1);
                }
                pid = fork();
                if (pid == 0) {
                        fn();
                        _exit(0);
                }
                waitpid(pid, &status, 0);
                _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
        }
        if (read(up[0], &c, 1) != 1 || write_id_maps(pid) < 0 || write(down[1], "m", 1) != 1)
                child_ok(0, "writing the id maps");
        waitpid(pid, &status, 0);
        child_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                 "user-namespace child exited cleanly");
}

static void userns_setup_and_check(void)
{
        struct isola_err err = {0};
        int r;

        the_spec.linux.namespaces = userns_ns;
        the_spec.linux.n_namespaces = ARRAY_SIZE(userns_ns);
        r = rootfs_setup(&the_spec, rootfs, -1, false, true, &err);
        child_ok(r == 0, "rootfs_setup in a real user namespace %s", err.msg);
        if (r < 0)
                return;
        check_layout(true);
        check_paths();
}

static void userns_variant(void)
{
        in_userns(userns_setup_and_check);
}

static int chown_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return lchown(path, 100000, 100000);
}

static char *read_mountinfo(void)
{
        char *buf = NULL;
        struct isola_err err;

        fs_read_file("/proc/self/mountinfo", &buf, NULL, &err);
        return buf;
}

/* Other work on the host may add mounts meanwhile; none may disappear. */
static bool mounts_kept(char *before, const char *after)
{
        for (char *save = NULL, *l = strtok_r(before, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save))
                if (!strstr(after, l))
                        return false;
        return true;
}

static bool dir_empty(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *e;
        int n = 0;

        if (!d)
                return false;
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                        n++;
        closedir(d);
        return n == 0;
}

int main(void)
{
        char *before, *after;

        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root (mount namespaces)\n");
                return 0;
        }
        if (access("/bin/busybox", X_OK) < 0) {
                printf("1..0 # SKIP /bin/busybox (busybox-static) missing\n");
                return 0;
        }
        before = read_mountinfo();
        tap_ok(make_tree() == 0, "busybox rootfs in %s", tmp);
        build_spec(&the_spec);
        run_child(setup_and_check);
        opt_no_pivot = true;
        run_child(setup_and_check);
        opt_no_pivot = false;
        opt_userns = true;
        run_child(setup_and_check);
        run_child(bad_source);
        /* The container's root owns its rootfs in the user namespace. */
        tap_ok(nftw(rootfs, chown_entry, 16, FTW_PHYS | FTW_MOUNT) == 0,
               "rootfs chowned to 100000");
        run_child(userns_variant);
        after = read_mountinfo();
        tap_ok(before && after && mounts_kept(before, after), "no host mount lost");
        tap_ok(after && !strstr(after, tmp), "no mount leaked into the host");
        tap_ok(dir_empty(outside), "escape target on the host untouched");
        tap_ok(nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) == 0, "temp tree removed");
        free(before);
        free(after);
        return tap_done();
}
