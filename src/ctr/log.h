/* Runtime log (--log FILE, --log-format text|json) in the format runc writes:
 * podman and containerd read the last error line back from the file when a
 * runtime command fails, so errors go both to stderr and to the log. */
#ifndef ISOLA_CTR_LOG_H
#define ISOLA_CTR_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum ctr_log_level { CTR_LOG_DEBUG, CTR_LOG_INFO, CTR_LOG_WARN, CTR_LOG_ERROR };

struct ctr_log {
        int fd;    /* -1: no log file */
        bool json; /* --log-format json */
        bool debug;
};

/* Opens path for appending (O_CLOEXEC); path NULL leaves fd -1. Returns -1 with
 * errno set when the file cannot be opened. */
int ctr_log_open(struct ctr_log *log, const char *path, bool json, bool debug);
void ctr_log_close(struct ctr_log *log);

/* Writes one line; debug lines only with log->debug. log may be NULL. */
void ctr_log(const struct ctr_log *log, enum ctr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
