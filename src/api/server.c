/* The listeners and the request life cycle. libmicrohttpd (Debian's
 * libmicrohttpd12) parses HTTP/1.1, keeps connections alive, chunks
 * responses of unknown length and hands over upgraded (hijacked)
 * connections, which the Docker API needs for attach and exec; one thread
 * per connection lets a handler block on a long wait or log stream without
 * stalling other clients. Bodies are bounded before they are read, idle
 * connections time out, and a TCP client must present the bearer token. */
#include "api/api_internal.h"
#include "api/fn_mount.h"
#include "api/v1.h" /* apiv1: api_dash_public */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

struct listener_cls {
        struct api_server *srv;
        bool need_token;
};

struct req_state {
        char *body;
        size_t len;
        bool rejected; /* a response is already queued */
        int fd;        /* upload routes: the body spooled to an unlinked file, else -1 */
};

static bool token_ok(struct api_server *s, struct MHD_Connection *conn)
{
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        size_t len;

        if (!h || strncmp(h, "Bearer ", 7) != 0)
                return false;
        h += 7;
        len = strlen(h);
        /* constant time over the token's length; the length itself is not secret */
        return len == s->token_len && CRYPTO_memcmp(h, s->token, len) == 0;
}

static enum MHD_Result reject(struct MHD_Connection *conn, unsigned status, const char *msg)
{
        struct api_call c = {.conn = conn};
        return api_reply_error(&c, status, msg);
}

static enum MHD_Result first_call(struct listener_cls *l, struct MHD_Connection *conn,
                                  const char *method, const char *url, void **con_cls)
{
        struct req_state *st = calloc(1, sizeof(*st));
        const char *cl;
        uint64_t max = API_BODY_MAX;

        if (!st)
                return MHD_NO;
        st->fd = -1;
        *con_cls = st;
        /* apiv1: the dashboard page holds no data; its API calls carry the token */
        if (l->need_token && !api_dash_public(method, url) && !token_ok(l->srv, conn)) {
                st->rejected = true;
                return reject(conn, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token");
        }
        if (api_route_upload(method, url)) {
                struct isola_err err = {0};
                max = API_UPLOAD_MAX;
                st->fd = api_spool_open(l->srv, &err);
                if (st->fd < 0) {
                        st->rejected = true;
                        return reject(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
                }
        }
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > max) {
                st->rejected = true;
                return reject(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
        }
        return MHD_YES;
}

/* An upload's chunk goes to its spool file (bounded by API_UPLOAD_MAX). */
static enum MHD_Result spool(struct MHD_Connection *conn, struct req_state *st, const char *data,
                             size_t *size)
{
        if (st->len + *size > API_UPLOAD_MAX) {
                st->rejected = true;
                *size = 0;
                return reject(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
        }
        if (fs_write_all(st->fd, data, *size) < 0) {
                st->rejected = true;
                *size = 0;
                return reject(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "spooling the body failed");
        }
        st->len += *size;
        *size = 0;
        return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
        struct listener_cls *l = cls;
        struct req_state *st = *con_cls;
        (void)version;

        if (!st)
                return first_call(l, conn, method, url, con_cls);
        if (st->rejected) {
                *upload_size = 0; /* discard the rest of a rejected body */
                return MHD_YES;
        }
        if (*upload_size > 0 && st->fd >= 0)
                return spool(conn, st, upload_data, upload_size);
        if (*upload_size > 0) {
                if (st->len + *upload_size > API_BODY_MAX) {
                        st->rejected = true;
                        *upload_size = 0;
                        return reject(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
                }
                char *b = realloc(st->body, st->len + *upload_size + 1);
                if (!b)
                        return MHD_NO;
                memcpy(b + st->len, upload_data, *upload_size);
                st->body = b;
                st->len += *upload_size;
                st->body[st->len] = '\0';
                *upload_size = 0;
                return MHD_YES;
        }
        struct api_call c = {.srv = l->srv,
                             .conn = conn,
                             .method = method,
                             .body = st->body ? st->body : "",
                             .body_len = st->len,
                             .body_fd = st->fd};
        if (st->fd >= 0 && lseek(st->fd, 0, SEEK_SET) < 0)
                return reject(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "spooled body: seek failed");
        st->rejected = true; /* one response per request */
        return api_dispatch(&c, url);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        struct req_state *st = *con_cls;
        (void)cls, (void)conn, (void)toe;

        if (st) {
                free(st->body);
                if (st->fd >= 0)
                        close(st->fd);
                free(st);
        }
        *con_cls = NULL;
}

static int unix_listen(const char *path, struct isola_err *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;
        char dir[PATH_MAX];
        char *slash;

        if (strlen(path) >= sizeof(sa.sun_path))
                return err_set(err, ENAMETOOLONG, "socket path '%s' is too long", path);
        snprintf(dir, sizeof(dir), "%s", path);
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                if (fs_mkdir_p(dir, 0755, err) < 0)
                        return -1;
        }
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return err_sys(err, "socket");
        /* a stale socket of a previous run; a live server would answer */
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                return err_set(err, EADDRINUSE, "'%s': another server listens there", path);
        unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return err_sys(err, "bind '%s'", path);
        if (chmod(path, 0660) < 0 || listen(fd, 128) < 0)
                return err_sys(err, "listen on '%s'", path);
        return steal_fd(&fd);
}

static int tcp_listen(const char *addr, struct isola_err *err)
{
        char host[256];
        const char *colon = strrchr(addr, ':');
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
        struct addrinfo *ai = NULL;
        _cleanup_close_ int fd = -1;
        int one = 1;

        if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host))
                return err_set(err, EINVAL, "--listen '%s': want ADDR:PORT", addr);
        snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
                memmove(host, host + 1, strlen(host));
                host[strlen(host) - 1] = '\0';
        }
        if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
                return err_set(err, EINVAL, "--listen '%s': not a numeric address and port", addr);
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
                err_sys(err, "listen on '%s'", addr);
                freeaddrinfo(ai);
                return -1;
        }
        freeaddrinfo(ai);
        return steal_fd(&fd);
}

static int read_token(struct api_server *s, const char *path, struct isola_err *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len;

        if (fs_read_file(path, &text, &len, err) < 0)
                return err_prefix(err, "--token-file");
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
                len--;
        if (len < 16 || len >= sizeof(s->token))
                return err_set(err, EINVAL, "--token-file '%s': want a token of 16 to %zu bytes",
                               path, sizeof(s->token) - 1);
        memcpy(s->token, text, len);
        s->token[len] = '\0';
        s->token_len = len;
        return 0;
}

static struct MHD_Daemon *start_daemon(int fd, struct listener_cls *l, struct isola_err *err)
{
        struct MHD_Daemon *d = MHD_start_daemon(
            MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                MHD_ALLOW_UPGRADE | MHD_USE_ITC,
            0, NULL, NULL, on_request, l, MHD_OPTION_LISTEN_SOCKET, fd,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_TIMEOUT_SEC, MHD_OPTION_NOTIFY_COMPLETED,
            on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)256, MHD_OPTION_END);
        if (!d) {
                close(fd);
                err_set(err, EIO, "libmicrohttpd did not start");
        }
        return d;
}

int api_serve(const struct api_opts *o, struct isola_err *err)
{
        struct api_server *s = calloc(1, sizeof(*s));
        struct listener_cls ul, tl;
        const char *sock = o->socket ? o->socket : API_DEFAULT_SOCKET;
        int fd, rc = -1;
        struct timespec now;

        sigset_t stop_sigs;

        if (!s)
                return err_set(err, ENOMEM, "out of memory");
        /* blocked before any thread starts, so only sigwait below takes them */
        sigemptyset(&stop_sigs);
        sigaddset(&stop_sigs, SIGINT);
        sigaddset(&stop_sigs, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
        signal(SIGPIPE, SIG_IGN); /* hijacked sockets: EPIPE instead */
        pthread_mutex_init(&s->mu, NULL);
        pthread_mutex_init(&s->create_mu, NULL);
        pthread_mutex_init(&s->fn_mu, NULL);
        clock_gettime(CLOCK_REALTIME, &now);
        s->started_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
        snprintf(s->root, sizeof(s->root), "%s", o->root ? o->root : "");
        ul = (struct listener_cls){.srv = s};
        tl = (struct listener_cls){.srv = s, .need_token = true};
        if (o->listen && !o->token_file) {
                err_set(err, EINVAL, "--listen needs --token-file: TCP is never open");
                goto out;
        }
        if (o->listen && read_token(s, o->token_file, err) < 0)
                goto out;
        fd = unix_listen(sock, err);
        if (fd < 0 || !(s->unix_d = start_daemon(fd, &ul, err)))
                goto out;
        if (o->listen) {
                fd = tcp_listen(o->listen, err);
                if (fd < 0 || !(s->tcp_d = start_daemon(fd, &tl, err)))
                        goto out;
        }
        for (int sig = 0; sig != SIGINT && sig != SIGTERM;)
                if (sigwait(&stop_sigs, &sig) != 0)
                        break;
        /* Streams (log follows, hijacked attach/exec) may block for as long
         * as a container runs, and MHD_stop_daemon would wait for them: on
         * a stop request the socket goes and the process exits with them. */
        unlink(sock);
        fn_mount_close(s);
        return 0;
out:
        if (s->tcp_d)
                MHD_stop_daemon(s->tcp_d);
        if (s->unix_d) {
                MHD_stop_daemon(s->unix_d);
                unlink(sock);
        }
        pthread_mutex_destroy(&s->mu);
        fn_mount_close(s);
        pthread_mutex_destroy(&s->create_mu);
        pthread_mutex_destroy(&s->fn_mu);
        free(s);
        return rc;
}
