/* The back-end event loop (see evloop.h). Registrations live in a list that
 * is only freed with the loop: a callback may delete its own or another fd
 * while events for it are still pending in the current epoll batch, so a
 * deleted entry is only marked dead. */
#include "vmm/evloop.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct evloop_entry {
        int fd;
        bool dead;
        evloop_cb cb;
        void *opaque;
        struct evloop_entry *next;
};

struct evloop {
        int epfd, stop_fd;
        pthread_t thread;
        bool running;
        pthread_mutex_t lock;
        struct evloop_entry *entries;
};

struct evloop *evloop_new(struct isola_err *err)
{
        struct evloop *loop = calloc(1, sizeof(*loop));

        if (!loop) {
                err_set(err, ENOMEM, "event loop: out of memory");
                return NULL;
        }
        pthread_mutex_init(&loop->lock, NULL);
        loop->stop_fd = -1;
        loop->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (loop->epfd < 0) {
                err_sys(err, "event loop: epoll_create1");
                goto fail;
        }
        loop->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (loop->stop_fd < 0) {
                err_sys(err, "event loop: eventfd");
                goto fail;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->stop_fd, &ev) < 0) {
                err_sys(err, "event loop: epoll_ctl");
                goto fail;
        }
        return loop;
fail:
        evloop_free(loop);
        return NULL;
}

void evloop_free(struct evloop *loop)
{
        if (!loop)
                return;
        evloop_stop(loop);
        while (loop->entries) {
                struct evloop_entry *e = loop->entries;
                loop->entries = e->next;
                free(e);
        }
        if (loop->epfd >= 0)
                close(loop->epfd);
        if (loop->stop_fd >= 0)
                close(loop->stop_fd);
        pthread_mutex_destroy(&loop->lock);
        free(loop);
}

static struct evloop_entry *find_live(struct evloop *loop, int fd)
{
        for (struct evloop_entry *e = loop->entries; e; e = e->next)
                if (e->fd == fd && !e->dead)
                        return e;
        return NULL;
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_cb cb, void *opaque,
               struct isola_err *err)
{
        struct evloop_entry *e = calloc(1, sizeof(*e));

        if (!e)
                return err_set(err, ENOMEM, "event loop: out of memory");
        *e = (struct evloop_entry){.fd = fd, .cb = cb, .opaque = opaque};
        struct epoll_event ev = {.events = events, .data.ptr = e};
        pthread_mutex_lock(&loop->lock);
        if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                pthread_mutex_unlock(&loop->lock);
                free(e);
                return err_sys(err, "event loop: adding fd %d", fd);
        }
        e->next = loop->entries;
        loop->entries = e;
        pthread_mutex_unlock(&loop->lock);
        return 0;
}

int evloop_mod(struct evloop *loop, int fd, uint32_t events, struct isola_err *err)
{
        int ret = 0;

        pthread_mutex_lock(&loop->lock);
        struct evloop_entry *e = find_live(loop, fd);
        struct epoll_event ev = {.events = events, .data.ptr = e};
        if (!e)
                ret = err_set(err, ENOENT, "event loop: fd %d is not registered", fd);
        else if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
                ret = err_sys(err, "event loop: modifying fd %d", fd);
        pthread_mutex_unlock(&loop->lock);
        return ret;
}

int evloop_del(struct evloop *loop, int fd)
{
        int ret = -1;

        pthread_mutex_lock(&loop->lock);
        struct evloop_entry *e = find_live(loop, fd);
        if (e) {
                e->dead = true;
                ret = epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
        }
        pthread_mutex_unlock(&loop->lock);
        return ret;
}

static bool entry_is_dead(struct evloop *loop, struct evloop_entry *e)
{
        pthread_mutex_lock(&loop->lock);
        bool dead = e->dead;
        pthread_mutex_unlock(&loop->lock);
        return dead;
}

static void *loop_thread(void *arg)
{
        struct evloop *loop = arg;
        struct epoll_event evs[32];

        for (;;) {
                int n = epoll_wait(loop->epfd, evs, 32, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < n; i++) {
                        struct evloop_entry *e = evs[i].data.ptr;
                        if (!e)
                                return NULL; /* the stop eventfd */
                        if (!entry_is_dead(loop, e))
                                e->cb(e->opaque, evs[i].events);
                }
        }
        return NULL;
}

int evloop_start(struct evloop *loop, struct isola_err *err)
{
        int rc = pthread_create(&loop->thread, NULL, loop_thread, loop);

        if (rc != 0)
                return err_set(err, rc, "event loop: creating thread failed");
        loop->running = true;
        return 0;
}

void evloop_stop(struct evloop *loop)
{
        uint64_t one = 1;

        if (!loop->running)
                return;
        if (write(loop->stop_fd, &one, sizeof(one)) < 0) {
                /* The counter cannot overflow with one write; nothing to do. */
        }
        pthread_join(loop->thread, NULL);
        /* Consume the stop signal so the loop can be started again (a
         * snapshot stops it while it saves the devices). */
        if (read(loop->stop_fd, &one, sizeof(one)) < 0) {
                /* already zero: nothing to consume */
        }
        loop->running = false;
}
