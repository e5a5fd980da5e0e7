/* /isola/v1/vms/{name}/migrate and /receive: live migration through
 * `isola serve` (issue #13, docs/migration.md), beside v1_vms.c. The VM
 * manager's and the migration's functions are weak references, as there:
 * a binary without them answers 501. */
#include "api/v1.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/fs.h"
#include "vmm/ctl.h"
#include "vmm/mgr.h"
#include "vmm/migrate.h"

#pragma weak vm_mgr_open
#pragma weak vm_mgr_close
#pragma weak vm_mgr_inspect
#pragma weak vm_mgr_ctl_path
#pragma weak vm_mgr_kill
#pragma weak ctl_request_wait
#pragma weak ctl_fault
#pragma weak migrate_listen
#pragma weak migrate_tls_name_check

struct mig_arg {
        bool receive;
        const char *ref;
        json_object *body;
};

static bool have_migrate(void)
{
        return v1_have_vms() && vm_mgr_ctl_path && vm_mgr_kill && ctl_request_wait && ctl_fault &&
               migrate_listen && migrate_tls_name_check;
}

/* body[key]: an integer in [lo, hi], def when absent. */
static int body_int(json_object *body, const char *key, int64_t lo, int64_t hi, int64_t def,
                    int64_t *out, struct isola_err *err)
{
        json_object *v = NULL;

        *out = def;
        if (!json_object_object_get_ex(body, key, &v))
                return 0;
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < lo ||
            json_object_get_int64(v) > hi)
                return err_set(err, EINVAL, "%s: want an integer from %lld to %lld", key,
                               (long long)lo, (long long)hi);
        *out = json_object_get_int64(v);
        return 0;
}

/* tls_cert, tls_key, tls_ca: all three or none, absolute paths (the server's
 * working directory is not the client's), each readable. */
static int body_tls(json_object *body, struct migrate_tls *t, struct isola_err *err)
{
        static const char *const keys[3] = {"tls_cert", "tls_key", "tls_ca"};
        const char **f[3] = {&t->cert, &t->key, &t->ca};
        int given = 0;

        for (int i = 0; i < 3; i++) {
                if (v1_body_str(body, keys[i], false, f[i], err) < 0)
                        return -1;
                given += *f[i] != NULL;
        }
        if (given != 0 && given != 3)
                return err_set(err, EINVAL, "TLS needs all of tls_cert, tls_key and tls_ca");
        for (int i = 0; i < given; i++)
                if ((*f[i])[0] != '/' || access(*f[i], R_OK) < 0)
                        return err_set(err, EINVAL, "%s '%s': want a readable file's absolute path",
                                       keys[i], *f[i]);
        return 0;
}

/* tls_name (migrate only, with the TLS files): the name the destination's
 * certificate must have instead of the ADDR of "to". */
static int body_tls_name(json_object *body, struct migrate_tls *t, struct isola_err *err)
{
        json_object *v = NULL;

        if (v1_body_str(body, "tls_name", false, &t->name, err) < 0)
                return -1;
        if (!t->name)
                return 0;
        if (!t->cert)
                return err_set(err, EINVAL, "tls_name needs TLS (tls_cert, tls_key, tls_ca)");
        json_object_object_get_ex(body, "tls_name", &v);
        if (strlen(t->name) != (size_t)json_object_get_string_len(v))
                return err_set(err, EINVAL, "tls_name: want no NUL in a host name");
        if (migrate_tls_name_check(t->name, err) < 0)
                return err_prefix(err, "tls_name");
        return 0;
}

/* A name vm_mgr_create takes (checked before anything listens). */
static bool vm_name_ok(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 64 || !isalnum((unsigned char)s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

/* "ADDR:PORT" with a port (the address may be empty: every address). */
static int body_addr(json_object *body, const char *key, const char **out, struct isola_err *err)
{
        if (v1_body_str(body, key, true, out, err) < 0)
                return -1;
        const char *colon = strrchr(*out, ':');
        if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
                return err_set(err, EINVAL, "%s '%s': want ADDR:PORT", key, *out);
        return 0;
}

/* The source: the VMM sends (PUT /migrate on its control socket, as `isola
 * vm migrate`); once the destination runs the VM this one stops (SIGTERM,
 * a clean stop) and the answer comes when it has. A peer that cannot be
 * reached or that refuses is EREMOTEIO (502); the VM runs on then. */
static int migrate_out(struct vm_mgr *m, const struct mig_arg *a, FILE *out, struct isola_err *err)
{
        const char *to = NULL;
        struct migrate_tls tls = {0};
        int64_t downtime;
        char sock[PATH_MAX];
        _cleanup_free_ char *answer = NULL;
        int status = 0;

        if (body_addr(a->body, "to", &to, err) < 0 ||
            body_int(a->body, "downtime_ms", 1, 60000, 300, &downtime, err) < 0 ||
            body_tls(a->body, &tls, err) < 0 || body_tls_name(a->body, &tls, err) < 0 ||
            vm_mgr_ctl_path(m, a->ref, sock, sizeof(sock), err) < 0)
                return -1;
        json_object *req = json_object_new_object();
        json_object_object_add(req, "to", json_object_new_string(to));
        json_object_object_add(req, "downtime_ms", json_object_new_int64(downtime));
        if (tls.cert) {
                json_object_object_add(req, "tls_cert", json_object_new_string(tls.cert));
                json_object_object_add(req, "tls_key", json_object_new_string(tls.key));
                json_object_object_add(req, "tls_ca", json_object_new_string(tls.ca));
        }
        if (tls.name)
                json_object_object_add(req, "tls_name", json_object_new_string(tls.name));
        int rc = ctl_request_wait(sock, "PUT", "/migrate", json_object_to_json_string(req), -1,
                                  &status, &answer, err);
        json_object_put(req);
        if (rc < 0)
                return err_prefix(err, "VM '%s'", a->ref);
        if (status != 200) {
                ctl_fault(status == 400 ? EINVAL : EREMOTEIO, answer, err);
                return err_prefix(err, "VM '%s'", a->ref);
        }
        json_object *o = json_tokener_parse(answer);
        if (!o)
                o = json_object_new_object();
        /* returns once the monitor recorded the stop */
        (void)vm_mgr_kill(m, a->ref, SIGTERM, NULL);
        json_object_object_add(o, "name", json_object_new_string(a->ref));
        json_object_object_add(o, "to", json_object_new_string(to));
        return v1_emit(out, o);
}

/* A TCP socket listening on port (/proc/net/tcp, tcp6: "sl: local rem st"). */
static bool port_listening(unsigned port)
{
        static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
        char line[512];
        bool found = false;

        for (int i = 0; i < 2 && !found; i++) {
                FILE *f = fopen(files[i], "re");
                while (f && !found && fgets(line, sizeof(line), f)) {
                        unsigned p = 0, st = 0;
                        found = sscanf(line, "%*s %*[0-9A-Fa-f]:%x %*s %x", &p, &st) == 2 &&
                                p == port && st == 0x0a; /* TCP_LISTEN */
                }
                if (f)
                        fclose(f);
        }
        return found;
}

static double mono_s(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The background process: `isola vm receive` (the CLI's receiver, exec'd:
 * SQLite must not be used in a forked child of a process that had it
 * open), stopped (SIGTERM) if its port still listens after timeout_s, i.e.
 * before any source connected. Once it has accepted a connection it
 * finishes, or cleans up after a failure, by itself. */
static void __attribute__((noreturn))
receiver(const char *root, const struct mig_arg *a, const char *listen_at, unsigned port,
         const struct migrate_tls *t, int64_t timeout_s, int log_fd)
{
        const char *argv[] = {"isola",    "vm",         "receive", a->ref,      "--listen",
                              listen_at,  "--tls-cert", t->cert,   "--tls-key", t->key,
                              "--tls-ca", t->ca,        NULL};
        bool seen = false;
        int st;

        setsid();
        if (t->cert == NULL)
                argv[6] = NULL;
        pid_t cli = fork();
        if (cli == 0) {
                if (dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0 ||
                    (root[0] && setenv("ISOLA_ROOT", root, 1) < 0))
                        _exit(127);
                close_range(3, ~0U, 0);
                execv("/proc/self/exe", (char **)argv);
                _exit(127);
        }
        close_range(3, ~0U, 0);
        for (double end = mono_s() + (double)timeout_s; cli > 0;) {
                if (waitpid(cli, &st, WNOHANG) == cli)
                        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
                bool l = port_listening(port);
                if (!l && seen)
                        break; /* accepted: the migration runs */
                seen |= l;
                if (mono_s() > end) {
                        kill(cli, SIGTERM);
                        break;
                }
                usleep(20 * 1000);
        }
        while (cli > 0 && waitpid(cli, &st, 0) < 0 && errno == EINTR)
                ;
        _exit(0);
}

/* The destination: the port is checked (bound and closed again) and
 * listens before the answer (202), so the source can be told to migrate at
 * once; the migration runs in a process of its own that outlives the
 * request, and the VM appears in GET /vms/{name} once it runs here. */
static int receive_in(struct eng_ctx *e, struct vm_mgr *m, const struct mig_arg *a, FILE *out,
                      struct isola_err *err)
{
        const char *listen_at = NULL;
        struct migrate_tls tls = {0};
        json_object *keep = NULL;
        int64_t timeout_s;

        if (!vm_name_ok(a->ref))
                return err_set(err, EINVAL,
                               "VM name '%s': use 1 to 64 letters, digits, '_', '.', '-' "
                               "(starting with a letter or digit)",
                               a->ref);
        if (body_addr(a->body, "listen", &listen_at, err) < 0 ||
            body_int(a->body, "timeout_s", 1, 86400, 300, &timeout_s, err) < 0 ||
            body_tls(a->body, &tls, err) < 0)
                return -1;
        if (json_object_object_get_ex(a->body, "tls_name", NULL))
                return err_set(err, EINVAL,
                               "tls_name: only for migrate (the receiver checks the source's "
                               "certificate against tls_ca only)");
        if (vm_mgr_inspect(m, a->ref, &keep, NULL) == 0) {
                json_object_put(keep);
                return err_set(err, EEXIST, "a VM named '%s' exists here", a->ref);
        }
        int lfd = migrate_listen(listen_at, err); /* its errors are the request's */
        if (lfd < 0)
                return -1;
        close(lfd);
        unsigned port = (unsigned)strtoul(strrchr(listen_at, ':') + 1, NULL, 10);
        _cleanup_close_ int log_fd = memfd_create("receive", MFD_CLOEXEC);
        pid_t pid = log_fd < 0 ? -1 : fork();
        if (pid < 0)
                return err_sys(err, "starting the receiver");
        if (pid == 0)
                receiver(e->paths.root, a, listen_at, port, &tls, timeout_s, log_fd);
        for (double end = mono_s() + 10; !port_listening(port); usleep(10 * 1000)) {
                char msg[512] = "";
                int st;
                if (waitpid(pid, &st, WNOHANG) != pid && mono_s() < end)
                        continue;
                ssize_t n = pread(log_fd, msg, sizeof(msg) - 1, 0);
                msg[n > 0 ? n : 0] = 0;
                msg[strcspn(msg, "\n")] = 0;
                return err_set(err, EIO, "the receiver did not start: %s",
                               msg[0] ? msg : "no answer in 10 s");
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(a->ref));
        json_object_object_add(o, "listen", json_object_new_string(listen_at));
        json_object_object_add(o, "timeout_s", json_object_new_int64(timeout_s));
        json_object_object_add(o, "tls", json_object_new_boolean(tls.cert != NULL));
        return v1_emit(out, o);
}

static int mig_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        const struct mig_arg *a = arg;
        struct vm_mgr *m = NULL;

        if (vm_mgr_open(e->paths.root, &m, err) < 0)
                return -1;
        int rc = a->receive ? receive_in(e, m, a, out, err) : migrate_out(m, a, out, err);
        vm_mgr_close(m);
        return rc;
}

/* migrate (200, the figures) and receive (202: listening), JSON bodies; a
 * peer that failed the migration is a bad gateway (502). */
static enum MHD_Result migration(struct api_call *c, bool receive)
{
        struct mig_arg a = {.receive = receive, .ref = c->m.params[0]};
        struct isola_err err = {0};
        _cleanup_free_ char *out = NULL;
        size_t len = 0;
        enum MHD_Result r;

        if (!have_migrate())
                return v1_no_vms(c);
        a.body = api_body_json(c, &r);
        if (!a.body)
                return r;
        int rc = api_work(c->srv, mig_work, &a, &out, &len, &err);
        json_object_put(a.body);
        if (rc == 0)
                return api_reply_text(c, receive ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK,
                                      "application/json", out, len);
        if (err.errnum == EREMOTEIO)
                return api_reply_error(c, MHD_HTTP_BAD_GATEWAY, err.msg);
        if (err.errnum == ENOTCONN)
                return api_reply_error(c, MHD_HTTP_CONFLICT, err.msg);
        return api_reply_err(c, &err);
}

enum MHD_Result api_v1_vm_migrate(struct api_call *c)
{
        return migration(c, false);
}

enum MHD_Result api_v1_vm_receive(struct api_call *c)
{
        return migration(c, true);
}
