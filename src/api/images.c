/* /images/...: list, inspect, pull (progress stream), tag, delete, push. */
#include "api/api_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "image/registry.h"

struct img_op {
        int kind; /* 0 list, 1 inspect, 2 tag, 3 delete */
        const char *name, *target;
        bool force;
};

static json_object *strv_json(char **v)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; v && v[i]; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static int list(struct img_store *st, FILE *out, struct isola_err *err)
{
        struct img_image **l = NULL;
        size_t n = 0;
        json_object *a = json_object_new_array();

        if (img_list(st, &l, &n, err) < 0) {
                json_object_put(a);
                return -1;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "Id", json_object_new_string(l[i]->id));
                json_object_object_add(o, "ParentId", json_object_new_string(""));
                json_object_object_add(o, "RepoTags", strv_json(l[i]->names));
                json_object_object_add(o, "RepoDigests", json_object_new_array());
                json_object_object_add(o, "Created",
                                       json_object_new_int64(l[i]->created / 1000000000));
                json_object_object_add(o, "Size", json_object_new_int64(l[i]->size));
                json_object_object_add(o, "VirtualSize", json_object_new_int64(l[i]->size));
                json_object_object_add(o, "SharedSize", json_object_new_int(-1));
                json_object_object_add(o, "Labels", json_object_new_object());
                json_object_object_add(o, "Containers", json_object_new_int(-1));
                json_object_array_add(a, o);
                img_image_free(l[i]);
        }
        free(l);
        fputs(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN), out);
        json_object_put(a);
        return 0;
}

/* img_inspect_json gives podman's fields (a superset of what the docker
 * CLI reads: Id, RepoTags, Config, ...); Docker answers one object. */
static int inspect(struct img_store *st, const char *name, FILE *out, struct isola_err *err)
{
        struct img_image *img = NULL;
        _cleanup_free_ char *text = NULL;
        json_object *a, *o;

        if (img_lookup(st, name, &img, err) < 0)
                return err_set(err, ENOENT, "No such image: %s", name);
        text = img_inspect_json(&img, 1, err);
        img_image_free(img);
        if (!text)
                return -1;
        a = json_tokener_parse(text);
        o = a && json_object_is_type(a, json_type_array) ? json_object_array_get_idx(a, 0) : NULL;
        if (!o) {
                json_object_put(a);
                return err_set(err, EIO, "image inspect: bad JSON");
        }
        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), out);
        json_object_put(a);
        return 0;
}

static int img_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct img_op *op = arg;
        struct img_store st;

        img_store_init(&st, &e->paths, e->db);
        switch (op->kind) {
        case 0:
                return list(&st, out, err);
        case 1:
                return inspect(&st, op->name, out, err);
        case 2:
                return img_tag(&st, op->name, op->target, err);
        default:
                if (img_remove(&st, op->name, op->force, err) < 0)
                        return -1;
                fprintf(out, "%s", op->name);
                return 0;
        }
}

static enum MHD_Result run(struct api_call *c, struct img_op *op, unsigned status)
{
        struct isola_err err = {0};
        _cleanup_free_ char *out = NULL;
        size_t len;

        if (api_work(c->srv, img_work, op, &out, &len, &err) < 0) {
                if (err.errnum == ENOENT && !strstr(err.msg, "No such image"))
                        snprintf(err.msg, sizeof(err.msg), "No such image: %s", op->name);
                return api_reply_err(c, &err);
        }
        if (op->kind == 3) {
                json_object *a = json_object_new_array(), *o = json_object_new_object();
                json_object_object_add(o, "Untagged", json_object_new_string(op->name));
                json_object_array_add(a, o);
                return api_reply_json(c, MHD_HTTP_OK, a);
        }
        if (op->kind == 2)
                return api_reply_empty(c, MHD_HTTP_CREATED);
        return api_reply_text(c, status, "application/json", out, len);
}

enum MHD_Result api_h_img_list(struct api_call *c)
{
        return run(c, &(struct img_op){.kind = 0}, MHD_HTTP_OK);
}

enum MHD_Result api_h_img_inspect(struct api_call *c)
{
        return run(c, &(struct img_op){.kind = 1, .name = c->m.params[0]}, MHD_HTTP_OK);
}

enum MHD_Result api_h_img_delete(struct api_call *c)
{
        struct img_op op = {.kind = 3, .name = c->m.params[0], .force = api_query_bool(c, "force")};
        return run(c, &op, MHD_HTTP_OK);
}

enum MHD_Result api_h_img_tag(struct api_call *c)
{
        const char *repo = api_query(c, "repo"), *tag = api_query(c, "tag");
        char target[1024];

        if (!repo || !*repo)
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST, "repo is required");
        snprintf(target, sizeof(target), "%s%s%s", repo, tag && *tag ? ":" : "",
                 tag && *tag ? tag : "");
        return run(c, &(struct img_op){.kind = 2, .name = c->m.params[0], .target = target},
                   MHD_HTTP_CREATED);
}

/* ---- pull and push: JSON progress messages, one per line ---- */

struct xfer_arg {
        char name[1024];
        bool push;
        const char *root;
};

static int xfer_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct xfer_arg *a = arg;
        struct img_store st;
        struct reg_opts o = {.root = e->paths.root, .progress = out};
        char id[IMG_DIGEST_MAX];

        img_store_init(&st, &e->paths, e->db);
        if (a->push)
                return reg_push(&st, a->name, NULL, &o, id, err);
        if (reg_pull(&st, a->name, &o, id, err) < 0)
                return -1;
        fprintf(out, "\nDigest: %s\nStatus: Downloaded newer image for %s\n", id, a->name);
        return 0;
}

struct xfer_reader {
        struct api_stream st;
        char line[4096];
        size_t len;
        bool done;
};

static ssize_t put_msg(char *buf, size_t max, const char *key, const char *text)
{
        json_object *o = json_object_new_object();
        size_t len;
        const char *s;

        json_object_object_add(o, key, json_object_new_string(text));
        if (strcmp(key, "error") == 0) {
                json_object *d = json_object_new_object();
                json_object_object_add(d, "message", json_object_new_string(text));
                json_object_object_add(o, "errorDetail", d);
        }
        s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
        if (len + 2 > max)
                len = max - 2;
        memcpy(buf, s, len);
        buf[len++] = '\r';
        buf[len++] = '\n';
        json_object_put(o);
        return (ssize_t)len;
}

/* Progress lines (\r or \n ended) become {"status": line}; a failure the
 * worker wrote on stderr becomes {"error": ...} (the HTTP status is 200
 * already, as with Docker). */
static ssize_t xfer_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        struct xfer_reader *r = cls;
        (void)pos;

        if (r->done)
                return MHD_CONTENT_READER_END_OF_STREAM;
        while (r->st.out_fd >= 0) {
                char ch;
                ssize_t n = read(r->st.out_fd, &ch, 1);
                if (n <= 0) {
                        close(r->st.out_fd);
                        r->st.out_fd = -1;
                        break;
                }
                if (ch != '\n' && ch != '\r' && r->len < sizeof(r->line) - 1) {
                        r->line[r->len++] = ch;
                        continue;
                }
                if (r->len == 0)
                        continue;
                r->line[r->len] = '\0';
                r->len = 0;
                return put_msg(buf, max, "status", r->line);
        }
        char msg[2048] = "";
        ssize_t n = read(r->st.err_fd, msg, sizeof(msg) - 1);
        int code = api_work_reap(&r->st);
        r->done = true;
        if (code == 0)
                return MHD_CONTENT_READER_END_OF_STREAM;
        msg[n > 0 ? n : 0] = '\0';
        msg[strcspn(msg, "\n")] = '\0';
        return put_msg(buf, max, "error", msg[0] ? msg : "pull failed");
}

static void xfer_free(void *cls)
{
        struct xfer_reader *r = cls;
        api_work_reap(&r->st);
        free(r);
}

static enum MHD_Result xfer(struct api_call *c, struct xfer_arg *a)
{
        struct isola_err err = {0};
        struct xfer_reader *r = calloc(1, sizeof(*r));
        struct MHD_Response *resp;
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        if (api_work_stream(c->srv, xfer_work, a, -1, &r->st, &err) < 0) {
                free(r);
                return api_reply_err(c, &err);
        }
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, xfer_read, r, xfer_free);
        if (!resp) {
                xfer_free(r);
                return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
        ret = MHD_queue_response(c->conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
}

enum MHD_Result api_h_img_create(struct api_call *c)
{
        const char *from = api_query(c, "fromImage"), *tag = api_query(c, "tag");
        struct xfer_arg a = {0};

        if (!from || !*from)
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST,
                                       "fromImage is required (import is not supported)");
        /* tag may also be a digest */
        snprintf(a.name, sizeof(a.name), "%s%s%s", from,
                 tag && *tag ? (strncmp(tag, "sha256:", 7) == 0 ? "@" : ":") : "",
                 tag && *tag ? tag : "");
        return xfer(c, &a);
}

enum MHD_Result api_h_img_push(struct api_call *c)
{
        const char *tag = api_query(c, "tag");
        struct xfer_arg a = {.push = true};

        snprintf(a.name, sizeof(a.name), "%s%s%s", c->m.params[0], tag && *tag ? ":" : "",
                 tag && *tag ? tag : "");
        return xfer(c, &a);
}
