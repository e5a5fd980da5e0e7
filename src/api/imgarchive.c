/* /images/get, /images/{name}/get (docker save) and /images/load (docker
 * load): the image store's archive code (img_save, img_load) in a worker;
 * the uploaded archive is the worker's stdin (a spooled, seekable file). */
#include "api/api_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/tarstream.h"
#include "image/image.h"

#define SAVE_NAMES_MAX 64

struct save_arg {
        const char *names[SAVE_NAMES_MAX];
        size_t n;
        bool too_many;
};

static int save_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct save_arg *a = arg;
        struct img_store st;

        img_store_init(&st, &e->paths, e->db);
        /* every name must exist before the 200 goes out */
        for (size_t i = 0; i < a->n; i++) {
                struct img_image *img = NULL;
                if (img_lookup(&st, a->names[i], &img, err) < 0)
                        return err_set(err, ENOENT, "No such image: %s", a->names[i]);
                img_image_free(img);
        }
        if (api_tar_status(out, "") < 0)
                return err_set(err, EIO, "write failed");
        return img_save(&st, a->names, a->n, IMG_ARCHIVE_DOCKER, "-", err);
}

static enum MHD_Result collect_name(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
        struct save_arg *a = cls;
        (void)kind;

        if (strcmp(key, "names") != 0 || !value || !value[0])
                return MHD_YES;
        if (a->n == SAVE_NAMES_MAX) {
                a->too_many = true;
                return MHD_NO;
        }
        a->names[a->n++] = value;
        return MHD_YES;
}

static enum MHD_Result save(struct api_call *c, struct save_arg *a)
{
        struct isola_err err = {0};
        struct api_stream st;
        char *line = NULL;

        if (a->too_many)
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST, "too many names");
        if (a->n == 0)
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST, "no image names given");
        if (api_tar_start(c->srv, save_work, a, -1, &st, &line, &err) < 0)
                return api_reply_err(c, &err);
        free(line);
        return api_tar_reply(c, &st, "application/x-tar", NULL, NULL, true);
}

enum MHD_Result api_h_img_get(struct api_call *c)
{
        struct save_arg a = {.n = 0};

        MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, collect_name, &a);
        return save(c, &a);
}

enum MHD_Result api_h_img_get_one(struct api_call *c)
{
        struct save_arg a = {.n = 1};

        a.names[0] = c->m.params[0];
        return save(c, &a);
}

static int load_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        struct img_store st;
        char **names = NULL;
        bool quiet = *(const bool *)arg;

        img_store_init(&st, &e->paths, e->db);
        if (img_load(&st, "/dev/stdin", &names, err) < 0) {
                if (err->errnum != ENOMEM && err->errnum != ENOSPC)
                        err->errnum = EINVAL; /* a bad archive: the client's */
                return -1;
        }
        api_tar_status(out, "");
        for (size_t i = 0; names && names[i]; i++) {
                char msg[1024];
                json_object *o = json_object_new_object();
                snprintf(msg, sizeof(msg), "Loaded image: %s\n", names[i]);
                json_object_object_add(o, "stream", json_object_new_string(msg));
                if (!quiet || !names[i + 1])
                        fprintf(out, "%s\n", json_object_to_json_string_ext(o, 0));
                json_object_put(o);
                free(names[i]);
        }
        free(names);
        return fflush(out) == 0 ? 0 : -1;
}

enum MHD_Result api_h_img_load(struct api_call *c)
{
        struct isola_err err = {0};
        struct api_stream st;
        char *line = NULL;
        bool quiet = api_query_bool(c, "quiet");

        if (c->body_fd < 0)
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST, "no archive in the body");
        if (api_tar_start(c->srv, load_work, &quiet, c->body_fd, &st, &line, &err) < 0)
                return api_reply_err(c, &err);
        free(line);
        return api_tar_reply(c, &st, "application/json", NULL, NULL, true);
}
