/* The device back-end event loop: one thread blocked in epoll_wait, running
 * callbacks for ioeventfds (guest notifications), TAP/console fds and timers.
 * No busy waiting anywhere. Callbacks run on the loop thread. */
#ifndef ISOLA_VMM_EVLOOP_H
#define ISOLA_VMM_EVLOOP_H

#include <stdint.h>

#include "util/err.h"

typedef void (*evloop_cb)(void *opaque, uint32_t events);

struct evloop;

struct evloop *evloop_new(struct isola_err *err);
void evloop_free(struct evloop *loop);
/* events are EPOLLIN/EPOLLOUT/...; may be called from any thread. */
int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_cb cb, void *opaque,
               struct isola_err *err);
int evloop_mod(struct evloop *loop, int fd, uint32_t events, struct isola_err *err);
int evloop_del(struct evloop *loop, int fd);
/* Starts / stops the loop thread. */
int evloop_start(struct evloop *loop, struct isola_err *err);
void evloop_stop(struct evloop *loop);

#endif
