/* The VMM process of a managed VM: builds the machine on the monitor's
 * console pipes, serves the control socket from a thread, says "ok" to the
 * monitor and runs the guest until it stops or SIGTERM/SIGINT arrives (a
 * clean stop: devices flushed, TAPs gone). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "vmm/ctl.h"
#include "vmm/mgr_internal.h"
#include "vmm/snapshot.h"

struct vmm_ctx {
        struct machine *m;
        const struct vm_row *row;
        const struct machine_config *cfg;
        struct timespec t0;
        struct snapshot_ctl snap; /* snap's routes */
        /* an incoming migration: true until PUT /incoming loaded the state;
         * go_fd then gets 'K' (loaded) or 'F' (failed: the VMM exits) */
        bool incoming;
        int go_fd;
};

static bool is_incoming(struct vmm_ctx *c)
{
        return __atomic_load_n(&c->incoming, __ATOMIC_SEQ_CST);
}

static void get_root(void *opaque, const struct ctl_request *req, struct ctl_response *resp)
{
        struct vmm_ctx *c = opaque;
        struct timespec now;
        (void)req;

        clock_gettime(CLOCK_MONOTONIC, &now);
        resp->body = json_object_new_object();
        json_object_object_add(resp->body, "id", json_object_new_string(c->row->id));
        json_object_object_add(resp->body, "name", json_object_new_string(c->row->name));
        json_object_object_add(resp->body, "state",
                               json_object_new_string(is_incoming(c)         ? "Incoming"
                                                      : machine_paused(c->m) ? "Paused"
                                                                             : "Running"));
        json_object_object_add(resp->body, "vmm_pid", json_object_new_int(getpid()));
        json_object_object_add(resp->body, "uptime_ms",
                               json_object_new_int64((now.tv_sec - c->t0.tv_sec) * 1000 +
                                                     (now.tv_nsec - c->t0.tv_nsec) / 1000000));
}

static void get_config(void *opaque, const struct ctl_request *req, struct ctl_response *resp)
{
        struct vmm_ctx *c = opaque;
        (void)req;

        resp->body = machine_config_to_json(c->cfg);
}

static void get_stats(void *opaque, const struct ctl_request *req, struct ctl_response *resp)
{
        struct vmm_ctx *c = opaque;
        (void)req;

        resp->body = machine_stats_json(c->m);
        if (!resp->body)
                ctl_reply_error(resp, 500, "out of memory");
}

/* The string member `key` of a JSON object body; NULL (with the answer
 * set) when the body is not such an object. */
static const char *body_string(const struct ctl_request *req, const char *key,
                               struct json_object **root, struct ctl_response *resp)
{
        struct json_object *v;

        *root = json_tokener_parse(req->body);
        if (!*root || !json_object_is_type(*root, json_type_object) ||
            !json_object_object_get_ex(*root, key, &v) ||
            !json_object_is_type(v, json_type_string)) {
                ctl_reply_error(resp, 400, "expected a JSON object with a string \"%s\"", key);
                return NULL;
        }
        return json_object_get_string(v);
}

static void put_vm(void *opaque, const struct ctl_request *req, struct ctl_response *resp)
{
        struct vmm_ctx *c = opaque;
        struct json_object *root = NULL;
        struct isola_err err = {0};
        const char *state = body_string(req, "state", &root, resp);

        if (!state)
                goto out;
        if (snapshot_ctl_refuse_incoming(&c->incoming, resp))
                goto out;
        if (!strcmp(state, "Paused")) {
                if (machine_pause(c->m, &err) < 0)
                        ctl_reply_error(resp, 409, "%s", err.msg);
                else
                        resp->status = 204;
        } else if (!strcmp(state, "Resumed")) {
                machine_resume(c->m);
                resp->status = 204;
        } else {
                ctl_reply_error(resp, 400, "\"state\" must be \"Paused\" or \"Resumed\"");
        }
out:
        json_object_put(root);
}

static void put_actions(void *opaque, const struct ctl_request *req, struct ctl_response *resp)
{
        struct vmm_ctx *c = opaque;
        struct json_object *root = NULL;
        const char *action = body_string(req, "action_type", &root, resp);

        if (!action)
                goto out;
        if (snapshot_ctl_refuse_incoming(&c->incoming, resp))
                goto out;
        if (!strcmp(action, "PowerButton")) {
                machine_power_button(c->m);
                resp->status = 204;
        } else {
                ctl_reply_error(resp, 400, "unknown action_type '%s' (PowerButton)", action);
        }
out:
        json_object_put(root);
}

/* PUT /incoming {"dir": SNAPDIR}: the received snapshot is complete. */
static void put_incoming(void *opaque, const struct ctl_request *req, struct ctl_response *resp)
{
        struct vmm_ctx *c = opaque;
        struct json_object *root = NULL;
        struct isola_err err = {0};
        const char *dir = body_string(req, "dir", &root, resp);

        if (!dir)
                goto out;
        if (!is_incoming(c)) {
                ctl_reply_error(resp, 409, "this VM is not waiting for a migration");
        } else if (dir[0] != '/') {
                ctl_reply_error(resp, 400, "\"dir\" must be an absolute path");
        } else if (snapshot_restore_incoming(c->m, c->cfg, dir, &err) < 0) {
                /* half loaded: this VMM cannot run any more */
                ctl_reply_error(resp, 400, "%s", err.msg);
                (void)!write(c->go_fd, "F", 1);
        } else {
                __atomic_store_n(&c->incoming, false, __ATOMIC_SEQ_CST);
                resp->status = 204;
                (void)!write(c->go_fd, "K", 1);
        }
out:
        json_object_put(root);
}

static int add_routes(struct ctl_server *s, struct vmm_ctx *c, struct isola_err *err)
{
        if (ctl_route_add(s, "GET", "/", get_root, c, err) < 0 ||
            ctl_route_add(s, "GET", "/machine-config", get_config, c, err) < 0 ||
            ctl_route_add(s, "GET", "/stats", get_stats, c, err) < 0 ||
            ctl_route_add(s, "PUT", "/vm", put_vm, c, err) < 0 ||
            ctl_route_add(s, "PUT", "/actions", put_actions, c, err) < 0 ||
            (c->incoming && ctl_route_add(s, "PUT", "/incoming", put_incoming, c, err) < 0))
                return -1;
        /* snap routes: snapshot/migration routes are registered here. */
        if (snapshot_ctl_register(s, &c->snap, c->m, c->cfg, err) < 0)
                return -1;
        c->snap.incoming = &c->incoming;
        return 0;
}

/* Waits for PUT /incoming to load the state: 0 when it did; -1 when it
 * failed, a signal came (*signo) or the receiver died first. */
static int wait_incoming(int go_rd, pid_t receiver, const sigset_t *sigs, int *signo)
{
        _cleanup_close_ int sfd = signalfd(-1, sigs, SFD_CLOEXEC);
        _cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, receiver, 0);
        struct pollfd fds[3] = {{.fd = go_rd, .events = POLLIN},
                                {.fd = sfd, .events = POLLIN},
                                {.fd = pfd, .events = POLLIN}};
        char go = 0;

        if (pfd < 0) /* gone already (or no pidfd): nobody will send the state */
                return -1;
        for (;;) {
                if (poll(fds, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                if (fds[0].revents & POLLIN)
                        break;
                struct signalfd_siginfo si;
                if (fds[1].revents & POLLIN && read(sfd, &si, sizeof(si)) == sizeof(si)) {
                        *signo = (int)si.ssi_signo;
                        return -1;
                }
                if (fds[2].revents & POLLIN)
                        return -1;
        }
        return read(go_rd, &go, 1) == 1 && go == 'K' ? 0 : -1;
}

static void close_pair(int fds[2])
{
        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

static void tell(int fd, const char *fmt, const char *msg)
{
        dprintf(fd, fmt, msg);
        close(fd);
}

int mgr_vmm_main(const struct vm_row *row, const struct vm_paths *p,
                 const struct machine_config *cfg, int con_in, int con_out, int ready_fd)
{
        struct vmm_ctx c = {.row = row, .cfg = cfg};
        struct isola_err err = {0};
        struct ctl_server *ctl = NULL;
        sigset_t sigs;
        int signo = 0;

        clock_gettime(CLOCK_MONOTONIC, &c.t0);
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGHUP);
        sigprocmask(SIG_BLOCK, &sigs, NULL);
        /* snap: `vm restore/revert` left a request: boot from the snapshot. */
        struct machine_config run_cfg = *cfg;
        char restore[PATH_MAX];
        pid_t receiver = 0;
        int go[2] = {-1, -1};
        if (snapshot_take_restore(p->data_dir, restore, sizeof(restore)) > 0) {
                run_cfg.restore_dir = restore;
        } else if (snapshot_take_incoming(p->data_dir, &receiver) > 0) {
                if (pipe2(go, O_CLOEXEC) < 0) {
                        tell(ready_fd, "error: pipe: %s\n", strerror(errno));
                        return VM_EXIT_VMM_ERROR;
                }
                run_cfg.restore_dir = p->data_dir; /* the state comes later */
                run_cfg.restore_deferred = true;
                c.incoming = true;
                c.go_fd = go[1];
        }
        if (machine_create(&run_cfg, con_in, con_out, &c.m, &err) < 0) {
                tell(ready_fd, "error: %s\n", err.msg);
                close_pair(go);
                return VM_EXIT_VMM_ERROR;
        }
        if (ctl_server_new(p->ctl, &ctl, &err) < 0 || add_routes(ctl, &c, &err) < 0 ||
            ctl_server_start(ctl, &err) < 0) {
                tell(ready_fd, "error: %s\n", err.msg);
                close_pair(go);
                ctl_server_free(ctl);
                machine_destroy(c.m);
                return VM_EXIT_VMM_ERROR;
        }
        tell(ready_fd, "%s\n", "ok");
        if (c.incoming && wait_incoming(go[0], receiver, &sigs, &signo) < 0) {
                ctl_server_free(ctl);
                machine_destroy(c.m);
                close_pair(go);
                return signo ? 128 + signo : VM_EXIT_VMM_ERROR;
        }
        close_pair(go);
        enum vm_exit_reason reason = machine_run(c.m, &sigs, &signo, &err);
        /* The control socket goes first: no request may see a half-freed
         * machine. */
        ctl_server_free(ctl);
        if (reason == VM_EXIT_TRIPLE_FAULT || reason == VM_EXIT_INTERNAL)
                fprintf(stderr, "\r\nisola: guest stopped: %s\r\n", machine_failure(c.m));
        else if (reason == VM_EXIT_VMM_ERROR)
                fprintf(stderr, "\r\nisola: %s\r\n", err.msg);
        machine_destroy(c.m);
        return reason == VM_EXIT_SIGNAL ? 128 + signo : (int)reason;
}
