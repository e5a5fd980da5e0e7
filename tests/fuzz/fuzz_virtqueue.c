/* Fuzz target for the split-virtqueue walker: the input becomes a guest RAM
 * region (descriptor table, avail ring, indirect tables, buffers) and the
 * walker pops, touches and returns every chain it accepts. The RAM is an
 * exactly sized heap block at a non-zero guest address, so ASan flags any
 * access outside it; every byte of every accepted segment is read and
 * written to prove the segments lie inside.
 *
 * Input: byte 0 = log2(queue size) in bits 0-3, INDIRECT in bit 4,
 * EVENT_IDX in bit 5; the rest is copied to the start of RAM. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"

#define RAM_GPA  0x10000u
#define RAM_SIZE 0x4000u
#define DESC     (RAM_GPA + 0x0000)
#define AVAIL    (RAM_GPA + 0x1000)
#define USED     (RAM_GPA + 0x1400)
#define MAX_POPS 300

static struct virtq_chain chain;

static void touch(const struct virtq_chain *c)
{
        volatile uint8_t sink = 0;

        for (unsigned i = 0; i < c->n_out + c->n_in; i++) {
                uint8_t *p = c->iov[i].iov_base;
                for (size_t j = 0; j < c->iov[i].iov_len; j++)
                        sink ^= p[j];
                if (i >= c->n_out && c->iov[i].iov_len)
                        p[c->iov[i].iov_len - 1] = sink;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct guest_mem mem = {0};
        struct virtq vq;
        uint8_t *ram;

        if (size < 1)
                return 0;
        ram = calloc(1, RAM_SIZE);
        if (!ram)
                return 0;
        memcpy(ram, data + 1, size - 1 < RAM_SIZE ? size - 1 : RAM_SIZE);
        mem.regions[0] = (struct guest_mem_region){.gpa = RAM_GPA, .size = RAM_SIZE, .hva = ram};
        mem.n_regions = 1;
        mem.ram_size = RAM_SIZE;

        virtq_reset(&vq, (uint16_t)(1u << (data[0] & 0xf)));
        vq.desc_gpa = DESC;
        vq.avail_gpa = AVAIL;
        vq.used_gpa = USED;
        vq.indirect = data[0] & 0x10;
        vq.event_idx = data[0] & 0x20;
        if (virtq_start(&vq, &mem) == 0) {
                for (int i = 0; i < MAX_POPS; i++) {
                        enum virtq_result r = virtq_pop(&vq, &chain);
                        if (r != VIRTQ_OK)
                                break;
                        touch(&chain);
                        virtq_push(&vq, chain.head, (uint32_t)chain.in_len);
                        (void)virtq_need_interrupt(&vq);
                }
                (void)virtq_arm_notify(&vq);
                (void)virtq_has_avail(&vq);
        }
        free(ram);
        return 0;
}
