/* Machine assembly: creates the VM, the devices of the configuration, the
 * firmware tables and the boot vCPU state, then runs the vCPU threads and
 * the event loop until the guest stops or the front end's signal arrives.
 * Devices are created lazily from the configuration only. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/i8042.h"
#include "devices/ide.h"
#include "devices/pci.h"
#include "devices/rtc.h"
#include "devices/serial8250.h"
#include "devices/virtio/virtio.h"
#include "util/cleanup.h"
#include "vmm/boot_regs.h"
#include "vmm/kvm_stats.h"
#include "vmm/layout.h"
#include "vmm/loader.h"
#include "vmm/machine.h"
#include "vmm/power.h"
#include "vmm/snapshot.h"
#include "vmm/tables.h"
#include "vmm/vm_internal.h"

struct machine {
        struct vm *vm;
        struct power *power;
        struct pci_bus *pci;
        struct serial8250 *serial;
        struct i8042 *kbc;
        struct rtc *rtc;
        struct ide *ide;
        struct virtio_blk *blk[MACHINE_MAX_DISKS];
        struct virtio_net *net[MACHINE_MAX_NETS];
        struct virtio_console *vcon;
        struct virtio_rng *rng;
        struct boot_info boot;
        struct timespec t_start, t_run, t_end;
        enum vm_exit_reason reason;
        /* KVM's own counters for --stats; NULL when KVM has none (or reading
         * them failed: kstats_error says why). */
        struct kvm_stats *kstats;
        char kstats_error[ISOLA_ERR_MSG_MAX];
        /* The control socket's thread reads the counters while the VM runs. */
        pthread_mutex_t stats_lock;
        bool running;
        /* machine_prepare_run made the vCPU threads (parked); released:
         * machine_release let them run */
        bool prepared, released;
};

static int create_disks(struct machine *m, const struct machine_config *cfg, struct isola_err *err)
{
        for (unsigned i = 0; i < cfg->n_disks; i++) {
                const struct machine_disk *d = &cfg->disks[i];
                int rc;
                if (d->bus == MACHINE_DISK_IDE) {
                        if (m->ide)
                                return err_set(err, EINVAL,
                                               "--disk '%s': only one IDE disk is supported",
                                               d->path);
                        rc = ide_create(m->vm, m->pci, d->path, d->readonly, &m->ide, err);
                } else {
                        rc =
                            virtio_blk_create(m->vm, m->pci, d->path, d->readonly, &m->blk[i], err);
                }
                if (rc < 0)
                        return err_prefix(err, "--disk '%s'", d->path);
        }
        return 0;
}

static int create_devices(struct machine *m, const struct machine_config *cfg, int con_in,
                          int con_out, struct isola_err *err)
{
        bool serial_console = cfg->console == MACHINE_CONSOLE_SERIAL;

        if (power_create(m->vm, &m->power, err) < 0 || pci_bus_new(m->vm, &m->pci, err) < 0)
                return -1;
        m->vm->pci = m->pci;
        /* COM1 always writes to the console output: with --console virtio it
         * still carries what a kernel prints before its virtio driver is up
         * (earlyprintk), as QEMU shows both. Input goes to one console only. */
        if (serial8250_create(m->vm, LAYOUT_PORT_COM1, LAYOUT_IRQ_COM1,
                              serial_console ? con_in : -1, con_out, &m->serial, err) < 0)
                return err_prefix(err, "serial console");
        if (i8042_create(m->vm, &m->kbc, err) < 0 || rtc_create(m->vm, &m->rtc, err) < 0)
                return -1;
        if (create_disks(m, cfg, err) < 0)
                return -1;
        for (unsigned i = 0; i < cfg->n_nets; i++) {
                const struct machine_net *n = &cfg->nets[i];
                if (virtio_net_create(m->vm, m->pci, n->tap, n->has_mac ? n->mac : NULL, &m->net[i],
                                      err) < 0)
                        return err_prefix(err, "--net tap=%s", n->tap);
        }
        if (!serial_console &&
            virtio_console_create(m->vm, m->pci, con_in, con_out, &m->vcon, err) < 0)
                return err_prefix(err, "--console virtio");
        if (cfg->rng && virtio_rng_create(m->vm, m->pci, &m->rng, err) < 0)
                return err_prefix(err, "--rng");
        return 0;
}

static int setup_vcpus(struct machine *m, bool restore, struct isola_err *err)
{
        struct vm_priv *p = vm_priv(m->vm);

        for (unsigned i = 0; i < m->vm->n_cpus; i++) {
                if (vcpu_create(m->vm, i, err) < 0 || cpuid_setup(m->vm, &p->vcpus[i], err) < 0)
                        return -1;
        }
        if (restore)
                return 0; /* snap: the registers come from the snapshot */
        /* Only the BSP starts at the kernel entry; the APs wait for INIT/SIPI
         * in the in-kernel LAPIC. */
        return boot_regs_setup(p->vcpus[0].fd, &m->vm->mem, &m->boot, err);
}

static int load_kernel(struct machine *m, const struct machine_config *cfg, struct isola_err *err)
{
        struct loader_args args = {
            .kernel = cfg->kernel,
            .initrd = cfg->initrd,
            .cmdline = cfg->cmdline ? cfg->cmdline : "console=ttyS0",
            .rsdp_addr = ACPI_RSDP_ADDR,
        };
        return loader_load(&m->vm->mem, &args, &m->boot, err);
}

/* The disk images open as the devices will open them, so that a wrong path
 * is named before anything about the host's KVM. */
static int check_disks(const struct machine_config *cfg, struct isola_err *err)
{
        for (unsigned i = 0; i < cfg->n_disks; i++) {
                const struct machine_disk *d = &cfg->disks[i];
                int fd = open(d->path, (d->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
                if (fd < 0)
                        return err_sys(err, "--disk '%s'", d->path);
                close(fd);
        }
        return 0;
}

int machine_check(const struct machine_config *cfg, struct isola_err *err)
{
        struct machine m = {0};
        int rc = -1;

        /* The first half of machine_create: RAM is reserved, not touched
         * beyond the kernel, and KVM is not opened. */
        if (machine_config_validate(cfg, err) < 0 ||
            vm_create(cfg->cpus, cfg->memory_mib << 20, &m.vm, err) < 0)
                return -1;
        if (load_kernel(&m, cfg, err) == 0 && check_disks(cfg, err) == 0)
                rc = 0;
        vm_destroy(m.vm);
        return rc;
}

int machine_create(const struct machine_config *cfg, int console_in, int console_out,
                   struct machine **out, struct isola_err *err)
{
        struct machine *m = calloc(1, sizeof(*m));

        if (!m)
                return err_set(err, ENOMEM, "out of memory");
        pthread_mutex_init(&m->stats_lock, NULL);
        clock_gettime(CLOCK_MONOTONIC, &m->t_start);
        if (machine_config_validate(cfg, err) < 0 ||
            vm_create(cfg->cpus, cfg->memory_mib << 20, &m->vm, err) < 0)
                goto fail;
        m->vm->pv = cfg->pv;
        /* What the user named comes first: the kernel and initrd load into
         * RAM that KVM does not know yet, the disks are opened once, and only
         * then is /dev/kvm opened, so a typo is reported as such on a host
         * without KVM too. No TAP exists before the kernel loaded; the
         * tables come last, as they list the PCI devices. */
        bool restore = cfg->restore_dir != NULL;
        /* snap: a restore maps the memory file as guest RAM before KVM knows
         * the RAM (mapping it over a registered memslot makes KVM walk the
         * whole slot: ~0.5 ms for 2 GiB on a kvm-pvm host), and writes no
         * tables: the guest's own copies are in that memory. */
        bool map_early = restore && !cfg->restore_deferred, mapped = false;
        if (map_early) {
                struct isola_err ignored; /* a bad file: the restore names it */
                mapped = snapshot_map_incoming(m, cfg->restore_dir, &ignored) == 0;
        }
        if ((!restore && load_kernel(m, cfg, err) < 0) || check_disks(cfg, err) < 0 ||
            vm_open_kvm(m->vm, err) < 0 || vcpu_install_kick_handler(err) < 0 ||
            create_devices(m, cfg, console_in, console_out, err) < 0 ||
            (!restore && (mptable_write(m->vm, err) < 0 || acpi_write(m->vm, err) < 0)) ||
            setup_vcpus(m, restore, err) < 0 ||
            (map_early && snapshot_restore(m, cfg->restore_dir, mapped, err) < 0))
                goto fail;
        *out = m;
        return 0;
fail:
        machine_destroy(m);
        return -1;
}

static void join_all(struct machine *m)
{
        struct vm_priv *p = vm_priv(m->vm);

        for (unsigned i = 0; i < m->vm->n_cpus; i++)
                vcpu_join(&p->vcpus[i]);
        evloop_stop(m->vm->loop);
}

/* Waits for the stop eventfd or a signal from `sigs`. */
static void wait_stop(struct machine *m, const sigset_t *sigs, int *signo_out)
{
        struct vm_priv *p = vm_priv(m->vm);
        _cleanup_close_ int sfd = signalfd(-1, sigs, SFD_CLOEXEC);
        struct pollfd fds[2] = {{.fd = p->stop_fd, .events = POLLIN},
                                {.fd = sfd, .events = POLLIN}};

        while (vm_stop_reason(m->vm) < 0) {
                if (poll(fds, sfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
                        break;
                struct signalfd_siginfo si;
                if (sfd >= 0 && (fds[1].revents & POLLIN) &&
                    read(sfd, &si, sizeof(si)) == sizeof(si)) {
                        *signo_out = (int)si.ssi_signo;
                        vm_request_stop(m->vm, VM_EXIT_SIGNAL);
                }
        }
}

/* The baseline of KVM's counters, taken before any vCPU runs. Statistics
 * are an extra: failing to read them does not stop the VM. */
static void kvm_stats_start(struct machine *m)
{
        struct vm_priv *p = vm_priv(m->vm);
        struct isola_err err = {0};
        int fds[VM_MAX_CPUS];

        if (!kvm_stats_supported(m->vm->kvm_fd))
                return;
        for (unsigned i = 0; i < m->vm->n_cpus; i++)
                fds[i] = p->vcpus[i].fd;
        pthread_mutex_lock(&m->stats_lock);
        if (kvm_stats_open(fds, m->vm->n_cpus, &m->kstats, &err) < 0)
                snprintf(m->kstats_error, sizeof(m->kstats_error), "%s", err.msg);
        pthread_mutex_unlock(&m->stats_lock);
}

static void kvm_stats_end(struct machine *m)
{
        struct isola_err err = {0};

        pthread_mutex_lock(&m->stats_lock);
        if (m->kstats && kvm_stats_sample(m->kstats, &err) < 0) {
                snprintf(m->kstats_error, sizeof(m->kstats_error), "%s", err.msg);
                kvm_stats_free(m->kstats);
                m->kstats = NULL;
        }
        m->running = false;
        pthread_mutex_unlock(&m->stats_lock);
}

/* The vCPU threads; when parked they wait (paused) before their first
 * KVM_RUN. On failure the ones made are stopped and joined. */
static int start_vcpus(struct machine *m, bool parked, struct isola_err *err)
{
        struct vm_priv *p = vm_priv(m->vm);

        if (parked)
                vcpus_pause(m->vm); /* no thread yet: only marks the VM paused */
        for (unsigned i = 0; i < m->vm->n_cpus; i++) {
                if (vcpu_start(&p->vcpus[i], err) < 0) {
                        vm_request_stop(m->vm, VM_EXIT_VMM_ERROR);
                        vcpus_resume(m->vm);
                        join_all(m);
                        return -1;
                }
        }
        return 0;
}

int machine_prepare_run(struct machine *m, struct isola_err *err)
{
        kvm_stats_start(m);
        if (start_vcpus(m, true, err) < 0) {
                kvm_stats_end(m);
                return -1;
        }
        m->prepared = true;
        return 0;
}

int machine_release(struct machine *m, struct isola_err *err)
{
        clock_gettime(CLOCK_MONOTONIC, &m->t_run);
        __atomic_store_n(&m->running, true, __ATOMIC_SEQ_CST);
        m->released = true;
        /* The vCPUs first: the guest's requests wait in their eventfds until
         * the back ends' thread runs (as during a migration's pre-copy). */
        vcpus_resume(m->vm);
        return evloop_start(m->vm->loop, err);
}

enum vm_exit_reason machine_run(struct machine *m, const sigset_t *sigs, int *signo_out,
                                struct isola_err *err)
{
        struct vm_priv *p = vm_priv(m->vm);

        *signo_out = 0;
        if (m->prepared && !m->released) {
                err_set(err, EINVAL, "machine_run: the vCPUs were not released");
                return VM_EXIT_VMM_ERROR;
        }
        if (!m->prepared) {
                kvm_stats_start(m);
                clock_gettime(CLOCK_MONOTONIC, &m->t_run);
                __atomic_store_n(&m->running, true, __ATOMIC_SEQ_CST);
                if (evloop_start(m->vm->loop, err) < 0)
                        return VM_EXIT_VMM_ERROR;
                if (start_vcpus(m, false, err) < 0) {
                        kvm_stats_end(m);
                        return VM_EXIT_VMM_ERROR;
                }
        }
        m->prepared = false; /* joined below */
        wait_stop(m, sigs, signo_out);
        join_all(m);
        pthread_mutex_lock(&m->stats_lock);
        clock_gettime(CLOCK_MONOTONIC, &m->t_end);
        pthread_mutex_unlock(&m->stats_lock);
        kvm_stats_end(m);
        m->reason = (enum vm_exit_reason)vm_stop_reason(m->vm);
        if (m->reason == VM_EXIT_VMM_ERROR)
                err_set(err, EIO, "%s", p->internal_msg);
        return m->reason;
}

const char *machine_failure(struct machine *m)
{
        return vm_priv(m->vm)->internal_msg;
}

static const char *reason_name(enum vm_exit_reason r)
{
        switch (r) {
        case VM_EXIT_POWEROFF:
                return "poweroff";
        case VM_EXIT_RESET:
                return "reset";
        case VM_EXIT_TRIPLE_FAULT:
                return "triple-fault";
        case VM_EXIT_INTERNAL:
                return "internal-error";
        case VM_EXIT_SIGNAL:
                return "signal";
        default:
                return "vmm-error";
        }
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
        return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
        json_object_object_add(o, key, json_object_new_uint64(v));
}

static void add_ms(struct json_object *o, const char *key, double ms)
{
        char text[32];

        snprintf(text, sizeof(text), "%.3f", ms);
        json_object_object_add(o, key, json_object_new_double_s(ms, text));
}

static struct json_object *virtio_stats_json(const struct virtio_stats *st)
{
        struct json_object *o = json_object_new_object();

        add_u64(o, "notify_ioeventfd", st->notify_ioeventfd);
        add_u64(o, "notify_mmio", st->notify_mmio);
        add_u64(o, "bar_accesses", st->bar_accesses);
        add_u64(o, "interrupts", st->interrupts);
        add_u64(o, "requests", st->requests);
        add_u64(o, "bytes", st->bytes);
        return o;
}

static struct json_object *ide_stats_json(struct ide *ide)
{
        struct json_object *o = json_object_new_object();
        struct ide_stats st;

        ide_get_stats(ide, &st);
        add_u64(o, "data_port_accesses", st.data_port_accesses);
        add_u64(o, "sectors_read", st.sectors_read);
        add_u64(o, "sectors_written", st.sectors_written);
        add_u64(o, "commands", st.commands);
        return o;
}

/* Per device model, present devices only; disks and NICs in the order
 * of their --disk / --net options. */
static struct json_object *devices_json(struct machine *m)
{
        struct json_object *o = json_object_new_object();
        struct json_object *blk = json_object_new_array(), *net = json_object_new_array();
        struct virtio_stats st;

        if (m->ide)
                json_object_object_add(o, "ide", ide_stats_json(m->ide));
        for (unsigned i = 0; i < MACHINE_MAX_DISKS; i++) {
                if (!m->blk[i])
                        continue;
                virtio_blk_stats(m->blk[i], &st);
                struct json_object *d = virtio_stats_json(&st);
                add_u64(d, "disk", i);
                json_object_array_add(blk, d);
        }
        for (unsigned i = 0; i < MACHINE_MAX_NETS; i++) {
                if (!m->net[i])
                        continue;
                virtio_net_stats(m->net[i], &st);
                json_object_array_add(net, virtio_stats_json(&st));
        }
        if (json_object_array_length(blk))
                json_object_object_add(o, "virtio_blk", json_object_get(blk));
        if (json_object_array_length(net))
                json_object_object_add(o, "virtio_net", json_object_get(net));
        json_object_put(blk);
        json_object_put(net);
        if (m->vcon) {
                virtio_console_stats(m->vcon, &st);
                json_object_object_add(o, "virtio_console", virtio_stats_json(&st));
        }
        if (m->rng) {
                virtio_rng_stats(m->rng, &st);
                json_object_object_add(o, "virtio_rng", virtio_stats_json(&st));
        }
        return o;
}

/* User-space exit counters (what isola handles), KVM's own counters (all
 * exits, including those KVM handles in the kernel) and the devices'. */
struct json_object *machine_stats_json(struct machine *m)
{
        struct vm *vm = m->vm;
        struct json_object *o = json_object_new_object();
        struct timespec now;

        if (!o)
                return NULL;
        pthread_mutex_lock(&m->stats_lock);
        bool running = m->running;
        if (running) {
                /* Live: the counters so far; KVM's are sampled now. */
                struct isola_err err = {0};
                if (m->kstats && kvm_stats_sample(m->kstats, &err) < 0)
                        snprintf(m->kstats_error, sizeof(m->kstats_error), "%s", err.msg);
                clock_gettime(CLOCK_MONOTONIC, &now);
        } else {
                now = m->t_end;
        }
        json_object_object_add(
            o, "exit_reason", json_object_new_string(running ? "running" : reason_name(m->reason)));
        add_u64(o, "exits_total", __atomic_load_n(&vm->exits_total, __ATOMIC_RELAXED));
        add_u64(o, "exits_pio", __atomic_load_n(&vm->exits_pio, __ATOMIC_RELAXED));
        add_u64(o, "exits_mmio", __atomic_load_n(&vm->exits_mmio, __ATOMIC_RELAXED));
        add_ms(o, "setup_ms", ms_between(&m->t_start, &m->t_run));
        add_ms(o, "run_ms", ms_between(&m->t_run, &now));
        add_u64(o, "cpus", vm->n_cpus);
        add_u64(o, "memory_mib", vm->mem.ram_size >> 20);
        if (m->kstats) {
                json_object_object_add(o, "kvm", kvm_stats_json(m->kstats));
        } else {
                json_object_object_add(o, "kvm_stats", json_object_new_string("unavailable"));
                if (m->kstats_error[0])
                        json_object_object_add(o, "kvm_stats_error",
                                               json_object_new_string(m->kstats_error));
        }
        pthread_mutex_unlock(&m->stats_lock);
        json_object_object_add(o, "devices", devices_json(m));
        return o;
}

void machine_write_stats(struct machine *m, FILE *out)
{
        struct json_object *o = machine_stats_json(m);

        if (!o) {
                fprintf(out, "{\"error\": \"out of memory\"}\n");
                return;
        }
        fprintf(out, "%s\n",
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

static void destroy_devices(struct machine *m)
{
        if (m->rng)
                virtio_rng_destroy(m->rng);
        if (m->vcon)
                virtio_console_destroy(m->vcon);
        for (unsigned i = 0; i < MACHINE_MAX_NETS; i++)
                if (m->net[i])
                        virtio_net_destroy(m->net[i]);
        for (unsigned i = 0; i < MACHINE_MAX_DISKS; i++)
                if (m->blk[i])
                        virtio_blk_destroy(m->blk[i]);
        if (m->ide)
                ide_destroy(m->ide);
        if (m->rtc)
                rtc_destroy(m->rtc);
        if (m->kbc)
                i8042_destroy(m->kbc);
        if (m->serial)
                serial8250_destroy(m->serial);
        if (m->pci)
                pci_bus_free(m->pci);
        power_destroy(m->power);
}

void machine_destroy(struct machine *m)
{
        if (!m)
                return;
        if (m->vm) {
                /* Threads are joined by machine_run; prepared ones that never
                 * ran (a migration that did not come) are stopped here. The
                 * loop must not run callbacks into devices being freed. */
                if (m->prepared) {
                        vm_request_stop(m->vm, VM_EXIT_VMM_ERROR);
                        vcpus_resume(m->vm);
                        join_all(m);
                        kvm_stats_end(m);
                }
                evloop_stop(m->vm->loop);
                destroy_devices(m);
                vm_destroy(m->vm);
        }
        kvm_stats_free(m->kstats);
        pthread_mutex_destroy(&m->stats_lock);
        free(m);
}

int machine_pause(struct machine *m, struct isola_err *err)
{
        if (vm_stop_reason(m->vm) >= 0)
                return err_set(err, ESRCH, "the VM is stopping");
        vcpus_pause(m->vm);
        if (vm_stop_reason(m->vm) >= 0) {
                vcpus_resume(m->vm);
                return err_set(err, ESRCH, "the VM stopped while pausing");
        }
        return 0;
}

void machine_resume(struct machine *m)
{
        vcpus_resume(m->vm);
}

bool machine_paused(struct machine *m)
{
        return vcpus_paused(m->vm);
}

void machine_power_button(struct machine *m)
{
        power_button(m->power);
}

struct vm *machine_vm(struct machine *m)
{
        return m->vm;
}

/* snap: what a snapshot saves and restores (vmm/snapshot.h). */
void machine_get_parts(struct machine *m, struct machine_parts *out)
{
        *out = (struct machine_parts){.vm = m->vm,
                                      .pci = m->pci,
                                      .serial = m->serial,
                                      .kbc = m->kbc,
                                      .rtc = m->rtc,
                                      .ide = m->ide,
                                      .vcon = m->vcon,
                                      .rng = m->rng};
        for (unsigned i = 0; i < MACHINE_MAX_DISKS && i < SNAP_MAX_DISKS; i++)
                out->blk[i] = m->blk[i];
        for (unsigned i = 0; i < MACHINE_MAX_NETS && i < SNAP_MAX_NETS; i++)
                out->net[i] = m->net[i];
}
