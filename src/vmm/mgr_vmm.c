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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "vmm/ctl.h"
#include "vmm/mgr_internal.h"
#include "vmm/migrate.h"
#include "vmm/snapshot.h"

struct vmm_ctx {
        struct machine *m;
        const struct vm_row *row;
        const struct machine_config *cfg;
        struct timespec t0;
        struct snapshot_ctl snap; /* snap's routes */
        const char *log;          /* console.log, which con_out writes */
        int con_out;
        /* an incoming migration: true until the state is loaded (the main
         * thread, wait_incoming and run_incoming) */
        bool incoming;
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

/* The monitor has renamed console.log to console.log.1 (rotation): the
 * console writes on in a new console.log. dup2 swaps the descriptor the
 * console devices (and stderr) write through in one step, so each byte
 * lands in one file or the other. */
static void put_console_reopen(void *opaque, const struct ctl_request *req,
                               struct ctl_response *resp)
{
        struct vmm_ctx *c = opaque;
        int fd = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        (void)req;

        if (fd < 0 || dup2(fd, c->con_out) < 0 || dup2(fd, STDERR_FILENO) < 0)
                ctl_reply_error(resp, 500, "console log '%s': %s", c->log, strerror(errno));
        else
                resp->status = 204;
        if (fd >= 0)
                close(fd);
}

static int add_routes(struct ctl_server *s, struct vmm_ctx *c, struct isola_err *err)
{
        if (ctl_route_add(s, "GET", "/", get_root, c, err) < 0 ||
            ctl_route_add(s, "GET", "/machine-config", get_config, c, err) < 0 ||
            ctl_route_add(s, "GET", "/stats", get_stats, c, err) < 0 ||
            ctl_route_add(s, "PUT", "/vm", put_vm, c, err) < 0 ||
            ctl_route_add(s, "PUT", "/actions", put_actions, c, err) < 0 ||
            ctl_route_add(s, "PUT", "/console/reopen", put_console_reopen, c, err) < 0)
                return -1;
        /* snap routes: snapshot/migration routes are registered here. */
        if (snapshot_ctl_register(s, &c->snap, c->m, c->cfg, err) < 0)
                return -1;
        c->snap.incoming = &c->incoming;
        return 0;
}

/* The receiver's connection on the go socket (lfd): only the receiver
 * itself (SO_PEERCRED) is taken; then the socket file goes. -1 when
 * accept fails. */
static int take_receiver(int lfd, const char *path, pid_t receiver)
{
        struct ucred uc;
        socklen_t len = sizeof(uc);
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0)
                return errno == EINTR || errno == ECONNABORTED ? -2 : -1;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 || uc.pid != receiver) {
                close(fd);
                return -2; /* not the receiver: wait on */
        }
        unlink(path);
        return fd;
}

/* The receiver's side of an incoming migration, as the main thread sees
 * it (go socket messages, migrate.h): "M" + DIR maps DIR/memory as guest
 * RAM while it still fills, "G" + DIR (the snapshot complete) loads it;
 * "H" + DIR with the stream's connection: this VMM reads the rest of the
 * stream into DIR itself, then loads it. */
struct go_wait {
        int lfd, conn;
        int stream; /* the handed-over migration stream, or -1 */
        const char *path;
        pid_t receiver;
        char mapped[PATH_MAX];      /* the directory whose memory is mapped, or "" */
        struct migrate_state state; /* from the handed-over stream, or none */
};

/* What came on the go socket; 1 with the "G" directory in dir, 2 with the
 * "H" directory and g->stream, 0 to wait on, -1 when the receiver went. */
static int go_event(struct vmm_ctx *c, struct go_wait *g, short revents, char *dir, size_t len)
{
        if (g->conn < 0) {
                int fd = revents & POLLIN ? take_receiver(g->lfd, g->path, g->receiver) : -2;
                if (fd >= 0)
                        g->conn = fd;
                return fd == -1 ? -1 : 0;
        }
        if (!(revents & (POLLIN | POLLHUP | POLLERR)))
                return 0;
        struct isola_err err = {0};
        int passed;
        char type = migrate_go_recv(g->conn, dir, len, &passed);
        if (type == 'H' && passed >= 0) {
                g->stream = passed;
                return 2;
        }
        if (passed >= 0)
                close(passed);
        switch (type) {
        case 'M': /* a failure is seen again when the state is loaded */
                if (snapshot_map_incoming(c->m, dir, &err) == 0)
                        snprintf(g->mapped, sizeof(g->mapped), "%s", dir);
                return 0;
        case 'G':
                return 1;
        default:
                return -1;
        }
}

/* A failed incoming migration: the source resumes its VM ("F" on a
 * handed-over stream), the receiver removes this one ("F" and why). */
static void refuse_incoming(struct go_wait *g, const struct isola_err *err)
{
        char answer[ISOLA_ERR_MSG_MAX + 1];

        snprintf(answer, sizeof(answer), "F%s", err->msg);
        if (g->stream >= 0)
                (void)send(g->stream, "F", 1, MSG_NOSIGNAL);
        (void)send(g->conn, answer, strlen(answer), MSG_NOSIGNAL);
}

/* The handed-over stream up to its end record; a signal that stopped it
 * goes to *signo. */
static int take_stream(struct vmm_ctx *c, struct go_wait *g, int sfd, int pfd, int *signo,
                       const char *dir)
{
        struct isola_err err = {0};
        const int watch[2] = {pfd, sfd};
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        struct signalfd_siginfo si;

        if (migrate_handoff_recv(g->stream, dir, (uint64_t)c->cfg->memory_mib << 20, watch,
                                 &g->state, &err) == 0)
                return 0;
        if (poll(&p, 1, 0) == 1 && read(sfd, &si, sizeof(si)) == sizeof(si))
                *signo = (int)si.ssi_signo;
        refuse_incoming(g, &err);
        return -1;
}

/* Waits (the main thread) for the receiver to connect to the go socket and
 * send the complete snapshot's directory: 0 with it in dir; -1 when a
 * signal came (*signo), the receiver died or closed the connection first:
 * nobody will send the state. */
static int wait_incoming(struct vmm_ctx *c, struct go_wait *g, const sigset_t *sigs, int *signo,
                         char *dir, size_t len)
{
        _cleanup_close_ int sfd = signalfd(-1, sigs, SFD_CLOEXEC);
        _cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, g->receiver, 0);
        struct pollfd fds[3] = {{.fd = g->lfd, .events = POLLIN},
                                {.fd = sfd, .events = POLLIN},
                                {.fd = pfd, .events = POLLIN}};

        if (pfd < 0) /* gone already (or no pidfd) */
                return -1;
        for (;;) {
                if (poll(fds, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                struct signalfd_siginfo si;
                if (fds[1].revents & POLLIN && read(sfd, &si, sizeof(si)) == sizeof(si)) {
                        *signo = (int)si.ssi_signo;
                        return -1;
                }
                if (fds[2].revents & POLLIN)
                        return -1;
                int rc = go_event(c, g, fds[0].revents, dir, len);
                if (rc == 2)
                        return take_stream(c, g, sfd, pfd, signo, dir);
                if (rc != 0)
                        return rc > 0 ? 0 : -1;
                fds[0].fd = g->conn >= 0 ? g->conn : g->lfd;
        }
}

/* The state is here (dir): load it, let the vCPUs run, then tell the
 * receiver ("K", or "F" and the reason: this VMM then exits) and, when the
 * stream is here, the source. */
static int run_incoming(struct vmm_ctx *c, struct go_wait *g, const char *dir,
                        struct isola_err *err)
{
        bool mapped = !strcmp(g->mapped, dir);

        if (snapshot_restore_incoming(c->m, c->cfg, dir, mapped, g->state.buf, g->state.len, err) <
                0 ||
            machine_release(c->m, err) < 0) {
                refuse_incoming(g, err);
                return -1;
        }
        __atomic_store_n(&c->incoming, false, __ATOMIC_SEQ_CST);
        /* The receiver first: gone now, nobody keeps this VM, so the source
         * must resume its own ("F"), and this one must not run. */
        if (send(g->conn, "K", 1, MSG_NOSIGNAL) != 1) {
                if (g->stream >= 0)
                        (void)send(g->stream, "F", 1, MSG_NOSIGNAL);
                return err_sys(err, "incoming migration: the receiver");
        }
        if (g->stream >= 0)
                (void)send(g->stream, "K", 1, MSG_NOSIGNAL);
        return 0;
}

static void close_go(struct go_wait *g)
{
        free(g->state.buf);
        g->state = (struct migrate_state){0};
        if (g->stream >= 0)
                close(g->stream);
        g->stream = -1;
        if (g->lfd >= 0) {
                close(g->lfd);
                unlink(g->path);
        }
        if (g->conn >= 0)
                close(g->conn);
}

static void tell(int fd, const char *fmt, const char *msg)
{
        dprintf(fd, fmt, msg);
        close(fd);
}

int mgr_vmm_main(const struct vm_row *row, const struct vm_paths *p,
                 const struct machine_config *cfg, int con_in, int con_out, int ready_fd)
{
        struct vmm_ctx c = {.row = row, .cfg = cfg, .log = p->log, .con_out = con_out};
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
        char dir[PATH_MAX];
        struct go_wait g = {.lfd = -1, .conn = -1, .stream = -1, .path = p->go};
        if (snapshot_take_restore(p->data_dir, restore, sizeof(restore)) > 0) {
                run_cfg.restore_dir = restore;
        } else if (snapshot_take_incoming(p->data_dir, &g.receiver) > 0) {
                run_cfg.restore_dir = p->data_dir; /* the state comes later */
                run_cfg.restore_deferred = true;
                c.incoming = true;
        }
        /* An incoming VM makes all it can before the state comes: the
         * machine, its vCPU threads (parked), the go socket the receiver
         * will drive it on, and one run of the restore on its own state
         * (the real one, in the migration's pause, then finds its code
         * paged in: docs/migration.md, "Warming the restore"). */
        if (machine_create(&run_cfg, con_in, con_out, &c.m, &err) < 0 ||
            (c.incoming && ((g.lfd = migrate_go_listen(p->go, &err)) < 0 ||
                            machine_prepare_run(c.m, &err) < 0 || snapshot_warm(c.m, &err) < 0)) ||
            ctl_server_new(p->ctl, &ctl, &err) < 0 || add_routes(ctl, &c, &err) < 0 ||
            ctl_server_start(ctl, &err) < 0) {
                tell(ready_fd, "error: %s\n", err.msg);
                ctl_server_free(ctl);
                machine_destroy(c.m);
                close_go(&g);
                return VM_EXIT_VMM_ERROR;
        }
        tell(ready_fd, "%s\n", "ok");
        if (c.incoming && (wait_incoming(&c, &g, &sigs, &signo, dir, sizeof(dir)) < 0 ||
                           run_incoming(&c, &g, dir, &err) < 0)) {
                ctl_server_free(ctl);
                machine_destroy(c.m);
                close_go(&g);
                return signo ? 128 + signo : VM_EXIT_VMM_ERROR;
        }
        close_go(&g);
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
