/* linux.resources.devices: on v1 each rule is a line written to devices.allow
 * or devices.deny, in order. cgroup v2 has no devices files; access is decided
 * by a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup, which this
 * file assembles from the rules (no libbpf needed for a program this small). */
#include "ctr/cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

static const char *rule_access(const struct spec_device_rule *r)
{
        return r->access[0] ? r->access : "rwm";
}

static void num_or_star(char *buf, size_t size, int64_t v)
{
        if (v < 0)
                snprintf(buf, size, "*");
        else
                snprintf(buf, size, "%" PRId64, v);
}

static int check_rule(const struct spec_device_rule *r, size_t i, struct isola_err *err)
{
        if (r->type != 'a' && r->type != 'c' && r->type != 'b')
                return err_set(err, EINVAL,
                               "linux.resources.devices[%zu].type: '%c' is not one "
                               "of a, c, b",
                               i, r->type);
        for (const char *a = r->access; *a; a++)
                if (*a != 'r' && *a != 'w' && *a != 'm')
                        return err_set(err, EINVAL,
                                       "linux.resources.devices[%zu].access: '%s' "
                                       "is not a subset of 'rwm'",
                                       i, r->access);
        if (r->major > UINT32_MAX || r->minor > UINT32_MAX)
                return err_set(err, EINVAL,
                               "linux.resources.devices[%zu]: device number out "
                               "of range",
                               i);
        return 0;
}

int cgroup_devices_v1_apply(const char *dir, const struct spec_device_rule *rules, size_t n,
                            struct isola_err *err)
{
        char line[80], maj[24], min[24];

        for (size_t i = 0; i < n; i++) {
                const struct spec_device_rule *r = &rules[i];
                if (check_rule(r, i, err) < 0)
                        return -1;
                num_or_star(maj, sizeof(maj), r->major);
                num_or_star(min, sizeof(min), r->minor);
                snprintf(line, sizeof(line), "%c %s:%s %s", r->type, maj, min, rule_access(r));
                if (cgroup_write(dir, r->allow ? "devices.allow" : "devices.deny", line, err) < 0)
                        return -1;
        }
        return 0;
}

/* ---- BPF program ------------------------------------------------------- */

/* Registers: R1 = struct bpf_cgroup_dev_ctx *, R2 = device type, R3 = requested
 * access bits, R4 = major, R5 = minor, R6 scratch, R0 = verdict. */
#define INSN(c, d, s, o, i)                                                                        \
        ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define MAX_INSNS 4096

struct prog {
        struct bpf_insn v[MAX_INSNS];
        size_t n;
};

static void emit(struct prog *p, struct bpf_insn insn)
{
        if (p->n < MAX_INSNS)
                p->v[p->n] = insn;
        p->n++;
}

static int32_t access_bits(const char *access)
{
        int32_t bits = 0;

        for (const char *a = access; *a; a++)
                bits |= *a == 'r'   ? BPF_DEVCG_ACC_READ
                        : *a == 'w' ? BPF_DEVCG_ACC_WRITE
                                    : BPF_DEVCG_ACC_MKNOD;
        return bits;
}

static size_t rule_len(const struct spec_device_rule *r)
{
        return (r->type != 'a') + (r->major >= 0) + (r->minor >= 0) + 5;
}

/* One rule: skip to the next rule (by jumping over the rest of this block) if
 * it does not match, else return its verdict. An allow rule matches when it
 * covers every requested access, a deny rule when it covers any of them. */
static void emit_rule(struct prog *p, const struct spec_device_rule *r)
{
        size_t end = p->n + rule_len(r);
        int32_t acc = access_bits(rule_access(r));
#define TO_NEXT ((int16_t)(end - p->n - 1))

        if (r->type != 'a')
                emit(p, INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_2, 0, TO_NEXT,
                             r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
        if (r->major >= 0)
                emit(p, INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, TO_NEXT,
                             (int32_t)(uint32_t)r->major));
        if (r->minor >= 0)
                emit(p, INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, TO_NEXT,
                             (int32_t)(uint32_t)r->minor));
        emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_3, 0, 0));
        emit(p, INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_6, 0, 0, r->allow ? ~acc : acc));
        emit(p, INSN(BPF_JMP32 | (r->allow ? BPF_JNE : BPF_JEQ) | BPF_K, BPF_REG_6, 0, TO_NEXT, 0));
        emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0));
        emit(p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
#undef TO_NEXT
}

/* Later rules override earlier ones (as successive v1 writes do), so the
 * program tests them last to first; with no match access is allowed, like a
 * new v1 devices cgroup under an unrestricted parent. */
static void build_prog(struct prog *p, const struct spec_device_rule *rules, size_t n)
{
        p->n = 0;
        emit(p, INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0));
        emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0));
        emit(p, INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff));
        emit(p, INSN(BPF_ALU64 | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16));
        emit(p, INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0));
        emit(p, INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0));
        for (size_t i = n; i-- > 0;)
                emit_rule(p, &rules[i]);
        emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1));
        emit(p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
        return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int load_prog(const struct prog *p, struct isola_err *err)
{
        char log[4096];
        union bpf_attr attr;
        int fd;

        memset(&attr, 0, sizeof(attr));
        attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
        attr.insns = (uint64_t)(uintptr_t)p->v;
        attr.insn_cnt = (uint32_t)p->n;
        attr.license = (uint64_t)(uintptr_t) "Apache-2.0";
        fd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
        if (fd >= 0)
                return fd;
        /* Retry with the verifier log, only needed to explain the failure. */
        int saved = errno;
        log[0] = '\0';
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = sizeof(log);
        attr.log_level = 1;
        fd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
        if (fd >= 0)
                return fd;
        errno = saved;
        log[strcspn(log, "\n")] = '\0';
        return err_sys(err, "cgroup: loading the device BPF program (%zu insns)%s%s", p->n,
                       log[0] ? ", verifier: " : "", log);
}

/* Device programs attached earlier by us (a previous apply, i.e. `update`). */
static int query_attached(int cg_fd, uint32_t *ids, uint32_t cap, uint32_t *n_out)
{
        union bpf_attr attr;

        memset(&attr, 0, sizeof(attr));
        attr.query.target_fd = (uint32_t)cg_fd;
        attr.query.attach_type = BPF_CGROUP_DEVICE;
        attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
        attr.query.prog_cnt = cap;
        if (sys_bpf(BPF_PROG_QUERY, &attr) < 0)
                return -1;
        *n_out = attr.query.prog_cnt < cap ? attr.query.prog_cnt : cap;
        return 0;
}

static void detach_by_id(int cg_fd, uint32_t id)
{
        union bpf_attr attr;
        int fd;

        memset(&attr, 0, sizeof(attr));
        attr.prog_id = id;
        fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
        if (fd < 0)
                return;
        memset(&attr, 0, sizeof(attr));
        attr.target_fd = (uint32_t)cg_fd;
        attr.attach_bpf_fd = (uint32_t)fd;
        attr.attach_type = BPF_CGROUP_DEVICE;
        sys_bpf(BPF_PROG_DETACH, &attr);
        close(fd);
}

int cgroup_devices_v2_apply(const char *dir, const struct spec_device_rule *rules, size_t n,
                            struct isola_err *err)
{
        _cleanup_free_ struct prog *p = NULL;
        _cleanup_close_ int cg_fd = -1, prog_fd = -1;
        uint32_t old[64], n_old = 0;
        union bpf_attr attr;

        if (n == 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (check_rule(&rules[i], i, err) < 0)
                        return -1;
        if (!(p = malloc(sizeof(*p))))
                return err_set(err, ENOMEM, "out of memory");
        build_prog(p, rules, n);
        if (p->n > MAX_INSNS)
                return err_set(err, E2BIG,
                               "linux.resources.devices: %zu rules are too many for "
                               "one device program",
                               n);
        cg_fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (cg_fd < 0)
                /* _cleanup_free_ frees p (clang 14's analyzer ignores cleanup). */
                // NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
                return err_sys(err, "cgroup: open '%s'", dir);
        if ((prog_fd = load_prog(p, err)) < 0)
                return -1;
        if (query_attached(cg_fd, old, ARRAY_SIZE(old), &n_old) < 0)
                n_old = 0;
        memset(&attr, 0, sizeof(attr));
        attr.target_fd = (uint32_t)cg_fd;
        attr.attach_bpf_fd = (uint32_t)prog_fd;
        attr.attach_type = BPF_CGROUP_DEVICE;
        attr.attach_flags = BPF_F_ALLOW_MULTI;
        if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
                return err_sys(err, "cgroup: attaching the device BPF program to '%s'", dir);
        /* The new program is in force before the old ones go, so there is no
         * window with no device filter. */
        for (uint32_t i = 0; i < n_old; i++)
                detach_by_id(cg_fd, old[i]);
        return 0;
}
