/* Opening /dev/kvm and checking that the host KVM offers what the monitor
 * relies on, with messages that tell the user what to fix. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/vm_internal.h"

/* ISOLA_KVM_DEV overrides the device path (tests use it to simulate a host
 * without KVM). */
static const char *kvm_path(void)
{
        const char *p = getenv("ISOLA_KVM_DEV");

        return p && *p ? p : "/dev/kvm";
}

int kvm_open(struct isola_err *err)
{
        const char *path = kvm_path();
        int fd = open(path, O_RDWR | O_CLOEXEC);

        if (fd >= 0)
                return fd;
        if (errno == ENOENT)
                return err_set(err, ENOENT,
                               "%s: No such file or directory (is KVM enabled? load "
                               "kvm_intel/kvm_amd)",
                               path);
        if (errno == EACCES || errno == EPERM)
                return err_sys(err,
                               "%s: cannot open (add your user to the 'kvm' group or run as "
                               "root)",
                               path);
        return err_sys(err, "%s: cannot open", path);
}

static const struct {
        int cap;
        const char *name;
} needed_caps[] = {
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_HLT, "KVM_CAP_HLT"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
};

int kvm_check(int kvm_fd, struct isola_err *err)
{
        int version = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);

        if (version != KVM_API_VERSION)
                return err_set(err, ENOTSUP, "KVM API version %d, expected %d", version,
                               KVM_API_VERSION);
        for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++) {
                if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, needed_caps[i].cap) <= 0)
                        return err_set(err, ENOTSUP, "the host KVM lacks %s", needed_caps[i].name);
        }
        return 0;
}
