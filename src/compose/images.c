/* Images of a compose project: pulled (image:) through the registry client,
 * built (build:) through `isola build`'s library, tagged with the service's
 * image name (image:, or <project>-<service>). */
#include "compose/engine_ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "image/registry.h"

bool cmp_real_image_present(struct cmp_real *r, const char *image)
{
        struct img_store s;
        struct img_image *img = NULL;
        struct isola_err ignore = {0};

        img_store_init(&s, &r->eng.paths, r->eng.db);
        if (img_lookup(&s, image, &img, &ignore) < 0)
                return false;
        img_image_free(img);
        return true;
}

int cmp_real_pull(struct cmp_real *r, const char *image, FILE *progress, struct isola_err *err)
{
        struct img_store s;
        struct reg_opts o = {.root = r->eng.paths.root, .progress = progress};
        char id[IMG_DIGEST_MAX];

        img_store_init(&s, &r->eng.paths, r->eng.db);
        if (reg_pull(&s, image, &o, id, err) < 0)
                return err_prefix(err, "pull %s", image);
        return 0;
}

int cmp_real_build(struct cmp_real *r, const struct cmp_service *s, FILE *log,
                   struct isola_err *err)
{
        struct img_store st;
        struct reg_opts reg = {.root = r->eng.paths.root};
        char tag[CMP_CTR_NAME_MAX], id[IMG_DIGEST_MAX];
        const char *tags[1] = {tag};
        const char **args = calloc(s->build.args.n + 1, sizeof(*args));
        struct bld_opts o = {.context = s->build.context,
                             .file = s->build.dockerfile,
                             .tags = tags,
                             .n_tags = 1,
                             .target = s->build.target,
                             .log = log,
                             .reg = &reg};
        int rc;

        if (!args)
                return err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < s->build.args.n; i++) {
                const struct cmp_kv *kv = &s->build.args.v[i];

                /* K without a value: from the environment, as --build-arg K */
                args[i] = kv->val ? cmp_printf((struct cmp_arena *)&r->p->arena, "%s=%s", kv->key,
                                               kv->val)
                                  : kv->key;
                if (!args[i]) {
                        free(args);
                        return err_set(err, ENOMEM, "out of memory");
                }
        }
        o.build_args = args;
        o.n_build_args = s->build.args.n;
        cmp_service_image(r->p, s, tag, sizeof(tag));
        img_store_init(&st, &r->eng.paths, r->eng.db);
        rc = bld_build(&st, &o, id, err);
        free(args);
        return rc < 0 ? err_prefix(err, "build of service %s", s->name) : 0;
}
