/* virtio-rng (VirtIO 1.2 section 5.4): one request queue whose writable
 * buffers are filled from the host's getrandom(). */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "devices/virtio/virtio.h"
#include "devices/dev_state.h"
#include "devices/virtio/virtio_pci.h"

#define VIRTIO_ID_ENTROPY   4
#define RNG_MAX_PER_REQUEST 4096

struct virtio_rng {
        struct virtio_pci vp;
};

static int64_t rng_request(struct virtio_pci *vp, unsigned q, struct virtq_chain *c)
{
        size_t done = 0;

        (void)q;
        /* Bounded per request so a huge buffer cannot stall the loop. */
        for (unsigned i = c->n_out; i < c->n_out + c->n_in && done < RNG_MAX_PER_REQUEST; i++) {
                size_t want = c->iov[i].iov_len;
                ssize_t got;

                if (want > RNG_MAX_PER_REQUEST - done)
                        want = RNG_MAX_PER_REQUEST - done;
                got = getrandom(c->iov[i].iov_base, want, GRND_NONBLOCK);
                if (got <= 0)
                        break;
                done += (size_t)got;
                if ((size_t)got < want)
                        break;
        }
        virtio_pci_count(&vp->stats.bytes, done);
        return (int64_t)done;
}

static void rng_queue_notify(struct virtio_pci *vp, unsigned q)
{
        virtio_pci_drain(vp, q, rng_request);
}

static const struct virtio_dev_ops rng_ops = {
    .queue_notify = rng_queue_notify,
};

int virtio_rng_create(struct vm *vm, struct pci_bus *bus, struct virtio_rng **out,
                      struct isola_err *err)
{
        struct virtio_rng *rng = calloc(1, sizeof(*rng));
        struct virtio_pci_params p = {
            .name = "virtio-rng",
            .device_id = VIRTIO_ID_ENTROPY,
            .class_code = 0x00ff00,
            .n_queues = 1,
            .queue_size = 64,
            .ops = &rng_ops,
        };

        if (!rng)
                return err_set(err, ENOMEM, "virtio-rng: out of memory");
        p.opaque = rng;
        if (virtio_pci_init(&rng->vp, vm, bus, &p, err) < 0) {
                virtio_rng_destroy(rng);
                return -1;
        }
        *out = rng;
        return 0;
}

void virtio_rng_destroy(struct virtio_rng *rng)
{
        if (!rng)
                return;
        virtio_pci_uninit(&rng->vp);
        free(rng);
}

void virtio_rng_stats(const struct virtio_rng *rng, struct virtio_stats *st)
{
        virtio_pci_get_stats((struct virtio_pci *)&rng->vp, st);
}

/* ---- snapshot state (devices/dev_state.h): the transport holds it all ---- */

void virtio_rng_save(struct virtio_rng *rng, struct dstate_w *w)
{
        virtio_pci_save(&rng->vp, w);
}

int virtio_rng_load(struct virtio_rng *rng, struct dstate_r *r, struct isola_err *err)
{
        return virtio_pci_load(&rng->vp, r, err);
}
