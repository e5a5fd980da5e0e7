/* The migration stream's transport (migrate.h): plain TCP, or TLS 1.3 with
 * mutual authentication when certificate, key and CA are given: each side
 * presents its certificate and accepts the peer's only when the CA signed
 * it; the source also wants the destination's certificate to name the host
 * it meant (OpenSSL's host and IP checks, as QEMU's tls-hostname). A peer
 * that speaks the other kind, or whose certificate the CA did not sign or
 * names another host, fails the handshake with one message naming that. */
#include <errno.h>
#include <poll.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "vmm/migrate.h"

#define TLS_RECORD_HANDSHAKE 0x16
#define TLS_READY            'R'

bool migrate_tls_on(const struct migrate_tls *t)
{
        return t && t->cert;
}

int migrate_tls_name_check(const char *name, struct isola_err *err)
{
        size_t n = strlen(name);
        bool ok = n > 0 && n <= MIGRATE_TLS_NAME_MAX;
        char shown[68];
        size_t k = 0;

        for (size_t i = 0; ok && i < n; i++)
                ok = name[i] > ' ' && name[i] < 0x7f; /* printable, no space */
        if (ok)
                return 0;
        /* the name as given, shortened, anything unprintable as '?' */
        for (; k < n && k < 64; k++) {
                shown[k] = name[k];
                if (name[k] < ' ' || name[k] >= 0x7f)
                        shown[k] = '?';
        }
        snprintf(shown + k, sizeof(shown) - k, "%s", n > 64 ? "..." : "");
        return err_set(err, EINVAL,
                       "'%s': want a host name or IP address (1 to %d printable characters, "
                       "no spaces)",
                       shown, MIGRATE_TLS_NAME_MAX);
}

int migrate_tls_check(const struct migrate_tls *t, struct isola_err *err)
{
        const char *f[3] = {t->cert, t->key, t->ca};
        const char *names[3] = {"--tls-cert", "--tls-key", "--tls-ca"};
        int given = 0;

        for (int i = 0; i < 3; i++)
                given += f[i] != NULL;
        if (given != 0 && given != 3)
                return err_set(err, EINVAL, "TLS needs all of --tls-cert, --tls-key and --tls-ca");
        if (t->name && given == 0)
                return err_set(err, EINVAL,
                               "--tls-name needs TLS (--tls-cert, --tls-key, --tls-ca)");
        if (t->name && migrate_tls_name_check(t->name, err) < 0)
                return err_prefix(err, "--tls-name");
        for (int i = 0; i < given; i++)
                if (access(f[i], R_OK) < 0)
                        return err_sys(err, "%s '%s'", names[i], f[i]);
        return 0;
}

/* The last OpenSSL error as text (the queue is emptied). */
static const char *ssl_reason(char *buf, size_t len)
{
        unsigned long e, last = 0;
        while ((e = ERR_get_error()) != 0)
                last = e;
        const char *r = last ? ERR_reason_error_string(last) : NULL;
        snprintf(buf, len, "%s", r ? r : "connection closed");
        return buf;
}

static SSL_CTX *make_ctx(const struct migrate_tls *t, bool server, struct isola_err *err)
{
        SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
        char r[160];

        if (!ctx) {
                err_set(err, ENOMEM, "TLS: %s", ssl_reason(r, sizeof(r)));
                return NULL;
        }
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        if (server) /* one connection, no resumption: no tickets in the stream */
                SSL_CTX_set_num_tickets(ctx, 0);
        const char *what = NULL;
        if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1)
                what = t->cert;
        else if (SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) != 1 ||
                 SSL_CTX_check_private_key(ctx) != 1)
                what = t->key;
        else if (SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1)
                what = t->ca;
        if (what) {
                err_set(err, EINVAL, "TLS: '%s': %s", what, ssl_reason(r, sizeof(r)));
                SSL_CTX_free(ctx);
                return NULL;
        }
        return ctx;
}

/* A plain peer on a TLS listener: it gets 'T' ("TLS required") after its
 * stream is drained (so the close is no reset that would lose the byte). */
static int refuse_plain(int fd, struct isola_err *err)
{
        char buf[4096], t = 'T';
        struct timeval tv = {.tv_sec = 5};

        (void)send(fd, &t, 1, MSG_NOSIGNAL);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        shutdown(fd, SHUT_WR);
        while (recv(fd, buf, sizeof(buf), 0) > 0)
                ;
        return err_set(err, EPROTO,
                       "the source does not use TLS (run `isola vm migrate` with --tls-cert, "
                       "--tls-key and --tls-ca)");
}

/* The client wants the server's certificate to name name: an IP address
 * as an IP SAN, anything else as a host name (DNS SANs, else the CN; no
 * partial wildcards such as "w*.example"). OpenSSL checks it during the
 * handshake and fails that with X509_V_ERR_{HOSTNAME,IP_ADDRESS}_MISMATCH. */
static int expect_name(SSL *ssl, const char *name, struct isola_err *err)
{
        X509_VERIFY_PARAM *p = SSL_get0_param(ssl);

        if (!name)
                return err_set(err, EINVAL, "TLS: no name to check the destination against");
        if (X509_VERIFY_PARAM_set1_ip_asc(p, name) == 1)
                return 0;
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set1_host(ssl, name) != 1)
                return err_set(err, EINVAL, "TLS: cannot check for the name '%s'", name);
        return 0;
}

/* Why a handshake failed, from this side: the peer's certificate (not
 * signed by the CA, or not naming name), the peer refusing ours, or a peer
 * that does not speak TLS. */
static int handshake_failed(SSL *ssl, bool server, const char *name, struct isola_err *err)
{
        const char *peer = server ? "source" : "destination";
        char r[160];
        long v = SSL_get_verify_result(ssl);

        ssl_reason(r, sizeof(r));
        if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
                return err_set(err, EACCES,
                               "TLS: the %s's certificate does not name %s (use --tls-name to "
                               "check another name)",
                               peer, name ? name : "the host");
        if (v != X509_V_OK)
                return err_set(err, EACCES,
                               "TLS: the %s's certificate is not trusted: %s (--tls-ca)", peer,
                               X509_verify_cert_error_string(v));
        if (strstr(r, "alert"))
                return err_set(err, EACCES, "TLS: the %s refused this side's certificate (%s)",
                               peer, r);
        if (strstr(r, "peer did not return a certificate"))
                return err_set(err, EACCES, "TLS: the %s sent no certificate", peer);
        return err_set(err, EPROTO,
                       "TLS handshake with the %s failed (%s): does it use TLS with a "
                       "certificate from the same CA?",
                       peer, r);
}

int migrate_conn_open(struct migrate_conn *c, int fd, const struct migrate_tls *t, bool server,
                      struct isola_err *err)
{
        unsigned char first = 0;

        *c = (struct migrate_conn){.fd = fd};
        /* A peer silent for MIGRATE_IO_TIMEOUT_S within a handshake or a
         * record (a stalled or hostile one) ends the migration instead of
         * holding it, its port and its VM forever. The socket keeps them
         * when the receiver hands it to the destination's VMM. */
        struct timeval tv = {.tv_sec = MIGRATE_IO_TIMEOUT_S};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (!migrate_tls_on(t))
                return 0;
        if (server) {
                ssize_t n = recv(fd, &first, 1, MSG_PEEK);
                if (n == 1 && first != TLS_RECORD_HANDSHAKE)
                        return refuse_plain(fd, err);
        }
        SSL_CTX *ctx = make_ctx(t, server, err);
        if (!ctx)
                return -1;
        SSL *ssl = SSL_new(ctx);
        c->ctx = ctx;
        c->ssl = ssl;
        if (!ssl || SSL_set_fd(ssl, fd) != 1)
                return err_set(err, ENOMEM, "TLS: out of memory");
        if (!server && expect_name(ssl, t->name, err) < 0)
                return -1;
        int rc = server ? SSL_accept(ssl) : SSL_connect(ssl);
        if (rc != 1)
                return handshake_failed(ssl, server, t->name, err);
        /* TLS 1.3: the client's handshake ends before the server has
         * checked the client's certificate; the server's first byte says
         * it has (or the alert comes instead). */
        char ready = TLS_READY;
        if (server)
                return migrate_conn_write(c, &ready, 1, err);
        ready = 0;
        if (SSL_read(ssl, &ready, 1) != 1)
                return handshake_failed(ssl, server, t->name, err);
        if (ready != TLS_READY)
                return err_set(err, EPROTO, "TLS: unexpected first byte from the destination");
        return 0;
}

/* SSL_write writes to the socket with write(2): SIGPIPE is held back and
 * dropped in this thread, the error comes back as EPIPE. */
static void pipe_block(sigset_t *old)
{
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, old);
}

static void pipe_unblock(const sigset_t *old)
{
        sigset_t pipe_set;
        struct timespec zero = {0, 0};
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
                ;
        pthread_sigmask(SIG_SETMASK, old, NULL);
}

static int ssl_write_all(SSL *ssl, const char *p, size_t n, struct isola_err *err)
{
        sigset_t old;
        int rc = 0;

        pipe_block(&old);
        while (n && rc == 0) {
                size_t k = 0;
                if (SSL_write_ex(ssl, p, n, &k) != 1) {
                        char r[160];
                        rc = err_set(err, EPIPE, "migration: sending over TLS: %s",
                                     ssl_reason(r, sizeof(r)));
                }
                p += k;
                n -= k;
        }
        pipe_unblock(&old);
        return rc;
}

/* Plain TCP: the pieces go in one sendmsg (a page record's header and the
 * guest's pages, without copying them into one buffer first). TLS: one
 * SSL_write per piece would make a TLS record each, so they are joined. */
int migrate_conn_writev(struct migrate_conn *c, struct iovec *iov, int n, struct isola_err *err)
{
        if (c->ssl) {
                size_t total = 0;
                for (int i = 0; i < n; i++)
                        total += iov[i].iov_len;
                char *one = malloc(total ? total : 1), *at = one;
                if (!one)
                        return err_set(err, ENOMEM, "migration: out of memory");
                for (int i = 0; i < n; i++) {
                        memcpy(at, iov[i].iov_base, iov[i].iov_len);
                        at += iov[i].iov_len;
                }
                int rc = ssl_write_all(c->ssl, one, total, err);
                free(one);
                return rc;
        }
        while (n > 0) {
                struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
                ssize_t k = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return err_set(err, ETIMEDOUT,
                                       "migration: sending: the peer took nothing for %d s",
                                       MIGRATE_IO_TIMEOUT_S);
                if (k <= 0)
                        return err_sys(err, "migration: sending");
                /* a short send: on from where it stopped */
                while (n > 0 && (size_t)k >= iov->iov_len) {
                        k -= (ssize_t)iov->iov_len;
                        iov++;
                        n--;
                }
                if (n > 0) {
                        iov->iov_base = (char *)iov->iov_base + k;
                        iov->iov_len -= (size_t)k;
                }
        }
        return 0;
}

int migrate_conn_write(struct migrate_conn *c, const void *p, size_t n, struct isola_err *err)
{
        if (c->ssl)
                return ssl_write_all(c->ssl, p, n, err);
        struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
        return migrate_conn_writev(c, &iov, 1, err);
}

int migrate_conn_read(struct migrate_conn *c, void *p, size_t n, struct isola_err *err)
{
        char *b = p;

        while (n) {
                ssize_t k;
                if (c->ssl) {
                        size_t got = 0;
                        int ok = SSL_read_ex(c->ssl, b, n, &got);
                        k = ok == 1 ? (ssize_t)got : 0;
                        if (ok != 1 && SSL_get_error(c->ssl, ok) != SSL_ERROR_ZERO_RETURN) {
                                char r[160];
                                return err_set(err, EPROTO, "receiving over TLS: %s",
                                               ssl_reason(r, sizeof(r)));
                        }
                } else {
                        k = recv(c->fd, b, n, 0);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                                return err_set(err, ETIMEDOUT,
                                               "receiving: the peer sent nothing for %d s",
                                               MIGRATE_IO_TIMEOUT_S);
                        if (k < 0)
                                return err_sys(err, "receiving");
                }
                if (k == 0)
                        return err_set(err, EPIPE, "the peer closed the connection early");
                b += k;
                n -= (size_t)k;
        }
        return 0;
}

int migrate_conn_peek_answer(struct migrate_conn *c, char *answer)
{
        if (c->ssl) {
                if (SSL_pending(c->ssl) == 0) {
                        char b;
                        if (recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) != 1)
                                return 0;
                }
                return SSL_read(c->ssl, answer, 1) == 1;
        }
        return recv(c->fd, answer, 1, MSG_DONTWAIT) == 1;
}

int migrate_conn_wait(struct migrate_conn *c, int timeout_ms)
{
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

        if (c->ssl && SSL_pending(c->ssl) > 0)
                return 1;
        int n = poll(&pfd, 1, timeout_ms);
        return n < 0 && errno != EINTR ? -1 : n > 0;
}

void migrate_conn_close(struct migrate_conn *c)
{
        if (c->ssl) {
                sigset_t old;
                pipe_block(&old);
                (void)SSL_shutdown(c->ssl);
                pipe_unblock(&old);
                SSL_free(c->ssl);
                ERR_clear_error();
        }
        if (c->ctx)
                SSL_CTX_free(c->ctx);
        if (c->fd >= 0)
                close(c->fd);
        *c = (struct migrate_conn){.fd = -1};
}
