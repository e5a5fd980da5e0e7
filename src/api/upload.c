/* Routes with tar bodies (docker cp into a container, docker load, docker
 * build): the body can be far larger than API_BODY_MAX, so it goes to an
 * unlinked file under the isola root's tmp/ (the store's file system, not a
 * tmpfs in RAM) and the worker reads it as its stdin. Nothing is left
 * behind: the file has no name and closes with the request. */
#include "api/api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "util/fs.h"

static const struct api_route uploads[] = {
    {"PUT", "/containers/{id}/archive"},
    {"POST", "/images/load"},
    {"POST", "/build"},
};

bool api_route_upload(const char *method, const char *url)
{
        struct api_match m;

        api_route_match(uploads, ARRAY_SIZE(uploads), method, url, &m);
        return m.route >= 0;
}

int api_spool_open(struct api_server *s, struct isola_err *err)
{
        struct db_paths paths;
        char dir[PATH_MAX + 8];
        int fd;

        if (db_paths_resolve(s->root[0] ? s->root : NULL, &paths, err) < 0)
                return -1;
        snprintf(dir, sizeof(dir), "%s/tmp", paths.root);
        if (fs_mkdir_p(dir, 0700, err) < 0)
                return -1;
        fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0)
                return fd;
        /* file systems without O_TMPFILE: a name unlinked at once */
        char tmpl[PATH_MAX + 32];
        snprintf(tmpl, sizeof(tmpl), "%s/upload-XXXXXX", dir);
        fd = mkostemp(tmpl, O_CLOEXEC);
        if (fd < 0)
                return err_sys(err, "spool file in '%s'", dir);
        unlink(tmpl);
        return fd;
}
