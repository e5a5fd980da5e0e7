/* Runtime log lines, text ("time=... level=... msg=...") or JSON
 * ({"level":"error","msg":"...","time":"..."}), as runc writes them. */
#include "ctr/log.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "ctr/state.h"
#include "util/fs.h"

static const char *const level_names[] = {"debug", "info", "warning", "error"};

int ctr_log_open(struct ctr_log *log, const char *path, bool json, bool debug)
{
        log->fd = -1;
        log->json = json;
        log->debug = debug;
        if (!path)
                return 0;
        log->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        return log->fd < 0 ? -1 : 0;
}

void ctr_log_close(struct ctr_log *log)
{
        if (log->fd >= 0)
                close(log->fd);
        log->fd = -1;
}

void ctr_log(const struct ctr_log *log, enum ctr_log_level level, const char *fmt, ...)
{
        char msg[2048], when[64];
        va_list ap;

        if (!log || log->fd < 0 || (level == CTR_LOG_DEBUG && !log->debug))
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        state_now_rfc3339(when, sizeof(when));
        if (log->json) {
                json_object *o = json_object_new_object();
                const char *s;

                json_object_object_add(o, "level", json_object_new_string(level_names[level]));
                json_object_object_add(o, "msg", json_object_new_string(msg));
                json_object_object_add(o, "time", json_object_new_string(when));
                s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE);
                fs_write_all(log->fd, s, strlen(s));
                fs_write_all(log->fd, "\n", 1);
                json_object_put(o);
        } else {
                dprintf(log->fd, "time=\"%s\" level=%s msg=\"%s\"\n", when, level_names[level],
                        msg);
        }
}
