/* KVM binary statistics of the vCPUs (Documentation/virt/kvm/api.rst,
 * KVM_GET_STATS_FD): a header, one descriptor per statistic (name, type,
 * unit, size, offset) and a data block. Names and offsets differ between
 * kernels and architectures, so counters are found by name in the
 * descriptors, never at fixed offsets, and summed over the vCPUs. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "vmm/kvm_stats.h"

/* Far above any kernel's (48-byte names, ~50 vCPU statistics); a header
 * beyond them is not believed. */
#define KVM_STATS_MAX_NAME 1024
#define KVM_STATS_MAX_DESC 4096

struct kvm_counter {
        char name[KVM_STATS_MAX_NAME];
        uint64_t base, now;
};

/* Where one counter of one vCPU lives in that vCPU's data block. */
struct kvm_stats_slot {
        unsigned counter;
        off_t offset;
};

struct kvm_stats_src {
        int fd;
        struct kvm_stats_slot *slots;
        unsigned n_slots;
};

struct kvm_stats {
        struct kvm_stats_src *srcs;
        unsigned n_srcs;
        struct kvm_counter *counters;
        unsigned n_counters;
};

/* Counters of exits, plus the few events an exit count is read against. */
static const char *const extra_counters[] = {"irq_injections", "hypercalls", "insn_emulation"};

static bool is_selected(const struct kvm_stats_desc *d, const char *name)
{
        size_t len = strlen(name);

        /* Histograms and sizes other than one u64 are not counts of events. */
        if ((d->flags & KVM_STATS_TYPE_MASK) != KVM_STATS_TYPE_CUMULATIVE ||
            (d->flags & KVM_STATS_UNIT_MASK) != KVM_STATS_UNIT_NONE || d->size != 1)
                return false;
        if (!strcmp(name, "exits") || (len > 6 && !strcmp(name + len - 6, "_exits")))
                return true;
        for (size_t i = 0; i < ARRAY_SIZE(extra_counters); i++)
                if (!strcmp(name, extra_counters[i]))
                        return true;
        return false;
}

bool kvm_stats_supported(int kvm_fd)
{
#ifdef KVM_CAP_BINARY_STATS_FD
        return ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) > 0;
#else
        (void)kvm_fd;
        return false;
#endif
}

struct kvm_stats *kvm_stats_new(void)
{
        return calloc(1, sizeof(struct kvm_stats));
}

static int find_or_add_counter(struct kvm_stats *s, const char *name, struct isola_err *err)
{
        for (unsigned i = 0; i < s->n_counters; i++)
                if (!strcmp(s->counters[i].name, name))
                        return (int)i;
        struct kvm_counter *c = realloc(s->counters, (s->n_counters + 1) * sizeof(*c));
        if (!c)
                return err_set(err, ENOMEM, "out of memory");
        s->counters = c;
        c = &s->counters[s->n_counters];
        memset(c, 0, sizeof(*c));
        snprintf(c->name, sizeof(c->name), "%s", name);
        return (int)s->n_counters++;
}

static int read_u64(int fd, off_t off, uint64_t *v, struct isola_err *err)
{
        ssize_t n = pread(fd, v, sizeof(*v), off);

        if (n < 0)
                return err_sys(err, "KVM statistics: reading offset %lld", (long long)off);
        if (n != sizeof(*v))
                return err_set(err, EIO, "KVM statistics: offset %lld is past the end",
                               (long long)off);
        return 0;
}

static int read_header(int fd, struct kvm_stats_header *h, struct isola_err *err)
{
        ssize_t n = pread(fd, h, sizeof(*h), 0);

        if (n < 0)
                return err_sys(err, "KVM statistics: reading the header");
        if (n != sizeof(*h))
                return err_set(err, EIO, "KVM statistics: short header (%zd bytes)", n);
        if (h->name_size == 0 || h->name_size > KVM_STATS_MAX_NAME ||
            h->num_desc > KVM_STATS_MAX_DESC)
                return err_set(err, EINVAL,
                               "KVM statistics: header with %u descriptors of %u-byte names",
                               h->num_desc, h->name_size);
        return 0;
}

/* Records, for each selected descriptor, which counter it feeds and where
 * its value is. */
static int map_descriptors(struct kvm_stats *s, struct kvm_stats_src *src,
                           const struct kvm_stats_header *h, struct isola_err *err)
{
        size_t desc_size = sizeof(struct kvm_stats_desc) + h->name_size;
        size_t total = desc_size * h->num_desc;
        _cleanup_free_ char *buf = malloc(total ? total : 1);

        if (!buf)
                return err_set(err, ENOMEM, "out of memory");
        ssize_t n = pread(src->fd, buf, total, h->desc_offset);
        if (n < 0)
                return err_sys(err, "KVM statistics: reading the descriptors");
        if ((size_t)n != total)
                return err_set(err, EIO, "KVM statistics: short descriptor block");
        src->slots = calloc(h->num_desc ? h->num_desc : 1, sizeof(*src->slots));
        if (!src->slots)
                return err_set(err, ENOMEM, "out of memory");
        for (unsigned i = 0; i < h->num_desc; i++) {
                /* desc_size need not keep the fixed part aligned. */
                struct kvm_stats_desc d;
                const char *name = buf + i * desc_size + sizeof(d);
                memcpy(&d, buf + i * desc_size, sizeof(d));
                if (strnlen(name, h->name_size) == h->name_size || !is_selected(&d, name))
                        continue;
                int c = find_or_add_counter(s, name, err);
                if (c < 0)
                        return -1;
                src->slots[src->n_slots++] = (struct kvm_stats_slot){
                    .counter = (unsigned)c,
                    .offset = (off_t)h->data_offset + (off_t)d.offset,
                };
        }
        return 0;
}

/* Adds this source's current values to each counter's `now`. */
static int read_src(struct kvm_stats *s, const struct kvm_stats_src *src, struct isola_err *err)
{
        for (unsigned i = 0; i < src->n_slots; i++) {
                uint64_t v;
                if (read_u64(src->fd, src->slots[i].offset, &v, err) < 0)
                        return -1;
                s->counters[src->slots[i].counter].now += v;
        }
        return 0;
}

int kvm_stats_add_fd(struct kvm_stats *s, int stats_fd, struct isola_err *err)
{
        _cleanup_close_ int fd = stats_fd;
        struct kvm_stats_header h;

        struct kvm_stats_src *srcs = realloc(s->srcs, (s->n_srcs + 1) * sizeof(*srcs));
        if (!srcs)
                return err_set(err, ENOMEM, "out of memory");
        s->srcs = srcs;
        struct kvm_stats_src *src = &s->srcs[s->n_srcs];
        *src = (struct kvm_stats_src){.fd = fd};
        if (read_header(fd, &h, err) < 0 || map_descriptors(s, src, &h, err) < 0) {
                free(src->slots);
                return -1;
        }
        for (unsigned i = 0; i < src->n_slots; i++) {
                uint64_t v;
                if (read_u64(fd, src->slots[i].offset, &v, err) < 0) {
                        free(src->slots);
                        return -1;
                }
                s->counters[src->slots[i].counter].base += v;
                s->counters[src->slots[i].counter].now += v;
        }
        src->fd = steal_fd(&fd);
        s->n_srcs++;
        return 0;
}

int kvm_stats_open(const int *vcpu_fds, unsigned n_vcpus, struct kvm_stats **out,
                   struct isola_err *err)
{
        struct kvm_stats *s = kvm_stats_new();

        if (!s)
                return err_set(err, ENOMEM, "out of memory");
        for (unsigned i = 0; i < n_vcpus; i++) {
                int fd = ioctl(vcpu_fds[i], KVM_GET_STATS_FD, NULL);
                if (fd < 0) {
                        err_sys(err, "vCPU %u: KVM_GET_STATS_FD", i);
                        kvm_stats_free(s);
                        return -1;
                }
                if (kvm_stats_add_fd(s, fd, err) < 0) {
                        kvm_stats_free(s);
                        return err_prefix(err, "vCPU %u", i);
                }
        }
        *out = s;
        return 0;
}

int kvm_stats_sample(struct kvm_stats *s, struct isola_err *err)
{
        for (unsigned i = 0; i < s->n_counters; i++)
                s->counters[i].now = 0;
        for (unsigned i = 0; i < s->n_srcs; i++)
                if (read_src(s, &s->srcs[i], err) < 0)
                        return err_prefix(err, "vCPU %u", i);
        return 0;
}

static uint64_t delta(const struct kvm_counter *c)
{
        /* Cumulative counters only grow; a smaller value means a reset. */
        return c->now >= c->base ? c->now - c->base : 0;
}

bool kvm_stats_get(const struct kvm_stats *s, const char *name, uint64_t *value)
{
        for (unsigned i = 0; i < s->n_counters; i++) {
                if (!strcmp(s->counters[i].name, name)) {
                        *value = delta(&s->counters[i]);
                        return true;
                }
        }
        return false;
}

struct json_object *kvm_stats_json(const struct kvm_stats *s)
{
        struct json_object *o = json_object_new_object();

        for (unsigned i = 0; o && i < s->n_counters; i++) {
                struct json_object *v = json_object_new_uint64(delta(&s->counters[i]));
                if (!v || json_object_object_add(o, s->counters[i].name, v) < 0) {
                        json_object_put(v);
                        json_object_put(o);
                        return NULL;
                }
        }
        return o;
}

void kvm_stats_free(struct kvm_stats *s)
{
        if (!s)
                return;
        for (unsigned i = 0; i < s->n_srcs; i++) {
                close(s->srcs[i].fd);
                free(s->srcs[i].slots);
        }
        free(s->srcs);
        free(s->counters);
        free(s);
}
