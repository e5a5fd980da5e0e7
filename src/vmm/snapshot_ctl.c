/* The control socket routes of snapshots, in the VMM process of a managed
 * VM: PUT /snapshot {"snapshot_path": DIR} pauses the vCPUs, saves the
 * machine into DIR and resumes (a VM that was paused stays paused); with
 * "live": true memory is copied while the guest runs and the vCPUs pause
 * only for the last dirty pages and the state. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/ctl.h"
#include "vmm/machine.h"
#include "vmm/migrate.h"
#include "vmm/snapshot.h"

static double ms_since(const struct timespec *t0)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

bool snapshot_ctl_refuse_incoming(const bool *incoming, struct ctl_response *resp)
{
        if (!incoming || !__atomic_load_n(incoming, __ATOMIC_SEQ_CST))
                return false;
        ctl_reply_error(resp, 409, "the VM is still being received (migration)");
        return true;
}

static void put_snapshot(void *opaque, const struct ctl_request *req, struct ctl_response *resp)
{
        struct snapshot_ctl *c = opaque;
        if (snapshot_ctl_refuse_incoming(c->incoming, resp))
                return;
        struct json_object *root = json_tokener_parse(req->body), *v;
        struct isola_err err = {0};
        struct snapshot_stats st;
        struct timespec t0;

        if (!root || !json_object_is_type(root, json_type_object) ||
            !json_object_object_get_ex(root, "snapshot_path", &v) ||
            !json_object_is_type(v, json_type_string) || json_object_get_string(v)[0] != '/') {
                ctl_reply_error(resp, 400, "expected {\"snapshot_path\": \"/absolute/dir\"}");
                goto out;
        }
        bool was_paused = machine_paused(c->m);
        struct json_object *lv;
        bool live = !was_paused && json_object_object_get_ex(root, "live", &lv) &&
                    json_object_get_boolean(lv);
        int rc;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (live) {
                /* the vCPUs pause inside, for the last dirty pages */
                rc = snapshot_save_live(c->m, c->cfg, json_object_get_string(v), &st, &err);
                if (st.paused_here) {
                        t0 = st.paused_at;
                        machine_resume(c->m);
                }
        } else {
                if (!was_paused && machine_pause(c->m, &err) < 0) {
                        ctl_reply_error(resp, 409, "%s", err.msg);
                        goto out;
                }
                rc = snapshot_save(c->m, c->cfg, json_object_get_string(v), &st, &err);
                if (!was_paused)
                        machine_resume(c->m);
        }
        double paused_ms = live && !st.paused_here ? 0 : ms_since(&t0);
        if (rc < 0) {
                ctl_reply_error(resp, err.errnum == EEXIST ? 409 : 500, "%s", err.msg);
                goto out;
        }
        resp->status = 200;
        resp->body = json_object_new_object();
        json_object_object_add(resp->body, "paused_ms", json_object_new_double(paused_ms));
        json_object_object_add(resp->body, "save_ms", json_object_new_double(st.save_ms));
        json_object_object_add(resp->body, "memory_bytes",
                               json_object_new_int64((int64_t)st.memory_bytes));
        json_object_object_add(resp->body, "memory_written",
                               json_object_new_int64((int64_t)st.memory_written));
        json_object_object_add(resp->body, "live", json_object_new_boolean(live));
        if (live) {
                json_object_object_add(resp->body, "rounds", json_object_new_int((int)st.rounds));
                json_object_object_add(resp->body, "last_dirty_pages",
                                       json_object_new_int64((int64_t)st.last_pages));
        }
out:
        json_object_put(root);
}

/* The progress file a migrating CLI reads (an existing regular file, its
 * absolute path in the request); -1 when there is none or it is unusable. */
static int open_progress(struct json_object *root)
{
        struct json_object *v;
        struct stat sb;

        if (!json_object_object_get_ex(root, "progress_path", &v) ||
            !json_object_is_type(v, json_type_string) || json_object_get_string(v)[0] != '/')
                return -1;
        int fd = open(json_object_get_string(v), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))) {
                close(fd);
                return -1;
        }
        return fd;
}

static const char *json_str(struct json_object *o, const char *key)
{
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                   ? json_object_get_string(v)
                   : NULL;
}

/* PUT /migrate {"to": "ADDR:PORT", "downtime_ms": N, "progress_path": F,
 * "tls_cert", "tls_key", "tls_ca": PEM files (all or none), "tls_name":
 * the name the destination's certificate must have (default: ADDR)}:
 * live migration; on success the VM stays paused here (the caller stops
 * this VMM). */
static void put_migrate(void *opaque, const struct ctl_request *req, struct ctl_response *resp)
{
        struct snapshot_ctl *c = opaque;
        if (snapshot_ctl_refuse_incoming(c->incoming, resp))
                return;
        struct json_object *root = json_tokener_parse(req->body), *to, *dt;
        struct isola_err err = {0};
        struct migrate_stats st;

        if (!root || !json_object_is_type(root, json_type_object) ||
            !json_object_object_get_ex(root, "to", &to) ||
            !json_object_is_type(to, json_type_string)) {
                ctl_reply_error(resp, 400, "expected {\"to\": \"ADDR:PORT\"}");
                goto out;
        }
        int64_t downtime =
            json_object_object_get_ex(root, "downtime_ms", &dt) ? json_object_get_int64(dt) : 300;
        if (downtime < 1 || downtime > 60000) {
                ctl_reply_error(resp, 400, "\"downtime_ms\" must be 1-60000");
                goto out;
        }
        struct migrate_tls tls = {json_str(root, "tls_cert"), json_str(root, "tls_key"),
                                  json_str(root, "tls_ca"), json_str(root, "tls_name")};
        if (migrate_tls_check(&tls, &err) < 0) {
                ctl_reply_error(resp, 400, "%s", err.msg);
                goto out;
        }
        int pfd = open_progress(root);
        int rc = migrate_send(c->m, c->cfg, json_object_get_string(to), &tls, (unsigned)downtime,
                              pfd, &st, &err);
        if (pfd >= 0)
                close(pfd);
        if (rc < 0) {
                ctl_reply_error(resp, 502, "%s", err.msg);
                goto out;
        }
        resp->status = 200;
        resp->body = json_object_new_object();
        json_object_object_add(resp->body, "rounds", json_object_new_int((int)st.rounds));
        json_object_object_add(resp->body, "bytes_sent",
                               json_object_new_int64((int64_t)st.bytes_sent));
        json_object_object_add(resp->body, "total_ms", json_object_new_double(st.total_ms));
        json_object_object_add(resp->body, "downtime_ms", json_object_new_double(st.downtime_ms));
        json_object_object_add(resp->body, "last_dirty_pages",
                               json_object_new_int64((int64_t)st.last_dirty_pages));
        json_object_object_add(resp->body, "est_downtime_ms",
                               json_object_new_double(st.est_downtime_ms));
out:
        json_object_put(root);
}

int snapshot_ctl_register(struct ctl_server *s, struct snapshot_ctl *c, struct machine *m,
                          const struct machine_config *cfg, struct isola_err *err)
{
        *c = (struct snapshot_ctl){.m = m, .cfg = cfg};
        if (ctl_route_add(s, "PUT", "/snapshot", put_snapshot, c, err) < 0)
                return -1;
        return ctl_route_add(s, "PUT", "/migrate", put_migrate, c, err);
}

#define RESTORE_REQUEST  "restore-request"
#define INCOMING_REQUEST "incoming-request"

/* data_dir/name holds text, durably (temp file, fsync, rename). */
static int write_request(const char *data_dir, const char *name, const char *text,
                         struct isola_err *err)
{
        char path[PATH_MAX], tmp[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", data_dir, name);
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        if (mkdir(data_dir, 0700) < 0 && errno != EEXIST)
                return err_sys(err, "'%s'", data_dir);
        FILE *f = fopen(tmp, "we");
        if (!f)
                return err_sys(err, "restore request '%s'", tmp);
        fprintf(f, "%s", text);
        if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
                fclose(f);
                unlink(tmp);
                return err_sys(err, "restore request '%s'", tmp);
        }
        fclose(f);
        if (rename(tmp, path) < 0) {
                unlink(tmp);
                return err_sys(err, "restore request '%s'", path);
        }
        return 0;
}

/* Reads and removes data_dir/name; its length, 0 when there is none. */
static size_t take_request(const char *data_dir, const char *name, char *out, size_t len)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", data_dir, name);
        FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        size_t n = fread(out, 1, len - 1, f);
        fclose(f);
        unlink(path);
        out[n] = 0;
        return n;
}

int snapshot_request_restore(const char *data_dir, const char *snap_dir, struct isola_err *err)
{
        return write_request(data_dir, RESTORE_REQUEST, snap_dir, err);
}

int snapshot_take_restore(const char *data_dir, char *out, size_t len)
{
        return take_request(data_dir, RESTORE_REQUEST, out, len) > 0 && out[0] == '/' ? 1 : 0;
}

int snapshot_request_incoming(const char *data_dir, pid_t receiver, struct isola_err *err)
{
        char text[32];

        snprintf(text, sizeof(text), "%d", (int)receiver);
        return write_request(data_dir, INCOMING_REQUEST, text, err);
}

int snapshot_take_incoming(const char *data_dir, pid_t *receiver)
{
        char text[32], *end = NULL;

        if (take_request(data_dir, INCOMING_REQUEST, text, sizeof(text)) == 0)
                return 0;
        long pid = strtol(text, &end, 10);
        if (end == text || *end || pid <= 0 || pid > INT32_MAX)
                return 0;
        *receiver = (pid_t)pid;
        return 1;
}
