/* Split virtqueue walker, device side (see virtqueue.h). Ordering: the
 * driver publishes descriptors, then the ring entry, then avail->idx with a
 * release; we load avail->idx with acquire before reading anything it
 * covers, and publish used entries before used->idx with a release. */
#include "devices/virtio/virtqueue.h"

#include <string.h>

#define compiler_barrier() __asm__ __volatile__("" ::: "memory")

static bool is_pow2(uint32_t v)
{
        return v && !(v & (v - 1));
}

void virtq_reset(struct virtq *vq, uint16_t max_size)
{
        memset(vq, 0, sizeof(*vq));
        vq->size = max_size;
}

int virtq_start(struct virtq *vq, const struct guest_mem *mem)
{
        uint32_t n = vq->size;

        if (!is_pow2(n) || n > VIRTQ_MAX_SIZE)
                return -1;
        /* Alignment from the spec (2.7.10.1); it also keeps the atomic
         * accesses to idx fields naturally aligned. */
        if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
                return -1;
        vq->desc = guest_mem_ptr(mem, vq->desc_gpa, 16ULL * n);
        vq->avail = guest_mem_ptr(mem, vq->avail_gpa, 6ULL + 2ULL * n);
        vq->used = guest_mem_ptr(mem, vq->used_gpa, 6ULL + 8ULL * n);
        if (!vq->desc || !vq->avail || !vq->used)
                return -1;
        vq->mem = mem;
        vq->last_avail = 0;
        vq->used_idx = 0;
        vq->signalled_valid = false;
        vq->ready = true;
        return 0;
}

static uint16_t *used_event_ptr(struct virtq *vq)
{
        return &vq->avail->ring[vq->size];
}

static uint16_t *avail_event_ptr(struct virtq *vq)
{
        return (uint16_t *)&vq->used->ring[vq->size];
}

static uint16_t load_avail_idx(struct virtq *vq)
{
        return __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
}

int virtq_has_avail(struct virtq *vq)
{
        uint16_t pending;

        if (!vq->ready)
                return 0;
        pending = (uint16_t)(load_avail_idx(vq) - vq->last_avail);
        if (pending > vq->size)
                return -1;
        return pending != 0;
}

/* Reads a descriptor once: the guest may rewrite it while we look. */
static struct virtq_desc read_desc(const struct virtq_desc *table, uint32_t i)
{
        struct virtq_desc d;

        memcpy(&d, &table[i], sizeof(d));
        compiler_barrier();
        return d;
}

struct walk {
        struct virtq_chain *chain;
        unsigned visited; /* descriptors seen in the whole chain */
};

static int add_segment(struct virtq *vq, struct walk *w, const struct virtq_desc *d)
{
        struct virtq_chain *c = w->chain;
        bool writable = d->flags & VIRTQ_DESC_F_WRITE;
        void *p;

        /* Readable descriptors must all precede writable ones (2.7.4.2). */
        if (!writable && c->n_in)
                return -1;
        if (d->len == 0)
                return 0;
        if (c->n_out + c->n_in >= VIRTQ_MAX_SEGS)
                return -1;
        p = guest_mem_ptr(vq->mem, d->addr, d->len);
        if (!p)
                return -1;
        c->iov[c->n_out + c->n_in] = (struct iovec){.iov_base = p, .iov_len = d->len};
        if (writable) {
                c->n_in++;
                c->in_len += d->len;
        } else {
                c->n_out++;
                c->out_len += d->len;
        }
        return 0;
}

/* Walks a table of `count` descriptors from index i. Loops are caught by the
 * bound on visited descriptors: a loop-free chain visits each at most once. */
static int walk_table(struct virtq *vq, struct walk *w, const struct virtq_desc *table,
                      uint32_t count, uint32_t i, bool nested)
{
        unsigned in_table = 0;

        for (;;) {
                struct virtq_desc d;

                if (i >= count || ++in_table > count || ++w->visited > VIRTQ_MAX_SEGS)
                        return -1;
                d = read_desc(table, i);
                if (d.flags & VIRTQ_DESC_F_INDIRECT) {
                        const struct virtq_desc *ind;

                        /* No nesting, no NEXT alongside INDIRECT (2.7.5.3.1). */
                        if (!vq->indirect || nested || (d.flags & VIRTQ_DESC_F_NEXT))
                                return -1;
                        if (d.len == 0 || d.len % 16 || d.len / 16 > VIRTQ_MAX_SEGS)
                                return -1;
                        ind = guest_mem_ptr(vq->mem, d.addr, d.len);
                        if (!ind)
                                return -1;
                        return walk_table(vq, w, ind, d.len / 16, 0, true);
                }
                if (add_segment(vq, w, &d) < 0)
                        return -1;
                if (!(d.flags & VIRTQ_DESC_F_NEXT))
                        return 0;
                i = d.next;
        }
}

enum virtq_result virtq_pop(struct virtq *vq, struct virtq_chain *chain)
{
        struct walk w = {.chain = chain};
        uint16_t avail_idx, head;

        if (!vq->ready)
                return VIRTQ_EMPTY;
        avail_idx = load_avail_idx(vq);
        if ((uint16_t)(avail_idx - vq->last_avail) > vq->size)
                return VIRTQ_BROKEN;
        if (avail_idx == vq->last_avail)
                return VIRTQ_EMPTY;
        head = __atomic_load_n(&vq->avail->ring[vq->last_avail & (vq->size - 1)], __ATOMIC_RELAXED);
        chain->head = head;
        chain->n_out = chain->n_in = 0;
        chain->out_len = chain->in_len = 0;
        if (walk_table(vq, &w, vq->desc, vq->size, head, false) < 0)
                return VIRTQ_BROKEN;
        vq->last_avail++;
        return VIRTQ_OK;
}

void virtq_unpop(struct virtq *vq)
{
        vq->last_avail--;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
        struct virtq_used_elem *e = &vq->used->ring[vq->used_idx & (vq->size - 1)];

        __atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
        __atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
        vq->used_idx++;
        __atomic_store_n(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
}

/* vring_need_event (2.7.10): interrupt when used_event lies in the
 * half-open range of entries added since the last decision. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
        return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

bool virtq_need_interrupt(struct virtq *vq)
{
        uint16_t old = vq->signalled, event;
        bool valid = vq->signalled_valid;

        if (!vq->ready)
                return false;
        /* The used idx store must be visible before we read the driver's
         * suppression fields, or both sides may decide not to act. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (!vq->event_idx)
                return !(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED) &
                         VIRTQ_AVAIL_F_NO_INTERRUPT);
        vq->signalled = vq->used_idx;
        vq->signalled_valid = true;
        if (!valid)
                return true;
        event = __atomic_load_n(used_event_ptr(vq), __ATOMIC_RELAXED);
        return need_event(event, vq->used_idx, old);
}

bool virtq_arm_notify(struct virtq *vq)
{
        if (!vq->ready)
                return false;
        if (vq->event_idx)
                __atomic_store_n(avail_event_ptr(vq), vq->last_avail, __ATOMIC_RELAXED);
        /* Publish avail_event before re-reading avail->idx (pairs with the
         * driver's barrier between its idx store and the avail_event load). */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        return load_avail_idx(vq) != vq->last_avail;
}

/* Copies between buf and the bytes of iov after `skip`, in the direction
 * to_iov says; returns how many bytes were copied. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t skip, uint8_t *buf, size_t len,
                       bool to_iov)
{
        size_t done = 0;

        for (unsigned i = 0; i < n && done < len; i++) {
                size_t seg = iov[i].iov_len, take;
                uint8_t *base = iov[i].iov_base;

                if (skip >= seg) {
                        skip -= seg;
                        continue;
                }
                take = seg - skip < len - done ? seg - skip : len - done;
                if (to_iov)
                        memcpy(base + skip, buf + done, take);
                else
                        memcpy(buf + done, base + skip, take);
                done += take;
                skip = 0;
        }
        return done;
}

size_t iov_copy_from(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len)
{
        return iov_copy(iov, n, skip, buf, len, false);
}

size_t iov_copy_to(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len)
{
        /* Only read from when to_iov is true. */
        return iov_copy(iov, n, skip, (uint8_t *)buf, len, true);
}

unsigned iov_slice(const struct iovec *iov, unsigned n, size_t skip, size_t len, struct iovec *dst,
                   unsigned max)
{
        unsigned out = 0;

        for (unsigned i = 0; i < n && len && out < max; i++) {
                size_t seg = iov[i].iov_len, take;

                if (skip >= seg) {
                        skip -= seg;
                        continue;
                }
                take = seg - skip < len ? seg - skip : len;
                dst[out++] = (struct iovec){(uint8_t *)iov[i].iov_base + skip, take};
                len -= take;
                skip = 0;
        }
        return out;
}
