/* The engine's view of the image store: an image's config (for the spec)
 * and its unpacked layer dirs (for the overlay). Built against
 * image/image.h; without the store's sources (ENGINE_HAVE_IMAGE unset) only
 * --rootfs containers exist. */
#include "engine/engine_internal.h"
#include "engine/health.h"

#include "engine_build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef ENGINE_HAVE_IMAGE
#include "image/image.h"

static char **strv_dup(char **v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        if (!v)
                return NULL;
        char **r = calloc(n + 1, sizeof(*r));
        for (size_t i = 0; r && i < n; i++)
                r[i] = strdup(v[i]);
        return r;
}

static char *str_dup(const char *s)
{
        return s ? strdup(s) : NULL;
}

int eng_image_resolve(struct eng_ctx *c, const char *name, char **image_id, char **image_name,
                      struct eng_image_info *info, struct isola_err *err)
{
        struct img_store s;
        struct img_image *img = NULL;

        img_store_init(&s, &c->paths, c->db);
        if (img_lookup(&s, name, &img, err) < 0)
                return -1;
        *image_id = strdup(img->id);
        *image_name = strdup(img->names && img->names[0] ? img->names[0] : name);
        memset(info, 0, sizeof(*info));
        info->env = strv_dup(img->config.env);
        info->entrypoint = strv_dup(img->config.entrypoint);
        info->cmd = strv_dup(img->config.cmd);
        info->volumes = strv_dup(img->config.volumes);
        info->exposed = strv_dup(img->config.exposed_ports);
        info->working_dir = str_dup(img->config.working_dir);
        info->user = str_dup(img->config.user);
        info->stop_signal = str_dup(img->config.stop_signal);
        eng_healthcheck_from_image(img->config.raw, &info->health);
        info->layer_dirs = strv_dup(img->layer_dirs);
        info->n_layers = img->n_layers;
        img_image_free(img);
        return 0;
}

int eng_image_layers(struct eng_ctx *c, const char *image_id, char ***dirs, size_t *n,
                     struct isola_err *err)
{
        struct img_store s;
        struct img_image *img = NULL;

        img_store_init(&s, &c->paths, c->db);
        if (img_lookup(&s, image_id, &img, err) < 0)
                return -1;
        *dirs = strv_dup(img->layer_dirs);
        *n = img->n_layers;
        img_image_free(img);
        if (!*dirs)
                return err_set(err, ENOMEM, "out of memory");
        return 0;
}
#else
int eng_image_resolve(struct eng_ctx *c, const char *name, char **image_id, char **image_name,
                      struct eng_image_info *info, struct isola_err *err)
{
        (void)c;
        (void)image_id;
        (void)image_name;
        (void)info;
        return err_set(err, ENOTSUP, "image '%s': this build has no image store", name);
}

int eng_image_layers(struct eng_ctx *c, const char *image_id, char ***dirs, size_t *n,
                     struct isola_err *err)
{
        (void)c;
        (void)dirs;
        (void)n;
        return err_set(err, ENOTSUP, "image '%s': this build has no image store", image_id);
}
#endif

static void strv_free(char **v)
{
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

void eng_image_info_free(struct eng_image_info *i)
{
        strv_free(i->env);
        strv_free(i->entrypoint);
        strv_free(i->cmd);
        strv_free(i->volumes);
        strv_free(i->exposed);
        strv_free(i->layer_dirs);
        free(i->working_dir);
        free(i->user);
        free(i->stop_signal);
        eng_healthcheck_free(&i->health);
        memset(i, 0, sizeof(*i));
}
