/* /isola/v1/vms: managed VMs through the VM manager (src/vmm/mgr.h). Its
 * functions are weak references here: the API works in a build whose
 * binary does not carry the manager (the routes answer 501 then) and uses
 * it as soon as the binary does. Each call runs in a worker, as the
 * engine's do: the manager forks monitors and opens the database. */
#include "api/v1.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/fs.h"
#include "vmm/machine.h"
#include "vmm/mgr.h"
#include "vmm/snapshot_mgr.h"

#pragma weak vm_mgr_open
#pragma weak vm_mgr_close
#pragma weak vm_mgr_create
#pragma weak vm_mgr_start
#pragma weak vm_mgr_stop
#pragma weak vm_mgr_rm
#pragma weak vm_mgr_list
#pragma weak vm_mgr_inspect
#pragma weak vm_mgr_path
#pragma weak vm_snap_create
#pragma weak vm_snap_list
#pragma weak vm_snap_rm
#pragma weak vm_snap_restore

#define CONSOLE_TAIL (64u << 10) /* bytes of console.log without follow */

/* Every function this file calls: the manager's objects are pulled into
 * the binary by the CLI's references, one object file at a time. */
bool v1_have_vms(void)
{
        return vm_mgr_open && vm_mgr_close && vm_mgr_create && vm_mgr_start && vm_mgr_stop &&
               vm_mgr_rm && vm_mgr_list && vm_mgr_inspect && vm_mgr_path;
}

enum MHD_Result v1_no_vms(struct api_call *c)
{
        return api_reply_error(c, MHD_HTTP_NOT_IMPLEMENTED,
                               "VMs: this isola binary has no VM manager (src/vmm/mgr.c)");
}

/* ---- per-process usage of a VMM (its CPU time and resident memory) ---- */
static void proc_usage(pid_t pid, double *cpu_s, uint64_t *rss)
{
        char path[64], buf[1024];
        unsigned long long ut = 0, st = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        f = fopen(path, "re");
        if (f) {
                const char *p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
                /* after "(comm)": state ppid pgrp session tty tpgid flags minflt
                 * cminflt majflt cmajflt utime stime */
                if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                                &st) == 2)
                        *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
                fclose(f);
        }
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return;
        while (fgets(buf, sizeof(buf), f))
                if (strncmp(buf, "VmRSS:", 6) == 0)
                        *rss = strtoull(buf + 6, NULL, 10) * 1024;
        fclose(f);
}

static const char *jstr(json_object *o, const char *key)
{
        json_object *v = NULL;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static int64_t jint(json_object *o, const char *key)
{
        json_object *v = NULL;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

int v1_vm_counts(struct eng_ctx *e, struct v1_vm_counts *out, json_object *workloads,
                 struct isola_err *err)
{
        struct vm_mgr *m = NULL;
        json_object *l = NULL;

        *out = (struct v1_vm_counts){0};
        if (!v1_have_vms())
                return 0;
        if (vm_mgr_open(e->paths.root, &m, err) < 0)
                return -1;
        if (vm_mgr_list(m, &l, err) < 0) {
                vm_mgr_close(m);
                return -1;
        }
        vm_mgr_close(m);
        out->total = json_object_array_length(l);
        for (size_t i = 0; i < out->total; i++) {
                json_object *v = json_object_array_get_idx(l, i);
                const char *state = jstr(v, "state");
                double cpu = 0;
                uint64_t rss = 0;
                if (strcmp(state, "running") != 0 && strcmp(state, "paused") != 0)
                        continue;
                out->running++;
                if (jint(v, "vmm_pid") > 0)
                        proc_usage((pid_t)jint(v, "vmm_pid"), &cpu, &rss);
                out->cpu_s += cpu;
                out->mem += rss;
                if (!workloads)
                        continue;
                json_object *w = json_object_new_object();
                json_object_object_add(w, "kind", json_object_new_string("vm"));
                json_object_object_add(w, "id", json_object_new_string(jstr(v, "id")));
                json_object_object_add(w, "name", json_object_new_string(jstr(v, "name")));
                json_object_object_add(w, "state", json_object_new_string(state));
                json_object_object_add(w, "cpu_seconds", json_object_new_double(cpu));
                json_object_object_add(w, "memory_bytes", json_object_new_int64((int64_t)rss));
                json_object_array_add(workloads, w);
        }
        json_object_put(l);
        return 0;
}

/* ---- the operations, in a worker --------------------------------------- */
enum vm_op {
        VM_LIST,
        VM_CREATE,
        VM_GET,
        VM_DELETE,
        VM_START,
        VM_STOP,
        VM_COUNTERS,
        VM_LOG,
        VM_SNAP_LIST,
        VM_SNAP_CREATE,
        VM_SNAP_RM,
        VM_RESTORE,
        VM_REVERT
};

struct vm_arg {
        enum vm_op op;
        const char *ref;
        const char *snap; /* VM_SNAP_RM */
        bool force;
        unsigned timeout;
        json_object *body; /* VM_CREATE, VM_SNAP_CREATE, VM_RESTORE, VM_REVERT */
};

static const char *state_of(struct vm_mgr *m, const char *ref, json_object **keep,
                            struct isola_err *err)
{
        if (vm_mgr_inspect(m, ref, keep, err) < 0)
                return NULL;
        return jstr(*keep, "state");
}

static int create(struct vm_mgr *m, json_object *body, FILE *out, struct isola_err *err)
{
        json_object *name = NULL, *cfg_json = NULL, *o = NULL;
        struct machine_config cfg;
        char id[65];
        int rc;

        if (!json_object_object_get_ex(body, "name", &name) ||
            !json_object_is_type(name, json_type_string))
                return err_set(err, EINVAL, "name: want a string");
        if (!json_object_object_get_ex(body, "config", &cfg_json) ||
            !json_object_is_type(cfg_json, json_type_object))
                return err_set(err, EINVAL, "config: want the machine description (an object)");
        machine_config_init(&cfg);
        rc = machine_config_load_string(&cfg, json_object_to_json_string(cfg_json), "config", err);
        if (rc == 0)
                rc = vm_mgr_create(m, json_object_get_string(name), &cfg, id, err);
        machine_config_free(&cfg);
        if (rc < 0 || vm_mgr_inspect(m, id, &o, err) < 0)
                return -1;
        return v1_emit(out, o);
}

/* Writes the status (204 done, 304 nothing to do) for start and stop. */
static int start_stop(struct vm_mgr *m, const struct vm_arg *a, FILE *out, struct isola_err *err)
{
        json_object *keep = NULL;
        const char *st = state_of(m, a->ref, &keep, err);
        bool live;
        int rc;

        if (!st)
                return -1;
        live = strcmp(st, "running") == 0 || strcmp(st, "paused") == 0;
        json_object_put(keep);
        if (live == (a->op == VM_START)) {
                fputs("304", out);
                return 0;
        }
        rc = a->op == VM_START ? vm_mgr_start(m, a->ref, err)
                               : vm_mgr_stop(m, a->ref, a->timeout, err);
        if (rc == 0)
                fputs("204", out);
        return rc;
}

static int counters(struct vm_mgr *m, const char *ref, FILE *out, struct isola_err *err)
{
        json_object *v = NULL, *stats = NULL, *o = json_object_new_object();

        if (vm_mgr_inspect(m, ref, &v, err) < 0) {
                json_object_put(o);
                return -1;
        }
        json_object_object_add(o, "name", json_object_new_string(jstr(v, "name")));
        json_object_object_add(o, "state", json_object_new_string(jstr(v, "state")));
        if (json_object_object_get_ex(v, "exit_code", NULL))
                json_object_object_add(o, "exit_code",
                                       json_object_new_int((int)jint(v, "exit_code")));
        if (jstr(v, "exit_reason")[0])
                json_object_object_add(o, "exit_reason",
                                       json_object_new_string(jstr(v, "exit_reason")));
        if (json_object_object_get_ex(v, "stats", &stats) &&
            json_object_is_type(stats, json_type_object))
                json_object_object_add(o, "stats", json_object_get(stats));
        else
                json_object_object_add(o, "stats", json_object_new_object());
        json_object_put(v);
        return v1_emit(out, o);
}

/* The end of the console log (the whole of it up to CONSOLE_TAIL). */
static int console_log(struct vm_mgr *m, const char *ref, FILE *out, struct isola_err *err)
{
        char path[PATH_MAX], buf[8192];
        _cleanup_close_ int fd = -1;
        off_t size;
        ssize_t n;

        if (vm_mgr_path(m, ref, "log", path, sizeof(path), err) < 0)
                return -1;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : err_sys(err, "open '%s'", path); /* never started */
        size = lseek(fd, 0, SEEK_END);
        if (size > (off_t)CONSOLE_TAIL)
                lseek(fd, size - (off_t)CONSOLE_TAIL, SEEK_SET);
        else
                lseek(fd, 0, SEEK_SET);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                fwrite(buf, 1, (size_t)n, out);
        return n < 0 ? err_sys(err, "read '%s'", path) : 0;
}

/* ---- snapshots (issue #13): the library the CLI uses ---------------- */
static bool have_snaps(void)
{
        return v1_have_vms() && vm_snap_create && vm_snap_list && vm_snap_rm && vm_snap_restore;
}

/* body[key] as a string, NULL when absent; err when present but not one. */
int v1_body_str(json_object *body, const char *key, bool required, const char **out,
                struct isola_err *err)
{
        json_object *v = NULL;

        *out = NULL;
        if (!json_object_object_get_ex(body, key, &v))
                return required ? err_set(err, EINVAL, "%s: want a string", key) : 0;
        if (!json_object_is_type(v, json_type_string))
                return err_set(err, EINVAL, "%s: want a string", key);
        *out = json_object_get_string(v);
        return 0;
}

static int snap_op(struct vm_mgr *m, const struct vm_arg *a, json_object **o, struct isola_err *err)
{
        const char *snap = NULL, *clone = NULL;

        switch (a->op) {
        case VM_SNAP_LIST:
                return vm_snap_list(m, a->ref, o, err);
        case VM_SNAP_RM:
                return vm_snap_rm(m, a->ref, a->snap, err);
        case VM_SNAP_CREATE:
                if (v1_body_str(a->body, "name", true, &snap, err) < 0)
                        return -1;
                json_object *lv = NULL;
                if (json_object_object_get_ex(a->body, "live", &lv) &&
                    !json_object_is_type(lv, json_type_boolean))
                        return err_set(err, EINVAL, "live: want true or false");
                return vm_snap_create(m, a->ref, snap, lv && json_object_get_boolean(lv), o, err);
        default:
                break;
        }
        if (v1_body_str(a->body, "snapshot", true, &snap, err) < 0 ||
            (a->op == VM_RESTORE && v1_body_str(a->body, "name", false, &clone, err) < 0) ||
            vm_snap_restore(m, a->ref, snap, clone, a->op == VM_REVERT, err) < 0)
                return -1;
        return vm_mgr_inspect(m, clone ? clone : a->ref, o, err);
}

static int vm_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct vm_arg *a = arg;
        struct vm_mgr *m = NULL;
        json_object *o = NULL;
        int rc = -1;

        if (vm_mgr_open(e->paths.root, &m, err) < 0)
                return -1;
        switch (a->op) {
        case VM_LIST:
                rc = vm_mgr_list(m, &o, err);
                break;
        case VM_GET:
                rc = vm_mgr_inspect(m, a->ref, &o, err);
                break;
        case VM_CREATE:
                rc = create(m, a->body, out, err);
                break;
        case VM_DELETE:
                rc = vm_mgr_rm(m, a->ref, a->force, err);
                break;
        case VM_START:
        case VM_STOP:
                rc = start_stop(m, a, out, err);
                break;
        case VM_COUNTERS:
                rc = counters(m, a->ref, out, err);
                break;
        case VM_LOG:
                rc = console_log(m, a->ref, out, err);
                break;
        case VM_SNAP_LIST:
        case VM_SNAP_CREATE:
        case VM_SNAP_RM:
        case VM_RESTORE:
        case VM_REVERT:
                rc = snap_op(m, a, &o, err);
                break;
        }
        vm_mgr_close(m);
        if (rc == 0 && o)
                v1_emit(out, o);
        return rc;
}

static enum MHD_Result simple(struct api_call *c, enum vm_op op)
{
        struct vm_arg a = {.op = op, .ref = c->m.n_params ? c->m.params[0] : NULL};

        if (!v1_have_vms())
                return v1_no_vms(c);
        return v1_reply_work(c, vm_work, &a);
}

enum MHD_Result api_v1_vm_list(struct api_call *c)
{
        return simple(c, VM_LIST);
}

enum MHD_Result api_v1_vm_get(struct api_call *c)
{
        return simple(c, VM_GET);
}

enum MHD_Result api_v1_vm_counters(struct api_call *c)
{
        return simple(c, VM_COUNTERS);
}

enum MHD_Result api_v1_vm_create(struct api_call *c)
{
        struct vm_arg a = {.op = VM_CREATE};
        enum MHD_Result r;

        if (!v1_have_vms())
                return v1_no_vms(c);
        a.body = api_body_json(c, &r);
        if (!a.body)
                return r;
        r = v1_reply_work_status(c, MHD_HTTP_CREATED, vm_work, &a);
        json_object_put(a.body);
        return r;
}

/* start, stop, delete: an empty answer with the worker's status */
static enum MHD_Result action(struct api_call *c, struct vm_arg *a)
{
        struct isola_err err = {0};
        _cleanup_free_ char *out = NULL;
        size_t len = 0;

        if (!v1_have_vms())
                return v1_no_vms(c);
        a->ref = c->m.params[0];
        if (api_work(c->srv, vm_work, a, &out, &len, &err) < 0)
                return err.errnum == ENOTCONN ? api_reply_error(c, MHD_HTTP_CONFLICT, err.msg)
                                              : api_reply_err(c, &err);
        return api_reply_empty(c, strcmp(out, "304") == 0 ? MHD_HTTP_NOT_MODIFIED
                                                          : MHD_HTTP_NO_CONTENT);
}

enum MHD_Result api_v1_vm_delete(struct api_call *c)
{
        struct vm_arg a = {.op = VM_DELETE, .force = api_query_bool(c, "force")};
        return action(c, &a);
}

enum MHD_Result api_v1_vm_start(struct api_call *c)
{
        struct vm_arg a = {.op = VM_START};
        return action(c, &a);
}

enum MHD_Result api_v1_vm_stop(struct api_call *c)
{
        struct vm_arg a = {.op = VM_STOP, .timeout = 10};
        const char *t = api_query(c, "t");

        if (t) {
                char *end = NULL;
                long v = strtol(t, &end, 10);
                if (end == t || *end || v < 0 || v > 3600)
                        return api_reply_error(c, MHD_HTTP_BAD_REQUEST,
                                               "t: want seconds (0 to 3600)");
                a.timeout = (unsigned)v;
        }
        return action(c, &a);
}

enum MHD_Result api_v1_vm_snap_list(struct api_call *c)
{
        if (!have_snaps())
                return v1_no_vms(c);
        return simple(c, VM_SNAP_LIST);
}

enum MHD_Result api_v1_vm_snap_delete(struct api_call *c)
{
        struct vm_arg a = {.op = VM_SNAP_RM, .snap = c->m.params[1]};

        if (!have_snaps())
                return v1_no_vms(c);
        return action(c, &a);
}

/* snapshot create (201), restore (201 with a new VM's name, else 200),
 * revert (200): a JSON body, the snapshot's or the VM's object back */
static enum MHD_Result with_body(struct api_call *c, enum vm_op op)
{
        struct vm_arg a = {.op = op, .ref = c->m.params[0]};
        unsigned status = MHD_HTTP_OK;
        enum MHD_Result r;

        if (!have_snaps())
                return v1_no_vms(c);
        a.body = api_body_json(c, &r);
        if (!a.body)
                return r;
        if (!json_object_is_type(a.body, json_type_object)) {
                json_object_put(a.body);
                return api_reply_error(c, MHD_HTTP_BAD_REQUEST, "want a JSON object");
        }
        if (op == VM_SNAP_CREATE ||
            (op == VM_RESTORE && json_object_object_get_ex(a.body, "name", NULL)))
                status = MHD_HTTP_CREATED;
        r = v1_reply_work_status(c, status, vm_work, &a);
        json_object_put(a.body);
        return r;
}

enum MHD_Result api_v1_vm_snap_create(struct api_call *c)
{
        return with_body(c, VM_SNAP_CREATE);
}

enum MHD_Result api_v1_vm_restore(struct api_call *c)
{
        return with_body(c, VM_RESTORE);
}

enum MHD_Result api_v1_vm_revert(struct api_call *c)
{
        return with_body(c, VM_REVERT);
}

/* ---- console: the log so far, or the live stream (follow) ------------- */
/* Waits at most a second for console bytes: an idle guest prints nothing
 * for long, and MHD notices a client that went away only between calls. */
static ssize_t console_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        struct pollfd pf = {.fd = (int)(intptr_t)cls, .events = POLLIN};
        ssize_t n;
        (void)pos;

        if (poll(&pf, 1, 1000) == 0)
                return 0;
        do
                n = read(pf.fd, buf, max);
        while (n < 0 && errno == EINTR);
        return n > 0 ? n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void console_free(void *cls)
{
        close((int)(intptr_t)cls);
}

static int console_path_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        struct vm_mgr *m = NULL;
        char path[PATH_MAX];
        int rc;

        if (vm_mgr_open(e->paths.root, &m, err) < 0)
                return -1;
        rc = vm_mgr_path(m, arg, "console", path, sizeof(path), err);
        vm_mgr_close(m);
        if (rc == 0)
                fputs(path, out);
        return rc;
}

enum MHD_Result api_v1_vm_console(struct api_call *c)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct isola_err err = {0};
        _cleanup_free_ char *path = NULL;
        struct MHD_Response *r;
        enum MHD_Result ret;
        size_t len = 0;
        int fd;

        if (!v1_have_vms())
                return v1_no_vms(c);
        if (!api_query_bool(c, "follow")) {
                struct vm_arg a = {.op = VM_LOG, .ref = c->m.params[0]};
                _cleanup_free_ char *text = NULL;
                if (api_work(c->srv, vm_work, &a, &text, &len, &err) < 0)
                        return api_reply_err(c, &err);
                return api_reply_text(c, MHD_HTTP_OK, "text/plain; charset=utf-8", text, len);
        }
        if (api_work(c->srv, console_path_work, c->m.params[0], &path, &len, &err) < 0)
                return api_reply_err(c, &err);
        if (len >= sizeof(sa.sun_path))
                return api_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "console path too long");
        memcpy(sa.sun_path, path, len + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                if (fd >= 0)
                        close(fd);
                return api_reply_error(c, MHD_HTTP_CONFLICT,
                                       "the VM is not running (no console to follow)");
        }
        shutdown(fd, SHUT_WR); /* the stream is read-only here */
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, console_read,
                                              (void *)(intptr_t)fd, console_free);
        if (!r) {
                close(fd);
                return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
        ret = MHD_queue_response(c->conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}
