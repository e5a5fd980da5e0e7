/* Saving a paused machine into a snapshot directory and restoring one into
 * a freshly created machine (see snapshot.h, docs/snapshots.md). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "devices/dev_state.h"
#include "util/cleanup.h"
#include "vmm/machine.h"
#include "vmm/mgr.h"
#include "vmm/migrate.h"
#include "vmm/snapshot.h"
#include "vmm/vm_internal.h"

#define MACHINE_STATE_VERSION 1
#define MEMORY_STATE_VERSION  1
#define ZERO_CHUNK            (64u * 1024)
#define LIVE_MAX_ROUNDS       30  /* memory passes of a live snapshot at most */
#define LIVE_LAST_PAGES       256 /* dirty pages (1 MiB) left for the pause */

/* Bits of the "machine" section's device mask. */
#define DEV_IDE  (1u << 0)
#define DEV_VCON (1u << 1)
#define DEV_RNG  (1u << 2)
#define DEV_BLK0 (1u << 8)  /* + disk index */
#define DEV_NET0 (1u << 16) /* + NIC index */

static double ms_since(const struct timespec *t0)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int pwrite_all(int fd, const void *p, size_t len, off_t off, const char *what,
                      struct isola_err *err)
{
        const char *b = p;
        while (len) {
                ssize_t n = pwrite(fd, b, len, off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return err_sys(err, "snapshot: writing %s", what);
                b += n;
                len -= (size_t)n;
                off += n;
        }
        return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
        const uint64_t *w = (const uint64_t *)p;
        for (size_t i = 0; i < n / 8; i++)
                if (w[i])
                        return false;
        return true;
}

/* Whether the mapping at hva is anonymous (a VM that was never restored):
 * then a page that is not resident was never written and reads as zero, so
 * mincore() finds the holes without touching 2 GiB of zero pages. Guest RAM
 * restored from a snapshot is a private file mapping, where a page that is
 * not resident still holds the old snapshot's data. Swapped-out pages count
 * as present (pagemap, not mincore, which does not see swap). */
static bool region_is_anon(const void *hva)
{
        FILE *f = fopen("/proc/self/maps", "re");
        char line[512];
        bool anon = false;

        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                unsigned long lo, hi, ino;
                if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi, &ino) == 3 &&
                    (uintptr_t)hva >= lo && (uintptr_t)hva < hi) {
                        anon = ino == 0;
                        break;
                }
        }
        fclose(f);
        return anon;
}

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)

static bool chunk_touched(int pagemap, const uint8_t *p, size_t n)
{
        uint64_t ent[ZERO_CHUNK / 4096];
        size_t pages = (n + 4095) / 4096;
        off_t at = (off_t)((uintptr_t)p / 4096 * sizeof(uint64_t));

        if (pagemap < 0 || pread(pagemap, ent, pages * sizeof(uint64_t), at) !=
                               (ssize_t)(pages * sizeof(uint64_t)))
                return true; /* unknown: read it */
        for (size_t i = 0; i < pages; i++)
                if (ent[i] & (PM_PRESENT | PM_SWAPPED))
                        return true;
        return false;
}

static uint32_t device_mask(const struct machine_parts *p)
{
        uint32_t mask = (p->ide ? DEV_IDE : 0) | (p->vcon ? DEV_VCON : 0) | (p->rng ? DEV_RNG : 0);
        for (unsigned i = 0; i < SNAP_MAX_DISKS; i++)
                mask |= p->blk[i] ? DEV_BLK0 << i : 0;
        for (unsigned i = 0; i < SNAP_MAX_NETS; i++)
                mask |= p->net[i] ? DEV_NET0 << i : 0;
        return mask;
}

/* Guest RAM, region after region; all-zero chunks stay holes, so a fresh
 * guest's untouched memory costs neither time nor disk. */
int snap_memory_walk(struct vm *vm, snap_mem_sink sink, void *opaque, struct isola_err *err)
{
        _cleanup_close_ int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        uint64_t off = 0;

        for (unsigned i = 0; i < vm->mem.n_regions; i++) {
                const struct guest_mem_region *r = &vm->mem.regions[i];
                bool anon = region_is_anon(r->hva);
                for (uint64_t c = 0; c < r->size; c += ZERO_CHUNK) {
                        size_t n = r->size - c < ZERO_CHUNK ? (size_t)(r->size - c) : ZERO_CHUNK;
                        if ((anon && !chunk_touched(pagemap, r->hva + c, n)) ||
                            all_zero(r->hva + c, n))
                                continue;
                        if (sink(opaque, off + c, r->hva + c, n, err) < 0)
                                return -1;
                }
                off += r->size;
        }
        return 0;
}

void snap_memory_section(struct vm *vm, struct snap_writer *w)
{
        struct dstate_w p = {0};
        uint64_t off = 0;

        dstate_w_u32(&p, vm->mem.n_regions);
        for (unsigned i = 0; i < vm->mem.n_regions; i++) {
                dstate_w_u64(&p, vm->mem.regions[i].gpa);
                dstate_w_u64(&p, vm->mem.regions[i].size);
                dstate_w_u64(&p, off);
                off += vm->mem.regions[i].size;
        }
        snap_writer_add(w, "memory", MEMORY_STATE_VERSION, &p);
        dstate_w_free(&p);
}

struct file_sink {
        int fd;
        struct snapshot_stats *st;
};

static int file_sink(void *opaque, uint64_t off, const void *p, size_t n, struct isola_err *err)
{
        struct file_sink *fs = opaque;
        fs->st->memory_written += n;
        return pwrite_all(fs->fd, p, n, (off_t)off, "memory", err);
}

/* Live: guest memory goes to the memory file while the vCPUs run, KVM's
 * dirty log catching what they write meanwhile; rounds of dirty pages until
 * one is small, then the vCPUs pause for the last one. */
static int live_memory(struct machine *m, struct vm *vm, int dirfd, struct snapshot_stats *st,
                       struct isola_err *err)
{
        _cleanup_close_ int fd =
            openat(dirfd, "memory", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        struct file_sink fs = {.fd = fd, .st = st};
        uint64_t pages = 0;

        if (fd < 0)
                return err_sys(err, "snapshot: creating the memory file");
        if (migrate_dirty_log(vm, true, err) < 0)
                return -1;
        int rc = snap_memory_walk(vm, file_sink, &fs, err);
        for (st->rounds = 1; rc == 0 && st->rounds < LIVE_MAX_ROUNDS; st->rounds++) {
                rc = migrate_dirty_walk(vm, file_sink, &fs, &pages, err);
                if (pages <= LIVE_LAST_PAGES)
                        break;
        }
        if (rc == 0) {
                clock_gettime(CLOCK_MONOTONIC, &st->paused_at);
                rc = machine_pause(m, err);
                st->paused_here = rc == 0;
        }
        if (rc == 0)
                rc = migrate_dirty_walk(vm, file_sink, &fs, &pages, err);
        st->last_pages = pages;
        (void)migrate_dirty_log(vm, false, NULL);
        return rc;
}

/* Guest RAM, region after region; all-zero chunks stay holes, so a fresh
 * guest's untouched memory costs neither time nor disk. Live, the file is
 * written already (live_memory) and only finished here. */
static int save_memory(struct vm *vm, int dirfd, struct snap_writer *w, struct snapshot_stats *st,
                       bool live, struct isola_err *err)
{
        _cleanup_close_ int fd =
            openat(dirfd, "memory", O_WRONLY | (live ? 0 : O_CREAT | O_EXCL) | O_CLOEXEC, 0600);
        struct file_sink fs = {.fd = fd, .st = st};

        if (fd < 0)
                return err_sys(err, "snapshot: creating the memory file");
        if (!live && snap_memory_walk(vm, file_sink, &fs, err) < 0)
                return -1;
        snap_memory_section(vm, w);
        st->memory_bytes = vm->mem.ram_size;
        if (ftruncate(fd, (off_t)vm->mem.ram_size) < 0 || fsync(fd) < 0)
                return err_sys(err, "snapshot: finishing the memory file");
        return 0;
}

typedef void (*save_fn)(void *dev, struct dstate_w *w);

static void add_dev(struct snap_writer *w, const char *name, uint32_t version, void *dev,
                    save_fn fn)
{
        struct dstate_w p = {0};
        if (!dev)
                return;
        fn(dev, &p);
        snap_writer_add(w, name, version, &p);
        dstate_w_free(&p);
}

void snap_devices_save(const struct machine_parts *p, struct snap_writer *w)
{
        char name[32];
        struct dstate_w m = {0};

        dstate_w_u32(&m, p->vm->n_cpus);
        dstate_w_u64(&m, p->vm->mem.ram_size);
        dstate_w_u32(&m, device_mask(p));
        snap_writer_add(w, "machine", MACHINE_STATE_VERSION, &m);
        dstate_w_free(&m);
        add_dev(w, "pci", PCI_STATE_VERSION, p->pci, (save_fn)pci_bus_save);
        add_dev(w, "serial", SERIAL8250_STATE_VERSION, p->serial, (save_fn)serial8250_save);
        add_dev(w, "i8042", I8042_STATE_VERSION, p->kbc, (save_fn)i8042_save);
        add_dev(w, "rtc", RTC_STATE_VERSION, p->rtc, (save_fn)rtc_save);
        add_dev(w, "ide", IDE_STATE_VERSION, p->ide, (save_fn)ide_save);
        for (unsigned i = 0; i < SNAP_MAX_DISKS; i++) {
                snprintf(name, sizeof(name), "virtio-blk%u", i);
                add_dev(w, name, VIRTIO_STATE_VERSION, p->blk[i], (save_fn)virtio_blk_save);
        }
        for (unsigned i = 0; i < SNAP_MAX_NETS; i++) {
                snprintf(name, sizeof(name), "virtio-net%u", i);
                add_dev(w, name, VIRTIO_STATE_VERSION, p->net[i], (save_fn)virtio_net_save);
        }
        add_dev(w, "virtio-console", VIRTIO_STATE_VERSION, p->vcon, (save_fn)virtio_console_save);
        add_dev(w, "virtio-rng", VIRTIO_STATE_VERSION, p->rng, (save_fn)virtio_rng_save);
}

static int write_file(int dirfd, const char *name, const void *buf, size_t len,
                      struct isola_err *err)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return err_sys(err, "snapshot: creating %s", name);
        if (pwrite_all(fd, buf, len, 0, name, err) < 0)
                return -1;
        if (fsync(fd) < 0)
                return err_sys(err, "snapshot: fsync %s", name);
        return 0;
}

static int write_config(int dirfd, const struct machine_config *cfg, struct isola_err *err)
{
        struct json_object *o = machine_config_to_json(cfg);
        if (!o)
                return err_set(err, ENOMEM, "snapshot: out of memory");
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
        int rc = write_file(dirfd, "config.json", s, strlen(s), err);
        json_object_put(o);
        return rc;
}

static int write_snapshot(struct machine *m, const struct machine_config *cfg, const char *tmp,
                          int dirfd, bool frozen[], struct snapshot_stats *st, bool live,
                          struct isola_err *err)
{
        struct machine_parts p;
        struct snap_writer w;
        int rc = -1;

        machine_get_parts(m, &p);
        snap_writer_init(&w);
        if (live && live_memory(m, p.vm, dirfd, st, err) < 0)
                goto out;
        if (snap_cpu_save(p.vm, &w, err) < 0)
                goto out;
        snap_devices_save(&p, &w);
        if (save_memory(p.vm, dirfd, &w, st, live, err) < 0 || snap_writer_finish(&w, err) < 0 ||
            write_file(dirfd, "state", w.out.buf, w.out.len, err) < 0 ||
            write_config(dirfd, cfg, err) < 0 || snap_disks_save(&p, cfg, tmp, frozen, err) < 0)
                goto out;
        if (fsync(dirfd) < 0) {
                err_sys(err, "snapshot: fsync");
                snap_disks_unfreeze(cfg, tmp, frozen);
                goto out;
        }
        rc = 0;
out:
        snap_writer_free(&w);
        return rc;
}

static void remove_tmp(const char *tmp)
{
        static const char *const files[] = {"memory", "state", "config.json"};
        char path[PATH_MAX];
        for (unsigned i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "%s/%s", tmp, files[i]);
                unlink(path);
        }
        for (unsigned i = 0; i < SNAP_MAX_DISKS; i++) {
                snprintf(path, sizeof(path), "%s/disk%u", tmp, i);
                unlink(path);
                snprintf(path, sizeof(path), "%s/disk%u.qcow2", tmp, i);
                unlink(path);
        }
        rmdir(tmp);
}

static void fsync_parent(const char *dir)
{
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", dir);
        char *slash = strrchr(parent, '/');
        if (slash == parent)
                slash[1] = 0;
        else if (slash)
                *slash = 0;
        else
                snprintf(parent, sizeof(parent), ".");
        int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
                (void)fsync(fd);
                close(fd);
        }
}

/* Written under "<dir>.tmp-<pid>" and renamed: a crash at any point leaves
 * no half snapshot under the final name (the next `snapshot ls` or create
 * removes stale temporaries). */
static int save(struct machine *m, const struct machine_config *cfg, const char *dir,
                struct snapshot_stats *stats, bool live, struct isola_err *err)
{
        struct snapshot_stats local = {0};
        struct snapshot_stats *st = stats ? stats : &local;
        struct machine_parts p;
        struct timespec t0;
        char tmp[PATH_MAX];
        struct stat sb;
        bool frozen[SNAP_MAX_DISKS] = {false};
        int rc = -1;

        *st = (struct snapshot_stats){0};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (stat(dir, &sb) == 0)
                return err_set(err, EEXIST, "snapshot '%s' exists", dir);
        if (snprintf(tmp, sizeof(tmp), "%s.tmp-%d", dir, (int)getpid()) >= (int)sizeof(tmp))
                return err_set(err, ENAMETOOLONG, "snapshot '%s': path too long", dir);
        remove_tmp(tmp);
        if (mkdir(tmp, 0700) < 0)
                return err_sys(err, "snapshot: mkdir '%s'", tmp);
        machine_get_parts(m, &p);
        /* The back ends must not complete requests (writing guest memory and
         * queue indices) while the devices and memory are copied. */
        evloop_stop(p.vm->loop);
        int dirfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                err_sys(err, "snapshot: open '%s'", tmp);
        else if (write_snapshot(m, cfg, tmp, dirfd, frozen, st, live, err) == 0)
                rc = 0;
        if (dirfd >= 0)
                close(dirfd);
        struct isola_err e2 = {0};
        if (evloop_start(p.vm->loop, &e2) < 0 && rc == 0) {
                *err = e2;
                rc = -1;
        }
        if (rc == 0 && rename(tmp, dir) < 0)
                rc = err_sys(err, "snapshot: rename to '%s'", dir);
        if (rc < 0) {
                snap_disks_unfreeze(cfg, tmp, frozen);
                remove_tmp(tmp);
                return err_prefix(err, "snapshot '%s'", dir);
        }
        fsync_parent(dir);
        if (snap_disks_continue(&p, cfg, dir, frozen, err) < 0) {
                /* Not restorable without that disk; frozen bases that new
                 * overlays use stay. */
                snprintf(tmp, sizeof(tmp), "%s/state", dir);
                unlink(tmp);
                return err_prefix(err, "snapshot '%s'", dir);
        }
        st->save_ms = ms_since(&t0);
        return 0;
}

int snapshot_save(struct machine *m, const struct machine_config *cfg, const char *dir,
                  struct snapshot_stats *stats, struct isola_err *err)
{
        return save(m, cfg, dir, stats, false, err);
}

int snapshot_save_live(struct machine *m, const struct machine_config *cfg, const char *dir,
                       struct snapshot_stats *stats, struct isola_err *err)
{
        return save(m, cfg, dir, stats, true, err);
}

/* ---- restore ---- */

static int read_state(const char *dir, uint8_t **buf, size_t *len, struct isola_err *err)
{
        char path[PATH_MAX];
        struct stat sb;

        snprintf(path, sizeof(path), "%s/state", dir);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &sb) < 0)
                return err_sys(err, "snapshot '%s': state file", dir);
        if (!S_ISREG(sb.st_mode) || sb.st_size > (off_t)SNAP_MAX_STATE)
                return err_set(err, EINVAL, "snapshot '%s': state file is not a file or too large",
                               dir);
        *len = (size_t)sb.st_size;
        *buf = malloc(*len ? *len : 1);
        if (!*buf)
                return err_set(err, ENOMEM, "out of memory");
        size_t got = 0;
        while (got < *len) {
                ssize_t n = read(fd, *buf + got, *len - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        *len = got;
        return 0;
}

static int check_machine(const struct machine_parts *p, const struct snap_file *f,
                         struct isola_err *err)
{
        struct dstate_r r;

        if (snap_open_section(f, "machine", MACHINE_STATE_VERSION, &r, err) < 0)
                return -1;
        uint32_t cpus = dstate_r_u32(&r);
        uint64_t ram = dstate_r_u64(&r);
        uint32_t mask = dstate_r_u32(&r);
        if (dstate_r_end(&r, err) < 0)
                return -1;
        if (cpus != p->vm->n_cpus || ram != p->vm->mem.ram_size)
                return err_set(err, EINVAL,
                               "snapshot: taken with %u vCPUs and %llu MiB, this machine has %u "
                               "and %llu MiB",
                               cpus, (unsigned long long)(ram >> 20), p->vm->n_cpus,
                               (unsigned long long)(p->vm->mem.ram_size >> 20));
        if (mask != device_mask(p))
                return err_set(err, EINVAL,
                               "snapshot: its devices (mask %#x) differ from this machine's (%#x)",
                               mask, device_mask(p));
        return 0;
}

/* Guest RAM becomes a private mapping of the memory file at the same host
 * addresses: nothing is read now, pages fault in when the guest touches
 * them, and writes stay private to this VM (the file is never changed). */
static int map_regions(struct vm *vm, int fd, struct isola_err *err)
{
        uint64_t off = 0;

        for (unsigned i = 0; i < vm->mem.n_regions; i++) {
                const struct guest_mem_region *g = &vm->mem.regions[i];
                void *p = mmap(g->hva, g->size, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, (off_t)off);
                if (p == MAP_FAILED)
                        return err_sys(err, "snapshot: mapping guest memory");
                off += g->size;
        }
        return 0;
}

static int open_memory(const char *dir, struct stat *sb, struct isola_err *err)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/memory", dir);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, sb) < 0) {
                err_sys(err, "snapshot '%s': memory file", dir);
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        return fd;
}

int snapshot_map_incoming(struct machine *m, const char *dir, struct isola_err *err)
{
        struct vm *vm = machine_vm(m);
        struct stat sb;
        _cleanup_close_ int fd = open_memory(dir, &sb, err);

        if (fd < 0)
                return -1;
        if ((uint64_t)sb.st_size < vm->mem.ram_size)
                return err_set(err, EINVAL, "snapshot '%s': the memory file is truncated", dir);
        return map_regions(vm, fd, err);
}

/* The "memory" section must describe this machine's regions, back to back
 * in a file that holds them; then guest RAM is mapped from it (unless an
 * incoming migration mapped it already, in that layout). */
static int map_memory(struct vm *vm, const char *dir, const struct snap_file *f, bool mapped,
                      struct isola_err *err)
{
        struct dstate_r r;
        struct stat sb;

        if (snap_open_section(f, "memory", MEMORY_STATE_VERSION, &r, err) < 0)
                return -1;
        _cleanup_close_ int fd = open_memory(dir, &sb, err);
        if (fd < 0)
                return -1;
        uint32_t n = dstate_r_u32(&r);
        uint64_t at = 0;
        if (n != vm->mem.n_regions)
                r.bad = true;
        for (unsigned i = 0; i < n && !r.bad; i++) {
                const struct guest_mem_region *g = &vm->mem.regions[i];
                uint64_t gpa = dstate_r_u64(&r), size = dstate_r_u64(&r), off = dstate_r_u64(&r);
                if (gpa != g->gpa || size != g->size || off != at || off > (uint64_t)sb.st_size ||
                    size > (uint64_t)sb.st_size - off)
                        r.bad = true;
                at += size;
        }
        if (r.bad)
                return err_set(err, EINVAL,
                               "snapshot section 'memory': does not match this machine's RAM or "
                               "the memory file (%lld bytes) is truncated",
                               (long long)sb.st_size);
        if (dstate_r_end(&r, err) < 0)
                return -1;
        return mapped ? 0 : map_regions(vm, fd, err);
}

typedef int (*load_fn)(void *dev, struct dstate_r *r, struct isola_err *err);

static int load_dev(const struct snap_file *f, const char *name, uint32_t version, void *dev,
                    load_fn fn, struct isola_err *err)
{
        struct dstate_r r;
        if (!dev)
                return 0;
        if (snap_open_section(f, name, version, &r, err) < 0)
                return -1;
        return fn(dev, &r, err);
}

static int load_devices(const struct machine_parts *p, const struct snap_file *f,
                        struct isola_err *err)
{
        char name[32];

        /* PCI first: BARs and MSI-X enable, which the virtio state builds on. */
        if (load_dev(f, "pci", PCI_STATE_VERSION, p->pci, (load_fn)pci_bus_load, err) < 0 ||
            load_dev(f, "serial", SERIAL8250_STATE_VERSION, p->serial, (load_fn)serial8250_load,
                     err) < 0 ||
            load_dev(f, "i8042", I8042_STATE_VERSION, p->kbc, (load_fn)i8042_load, err) < 0 ||
            load_dev(f, "rtc", RTC_STATE_VERSION, p->rtc, (load_fn)rtc_load, err) < 0 ||
            load_dev(f, "ide", IDE_STATE_VERSION, p->ide, (load_fn)ide_load, err) < 0)
                return -1;
        for (unsigned i = 0; i < SNAP_MAX_DISKS; i++) {
                snprintf(name, sizeof(name), "virtio-blk%u", i);
                if (load_dev(f, name, VIRTIO_STATE_VERSION, p->blk[i], (load_fn)virtio_blk_load,
                             err) < 0)
                        return -1;
        }
        for (unsigned i = 0; i < SNAP_MAX_NETS; i++) {
                snprintf(name, sizeof(name), "virtio-net%u", i);
                if (load_dev(f, name, VIRTIO_STATE_VERSION, p->net[i], (load_fn)virtio_net_load,
                             err) < 0)
                        return -1;
        }
        if (load_dev(f, "virtio-console", VIRTIO_STATE_VERSION, p->vcon,
                     (load_fn)virtio_console_load, err) < 0 ||
            load_dev(f, "virtio-rng", VIRTIO_STATE_VERSION, p->rng, (load_fn)virtio_rng_load, err) <
                0)
                return -1;
        return 0;
}

int snapshot_restore_state(struct machine *m, const char *dir, bool mapped, const uint8_t *state,
                           size_t len, struct isola_err *err)
{
        struct machine_parts p;
        struct snap_file *f = malloc(sizeof(*f));
        int rc = -1;

        if (!f)
                return err_set(err, ENOMEM, "out of memory");
        machine_get_parts(m, &p);
        if (snap_parse(state, len, f, err) == 0 && check_machine(&p, f, err) == 0 &&
            map_memory(p.vm, dir, f, mapped, err) == 0 && load_devices(&p, f, err) == 0 &&
            snap_cpu_load(p.vm, f, err) == 0)
                rc = 0;
        free(f);
        if (rc < 0)
                return err_prefix(err, "restore from '%s'", dir);
        return 0;
}

int snap_state_build(const struct machine_parts *p, struct snap_writer *w, struct isola_err *err)
{
        snap_writer_init(w);
        if (snap_cpu_save(p->vm, w, err) < 0)
                return -1;
        snap_devices_save(p, w);
        snap_memory_section(p->vm, w);
        return snap_writer_finish(w, err);
}

int snapshot_warm(struct machine *m, struct isola_err *err)
{
        struct machine_parts p;
        struct snap_writer w;
        struct snap_file *f = malloc(sizeof(*f));

        if (!f)
                return err_set(err, ENOMEM, "out of memory");
        machine_get_parts(m, &p);
        int rc = snap_state_build(&p, &w, err);
        if (rc == 0 &&
            (snap_parse(w.out.buf, w.out.len, f, err) < 0 || check_machine(&p, f, err) < 0 ||
             load_devices(&p, f, err) < 0 || snap_cpu_load_vcpus(p.vm, f, err) < 0))
                rc = -1;
        snap_writer_free(&w);
        free(f);
        return rc < 0 ? err_prefix(err, "warming up the restore") : 0;
}

int snapshot_restore(struct machine *m, const char *dir, bool mapped, struct isola_err *err)
{
        uint8_t *buf = NULL;
        size_t len = 0;

        if (read_state(dir, &buf, &len, err) < 0) {
                free(buf);
                return err_prefix(err, "restore from '%s'", dir);
        }
        int rc = snapshot_restore_state(m, dir, mapped, buf, len, err);
        free(buf);
        return rc;
}

int snapshot_read_config(const char *dir, struct machine_config *cfg, struct isola_err *err)
{
        char path[PATH_MAX], what[PATH_MAX + 16];

        snprintf(path, sizeof(path), "%s/config.json", dir);
        snprintf(what, sizeof(what), "snapshot '%s'", dir);
        struct json_object *o = json_object_from_file(path);
        if (!o)
                return err_set(err, errno ? errno : EINVAL, "%s: config.json missing or invalid",
                               what);
        int rc = machine_config_load_string(cfg, json_object_to_json_string(o), what, err);
        json_object_put(o);
        return rc;
}
