/* Streamed workers with a status line (tarstream.c), for the routes that
 * move tars: archive, images get/load, build. */
#ifndef ISOLA_API_TARSTREAM_H
#define ISOLA_API_TARSTREAM_H

#include "api/api_internal.h"

/* Starts fn in a worker (stdin_fd: its stdin, or -1) and waits for its
 * status line: fn calls api_tar_status(out, payload) once it knows it will
 * succeed, then streams; a failing fn just returns -1. On success
 * *status_line is the payload (heap; free it) and st streams the rest;
 * on failure err has the worker's errno and message (and st is reaped). */
int api_tar_start(struct api_server *s, api_work_fn fn, void *arg, int stdin_fd,
                  struct api_stream *st, char **status_line, struct isola_err *err);
int api_tar_status(FILE *out, const char *payload);

/* 200 with the rest of st's stdout as the body (or no body), one extra
 * header; takes st over. */
enum MHD_Result api_tar_reply(struct api_call *c, struct api_stream *st, const char *type,
                              const char *hdr_name, const char *hdr_value, bool body);

/* Writes dir/name (recursively, symlinks as symlinks) as a tar to fd.
 * Changes the working directory to dir (a worker process only). */
int api_tar_write(const char *dir, const char *name, int fd, struct isola_err *err);

#endif
