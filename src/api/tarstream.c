/* Helpers of the tar routes (archive, images get/load, build): workers
 * whose stdin is a spooled body and whose stdout is streamed to the client,
 * with a status line first so the handler can still answer with Docker's
 * status code when the work fails before any byte of the body. */
#include "api/tarstream.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"

#define LINE_MAX_LEN 8192

struct wrap_arg {
        api_work_fn fn;
        void *arg;
};

/* The status line: "S<payload>\n" or "E<errno> <message>\n". */
static int wrap_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        struct wrap_arg *w = arg;
        int rc = w->fn(e, w->arg, out, err);

        if (rc < 0) {
                for (char *p = err->msg; *p; p++)
                        if (*p == '\n')
                                *p = ' ';
                fprintf(out, "E%d %s\n", err->errnum ? err->errnum : EIO, err->msg);
                fflush(out);
        }
        return rc;
}

/* Reads one line from fd byte by byte (it is short and comes first). */
static int read_line(int fd, char *buf, size_t len)
{
        size_t n = 0;

        while (n + 1 < len) {
                ssize_t r = read(fd, buf + n, 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                if (buf[n] == '\n') {
                        buf[n] = '\0';
                        return 0;
                }
                n++;
        }
        buf[n] = '\0';
        return -1;
}

int api_tar_start(struct api_server *s, api_work_fn fn, void *arg, int stdin_fd,
                  struct api_stream *st, char **status_line, struct isola_err *err)
{
        struct wrap_arg w = {.fn = fn, .arg = arg};
        char *line = malloc(LINE_MAX_LEN);

        *status_line = NULL;
        if (!line)
                return err_set(err, ENOMEM, "out of memory");
        if (api_work_stream(s, wrap_work, &w, stdin_fd, st, err) < 0) {
                free(line);
                return -1;
        }
        /* the child took its copy of w at fork: no lifetime issue */
        if (read_line(st->out_fd, line, LINE_MAX_LEN) < 0) {
                free(line);
                api_work_reap(st);
                return err_set(err, EIO, "the worker ended without an answer");
        }
        if (line[0] == 'E') {
                char *sp = strchr(line, ' ');
                int errnum = atoi(line + 1);
                err_set(err, errnum ? errnum : EIO, "%s", sp ? sp + 1 : "failed");
                free(line);
                api_work_reap(st);
                return -1;
        }
        memmove(line, line + 1, strlen(line)); /* drop the 'S' */
        *status_line = line;
        return 0;
}

int api_tar_status(FILE *out, const char *payload)
{
        fprintf(out, "S%s\n", payload ? payload : "");
        return fflush(out) == 0 ? 0 : -1;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        struct api_stream *st = cls;
        struct pollfd pf[2] = {{.fd = st->out_fd, .events = POLLIN},
                               {.fd = st->err_fd, .events = POLLIN}};
        char sink[4096];
        (void)pos;

        while (pf[0].fd >= 0) {
                if (poll(pf, pf[1].fd >= 0 ? 2 : 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                }
                if (pf[1].fd >= 0 && pf[1].revents && read(pf[1].fd, sink, sizeof(sink)) <= 0)
                        pf[1].fd = -1; /* stderr: drained, not shown */
                if (!pf[0].revents)
                        continue;
                ssize_t n = read(pf[0].fd, buf, max);
                if (n > 0)
                        return n;
                if (n < 0 && errno == EINTR)
                        continue;
                break;
        }
        return MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_free(void *cls)
{
        struct api_stream *st = cls;

        api_work_reap(st);
        free(st);
}

enum MHD_Result api_tar_reply(struct api_call *c, struct api_stream *st, const char *type,
                              const char *hdr_name, const char *hdr_value, bool body)
{
        struct api_stream *own = malloc(sizeof(*own));
        struct MHD_Response *r;
        enum MHD_Result ret;

        if (!own) {
                api_work_reap(st);
                return api_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        }
        *own = *st;
        if (body) {
                r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32768, stream_read, own,
                                                      stream_free);
        } else {
                r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
                stream_free(own);
        }
        if (!r) {
                if (body)
                        stream_free(own);
                return MHD_NO;
        }
        if (type)
                MHD_add_response_header(r, "Content-Type", type);
        if (hdr_name)
                MHD_add_response_header(r, hdr_name, hdr_value);
        MHD_add_response_header(r, "Api-Version", "1.41");
        ret = MHD_queue_response(c->conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}

static int copy_data(const char *path, struct archive *w, struct isola_err *err)
{
        char buf[65536];
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return err_sys(err, "'%s'", path);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                if (archive_write_data(w, buf, (size_t)n) != n) {
                        close(fd);
                        return err_set(err, EIO, "tar: %s", archive_error_string(w));
                }
        close(fd);
        return n < 0 ? err_sys(err, "read '%s'", path) : 0;
}

int api_tar_write(const char *dir, const char *name, int fd, struct isola_err *err)
{
        struct archive *w = archive_write_new(), *d = archive_read_disk_new();
        int rc = -1;

        if (!w || !d) {
                err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        /* our own copy in a private directory: names relative to it */
        if (chdir(dir) < 0) {
                err_sys(err, "'%s'", dir);
                goto out;
        }
        archive_write_set_format_pax_restricted(w);
        archive_read_disk_set_symlink_physical(d);
        archive_read_disk_set_standard_lookup(d);
        if (archive_write_open_fd(w, fd) != ARCHIVE_OK ||
            archive_read_disk_open(d, name) != ARCHIVE_OK) {
                err_set(err, EIO, "tar '%s': %s", name, archive_error_string(d));
                goto out;
        }
        for (;;) {
                struct archive_entry *e = archive_entry_new();
                int r = archive_read_next_header2(d, e);
                if (r == ARCHIVE_EOF) {
                        archive_entry_free(e);
                        break;
                }
                if (r != ARCHIVE_OK) {
                        err_set(err, EIO, "tar '%s': %s", name, archive_error_string(d));
                        archive_entry_free(e);
                        goto out;
                }
                archive_read_disk_descend(d);
                r = archive_write_header(w, e);
                if (r == ARCHIVE_OK && archive_entry_filetype(e) == AE_IFREG &&
                    archive_entry_size(e) > 0)
                        r = copy_data(archive_entry_sourcepath(e), w, err) < 0 ? ARCHIVE_FATAL
                                                                               : ARCHIVE_OK;
                archive_entry_free(e);
                if (r != ARCHIVE_OK) {
                        if (!err->msg[0])
                                err_set(err, EIO, "tar: %s", archive_error_string(w));
                        goto out;
                }
        }
        rc = archive_write_close(w) == ARCHIVE_OK
                 ? 0
                 : err_set(err, EIO, "tar: %s", archive_error_string(w));
out:
        if (d)
                archive_read_free(d);
        if (w)
                archive_write_free(w);
        return rc;
}
