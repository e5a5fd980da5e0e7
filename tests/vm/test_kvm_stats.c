/* kvm_stats: counters are found by name in the descriptors (not at fixed
 * offsets), only cumulative unitless exit counters are kept, values are
 * summed over vCPUs and reported since the baseline, and a malformed or
 * truncated statistics file is an error rather than a read out of bounds. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tap.h"
#include "vmm/kvm_stats.h"

#define NAME_SIZE 48
#define DESC_SIZE (sizeof(struct kvm_stats_desc) + NAME_SIZE)

struct fake_stat {
        const char *name;
        uint32_t flags;
        uint16_t size;
        uint32_t offset; /* in the data block */
};

/* A statistics file as KVM lays it out: header, descriptors, data block.
 * Returns the fd; *data_off receives where the data block starts. */
static int fake_file(const struct fake_stat *st, unsigned n, uint32_t name_size, off_t *data_off)
{
        int fd = memfd_create("kvm-stats", MFD_CLOEXEC);
        struct kvm_stats_header h = {
            .name_size = name_size,
            .num_desc = n,
            .desc_offset = sizeof(h),
            .data_offset = (uint32_t)(sizeof(h) + n * DESC_SIZE),
        };

        if (fd < 0 || pwrite(fd, &h, sizeof(h), 0) != sizeof(h))
                return -1;
        for (unsigned i = 0; i < n; i++) {
                char buf[DESC_SIZE] = {0};
                struct kvm_stats_desc d = {
                    .flags = st[i].flags, .size = st[i].size, .offset = st[i].offset};
                memcpy(buf, &d, sizeof(d));
                memcpy(buf + sizeof(d), st[i].name, strnlen(st[i].name, NAME_SIZE));
                if (pwrite(fd, buf, DESC_SIZE, h.desc_offset + i * DESC_SIZE) != DESC_SIZE)
                        return -1;
        }
        *data_off = h.data_offset;
        return fd;
}

static void put(int fd, off_t data_off, uint32_t offset, uint64_t v)
{
        if (pwrite(fd, &v, sizeof(v), data_off + offset) != sizeof(v))
                tap_ok(0, "pwrite of the fake data block");
}

static const struct fake_stat kvm_like[] = {
    {"pf_taken", KVM_STATS_TYPE_CUMULATIVE, 1, 0},
    {"halt_wait_hist", KVM_STATS_TYPE_LOG_HIST | KVM_STATS_UNIT_SECONDS, 4, 8},
    {"blocking_exits", KVM_STATS_TYPE_INSTANT, 1, 40},
    {"halt_poll_ns_exits", KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_SECONDS, 1, 48},
    {"io_exits", KVM_STATS_TYPE_CUMULATIVE, 1, 56},
    {"exits", KVM_STATS_TYPE_CUMULATIVE, 1, 64},
};

static uint64_t get(const struct kvm_stats *s, const char *name)
{
        uint64_t v = UINT64_MAX;
        return kvm_stats_get(s, name, &v) ? v : UINT64_MAX;
}

static void test_sum_and_baseline(void)
{
        struct isola_err err = {0};
        struct kvm_stats *s = kvm_stats_new();
        off_t off0, off1;
        int fd0 = fake_file(kvm_like, 6, NAME_SIZE, &off0);
        /* The second vCPU lists its counters in another order. */
        const struct fake_stat other[] = {{"exits", KVM_STATS_TYPE_CUMULATIVE, 1, 0},
                                          {"io_exits", KVM_STATS_TYPE_CUMULATIVE, 1, 8}};
        int fd1 = fake_file(other, 2, NAME_SIZE, &off1);
        int w0 = dup(fd0), w1 = dup(fd1);

        put(w0, off0, 64, 100);
        put(w0, off0, 56, 10);
        put(w0, off0, 40, 5);
        put(w1, off1, 0, 1000);
        put(w1, off1, 8, 7);
        tap_ok(kvm_stats_add_fd(s, fd0, &err) == 0 && kvm_stats_add_fd(s, fd1, &err) == 0,
               "two vCPU statistics files are read (%s)", err.msg);
        TAP_EQ_INT(get(s, "exits"), 0, "right after the baseline: 0 exits");
        put(w0, off0, 64, 150);
        put(w0, off0, 56, 12);
        put(w1, off1, 0, 1003);
        put(w1, off1, 8, 7);
        put(w0, off0, 0, 99);
        tap_ok(kvm_stats_sample(s, &err) == 0, "sample");
        TAP_EQ_INT(get(s, "exits"), 53, "exits summed over vCPUs, since the baseline");
        TAP_EQ_INT(get(s, "io_exits"), 2, "io_exits found at another offset per vCPU");
        tap_ok(get(s, "pf_taken") == UINT64_MAX, "non-exit counters are left out");
        tap_ok(get(s, "blocking_exits") == UINT64_MAX, "instant values are left out");
        tap_ok(get(s, "halt_poll_ns_exits") == UINT64_MAX, "counters with a unit are left out");

        struct json_object *j = kvm_stats_json(s);
        TAP_EQ_STR(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
                   "{\"io_exits\":2,\"exits\":53}", "JSON in descriptor order");
        json_object_put(j);
        kvm_stats_free(s);
        close(w0);
        close(w1);
}

static void test_bad_files(void)
{
        struct isola_err err = {0};
        struct kvm_stats *s = kvm_stats_new();
        off_t off;

        int fd = fake_file(kvm_like, 6, NAME_SIZE, &off);
        tap_ok(ftruncate(fd, off + 32) == 0, "truncate the data block");
        tap_ok(kvm_stats_add_fd(s, fd, &err) < 0 && strstr(err.msg, "past the end"),
               "a counter beyond the data block is an error: %s", err.msg);

        fd = fake_file(kvm_like, 6, NAME_SIZE, &off);
        tap_ok(ftruncate(fd, sizeof(struct kvm_stats_header) + DESC_SIZE) == 0,
               "truncate the descriptors");
        tap_ok(kvm_stats_add_fd(s, fd, &err) < 0 && strstr(err.msg, "descriptor"),
               "missing descriptors are an error: %s", err.msg);

        fd = fake_file(kvm_like, 6, 0, &off);
        tap_ok(kvm_stats_add_fd(s, fd, &err) < 0 && strstr(err.msg, "header"),
               "a header with 0-byte names is refused: %s", err.msg);

        fd = memfd_create("empty", MFD_CLOEXEC);
        tap_ok(kvm_stats_add_fd(s, fd, &err) < 0 && strstr(err.msg, "short header"),
               "an empty file is an error: %s", err.msg);

        /* A name filling its whole field has no terminator: skipped. */
        char long_name[NAME_SIZE + 1];
        memset(long_name, 'x', NAME_SIZE - 6);
        strcpy(long_name + NAME_SIZE - 6, "_exits");
        const struct fake_stat unterminated[] = {{long_name, KVM_STATS_TYPE_CUMULATIVE, 1, 0}};
        kvm_stats_free(s);
        s = kvm_stats_new();
        fd = fake_file(unterminated, 1, NAME_SIZE, &off);
        put(fd, off, 0, 1);
        tap_ok(kvm_stats_add_fd(s, fd, &err) == 0, "a file with an unterminated name is read");
        struct json_object *j = kvm_stats_json(s);
        TAP_EQ_STR(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN), "{}",
                   "the unterminated name is skipped");
        json_object_put(j);
        kvm_stats_free(s);
}

int main(void)
{
        test_sum_and_baseline();
        test_bad_files();
        return tap_done();
}
