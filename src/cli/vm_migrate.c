/* `isola vm migrate NAME --to ADDR:PORT [--downtime-ms N]` and
 * `isola vm receive NAME --listen ADDR:PORT` (docs/migration.md). The
 * source's VMM sends (PUT /migrate on its control socket); the receiving
 * CLI writes what arrives as a snapshot of a new managed VM NAME and starts
 * it from there (memory mapped on demand), then answers the source. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/vm_cli.h"
#include "util/cleanup.h"
#include "vmm/ctl.h"
#include "vmm/mgr.h"
#include "vmm/migrate.h"
#include "vmm/snapshot.h"

/* The PUT /migrate call, in a thread while a terminal shows progress. */
struct mig_call {
        const char *sock, *body;
        int status, rc;
        char *answer;
        struct isola_err err;
        atomic_bool done;
};

static void *mig_call_run(void *arg)
{
        struct mig_call *c = arg;
        c->rc = ctl_request_wait(c->sock, "PUT", "/migrate", c->body, -1, &c->status, &c->answer,
                                 &c->err);
        atomic_store(&c->done, true);
        return NULL;
}

/* One line, rewritten in place: the round, MiB sent, the guest's dirty
 * rate and the pause the next stop-and-copy would cost. */
static void show_progress(const char *name, int fd)
{
        char buf[MIGRATE_PROGRESS_LEN + 1];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return;
        buf[n] = 0;
        struct json_object *o = json_tokener_parse(buf), *v;
        if (!o)
                return; /* torn: the next look reads it whole */
#define F(key) (json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0.0)
        printf("\r\033[K%s: %s round %.0f, %.1f MiB sent, dirty %.1f MiB/s, est. downtime %.1f ms",
               name, json_object_object_get_ex(o, "phase", &v) ? json_object_get_string(v) : "",
               F("round"), F("bytes_sent") / 1048576.0, F("dirty_rate_mib_s"),
               F("est_downtime_ms"));
#undef F
        fflush(stdout);
        json_object_put(o);
}

/* Runs the call; on a terminal with a progress file shown every 200 ms. */
static void migrate_call(struct mig_call *c, const char *name, int pfd)
{
        pthread_t t;

        if (pfd < 0 || pthread_create(&t, NULL, mig_call_run, c) != 0) {
                mig_call_run(c);
                return;
        }
        while (!atomic_load(&c->done)) {
                struct timespec ts = {0, 200 * 1000 * 1000};
                nanosleep(&ts, NULL);
                show_progress(name, pfd);
        }
        pthread_join(t, NULL);
        show_progress(name, pfd); /* the last state stays on the screen */
        printf("\n");
}

/* A progress file beside the VM's control socket, when stdout is a
 * terminal (-1 otherwise); its path in out. */
static int progress_file(const char *sock, char *out, size_t len)
{
        const char *slash = strrchr(sock, '/');
        if (!isatty(STDOUT_FILENO) || !slash ||
            snprintf(out, len, "%.*s/migrate-progress", (int)(slash - sock), sock) >= (int)len)
                return -1;
        return open(out, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
}

static void print_summary(const char *name, const char *answer)
{
        struct json_object *o = json_tokener_parse(answer), *v;
        printf("%s", name);
        if (o && json_object_object_get_ex(o, "rounds", &v))
                printf(": %d rounds", json_object_get_int(v));
        if (o && json_object_object_get_ex(o, "bytes_sent", &v))
                printf(", %.1f MiB", (double)json_object_get_int64(v) / 1048576.0);
        if (o && json_object_object_get_ex(o, "downtime_ms", &v))
                printf(", downtime %.1f ms", json_object_get_double(v));
        if (o && json_object_object_get_ex(o, "est_downtime_ms", &v))
                printf(" (estimated %.1f ms)", json_object_get_double(v));
        if (o && json_object_object_get_ex(o, "total_ms", &v))
                printf(", total %.0f ms", json_object_get_double(v));
        printf("\n");
        json_object_put(o);
}

/* --tls-cert F, --tls-key F, --tls-ca F at argv[*i]; 1 when taken. */
static int tls_opt(int argc, char **argv, int *i, struct migrate_tls *t)
{
        const char **slot = !strcmp(argv[*i], "--tls-cert")  ? &t->cert
                            : !strcmp(argv[*i], "--tls-key") ? &t->key
                            : !strcmp(argv[*i], "--tls-ca")  ? &t->ca
                                                             : NULL;
        if (!slot || *i + 1 >= argc)
                return 0;
        *slot = argv[++*i];
        return 1;
}

/* The TLS files as absolute paths (the VMM runs elsewhere). */
static int tls_absolute(struct migrate_tls *t, char abs[3][PATH_MAX], struct isola_err *err)
{
        const char **f[3] = {&t->cert, &t->key, &t->ca};

        if (migrate_tls_check(t, err) < 0)
                return -1;
        for (int i = 0; i < 3; i++)
                if (*f[i]) {
                        if (!realpath(*f[i], abs[i]))
                                return err_sys(err, "'%s'", *f[i]);
                        *f[i] = abs[i];
                }
        return 0;
}

#define MIGRATE_USAGE                                                                              \
        "expected NAME --to ADDR:PORT [--downtime-ms 1-60000] [--tls-cert F --tls-key F --tls-ca " \
        "F [--tls-name NAME]]"

int cli_vm_migrate(int argc, char **argv)
{
        struct isola_err err = {0};
        struct vm_mgr *m = NULL;
        char sock[PATH_MAX], body[4 * PATH_MAX + 1024], ppath[PATH_MAX], abs[3][PATH_MAX];
        struct mig_call c = {0};
        struct migrate_tls tls = {0};
        const char *to = NULL;
        long downtime = 300;
        char *end = NULL;

        if (argc < 2 || argv[1][0] == '-')
                return vm_cli_usage("migrate", MIGRATE_USAGE);
        for (int i = 2; i < argc; i++) {
                if (!strcmp(argv[i], "--to") && i + 1 < argc)
                        to = argv[++i];
                else if (!strcmp(argv[i], "--downtime-ms") && i + 1 < argc)
                        downtime = strtol(argv[++i], &end, 10);
                else if (!strcmp(argv[i], "--tls-name") && i + 1 < argc)
                        tls.name = argv[++i]; /* checked with the files */
                else if (!tls_opt(argc, argv, &i, &tls))
                        return vm_cli_usage("migrate", MIGRATE_USAGE);
        }
        if (!to || downtime < 1 || downtime > 60000 || (end && *end))
                return vm_cli_usage("migrate", MIGRATE_USAGE);
        if (tls_absolute(&tls, abs, &err) < 0)
                return vm_cli_fail("migrate", &err);
        if (vm_mgr_open(NULL, &m, &err) < 0)
                return vm_cli_fail("migrate", &err);
        int rc = vm_mgr_ctl_path(m, argv[1], sock, sizeof(sock), &err);
        int pfd = rc == 0 ? progress_file(sock, ppath, sizeof(ppath)) : -1;
        struct json_object *req = json_object_new_object();
        json_object_object_add(req, "to", json_object_new_string(to));
        if (migrate_tls_on(&tls)) {
                json_object_object_add(req, "tls_cert", json_object_new_string(tls.cert));
                json_object_object_add(req, "tls_key", json_object_new_string(tls.key));
                json_object_object_add(req, "tls_ca", json_object_new_string(tls.ca));
        }
        if (tls.name)
                json_object_object_add(req, "tls_name", json_object_new_string(tls.name));
        json_object_object_add(req, "downtime_ms", json_object_new_int64(downtime));
        if (pfd >= 0)
                json_object_object_add(req, "progress_path", json_object_new_string(ppath));
        snprintf(body, sizeof(body), "%s", json_object_to_json_string(req));
        json_object_put(req);
        if (rc == 0) {
                c.sock = sock;
                c.body = body;
                migrate_call(&c, argv[1], pfd);
                rc = c.rc;
                if (rc < 0)
                        err = c.err;
        }
        if (pfd >= 0) {
                close(pfd);
                unlink(ppath);
        }
        if (rc == 0 && c.status != 200)
                rc = ctl_fault(EIO, c.answer, &err);
        if (rc == 0) {
                /* The destination runs the VM: this one goes (clean stop). */
                print_summary(argv[1], c.answer);
                (void)vm_mgr_kill(m, argv[1], SIGTERM, NULL);
        }
        free(c.answer);
        vm_mgr_close(m);
        return rc == 0 ? 0 : vm_cli_fail("migrate", &err);
}

/* ---- receiving ---- */

struct incoming {
        struct migrate_conn conn; /* the connection */
        int mem_fd, state_fd;     /* files of the snapshot being written */
        char dir[PATH_MAX];       /* <data dir>/snapshots/migrated.tmp-PID */
        char data_dir[PATH_MAX];
        bool created;
        struct machine_config cfg;
        char *config_json;
        /* The VM's VMM starts (in a thread) as soon as the configuration is
         * here, while the memory is still coming: what it costs to start a
         * monitor and a VMM is then not part of the downtime. */
        struct vm_mgr *m;
        const char *name;
        pthread_t starter;
        bool starting, ready; /* ready: the VMM is up and the source told ('W') */
        bool handed_off;      /* the VMM reads the rest of the stream itself */
        int start_rc;
        struct isola_err start_err;
        int start_pipe[2]; /* the starter writes a byte when done */
        int go_fd;         /* connected to the VMM's go socket (migrate.h) */
        char go_path[PATH_MAX];
};

/* The VM's VMM, up and waiting, and the connection to its go socket,
 * made while the memory still comes. */
static int start_and_connect(struct incoming *in, struct isola_err *err)
{
        if (vm_mgr_start(in->m, in->name, err) < 0)
                return -1;
        in->go_fd = migrate_go_connect(in->go_path, err);
        if (in->go_fd < 0)
                return -1;
        unlink(in->go_path); /* the VMM does too; whoever is first */
        /* the memory file exists: the VMM maps it now, not in the pause */
        return migrate_go_send(in->go_fd, 'M', in->dir, err);
}

static void *start_vm(void *arg)
{
        struct incoming *in = arg;
        in->start_rc = start_and_connect(in, &in->start_err);
        (void)!write(in->start_pipe[1], "", 1);
        return NULL;
}

/* Joins the starter: its result. */
static int join_start(struct incoming *in, struct isola_err *err)
{
        if (!in->starting)
                return 0;
        pthread_join(in->starter, NULL);
        in->starting = false;
        if (in->start_rc < 0) {
                *err = in->start_err;
                return err_prefix(err, "starting the VM");
        }
        return 0;
}

/* A plain stream goes on in the VMM (docs/migration.md): the last pages,
 * the state and the end record then reach the process that loads them
 * with no hop through this one. This side keeps nothing of the connection:
 * the source sees it close when the VMM goes. 1: migrate_recv stops. */
static int hand_off(struct incoming *in, struct isola_err *err)
{
        if (migrate_go_send_fd(in->go_fd, 'H', in->dir, in->conn.fd, err) < 0)
                return err_prefix(err, "handing the stream to the VM's VMM");
        migrate_conn_close(&in->conn);
        in->handed_off = true;
        return 1;
}

/* Before the next record: when the VMM is up, the source hears 'W' (it
 * pauses the guest only after that). Waits for whichever comes first. */
static int await_record(void *opaque, struct isola_err *err)
{
        struct incoming *in = opaque;

        if (!in->starting)
                return 0;
        struct pollfd fds[2] = {{.fd = in->conn.fd, .events = POLLIN},
                                {.fd = in->start_pipe[0], .events = POLLIN}};
        if (migrate_conn_wait(&in->conn, 0) == 1)
                return 0;
        while (poll(fds, 2, -1) < 0)
                if (errno != EINTR)
                        return err_sys(err, "poll");
        if (!(fds[1].revents & POLLIN))
                return 0;
        if (join_start(in, err) < 0)
                return -1;
        in->ready = true;
        if (!in->conn.ssl) /* plain TCP: the VMM takes the stream on (and says 'W') */
                return hand_off(in, err);
        return migrate_conn_write(&in->conn, "W", 1, err);
}

static int write_config(const struct incoming *in, struct isola_err *err)
{
        char p[PATH_MAX + 16];

        snprintf(p, sizeof(p), "%s/config.json", in->dir);
        FILE *f = fopen(p, "we");
        if (!f || fputs(in->config_json, f) < 0 || fflush(f) != 0) {
                if (f)
                        fclose(f);
                return err_sys(err, "'%s'", p);
        }
        fclose(f);
        return 0;
}

/* The snapshot directory is complete: the waiting VMM loads it and runs
 * (its answer comes once the vCPUs run). */
static int go_incoming(struct incoming *in, struct isola_err *err)
{
        if (migrate_go(in->go_fd, in->dir, 30000, err) < 0)
                return err_prefix(err, "starting the received VM");
        return 0;
}

static int on_config(void *opaque, const char *json, uint64_t *mem_size, struct isola_err *err)
{
        struct incoming *in = opaque;
        char id[65], log[PATH_MAX];

        if (machine_config_load_string(&in->cfg, json, "the source's machine", err) < 0 ||
            vm_mgr_create(in->m, in->name, &in->cfg, id, err) < 0)
                return -1;
        in->created = true;
        in->config_json = strdup(json);
        if (!in->config_json)
                return err_set(err, ENOMEM, "out of memory");
        /* the paths now: no database look-up while the VMM starts */
        if (vm_mgr_path(in->m, in->name, "log", log, sizeof(log), err) < 0 ||
            vm_mgr_path(in->m, in->name, "go", in->go_path, sizeof(in->go_path), err) < 0)
                return -1;
        char *slash = strrchr(log, '/');
        if (slash)
                *slash = 0;
        snprintf(in->data_dir, sizeof(in->data_dir), "%s", log);
        snprintf(in->dir, sizeof(in->dir), "%s/snapshots", log);
        /* <root>/vms, <root>/vms/<id12>, .../snapshots: a fresh root has none. */
        slash = strrchr(log, '/');
        if (slash)
                *slash = 0;
        if ((mkdir(log, 0700) < 0 && errno != EEXIST) ||
            (mkdir(in->data_dir, 0700) < 0 && errno != EEXIST) ||
            (mkdir(in->dir, 0700) < 0 && errno != EEXIST))
                return err_sys(err, "'%s'", in->dir);
        snprintf(in->dir + strlen(in->dir), sizeof(in->dir) - strlen(in->dir), "/migrated.tmp-%d",
                 (int)getpid());
        if (mkdir(in->dir, 0700) < 0)
                return err_sys(err, "'%s'", in->dir);
        char p[PATH_MAX + 16];
        snprintf(p, sizeof(p), "%s/memory", in->dir);
        in->mem_fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        *mem_size = in->cfg.memory_mib << 20;
        if (in->mem_fd < 0 || ftruncate(in->mem_fd, (off_t)*mem_size) < 0)
                return err_sys(err, "'%s'", p);
        snprintf(p, sizeof(p), "%s/state", in->dir);
        in->state_fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (in->state_fd < 0)
                return err_sys(err, "'%s'", p);
        if (write_config(in, err) < 0 || snapshot_request_incoming(in->data_dir, getpid(), err) < 0)
                return -1;
        if (pipe2(in->start_pipe, O_CLOEXEC) < 0)
                return err_sys(err, "pipe");
        if (pthread_create(&in->starter, NULL, start_vm, in) != 0)
                return err_set(err, EAGAIN, "cannot start a thread");
        in->starting = true;
        return 0;
}

static int on_page(void *opaque, uint64_t off, const char *p, uint32_t n, struct isola_err *err)
{
        struct incoming *in = opaque;
        return migrate_write_at(in->mem_fd, p, n, (off_t)off, err);
}

/* The state file was made with the memory file: only its bytes are
 * written in the pause. */
static int on_state(void *opaque, const char *p, uint32_t n, struct isola_err *err)
{
        struct incoming *in = opaque;
        return migrate_write_at(in->state_fd, p, n, 0, err);
}

static int finish(void *opaque, struct isola_err *err)
{
        struct incoming *in = opaque;

        if (!in->ready)
                return err_set(err, EPROTO, "the stream ended before the VM was up");
        return go_incoming(in, err);
}

/* The VM runs (from the temporary directory's files: mapped, the paths no
 * longer matter) and the source has its answer: the snapshot takes its
 * name, outside the pause. A failure leaves the VM running. */
static void name_snapshot(struct incoming *in)
{
        char final[PATH_MAX];

        snprintf(final, sizeof(final), "%s/snapshots/migrated-%lld", in->data_dir,
                 (long long)time(NULL));
        if (rename(in->dir, final) < 0) {
                fprintf(stderr, "isola: vm receive: keeping the received snapshot: '%s': %s\n",
                        final, strerror(errno));
                return;
        }
        snprintf(in->dir, sizeof(in->dir), "%s", final);
}

/* The received snapshot is made durable only after the source has its
 * acknowledgement: the VM runs from the page cache either way, and an
 * fsync of guest RAM (hundreds of MiB) inside the stop-and-copy window was
 * most of the downtime. A kill -9 loses nothing (the page cache stays);
 * only a host crash in the moment between the acknowledgement and this
 * can leave the kept "migrated-*" snapshot torn. */
static void sync_received(const struct incoming *in)
{
        char p[PATH_MAX + 16];

        (void)fsync(in->mem_fd);
        (void)fsync(in->state_fd);
        snprintf(p, sizeof(p), "%s/config.json", in->dir);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void)fsync(fd);
                close(fd);
        }
        fd = open(in->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
                (void)fsync(fd);
                close(fd);
        }
}

static const struct migrate_recv_ops recv_ops = {
    .before_record = await_record,
    .config = on_config,
    .page = on_page,
    .state = on_state,
    .end = finish,
};

static void remove_dir(const char *dir)
{
        static const char *const files[] = {"memory", "state", "config.json"};
        char p[PATH_MAX + 16];
        for (unsigned i = 0; i < 3; i++) {
                snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
                unlink(p);
        }
        rmdir(dir);
}

#define RECEIVE_USAGE "expected NAME --listen ADDR:PORT [--tls-cert F --tls-key F --tls-ca F]"

int cli_vm_receive(int argc, char **argv)
{
        struct isola_err err = {0};
        struct vm_mgr *m = NULL;
        struct incoming in = {
            .conn = {.fd = -1}, .mem_fd = -1, .state_fd = -1, .start_pipe = {-1, -1}, .go_fd = -1};
        struct migrate_tls tls = {0};
        const char *listen_at = NULL;

        if (argc < 2 || argv[1][0] == '-')
                return vm_cli_usage("receive", RECEIVE_USAGE);
        for (int i = 2; i < argc; i++) {
                if (!strcmp(argv[i], "--listen") && i + 1 < argc)
                        listen_at = argv[++i];
                else if (!tls_opt(argc, argv, &i, &tls))
                        return vm_cli_usage("receive", RECEIVE_USAGE);
        }
        if (!listen_at)
                return vm_cli_usage("receive", RECEIVE_USAGE);
        if (migrate_tls_check(&tls, &err) < 0)
                return vm_cli_fail("receive", &err);
        if (vm_mgr_open(NULL, &m, &err) < 0)
                return vm_cli_fail("receive", &err);
        machine_config_init(&in.cfg);
        in.m = m;
        in.name = argv[1];
        int lfd = migrate_listen(listen_at, &err);
        int rc = lfd < 0 ? -1 : 0;
        if (rc == 0) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        rc = err_sys(&err, "accept");
                close(lfd);
                if (rc == 0)
                        rc = migrate_conn_open(&in.conn, fd, &tls, true, &err);
        }
        bool answered = rc < 0 && migrate_tls_on(&tls); /* the handshake said it */
        if (rc == 0)
                rc = migrate_recv(&in.conn, &recv_ops, &in, &err);
        if (rc == 1) /* the VMM has the stream: its answer is the outcome */
                rc = migrate_go_answer(in.go_fd, -1, &err) < 0
                         ? err_prefix(&err, "starting the received VM")
                         : 0;
        if (in.conn.fd >= 0 && !answered) {
                char ack = rc == 0 ? 'K' : 'F';
                struct isola_err e2 = {0};
                (void)migrate_conn_write(&in.conn, &ack, 1, &e2);
        }
        migrate_conn_close(&in.conn);
        if (in.starting) { /* the stream broke while the VMM started */
                struct isola_err e2 = {0};
                (void)join_start(&in, &e2);
        }
        for (int i = 0; i < 2; i++)
                if (in.start_pipe[i] >= 0)
                        close(in.start_pipe[i]);
        if (in.go_fd >= 0)
                close(in.go_fd); /* a VMM still waiting exits */
        if (rc == 0) {
                name_snapshot(&in);
                sync_received(&in);
        }
        if (in.mem_fd >= 0)
                close(in.mem_fd);
        if (in.state_fd >= 0)
                close(in.state_fd);
        if (rc < 0 && in.created) {
                pid_t untaken;
                (void)snapshot_take_incoming(in.data_dir, &untaken);
                struct isola_err e2 = {0};
                if (vm_mgr_rm(m, argv[1], true, &e2) < 0)
                        fprintf(stderr, "isola vm receive: the VM is left: %s\n", e2.msg);
                remove_dir(in.dir);
        }
        if (rc == 0)
                printf("%s\n", argv[1]);
        free(in.config_json);
        machine_config_free(&in.cfg);
        vm_mgr_close(m);
        return rc == 0 ? 0 : vm_cli_fail("receive", &err);
}
