/* The split-virtqueue walker on rings laid out in a fake guest RAM: normal
 * chains (NEXT, WRITE, INDIRECT), notification suppression (EVENT_IDX,
 * NO_INTERRUPT) and every hostile case turning into VIRTQ_BROKEN. */
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"
#include "tap.h"

#define RAM_SIZE (1u << 20)
#define QSIZE    16
#define DESC     0x1000
#define AVAIL    0x2000
#define USED     0x3000
#define IND      0x4000
#define BUF      0x8000

static uint8_t *ram;
static struct guest_mem mem;
static struct virtq vq;
static struct virtq_chain chain;

static struct virtq_desc *desc(void)
{
        return (struct virtq_desc *)(ram + DESC);
}

static struct virtq_avail *avail(void)
{
        return (struct virtq_avail *)(ram + AVAIL);
}

static struct virtq_used *used(void)
{
        return (struct virtq_used *)(ram + USED);
}

static void fresh(bool indirect, bool event_idx)
{
        memset(ram, 0, RAM_SIZE);
        virtq_reset(&vq, QSIZE);
        vq.desc_gpa = DESC;
        vq.avail_gpa = AVAIL;
        vq.used_gpa = USED;
        vq.indirect = indirect;
        vq.event_idx = event_idx;
        if (virtq_start(&vq, &mem) < 0)
                abort();
}

static void set_desc(struct virtq_desc *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
        t[i] = (struct virtq_desc){.addr = addr, .len = len, .flags = flags, .next = next};
}

static void publish(uint16_t head)
{
        avail()->ring[avail()->idx % QSIZE] = head;
        avail()->idx++;
}

static enum virtq_result pop_one(uint16_t head)
{
        publish(head);
        return virtq_pop(&vq, &chain);
}

static void test_plain_chain(void)
{
        fresh(false, false);
        set_desc(desc(), 3, BUF, 16, VIRTQ_DESC_F_NEXT, 7);
        set_desc(desc(), 7, BUF + 16, 100, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
        set_desc(desc(), 1, BUF + 200, 1, VIRTQ_DESC_F_WRITE, 0);
        TAP_EQ_INT(virtq_pop(&vq, &chain), VIRTQ_EMPTY, "empty ring pops nothing");
        TAP_EQ_INT(pop_one(3), VIRTQ_OK, "3-descriptor chain pops");
        TAP_EQ_INT(chain.head, 3, "head id");
        TAP_EQ_INT(chain.n_out, 1, "one readable segment");
        TAP_EQ_INT(chain.n_in, 2, "two writable segments");
        TAP_EQ_INT(chain.out_len, 16, "readable bytes");
        TAP_EQ_INT(chain.in_len, 101, "writable bytes");
        tap_ok(chain.iov[0].iov_base == ram + BUF && chain.iov[2].iov_base == ram + BUF + 200,
               "segments point into guest RAM");
        virtq_push(&vq, chain.head, 101);
        TAP_EQ_INT(used()->idx, 1, "push publishes used idx");
        TAP_EQ_INT(used()->ring[0].id, 3, "used id");
        TAP_EQ_INT(used()->ring[0].len, 101, "used len");
        TAP_EQ_INT(virtq_pop(&vq, &chain), VIRTQ_EMPTY, "ring drained");
}

static void test_indirect(void)
{
        struct virtq_desc *ind = (struct virtq_desc *)(ram + IND);

        fresh(true, false);
        set_desc(ind, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
        set_desc(ind, 2, BUF + 16, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
        set_desc(ind, 1, BUF + 600, 1, VIRTQ_DESC_F_WRITE, 0);
        set_desc(desc(), 5, IND, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
        TAP_EQ_INT(pop_one(5), VIRTQ_OK, "indirect chain pops");
        TAP_EQ_INT(chain.n_out + chain.n_in, 3, "indirect table's 3 segments");
        TAP_EQ_INT(chain.in_len, 513, "indirect writable bytes");

        fresh(false, false);
        set_desc(desc(), 0, IND, 16, VIRTQ_DESC_F_INDIRECT, 0);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "INDIRECT without the feature: broken");

        fresh(true, false);
        set_desc(ind, 0, IND, 16, VIRTQ_DESC_F_INDIRECT, 0);
        set_desc(desc(), 0, IND, 16, VIRTQ_DESC_F_INDIRECT, 0);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "nested indirect: broken");

        fresh(true, false);
        set_desc(ind, 0, BUF, 16, 0, 0);
        set_desc(desc(), 0, IND, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "INDIRECT with NEXT: broken");

        fresh(true, false);
        set_desc(desc(), 0, IND, 24, VIRTQ_DESC_F_INDIRECT, 0);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "indirect length not a multiple of 16: broken");

        fresh(true, false);
        set_desc(desc(), 0, RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "indirect table crossing the end of RAM: broken");

        fresh(true, false);
        for (unsigned i = 0; i < 4; i++)
                set_desc(ind, i, BUF, 8, VIRTQ_DESC_F_NEXT, (uint16_t)((i + 1) % 4));
        set_desc(desc(), 0, IND, 4 * 16, VIRTQ_DESC_F_INDIRECT, 0);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "loop inside an indirect table: broken");

        fresh(true, false);
        set_desc(ind, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 9);
        set_desc(desc(), 0, IND, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "indirect next beyond its table: broken");
}

static void test_hostile(void)
{
        fresh(false, false);
        set_desc(desc(), 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
        set_desc(desc(), 1, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "descriptor loop: broken");

        fresh(false, false);
        set_desc(desc(), 0, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "self loop: broken");

        fresh(false, false);
        TAP_EQ_INT(pop_one(QSIZE), VIRTQ_BROKEN, "head index out of range: broken");

        fresh(false, false);
        set_desc(desc(), 0, BUF, 8, VIRTQ_DESC_F_NEXT, 200);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "next index out of range: broken");

        fresh(false, false);
        set_desc(desc(), 0, RAM_SIZE + 4096, 8, 0, 0);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "buffer outside RAM: broken");

        fresh(false, false);
        set_desc(desc(), 0, RAM_SIZE - 8, 16, 0, 0);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "buffer crossing the end of RAM: broken");

        fresh(false, false);
        set_desc(desc(), 0, ~0ULL - 4, 0xffffffffu, 0, 0);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "address + length wrapping around: broken");

        fresh(false, false);
        set_desc(desc(), 0, BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
        set_desc(desc(), 1, BUF, 8, 0, 0);
        TAP_EQ_INT(pop_one(0), VIRTQ_BROKEN, "readable after writable: broken");

        fresh(false, false);
        avail()->idx = QSIZE + 1;
        TAP_EQ_INT(virtq_pop(&vq, &chain), VIRTQ_BROKEN, "avail idx jumping past the size: broken");
        TAP_EQ_INT(virtq_has_avail(&vq), -1, "has_avail reports it too");

        fresh(false, false);
        for (unsigned i = 0; i < QSIZE; i++)
                set_desc(desc(), i, BUF, 8, i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0,
                         (uint16_t)(i + 1));
        TAP_EQ_INT(pop_one(0), VIRTQ_OK, "chain as long as the queue is fine");
        TAP_EQ_INT(chain.n_out, QSIZE, "all its segments");
}

static void test_start_checks(void)
{
        struct virtq q;

        virtq_reset(&q, 12);
        q.desc_gpa = DESC, q.avail_gpa = AVAIL, q.used_gpa = USED;
        tap_ok(virtq_start(&q, &mem) < 0, "size not a power of 2 refused");
        virtq_reset(&q, 512);
        q.desc_gpa = DESC, q.avail_gpa = AVAIL, q.used_gpa = USED;
        tap_ok(virtq_start(&q, &mem) < 0, "size above the maximum refused");
        virtq_reset(&q, 16);
        q.desc_gpa = DESC + 8, q.avail_gpa = AVAIL, q.used_gpa = USED;
        tap_ok(virtq_start(&q, &mem) < 0, "misaligned descriptor table refused");
        virtq_reset(&q, 16);
        q.desc_gpa = DESC, q.avail_gpa = AVAIL, q.used_gpa = RAM_SIZE - 8;
        tap_ok(virtq_start(&q, &mem) < 0, "used ring past the end of RAM refused");
        virtq_reset(&q, 16);
        q.desc_gpa = DESC, q.avail_gpa = AVAIL, q.used_gpa = USED;
        tap_ok(virtq_start(&q, &mem) == 0, "good placement accepted");
}

static void test_suppression(void)
{
        uint16_t *used_event, *avail_event;

        fresh(false, false);
        set_desc(desc(), 0, BUF, 8, 0, 0);
        pop_one(0);
        virtq_push(&vq, 0, 0);
        tap_ok(virtq_need_interrupt(&vq), "no EVENT_IDX: interrupt by default");
        avail()->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
        pop_one(0);
        virtq_push(&vq, 0, 0);
        tap_ok(!virtq_need_interrupt(&vq), "NO_INTERRUPT suppresses it");

        fresh(false, true);
        used_event = &avail()->ring[QSIZE];
        avail_event = (uint16_t *)&used()->ring[QSIZE];
        set_desc(desc(), 0, BUF, 8, 0, 0);
        pop_one(0);
        virtq_push(&vq, 0, 0);
        tap_ok(virtq_need_interrupt(&vq), "EVENT_IDX: first completion interrupts");
        *used_event = 5; /* driver wants an interrupt once entry 5 is used */
        for (int i = 1; i < 5; i++) {
                pop_one(0);
                virtq_push(&vq, 0, 0);
                tap_ok(!virtq_need_interrupt(&vq), "EVENT_IDX: entry %d before used_event: none",
                       i);
        }
        pop_one(0);
        virtq_push(&vq, 0, 0);
        tap_ok(virtq_need_interrupt(&vq), "EVENT_IDX: crossing used_event interrupts");
        pop_one(0);
        tap_ok(!virtq_arm_notify(&vq), "arm with nothing pending");
        TAP_EQ_INT(*avail_event, 7, "avail_event = next entry to consume");
        publish(0);
        tap_ok(virtq_arm_notify(&vq), "arm sees a buffer that raced in");
}

static void test_iov_helpers(void)
{
        uint8_t a[3] = {1, 2, 3}, b[4] = {4, 5, 6, 7}, out[7] = {0};
        struct iovec iov[2] = {{a, 3}, {b, 4}}, dst[2];
        unsigned n;

        TAP_EQ_INT(iov_copy_from(iov, 2, 2, out, 4), 4, "copy across segments");
        tap_ok(out[0] == 3 && out[1] == 4 && out[3] == 6, "bytes in order");
        TAP_EQ_INT(iov_copy_from(iov, 2, 6, out, 4), 1, "copy stops at the end");
        n = iov_slice(iov, 2, 1, 4, dst, 2);
        TAP_EQ_INT(n, 2, "slice spans two segments");
        tap_ok(dst[0].iov_base == a + 1 && dst[0].iov_len == 2 && dst[1].iov_len == 2,
               "slice bounds");
}

int main(void)
{
        ram = aligned_alloc(4096, RAM_SIZE);
        mem.regions[0] = (struct guest_mem_region){.gpa = 0, .size = RAM_SIZE, .hva = ram};
        mem.n_regions = 1;
        mem.ram_size = RAM_SIZE;
        test_plain_chain();
        test_indirect();
        test_hostile();
        test_start_checks();
        test_suppression();
        test_iov_helpers();
        free(ram);
        return tap_done();
}
