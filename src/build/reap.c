/* Leftovers of builds that were killed (SIGKILL, a crash, Ctrl-C): their
 * scratch dirs <root>/tmp/build-<pid>-*, overlay mounts inside them, and
 * RUN containers <runroot>/build-ctr/isola-build-<pid>-*. Names carry the
 * builder's pid, so the next build removes exactly those whose builder is
 * gone and never touches a build that is still running. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "build/build_internal.h"
#include "ctr/container.h"
#include "util/cleanup.h"

/* The pid in "<prefix><pid>-...", 0 when the name is not ours. */
static pid_t owner(const char *name, const char *prefix)
{
        size_t n = strlen(prefix);
        if (strncmp(name, prefix, n) != 0)
                return 0;
        char *end;
        long pid = strtol(name + n, &end, 10);
        return (*end == '-' && pid > 0 && pid < (1L << 22)) ? (pid_t)pid : 0;
}

static bool gone(pid_t pid)
{
        return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Lazily unmounts everything mounted below dir, deepest first. */
static void unmount_below(const char *dir)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096], *mounts[256];
        size_t n = 0, len = strlen(dir);
        while (f && n < ARRAY_SIZE(mounts) && fgets(line, sizeof(line), f)) {
                char *save = NULL, *field = strtok_r(line, " ", &save);
                for (int i = 1; field && i < 5; i++)
                        field = strtok_r(NULL, " ", &save);
                if (field && !strncmp(field, dir, len) && field[len] == '/')
                        mounts[n++] = strdup(field);
        }
        while (n-- > 0) {
                if (mounts[n])
                        umount2(mounts[n], MNT_DETACH);
                free(mounts[n]);
        }
}

void bld_reap(struct bld_ctx *c, const char *tmpdir)
{
        _cleanup_closedir_ DIR *d = opendir(tmpdir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                pid_t pid = owner(de->d_name, "build-");
                if (!pid || !gone(pid))
                        continue;
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
                unmount_below(path);
                bld_rmtree(path);
        }
        _cleanup_closedir_ DIR *cd = opendir(c->ctr_root);
        struct ctr_opts opts = {.root = c->ctr_root};
        while (cd && (de = readdir(cd))) {
                pid_t pid = owner(de->d_name, "isola-build-");
                struct isola_err err = {0};
                if (pid && gone(pid))
                        ctr_delete(&opts, de->d_name, true, &err);
        }
}
