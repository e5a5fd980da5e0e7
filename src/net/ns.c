/* Named network namespaces for containers: <runroot>/netns/<id> is a bind
 * mount of a namespace made by a short-lived thread (the way `ip netns add`
 * does it), so the namespace outlives its processes and the engine can put
 * the path into the OCI spec. The directory is a shared mount point, so an
 * unmount here also leaves the copies other mount namespaces made. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/net_internal.h"
#include "util/fs.h"

static int ns_dir(struct net_ctx *c, char out[PATH_MAX], struct isola_err *err)
{
        struct stat st;
        if (snprintf(out, PATH_MAX, "%s/netns", c->paths.runroot) >= PATH_MAX)
                return err_set(err, ENAMETOOLONG, "runroot '%s': path too long", c->paths.runroot);
        return stat(out, &st) == 0 ? 0 : fs_mkdir_p(out, 0700, err);
}

static int valid_id(const char *id, struct isola_err *err)
{
        size_t len = strlen(id);
        if (!len || len > 128 || strchr(id, '/') || id[0] == '.')
                return err_set(err, EINVAL, "container id '%s' is not valid", id);
        return 0;
}

int net_ns_path(struct net_ctx *c, const char *container_id, char path_out[PATH_MAX],
                struct isola_err *err)
{
        char dir[PATH_MAX];
        struct stat st;
        if (valid_id(container_id, err) < 0 || ns_dir(c, dir, err) < 0)
                return -1;
        if (snprintf(path_out, PATH_MAX, "%s/%s", dir, container_id) >= PATH_MAX)
                return err_set(err, ENAMETOOLONG, "netns path too long");
        if (stat(path_out, &st) < 0)
                return err_sys(err, "network namespace of container '%s'", container_id);
        return 0;
}

static int make_shared(const char *dir, struct isola_err *err)
{
        if (mount("", dir, NULL, MS_SHARED | MS_REC, NULL) == 0)
                return 0;
        if (errno != EINVAL)
                return err_sys(err, "making '%s' a shared mount", dir);
        /* Not a mount point yet: bind it onto itself first. */
        if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) < 0 ||
            mount("", dir, NULL, MS_SHARED | MS_REC, NULL) < 0)
                return err_sys(err, "making '%s' a shared mount", dir);
        return 0;
}

static int new_ns_thread(void *arg, struct isola_err *err)
{
        const char *path = arg;
        /* This thread's namespace only; the thread ends right after. */
        if (unshare(CLONE_NEWNET) < 0)
                return err_sys(err, "unshare(CLONE_NEWNET)");
        if (mount("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL) < 0)
                return err_sys(err, "bind-mounting the namespace on '%s'", path);
        /* As podman and ip netns users expect: loopback works from the start
         * (also for --network container:ID joiners). */
        return net_lo_up(err);
}

int net_ns_create(struct net_ctx *c, const char *container_id, char path_out[PATH_MAX],
                  struct isola_err *err)
{
        char dir[PATH_MAX];
        if (valid_id(container_id, err) < 0)
                return -1;
        int lk = net_lock(c, err), rc = -1;
        if (lk < 0)
                return -1;
        if (ns_dir(c, dir, err) < 0 || make_shared(dir, err) < 0)
                goto out;
        if (snprintf(path_out, PATH_MAX, "%s/%s", dir, container_id) >= PATH_MAX) {
                rc = err_set(err, ENAMETOOLONG, "netns path too long");
                goto out;
        }
        int fd = open(path_out, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
        if (fd < 0) {
                rc = err_sys(err, "network namespace '%s'", path_out);
                goto out;
        }
        close(fd);
        if (net_in_netns(NULL, new_ns_thread, path_out, err) < 0)
                goto fail;
        rc = 0;
        goto out;
fail:
        unlink(path_out);
out:
        net_unlock(lk);
        return rc < 0 ? err_prefix(err, "container '%s'", container_id) : 0;
}

static bool dir_empty(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        bool empty = true;
        if (!d)
                return false;
        while (empty && (de = readdir(d)))
                empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
        closedir(d);
        return empty;
}

int net_ns_remove(struct net_ctx *c, const char *container_id, struct isola_err *err)
{
        char dir[PATH_MAX], path[PATH_MAX];
        if (valid_id(container_id, err) < 0 || ns_dir(c, dir, err) < 0)
                return -1;
        if (snprintf(path, sizeof(path), "%s/%s", dir, container_id) >= (int)sizeof(path))
                return err_set(err, ENAMETOOLONG, "netns path too long");
        int lk = net_lock(c, err);
        if (lk < 0)
                return -1;
        int rc = 0;
        if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                rc = err_sys(err, "unmounting '%s'", path);
        else if (unlink(path) < 0 && errno != ENOENT)
                rc = err_sys(err, "removing '%s'", path);
        /* The last namespace gone: drop the shared mount point as well, so
         * the runroot can be removed (never while it holds another one: the
         * unmount would take their mounts with it). */
        if (rc == 0 && dir_empty(dir) && umount2(dir, MNT_DETACH) == 0)
                rmdir(dir);
        net_unlock(lk);
        return rc;
}
