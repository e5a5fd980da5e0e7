/* KVM's dirty log, shared by live migration and live snapshots (see
 * migrate.h). Apart from migrate.c so that a restore (isola-vmm) does not
 * pull in the migration stream and its TLS library. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "vmm/migrate.h"
#include "vmm/vm_internal.h"

#define PAGE 4096u
/* The sink (a migration record: a header, a syscall, a wake-up of the
 * receiver; a snapshot's pwrite) is called once per run. */
#define MIGRATE_RUN_PAGES (MIGRATE_RUN_BYTES / PAGE)

/* KVM's dirty log on every memslot (slot = region index, as vm.c makes them). */
int migrate_dirty_log(struct vm *vm, bool on, struct isola_err *err)
{
        return vm_set_memslots(vm, on ? KVM_MEM_LOG_DIRTY_PAGES : 0, err);
}

int migrate_dirty_walk(struct vm *vm, snap_mem_sink sink, void *opaque, uint64_t *pages,
                       struct isola_err *err)
{
        uint64_t off = 0;

        *pages = 0;
        for (unsigned slot = 0; slot < vm->mem.n_regions; slot++) {
                const struct guest_mem_region *r = &vm->mem.regions[slot];
                uint64_t npages = r->size / PAGE, words = (npages + 63) / 64;
                uint64_t *bits = calloc(words, 8);
                struct kvm_dirty_log log = {.slot = slot, .dirty_bitmap = bits};
                if (!bits)
                        return err_set(err, ENOMEM, "dirty log: out of memory");
                if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
                        free(bits);
                        return err_sys(err, "KVM_GET_DIRTY_LOG");
                }
                for (uint64_t pg = 0; pg < npages; pg++) {
                        if (!(bits[pg / 64] & (1ULL << (pg % 64))))
                                continue;
                        /* a run of dirty pages, at most MIGRATE_RUN_PAGES */
                        uint64_t end = pg + 1;
                        while (end < npages && end - pg < MIGRATE_RUN_PAGES &&
                               (bits[end / 64] & (1ULL << (end % 64))))
                                end++;
                        if (sink(opaque, off + pg * PAGE, r->hva + pg * PAGE, (end - pg) * PAGE,
                                 err) < 0) {
                                free(bits);
                                return -1;
                        }
                        *pages += end - pg;
                        pg = end - 1;
                }
                free(bits);
                off += r->size;
        }
        return 0;
}
