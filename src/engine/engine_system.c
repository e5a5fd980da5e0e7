/* system df and system prune: what containers, volumes and images use, and
 * removing what is not in use (exited containers, unused volumes, dangling
 * images through the store's prune); also directories under containers/
 * that no row explains (a create killed half-way). */
#include "engine/engine_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "engine_build.h"
#include "util/cleanup.h"
#ifdef ENGINE_HAVE_IMAGE
#include "image/image.h"
#endif

static bool has_row(struct eng_ctx *c, const char *id)
{
        char out[ENG_ID_LEN + 1];
        struct isola_err ignore = {0};
        return strlen(id) == ENG_ID_LEN && eng_resolve(c, id, out, &ignore) == 0 &&
               !strcmp(out, id);
}

/* Container dirs without a row. A create in progress holds no lock we
 * could see, so only dirs older than a minute are taken. */
static size_t remove_orphans(struct eng_ctx *c, uint64_t *bytes)
{
        char path[PATH_MAX];
        struct isola_err ignore = {0};
        size_t n = 0;

        snprintf(path, sizeof(path), "%s/containers", c->paths.root);
        _cleanup_closedir_ DIR *d = opendir(path);
        struct dirent *e;
        int64_t now = eng_now_ns();
        while (d && (e = readdir(d))) {
                struct stat sb;
                if (e->d_name[0] == '.' || has_row(c, e->d_name))
                        continue;
                eng_ctr_path(c, e->d_name, NULL, path, sizeof(path));
                if (stat(path, &sb) < 0 ||
                    now - (int64_t)sb.st_mtime * 1000000000 < 60ll * 1000000000)
                        continue;
                eng_rootfs_umount(c, e->d_name, &ignore);
                *bytes += eng_du(path);
                if (eng_rmtree(path, &ignore) == 0)
                        n++;
        }
        return n;
}

/* <root>/tmp/rm-* left by a background removal that did not finish. */
static void remove_trash(struct eng_ctx *c, uint64_t *bytes)
{
        char path[PATH_MAX];
        struct isola_err ignore = {0};

        snprintf(path, sizeof(path), "%s/tmp", c->paths.root);
        _cleanup_closedir_ DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
                if (strncmp(e->d_name, "rm-", 3) != 0)
                        continue;
                snprintf(path, sizeof(path), "%s/tmp/%s", c->paths.root, e->d_name);
                *bytes += eng_du(path);
                eng_rmtree(path, &ignore);
        }
}

int eng_system_prune(struct eng_ctx *c, bool volumes, struct eng_prune_report *out,
                     struct isola_err *err)
{
        struct eng_container **l = NULL;
        size_t n = 0;

        memset(out, 0, sizeof(*out));
        if (eng_list(c, &l, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                char path[PATH_MAX];
                if (!strcmp(l[i]->state, "running") || !strcmp(l[i]->state, "paused"))
                        continue;
                eng_ctr_path(c, l[i]->id, "upper", path, sizeof(path));
                uint64_t b = eng_du(path);
                if (eng_destroy(c, l[i]->id, false, err) < 0) {
                        eng_container_list_free(l, n);
                        return -1;
                }
                out->bytes += b;
                out->containers++;
        }
        eng_container_list_free(l, n);
        out->containers += remove_orphans(c, &out->bytes);
        remove_trash(c, &out->bytes);
        if (volumes) {
                struct eng_volume *v = NULL;
                size_t nv = 0;
                if (eng_volume_list(c, &v, &nv, err) < 0)
                        return -1;
                for (size_t i = 0; i < nv; i++)
                        if (!v[i].users)
                                out->bytes += eng_du(v[i].mountpoint);
                free(v);
                if (eng_volume_prune(c, NULL, &out->volumes, err) < 0)
                        return -1;
        }
#ifdef ENGINE_HAVE_IMAGE
        struct img_store s;
        uint64_t freed = 0;
        img_store_init(&s, &c->paths, c->db);
        if (img_prune(&s, &freed, err) < 0)
                return err_prefix(err, "image prune");
        out->bytes += freed;
#endif
        return 0;
}

int eng_system_df(struct eng_ctx *c, struct eng_df *out, struct isola_err *err)
{
        struct eng_container **l = NULL;
        struct eng_volume *v = NULL;
        size_t n = 0, nv = 0;

        memset(out, 0, sizeof(*out));
        if (eng_list(c, &l, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                char path[PATH_MAX];
                eng_ctr_path(c, l[i]->id, "upper", path, sizeof(path));
                out->containers_size += eng_du(path);
                out->containers++;
                if (!strcmp(l[i]->state, "running") || !strcmp(l[i]->state, "paused"))
                        out->containers_running++;
        }
        if (eng_volume_list(c, &v, &nv, err) < 0) {
                eng_container_list_free(l, n);
                return -1;
        }
        for (size_t i = 0; i < nv; i++) {
                out->volumes++;
                out->volumes_active += v[i].users > 0;
                out->volumes_size += eng_du(v[i].mountpoint);
        }
        free(v);
#ifdef ENGINE_HAVE_IMAGE
        struct img_store s;
        struct img_image **imgs = NULL;
        size_t ni = 0;
        img_store_init(&s, &c->paths, c->db);
        if (img_list(&s, &imgs, &ni, err) == 0) {
                for (size_t i = 0; i < ni; i++) {
                        out->images++;
                        out->images_size += (uint64_t)imgs[i]->size;
                        for (size_t k = 0; k < n; k++)
                                if (l[k]->image_id && !strcmp(l[k]->image_id, imgs[i]->id)) {
                                        out->images_active++;
                                        break;
                                }
                        img_image_free(imgs[i]);
                }
                free(imgs);
        }
        err_clear(err);
#endif
        eng_container_list_free(l, n);
        return 0;
}
