/* POST /build (docker build, the classic builder's protocol): the body is
 * the context as a tar; the build library (src/build) builds it in a
 * worker and its log lines go out as {"stream": "..."} messages, then
 * {"aux": {"ID": ...}} and "Successfully built/tagged" as Docker writes
 * them. A failure after the 200 is an {"error", "errorDetail"} message. */
#include "api/api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/tarstream.h"
#include "build/build.h"
#include "engine/events.h"
#include "engine/engine_internal.h"
#include "image/image.h"
#include "util/fs.h"

#define CTX_MAX_BYTES   (8ull << 30)
#define CTX_MAX_ENTRIES 1000000
#define TAGS_MAX        16
#define ARGS_MAX        64

struct build_arg {
        const char *tags[TAGS_MAX];
        size_t n_tags;
        char *args[ARGS_MAX]; /* K=V, heap */
        size_t n_args;
        char *labels[ARGS_MAX];
        size_t n_labels;
        const char *dockerfile, *target;
        bool no_cache, pull, quiet, too_many;
};

static void put_msg(FILE *out, const char *key, const char *text)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, key, json_object_new_string(text));
        fprintf(out, "%s\r\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        fflush(out);
}

/* The log FILE: each write becomes a {"stream": ...} message on stdout. */
static ssize_t log_write(void *cookie, const char *buf, size_t len)
{
        char *text = strndup(buf, len);

        if (!text)
                return -1;
        put_msg(cookie, "stream", text);
        free(text);
        return (ssize_t)len;
}

static void put_error(FILE *out, const char *msg)
{
        json_object *o = json_object_new_object(), *d = json_object_new_object();

        json_object_object_add(d, "message", json_object_new_string(msg));
        json_object_object_add(o, "errorDetail", d);
        json_object_object_add(o, "error", json_object_new_string(msg));
        fprintf(out, "%s\r\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        fflush(out);
}

static int unpack_context(struct eng_ctx *e, char dir[PATH_MAX], struct isola_err *err)
{
        const struct img_unpack_limits lim = {.max_bytes = CTX_MAX_BYTES,
                                              .max_entries = CTX_MAX_ENTRIES};
        char parent[PATH_MAX], diff[IMG_DIGEST_MAX];
        uint64_t size = 0;
        int dfd, rc;

        snprintf(parent, sizeof(parent), "%s/tmp", e->paths.root);
        if (fs_mkdir_p(parent, 0700, err) < 0)
                return -1;
        if (snprintf(dir, PATH_MAX, "%s/apibuild-XXXXXX", parent) >= PATH_MAX || !mkdtemp(dir))
                return err_sys(err, "mkdtemp in '%s'", parent);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return err_sys(err, "'%s'", dir);
        rc = img_unpack_fd(STDIN_FILENO, dfd, &lim, diff, &size, err);
        close(dfd);
        if (rc < 0) {
                err->errnum = EINVAL;
                return err_prefix(err, "build context");
        }
        return 0;
}

static void finish(FILE *out, const struct build_arg *a, const char *id)
{
        char msg[600];
        json_object *o = json_object_new_object(), *aux = json_object_new_object();

        json_object_object_add(aux, "ID", json_object_new_string(id));
        json_object_object_add(o, "aux", aux);
        fprintf(out, "%s\r\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        if (a->quiet)
                return;
        snprintf(msg, sizeof(msg), "Successfully built %.12s\n", id + 7);
        put_msg(out, "stream", msg);
        for (size_t i = 0; i < a->n_tags; i++) {
                snprintf(msg, sizeof(msg), "Successfully tagged %s\n", a->tags[i]);
                put_msg(out, "stream", msg);
        }
}

static int build_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct build_arg *a = arg;
        char dir[PATH_MAX] = "", id[IMG_DIGEST_MAX];
        struct isola_err ignore = {0}, berr = {0};
        struct img_store st;
        cookie_io_functions_t io = {.write = log_write};
        FILE *log;

        if (unpack_context(e, dir, err) < 0) {
                if (dir[0])
                        eng_rmtree(dir, &ignore);
                return -1;
        }
        api_tar_status(out, "");
        log = a->quiet ? NULL : fopencookie(out, "w", io);
        if (log)
                setvbuf(log, NULL, _IOLBF, 0);
        img_store_init(&st, &e->paths, e->db);
        /* the library takes the file as a path, Docker names it in the context */
        char file[PATH_MAX * 2];
        if (a->dockerfile)
                snprintf(file, sizeof(file), "%s/%s", dir, a->dockerfile);
        struct bld_opts o = {
            .context = dir,
            .file = a->dockerfile ? file : NULL,
            .tags = a->tags,
            .n_tags = a->n_tags,
            .build_args = (const char *const *)a->args,
            .n_build_args = a->n_args,
            .labels = (const char *const *)a->labels,
            .n_labels = a->n_labels,
            .target = a->target,
            .no_cache = a->no_cache,
            .pull = a->pull,
            .log = log,
        };
        int rc = bld_build(&st, &o, id, &berr);
        if (log)
                fclose(log);
        if (rc == 0) {
                for (size_t i = 0; i < a->n_tags; i++)
                        eng_event(e->db, "image", "tag", id, "name", a->tags[i]);
                finish(out, a, id);
        } else {
                put_error(out, berr.msg);
        }
        eng_rmtree(dir, &ignore);
        fflush(out);
        return 0; /* the outcome is in the stream */
}

static enum MHD_Result collect_tag(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
        struct build_arg *a = cls;
        (void)kind;

        if (strcmp(key, "t") != 0 || !value || !value[0])
                return MHD_YES;
        if (a->n_tags == TAGS_MAX) {
                a->too_many = true;
                return MHD_NO;
        }
        a->tags[a->n_tags++] = value;
        return MHD_YES;
}

/* buildargs / labels: a JSON object of strings -> K=V list */
static const char *kv_list(const char *json, char **out, size_t *n)
{
        json_object *o;

        if (!json || !json[0])
                return NULL;
        o = json_tokener_parse(json);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return "buildargs/labels: want a JSON object";
        }
        json_object_object_foreach(o, k, v)
        {
                if (*n == ARGS_MAX) {
                        json_object_put(o);
                        return "buildargs/labels: too many";
                }
                if (json_object_is_type(v, json_type_null))
                        continue;
                if (asprintf(&out[*n], "%s=%s", k, json_object_get_string(v)) < 0) {
                        json_object_put(o);
                        return "out of memory";
                }
                (*n)++;
        }
        json_object_put(o);
        return NULL;
}

static void build_arg_free(struct build_arg *a)
{
        for (size_t i = 0; i < a->n_args; i++)
                free(a->args[i]);
        for (size_t i = 0; i < a->n_labels; i++)
                free(a->labels[i]);
}

static const char *opt_str(struct api_call *c, const char *key)
{
        const char *v = api_query(c, key);
        return v && v[0] ? v : NULL;
}

enum MHD_Result api_h_build(struct api_call *c)
{
        struct build_arg a = {.dockerfile = opt_str(c, "dockerfile"),
                              .target = opt_str(c, "target"),
                              .no_cache = api_query_bool(c, "nocache"),
                              .pull = api_query_bool(c, "pull"),
                              .quiet = api_query_bool(c, "q")};
        struct isola_err err = {0};
        struct api_stream st;
        char *line = NULL;
        const char *bad;
        enum MHD_Result r;

        if (c->body_fd < 0)
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST, "no build context in the body");
        if (a.dockerfile && (a.dockerfile[0] == '/' || strstr(a.dockerfile, "..")))
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST,
                                       "dockerfile: must be a path inside the context");
        MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, collect_tag, &a);
        bad = a.too_many ? "too many tags" : kv_list(api_query(c, "buildargs"), a.args, &a.n_args);
        if (!bad)
                bad = kv_list(api_query(c, "labels"), a.labels, &a.n_labels);
        if (bad) {
                build_arg_free(&a);
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST, bad);
        }
        if (api_tar_start(c->srv, build_work, &a, c->body_fd, &st, &line, &err) < 0)
                r = api_reply_err(c, &err);
        else
                r = api_tar_reply(c, &st, "application/json", NULL, NULL, true);
        free(line);
        build_arg_free(&a);
        return r;
}
