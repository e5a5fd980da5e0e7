/* virtio-console (VirtIO 1.2 section 5.3), single port without MULTIPORT:
 * receiveq 0 carries in_fd's bytes to the guest, transmitq 1 the guest's
 * output to out_fd. in_fd is polled on the event loop only while the guest
 * has receive buffers posted. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "devices/dev_state.h"
#include "devices/virtio/virtio_pci.h"
#include "vmm/vm.h"

#define VIRTIO_ID_CONSOLE  3
#define CON_RX             0
#define CON_TX             1
#define CON_OUT_TIMEOUT_MS 1000

struct virtio_console {
        struct virtio_pci vp;
        int in_fd, out_fd;
        bool in_polled;  /* in_fd registered with the loop */
        bool in_waiting; /* polling paused: no receive buffers */
};

/* Writes all of buf; a non-blocking out_fd gets a bounded wait, after which
 * output is dropped rather than stalling the loop forever. */
static void write_all(int fd, const uint8_t *buf, size_t len)
{
        while (len) {
                ssize_t n = write(fd, buf, len);
                if (n > 0) {
                        buf += n;
                        len -= (size_t)n;
                } else if (n < 0 && errno == EINTR) {
                        continue;
                } else if (n < 0 && errno == EAGAIN) {
                        struct pollfd p = {.fd = fd, .events = POLLOUT};
                        if (poll(&p, 1, CON_OUT_TIMEOUT_MS) <= 0)
                                return;
                } else {
                        return;
                }
        }
}

static int64_t con_tx(struct virtio_pci *vp, unsigned q, struct virtq_chain *c)
{
        struct virtio_console *con = vp->opaque;

        (void)q;
        for (unsigned i = 0; i < c->n_out; i++)
                if (con->out_fd >= 0)
                        write_all(con->out_fd, c->iov[i].iov_base, c->iov[i].iov_len);
        virtio_pci_count(&vp->stats.bytes, c->out_len);
        return 0;
}

static void con_poll_input(struct virtio_console *con, bool on)
{
        if (!con->in_polled || con->in_waiting == !on)
                return;
        con->in_waiting = !on;
        evloop_mod(con->vp.vm->loop, con->in_fd, on ? EPOLLIN : 0, NULL);
}

/* One read per readiness event: in_fd may be blocking (a terminal). */
static void con_input_locked(struct virtio_console *con)
{
        struct virtio_pci *vp = &con->vp;
        struct virtq *vq = &vp->queues[CON_RX].vq;
        enum virtq_result r;
        ssize_t n;

        if (!virtio_pci_queue_live(&con->vp, CON_RX)) {
                con_poll_input(con, false);
                return;
        }
        r = virtq_pop(vq, vp->chain);
        if (r == VIRTQ_BROKEN) {
                virtio_pci_set_broken(vp);
                return;
        }
        if (r == VIRTQ_EMPTY) {
                /* Paused until the guest posts buffers and notifies. */
                if (!virtq_arm_notify(vq))
                        con_poll_input(con, false);
                return;
        }
        n = readv(con->in_fd, &vp->chain->iov[vp->chain->n_out], (int)vp->chain->n_in);
        if (n <= 0) {
                virtq_unpop(vq);
                if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                        /* EOF or a dead fd: no more input, ever. */
                        evloop_del(vp->vm->loop, con->in_fd);
                        con->in_polled = false;
                }
                return;
        }
        virtq_push(vq, vp->chain->head, (uint32_t)n);
        virtio_pci_count(&vp->stats.requests, 1);
        virtio_pci_count(&vp->stats.bytes, (uint64_t)n);
        virtio_pci_queue_interrupt(vp, CON_RX);
}

static void con_input_ready(void *opaque, uint32_t events)
{
        struct virtio_console *con = opaque;

        (void)events;
        pthread_mutex_lock(&con->vp.lock);
        if (con->in_polled)
                con_input_locked(con);
        pthread_mutex_unlock(&con->vp.lock);
}

static void con_queue_notify(struct virtio_pci *vp, unsigned q)
{
        struct virtio_console *con = vp->opaque;

        if (q == CON_TX)
                virtio_pci_drain(vp, q, con_tx);
        else
                con_poll_input(con, true);
}

static const struct virtio_dev_ops con_ops = {
    .queue_notify = con_queue_notify,
};

int virtio_console_create(struct vm *vm, struct pci_bus *bus, int in_fd, int out_fd,
                          struct virtio_console **out, struct isola_err *err)
{
        struct virtio_console *con = calloc(1, sizeof(*con));
        struct virtio_pci_params p = {
            .name = "virtio-console",
            .device_id = VIRTIO_ID_CONSOLE,
            .class_code = 0x078000,
            .n_queues = 2,
            .queue_size = 64,
            .ops = &con_ops,
        };

        if (!con)
                return err_set(err, ENOMEM, "virtio-console: out of memory");
        con->in_fd = in_fd;
        con->out_fd = out_fd;
        p.opaque = con;
        con->vp.dev_cfg_len = 12; /* cols, rows, max_nr_ports, emerg_wr: unused */
        if (virtio_pci_init(&con->vp, vm, bus, &p, err) < 0) {
                virtio_console_destroy(con);
                return -1;
        }
        /* Registered paused; the first receiveq notification starts polling. */
        if (in_fd >= 0) {
                if (evloop_add(vm->loop, in_fd, 0, con_input_ready, con, err) < 0) {
                        virtio_console_destroy(con);
                        return err_prefix(err, "virtio-console: input fd %d", in_fd);
                }
                con->in_polled = true;
                con->in_waiting = true;
        }
        *out = con;
        return 0;
}

void virtio_console_destroy(struct virtio_console *con)
{
        if (!con)
                return;
        if (con->in_polled)
                evloop_del(con->vp.vm->loop, con->in_fd);
        virtio_pci_uninit(&con->vp);
        free(con);
}

void virtio_console_stats(const struct virtio_console *con, struct virtio_stats *st)
{
        virtio_pci_get_stats((struct virtio_pci *)&con->vp, st);
}

/* ---- snapshot state (devices/dev_state.h): the transport holds it all ---- */

void virtio_console_save(struct virtio_console *con, struct dstate_w *w)
{
        virtio_pci_save(&con->vp, w);
}

int virtio_console_load(struct virtio_console *con, struct dstate_r *r, struct isola_err *err)
{
        return virtio_pci_load(&con->vp, r, err);
}
