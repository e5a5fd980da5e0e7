/* Shared by the src/api files (not a public API). */
#ifndef ISOLA_API_INTERNAL_H
#define ISOLA_API_INTERNAL_H

#include <json-c/json.h>
#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "api/api.h"
#include "api/router.h"
#include "engine/engine.h"
#include "util/cleanup.h"

#define API_BODY_MAX    (1u << 20)   /* JSON request bodies */
#define API_EXEC_MAX    64           /* exec instances remembered */
#define API_TIMEOUT_SEC 60           /* idle connections (slow clients) */
#define API_UPLOAD_MAX  (4ull << 30) /* tar bodies (archive, load, build): spooled to a file */

struct api_exec {
        bool used, running, started;
        char id[65];
        char container[ENG_ID_LEN + 1];
        char **args, **env;
        char *user, *workdir;
        bool tty, attach_stdin;
        int exit_code;
};

struct api_server {
        char root[PATH_MAX]; /* "" = default */
        char token[512];
        size_t token_len;
        int64_t started_ns;
        pthread_mutex_t mu; /* guards execs */
        /* container creates one at a time: concurrent creates on one
         * network (docker-compose up) hit "database is locked" in the
         * network's lease update */
        pthread_mutex_t create_mu;
        struct api_exec execs[API_EXEC_MAX];
        struct {
                char id[ENG_ID_LEN + 1];
                int n;
        } attached[API_EXEC_MAX]; /* guarded by mu */
        struct MHD_Daemon *unix_d, *tcp_d;
        /* /function/ routes (fn_mount.c): the gateway, made on the first
         * request, and the connection its autoscaler writes events to */
        pthread_mutex_t fn_mu;
        struct fn_gateway *fn_gw; /* guarded by fn_mu */
        struct sqlite3 *fn_db;    /* guarded by fn_mu */
};

struct api_call {
        struct api_server *srv;
        struct MHD_Connection *conn;
        const char *method;
        struct api_match m;
        const char *body;
        size_t body_len;
        int body_fd; /* upload routes (api_route_upload): the spooled body, else -1 */
};

/* Responses; each returns MHD_queue_response's result. */
enum MHD_Result api_reply_json(struct api_call *c, unsigned status, json_object *o);
enum MHD_Result api_reply_text(struct api_call *c, unsigned status, const char *type,
                               const char *text, size_t len);
enum MHD_Result api_reply_error(struct api_call *c, unsigned status, const char *msg);
/* Docker's status for an isola error (404 not found, 409 conflict, ...). */
enum MHD_Result api_reply_err(struct api_call *c, const struct isola_err *err);
enum MHD_Result api_reply_empty(struct api_call *c, unsigned status);

const char *api_query(struct api_call *c, const char *key);
bool api_query_bool(struct api_call *c, const char *key);
/* The request body as a JSON object (an empty body is {}); NULL after a 400. */
json_object *api_body_json(struct api_call *c, enum MHD_Result *r);

/* Work in a child process (the engine forks monitors and reads its own
 * children, writes to stdout: none of that belongs in a threaded server).
 * fn writes its result to out; the parent gets it as a heap string. */
typedef int (*api_work_fn)(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err);
int api_work(struct api_server *s, api_work_fn fn, void *arg, char **out, size_t *len,
             struct isola_err *err);
/* As api_work, but the child's stdout and stderr stay pipes for streaming;
 * *pid_out is reaped by api_work_reap (its exit status: 0 = success). */
struct api_stream {
        pid_t pid;
        int out_fd, err_fd;
};
int api_work_stream(struct api_server *s, api_work_fn fn, void *arg, int stdin_fd,
                    struct api_stream *st, struct isola_err *err);
int api_work_reap(struct api_stream *st);

/* Docker's multiplexed stream: 8-byte header (stream, 0, 0, 0, size BE32). */
int api_mux_write(int fd, int stream, const void *buf, size_t len);
/* Relays a stream worker to fd (framed unless raw) until both pipes close. */
int api_relay(struct api_stream *st, int fd, bool raw);

/* Container create body -> engine config (body.c; fuzzed). */
int api_parse_create(const char *body, size_t len, const char *name, struct eng_config *out,
                     struct isola_err *err);

/* Docker-shaped container JSON (ctr_json.c). */
json_object *api_ctr_summary(const struct eng_container *ct);
json_object *api_ctr_inspect_json(const struct eng_container *ct);

/* A container's id, state and whether it has a terminal. */
int api_ctr_state(struct api_server *s, const char *ref, char id[ENG_ID_LEN + 1], char state[16],
                  bool *tty, struct isola_err *err);
/* Attach streams per container: AutoRemove waits for them before removing. */
void api_attach_hold(struct api_server *s, const char *id, int delta);
int api_attach_count(struct api_server *s, const char *id);

/* An attach over a hijacked connection (attach.c): the container's output,
 * and with `in` the client's bytes (extra first: what libmicrohttpd read
 * past the request head) to its stdin, until it stops or the client goes. */
struct api_attach {
        const char *id;
        int sock; /* blocking */
        bool tty, in, out, err, logs;
        /* running when the attach was asked for, before the 101 answer:
         * then only what it writes from now on; a start after it (docker
         * run attaches, then starts) gets all its output */
        bool was_running;
        const char *extra;
        size_t extra_len;
};
void api_attach_run(struct api_server *s, const struct api_attach *q);
/* In the container's directory when the create body had StdinOnce. */
#define API_STDIN_ONCE_FILE "api-stdin-once"

/* Starts exec slot i over a hijacked connection (streams.c). */
enum MHD_Result api_exec_hijack(struct api_call *c, int slot, bool tty);

/* apid (upload.c): routes whose tar body is spooled to an unlinked file
 * under the isola root's tmp/ instead of memory. */
bool api_route_upload(const char *method, const char *url);
int api_spool_open(struct api_server *s, struct isola_err *err);

/* Handlers (route table in routes.c). */
typedef enum MHD_Result (*api_handler)(struct api_call *c);
enum MHD_Result api_dispatch(struct api_call *c, const char *path);

enum MHD_Result api_h_ping(struct api_call *c);
enum MHD_Result api_h_version(struct api_call *c);
enum MHD_Result api_h_info(struct api_call *c);
enum MHD_Result api_h_events(struct api_call *c);
enum MHD_Result api_h_metrics(struct api_call *c);
enum MHD_Result api_h_ctr_list(struct api_call *c);
enum MHD_Result api_h_ctr_create(struct api_call *c);
enum MHD_Result api_h_ctr_inspect(struct api_call *c);
enum MHD_Result api_h_ctr_start(struct api_call *c);
enum MHD_Result api_h_ctr_stop(struct api_call *c);
enum MHD_Result api_h_ctr_restart(struct api_call *c);
enum MHD_Result api_h_ctr_kill(struct api_call *c);
enum MHD_Result api_h_ctr_wait(struct api_call *c);
enum MHD_Result api_h_ctr_delete(struct api_call *c);
enum MHD_Result api_h_ctr_pause(struct api_call *c);
enum MHD_Result api_h_ctr_unpause(struct api_call *c);
enum MHD_Result api_h_ctr_rename(struct api_call *c);
enum MHD_Result api_h_ctr_top(struct api_call *c);
enum MHD_Result api_h_ctr_stats(struct api_call *c);
enum MHD_Result api_h_ctr_logs(struct api_call *c);
enum MHD_Result api_h_ctr_attach(struct api_call *c);
enum MHD_Result api_h_ctr_resize(struct api_call *c);
enum MHD_Result api_h_exec_create(struct api_call *c);
enum MHD_Result api_h_exec_start(struct api_call *c);
enum MHD_Result api_h_exec_inspect(struct api_call *c);
enum MHD_Result api_h_img_list(struct api_call *c);
enum MHD_Result api_h_img_inspect(struct api_call *c);
enum MHD_Result api_h_img_create(struct api_call *c);
enum MHD_Result api_h_img_delete(struct api_call *c);
enum MHD_Result api_h_img_tag(struct api_call *c);
enum MHD_Result api_h_img_push(struct api_call *c);
enum MHD_Result api_h_vol_list(struct api_call *c);
enum MHD_Result api_h_vol_create(struct api_call *c);
enum MHD_Result api_h_vol_inspect(struct api_call *c);
enum MHD_Result api_h_vol_delete(struct api_call *c);
enum MHD_Result api_h_net_list(struct api_call *c);
enum MHD_Result api_h_net_inspect(struct api_call *c);
enum MHD_Result api_h_net_create(struct api_call *c);
enum MHD_Result api_h_net_delete(struct api_call *c);

/* apid, session 2: archive (cp), images get/load, build, network connect */
enum MHD_Result api_h_ctr_archive_get(struct api_call *c); /* GET and HEAD */
enum MHD_Result api_h_ctr_archive_put(struct api_call *c);
enum MHD_Result api_h_img_get(struct api_call *c);
enum MHD_Result api_h_img_get_one(struct api_call *c);
enum MHD_Result api_h_img_load(struct api_call *c);
enum MHD_Result api_h_build(struct api_call *c);
enum MHD_Result api_h_net_connect(struct api_call *c);
enum MHD_Result api_h_net_disconnect(struct api_call *c);

/* RFC 3339 with nanoseconds from unix ns ("0001-01-01T00:00:00Z" for 0). */
void api_time(int64_t ns, char *buf, size_t len);

/* The number after "KEY " on the first line that starts with it (a
 * cgroup stat file, /proc/meminfo), or on the first line when key is NULL;
 * 0 when the file or key is missing. */
uint64_t api_read_key(const char *path, const char *key);

#endif
