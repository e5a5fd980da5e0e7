/* Split virtqueue (VirtIO 1.2 section 2.7), device side: validating the rings
 * the driver placed in guest memory, walking descriptor chains into host
 * iovecs, returning used buffers, and the notification suppression logic
 * (VIRTIO_F_EVENT_IDX / VIRTQ_AVAIL_F_NO_INTERRUPT).
 *
 * Everything in the rings is written by the guest at any time, so every
 * field is read once into a local, checked, and every buffer goes through
 * guest_mem_ptr(). Any violation makes the walker return VIRTQ_BROKEN: the
 * transport then marks the device DEVICE_NEEDS_RESET. */
#ifndef ISOLA_DEVICES_VIRTIO_VIRTQUEUE_H
#define ISOLA_DEVICES_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/guest_mem.h"

#define VIRTQ_MAX_SIZE 256
/* Bound on the descriptors of one chain, direct and indirect together; it is
 * also IOV_MAX so a chain can be handed to preadv/writev as is. */
#define VIRTQ_MAX_SEGS 1024

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

struct virtq_desc {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        uint16_t next;
};

struct virtq_avail {
        uint16_t flags;
        uint16_t idx;
        uint16_t ring[]; /* then le16 used_event */
};

struct virtq_used_elem {
        uint32_t id;
        uint32_t len;
};

struct virtq_used {
        uint16_t flags;
        uint16_t idx;
        struct virtq_used_elem ring[]; /* then le16 avail_event */
};

struct virtq {
        /* Set by the driver through the transport before virtq_start(). */
        uint16_t size;
        uint64_t desc_gpa, avail_gpa, used_gpa;
        bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
        bool indirect;  /* VIRTIO_F_INDIRECT_DESC negotiated */

        /* Run-time state. */
        bool ready;
        const struct guest_mem *mem;
        struct virtq_desc *desc;
        struct virtq_avail *avail;
        struct virtq_used *used;
        uint16_t last_avail; /* next avail ring entry to consume */
        uint16_t used_idx;   /* next used ring entry to fill (shadow of used->idx) */
        uint16_t signalled;  /* used_idx when the driver was last considered for an interrupt */
        bool signalled_valid;
};

/* One descriptor chain: the device-readable segments iov[0, n_out) followed
 * by the device-writable ones iov[n_out, n_out + n_in). */
struct virtq_chain {
        uint16_t head;
        unsigned n_out, n_in;
        uint64_t out_len, in_len;
        struct iovec iov[VIRTQ_MAX_SEGS];
};

enum virtq_result {
        VIRTQ_BROKEN = -1,
        VIRTQ_EMPTY = 0,
        VIRTQ_OK = 1,
};

/* Validates size and ring placement and maps the rings; -1 when the driver's
 * configuration is unusable (the caller marks the device broken). */
int virtq_start(struct virtq *vq, const struct guest_mem *mem);
/* Back to the reset state (size kept at max_size, addresses cleared). */
void virtq_reset(struct virtq *vq, uint16_t max_size);

/* Takes the next available chain into *chain. */
enum virtq_result virtq_pop(struct virtq *vq, struct virtq_chain *chain);
/* Gives back the chain virtq_pop just returned (nothing to put in it yet). */
void virtq_unpop(struct virtq *vq);
/* Returns a chain to the driver with len bytes written into it. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* After a batch of pushes: whether the driver asked to be interrupted. */
bool virtq_need_interrupt(struct virtq *vq);
/* Before going idle: asks the driver to notify on its next buffer and returns
 * true when buffers arrived meanwhile (process them before sleeping). */
bool virtq_arm_notify(struct virtq *vq);
/* Whether the avail ring holds buffers not yet consumed (-1 when broken). */
int virtq_has_avail(struct virtq *vq);

/* iovec helpers over a chain's segments. */
size_t iov_copy_from(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len);
size_t iov_copy_to(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len);
/* dst = the bytes [skip, skip + len) of iov, as at most max segments; returns the count. */
unsigned iov_slice(const struct iovec *iov, unsigned n, size_t skip, size_t len, struct iovec *dst,
                   unsigned max);

#endif
