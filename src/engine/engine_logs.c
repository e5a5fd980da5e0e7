/* logs: the monitor's JSON-lines log (ctr.log.1 then ctr.log), each record
 * written to our stdout or stderr by its stream; --tail keeps the last N
 * records, --follow keeps reading until the container has stopped. */
#include "engine/engine_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define RECORD_MAX (128u << 10)

static void print_record(const char *line, size_t len, bool timestamps)
{
        json_tokener *tok = json_tokener_new();
        json_object *o = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL, *v;
        const char *msg = "", *stream = "stdout", *time = "";

        json_tokener_free(tok);
        if (!o)
                return;
        if (json_object_object_get_ex(o, "log", &v))
                msg = json_object_get_string(v);
        if (json_object_object_get_ex(o, "stream", &v))
                stream = json_object_get_string(v);
        if (json_object_object_get_ex(o, "time", &v))
                time = json_object_get_string(v);
        FILE *out = strcmp(stream, "stderr") ? stdout : stderr;
        if (timestamps)
                fprintf(out, "%s ", time);
        fputs(msg, out);
        fflush(out);
        json_object_put(o);
}

/* The complete lines of buf[0..len) from record `skip` on. */
static size_t print_lines(const char *buf, size_t len, long skip, bool timestamps)
{
        size_t start = 0;
        long k = 0;

        for (size_t i = 0; i < len; i++) {
                if (buf[i] != '\n')
                        continue;
                if (k++ >= skip)
                        print_record(buf + start, i - start, timestamps);
                start = i + 1;
        }
        return start;
}

static long count_lines(const char *buf, size_t len)
{
        long n = 0;
        for (size_t i = 0; i < len; i++)
                n += buf[i] == '\n';
        return n;
}

static char *read_opt(const char *path, size_t *len)
{
        struct isola_err ignore = {0};
        char *buf = NULL;

        *len = 0;
        if (fs_read_file(path, &buf, len, &ignore) < 0)
                return NULL;
        return buf;
}

static bool still_running(struct eng_ctx *c, const char *id)
{
        struct eng_container *ct = NULL;
        struct isola_err ignore = {0};
        bool r = false;

        if (eng_get(c, id, &ct, &ignore) == 0)
                r = !strcmp(ct->state, "running") || !strcmp(ct->state, "paused");
        eng_container_free(ct);
        return r;
}

/* Follows ctr.log from offset until the container is not running. */
static void follow(struct eng_ctx *c, const char *id, const char *path, off_t offset,
                   bool timestamps)
{
        _cleanup_close_ int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        char *buf = malloc(RECORD_MAX);
        size_t have = 0;
        ino_t ino = 0;
        int fd = -1;

        if (!buf)
                return;
        for (;;) {
                struct stat sb;
                bool running = still_running(c, id);
                if (fd < 0 || (stat(path, &sb) == 0 && sb.st_ino != ino)) {
                        /* rotated: the rest of the old file was read */
                        if (fd >= 0)
                                close(fd);
                        fd = open(path, O_RDONLY | O_CLOEXEC);
                        if (fd >= 0 && fstat(fd, &sb) == 0) {
                                ino = sb.st_ino;
                                if (offset > 0)
                                        lseek(fd, offset, SEEK_SET);
                                offset = 0;
                                if (in >= 0)
                                        inotify_add_watch(in, path, IN_MODIFY | IN_CLOSE_WRITE);
                        }
                }
                ssize_t n;
                while (fd >= 0 && (n = read(fd, buf + have, RECORD_MAX - have)) > 0) {
                        have += (size_t)n;
                        size_t used = print_lines(buf, have, 0, timestamps);
                        if (used == 0 && have == RECORD_MAX)
                                used = have; /* a broken record: drop it */
                        memmove(buf, buf + used, have - used);
                        have -= used;
                }
                if (!running)
                        break;
                struct pollfd pf = {.fd = in, .events = POLLIN};
                char ev[4096];
                if (poll(&pf, 1, 250) > 0 && read(in, ev, sizeof(ev)) < 0 && errno != EAGAIN)
                        break;
        }
        if (fd >= 0)
                close(fd);
        free(buf);
}

int eng_logs(struct eng_ctx *c, const char *ref, const struct eng_logs_opts *o,
             struct isola_err *err)
{
        char id[ENG_ID_LEN + 1], cur[PATH_MAX], old[PATH_MAX + 4];
        size_t len_old, len_cur;

        if (eng_resolve(c, ref, id, err) < 0)
                return -1;
        eng_ctr_path(c, id, MON_LOG_FILE, cur, sizeof(cur));
        snprintf(old, sizeof(old), "%s.1", cur);
        _cleanup_free_ char *a = read_opt(old, &len_old);
        _cleanup_free_ char *b = read_opt(cur, &len_cur);
        long total = count_lines(a, len_old) + count_lines(b, len_cur);
        long skip = o->tail >= 0 && o->tail < total ? total - o->tail : 0;
        long in_a = count_lines(a, len_old);

        if (a)
                print_lines(a, len_old, skip, o->timestamps);
        size_t used = b ? print_lines(b, len_cur, skip > in_a ? skip - in_a : 0, o->timestamps) : 0;
        if (o->follow)
                follow(c, id, cur, (off_t)used, o->timestamps);
        return 0;
}
