/* The client side of the control socket, for the CLI and the manager: one
 * request, the status and the body back. The VMM is trusted less than the
 * user: the answer is bounded and its head checked. */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "vmm/ctl.h"

static int send_all(int fd, const char *p, size_t n, struct isola_err *err)
{
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return err_sys(err, "control socket: send");
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* Reads until the VMM closes the connection (it always does); idle_ms
 * bounds the wait for each piece (-1: no bound). */
static int read_answer(int fd, int idle_ms, char **out, size_t *len_out, struct isola_err *err)
{
        size_t cap = 4096, len = 0;
        char *buf = malloc(cap);

        if (!buf)
                return err_set(err, ENOMEM, "out of memory");
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int rc = poll(&p, 1, idle_ms);
                if (rc < 0 && errno == EINTR)
                        continue;
                if (rc == 0) {
                        free(buf);
                        return err_set(err, ETIMEDOUT, "control socket: no answer in time");
                }
                if (len + 1 == cap) {
                        if (cap >= CTL_MAX_ANSWER) {
                                free(buf);
                                return err_set(err, E2BIG, "control socket: answer too large");
                        }
                        char *n = realloc(buf, cap * 2);
                        if (!n) {
                                free(buf);
                                return err_set(err, ENOMEM, "out of memory");
                        }
                        buf = n;
                        cap *= 2;
                }
                ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        free(buf);
                        return err_sys(err, "control socket: recv");
                }
                if (r == 0)
                        break;
                len += (size_t)r;
        }
        buf[len] = '\0';
        *out = buf;
        *len_out = len;
        return 0;
}

int ctl_request(const char *sock_path, const char *method, const char *path, const char *body,
                int *status, char **answer, struct isola_err *err)
{
        return ctl_request_wait(sock_path, method, path, body, CTL_TIMEOUT_MS * 5, status, answer,
                                err);
}

int ctl_request_wait(const char *sock_path, const char *method, const char *path, const char *body,
                     int idle_ms, int *status, char **answer, struct isola_err *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;
        char head[512];
        char *buf = NULL;
        size_t len = 0, blen = body ? strlen(body) : 0;

        if (strlen(sock_path) >= sizeof(sa.sun_path))
                return err_set(err, ENAMETOOLONG, "control socket '%s': path too long", sock_path);
        memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return err_sys(err, "control socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return err_sys(err, "control socket '%s'", sock_path);
        int n = snprintf(head, sizeof(head),
                         "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n",
                         method, path, blen);
        if (n < 0 || (size_t)n >= sizeof(head))
                return err_set(err, EINVAL, "control socket: request line too long");
        if (send_all(fd, head, (size_t)n, err) < 0 ||
            send_all(fd, body ? body : "", blen, err) < 0 ||
            read_answer(fd, idle_ms, &buf, &len, err) < 0)
                return -1;
        int code = 0;
        char *sep = strstr(buf, "\r\n\r\n");
        if (sscanf(buf, "HTTP/1.%*1[01] %3d", &code) != 1 || code < 100 || !sep) {
                free(buf);
                return err_set(err, EPROTO, "control socket: malformed answer");
        }
        memmove(buf, sep + 4, len - (size_t)(sep + 4 - buf) + 1);
        *status = code;
        *answer = buf;
        return 0;
}

int ctl_fault(int errnum, const char *answer, struct isola_err *err)
{
        struct json_object *o = json_tokener_parse(answer), *msg;

        err_set(err, errnum, "%s",
                o && json_object_object_get_ex(o, "fault_message", &msg)
                    ? json_object_get_string(msg)
                    : answer);
        json_object_put(o);
        return -1;
}
