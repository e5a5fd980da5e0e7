/* The default seccomp profile: containers/common's (podman's) default for
 * x86-64 with the default capability set, as a table. Syscalls not listed
 * fail with ENOSYS (defaultErrnoRet 38), so that new syscalls fall back in
 * libc; the explicitly refused ones fail with EPERM. Argument rules keep
 * personality() to the harmless domains and refuse NETLINK_AUDIT sockets. */
#include "engine/engine_internal.h"

#include <stddef.h>

struct sc_arg {
        unsigned index;
        unsigned long long value;
        const char *op;
};

struct sc_rule {
        const char *names; /* space separated */
        const char *action;
        int errno_ret; /* -1: none */
        struct sc_arg args[2];
        unsigned n_args;
};

// clang-format off
static const struct sc_rule rules[] = {
    {
            "bdflush io_pgetevents kexec_file_load kexec_load migrate_pages move_pages "
            "nfsservctl nice oldfstat oldlstat oldolduname oldstat olduname pciconfig_iobase "
            "pciconfig_read pciconfig_write sgetmask ssetmask swapcontext swapoff swapon "
            "sysfs uselib userfaultfd ustat vm86 vm86old vmsplice",
     "SCMP_ACT_ERRNO", 1, {}, 0},
    {
            "_llseek _newselect accept accept4 access adjtimex alarm bind brk capget capset "
            "chdir chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres "
            "clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep "
            "clock_nanosleep_time64 clone clone3 close close_range connect copy_file_range "
            "creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old "
            "epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve "
            "execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate "
            "fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 "
            "fdatasync fgetxattr flistxattr flock fork fremovexattr fsconfig fsetxattr "
            "fsmount fsopen fspick fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate "
            "ftruncate64 futex futex_time64 futimesat get_mempolicy get_robust_list "
            "get_thread_area getcpu getcwd getdents getdents64 getegid getegid32 geteuid "
            "geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid "
            "getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid "
            "getresuid32 getrlimit getrusage getsid getsockname getsockopt gettid "
            "gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init "
            "inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_setup "
            "io_submit ioctl ioprio_get ioprio_set ipc keyctl kill landlock_add_rule "
            "landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link "
            "linkat listen listxattr llistxattr lremovexattr lseek lsetxattr lstat lstat64 "
            "madvise mbind membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod "
            "mknodat mlock mlock2 mlockall mmap mmap2 mount mount_setattr move_mount mprotect "
            "mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 "
            "mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd "
            "msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat open "
            "open_tree openat openat2 pause pidfd_getfd pidfd_open pidfd_send_signal pipe "
            "pipe2 pivot_root pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 "
            "prctl pread64 preadv preadv2 prlimit64 process_mrelease process_vm_readv "
            "process_vm_writev pselect6 pselect6_time64 ptrace pwrite64 pwritev pwritev2 read "
            "readahead readdir readlink readlinkat readv reboot recv recvfrom recvmmsg "
            "recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2 "
            "restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask "
            "rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait "
            "rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_get_priority_max "
            "sched_get_priority_min sched_getaffinity sched_getattr sched_getparam "
            "sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 "
            "sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield "
            "seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile "
            "sendfile64 sendmmsg sendmsg sendto set_mempolicy set_robust_list set_thread_area "
            "set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 "
            "setgroups setgroups32 setitimer setns setpgid setpriority setregid setregid32 "
            "setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit setsid "
            "setsockopt setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaction "
            "sigaltstack signal signalfd signalfd4 sigpending sigprocmask sigreturn "
            "sigsuspend socketcall socketpair splice stat stat64 statfs statfs64 statx "
            "symlink symlinkat sync sync_file_range syncfs syscall sysinfo syslog tee tgkill "
            "time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 "
            "timer_settime timer_settime64 timerfd timerfd_create timerfd_gettime "
            "timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate "
            "truncate64 ugetrlimit umask umount umount2 uname unlink unlinkat unshare utime "
            "utimensat utimensat_time64 utimes vfork wait4 waitid waitpid write writev",
     "SCMP_ACT_ALLOW", -1, {}, 0},
    {
            "personality",
     "SCMP_ACT_ALLOW", -1, {{0, 0ULL, "SCMP_CMP_EQ"}}, 1},
    {
            "personality",
     "SCMP_ACT_ALLOW", -1, {{0, 8ULL, "SCMP_CMP_EQ"}}, 1},
    {
            "personality",
     "SCMP_ACT_ALLOW", -1, {{0, 131072ULL, "SCMP_CMP_EQ"}}, 1},
    {
            "personality",
     "SCMP_ACT_ALLOW", -1, {{0, 131080ULL, "SCMP_CMP_EQ"}}, 1},
    {
            "personality",
     "SCMP_ACT_ALLOW", -1, {{0, 4294967295ULL, "SCMP_CMP_EQ"}}, 1},
    {
            "arch_prctl",
     "SCMP_ACT_ALLOW", -1, {}, 0},
    {
            "modify_ldt",
     "SCMP_ACT_ALLOW", -1, {}, 0},
    {
            "open_by_handle_at",
     "SCMP_ACT_ERRNO", 1, {}, 0},
    {
            "bpf fanotify_init lookup_dcookie perf_event_open quotactl setdomainname "
            "sethostname setns",
     "SCMP_ACT_ERRNO", 1, {}, 0},
    {
            "chroot",
     "SCMP_ACT_ALLOW", -1, {}, 0},
    {
            "delete_module finit_module init_module query_module",
     "SCMP_ACT_ERRNO", 1, {}, 0},
    {
            "acct",
     "SCMP_ACT_ERRNO", 1, {}, 0},
    {
            "kcmp process_madvise",
     "SCMP_ACT_ERRNO", 1, {}, 0},
    {
            "ioperm iopl",
     "SCMP_ACT_ERRNO", 1, {}, 0},
    {
            "clock_settime clock_settime64 settimeofday stime",
     "SCMP_ACT_ERRNO", 1, {}, 0},
    {
            "vhangup",
     "SCMP_ACT_ERRNO", 1, {}, 0},
    {
            "socket",
     "SCMP_ACT_ERRNO", 22, {{0, 16ULL, "SCMP_CMP_EQ"}, {2, 9ULL, "SCMP_CMP_EQ"}}, 2},
    {
            "socket",
     "SCMP_ACT_ALLOW", -1, {{2, 9ULL, "SCMP_CMP_NE"}}, 1},
    {
            "socket",
     "SCMP_ACT_ALLOW", -1, {{0, 16ULL, "SCMP_CMP_NE"}}, 1},
    {
            "socket",
     "SCMP_ACT_ALLOW", -1, {{2, 9ULL, "SCMP_CMP_NE"}}, 1},
};
// clang-format on

static json_object *rule_json(const struct sc_rule *r)
{
        json_object *o = json_object_new_object(), *names = json_object_new_array();
        const char *p = r->names;

        while (*p) {
                const char *sp = p;
                while (*sp && *sp != ' ')
                        sp++;
                json_object_array_add(names, json_object_new_string_len(p, (int)(sp - p)));
                p = *sp ? sp + 1 : sp;
        }
        json_object_object_add(o, "names", names);
        json_object_object_add(o, "action", json_object_new_string(r->action));
        if (r->errno_ret >= 0)
                json_object_object_add(o, "errnoRet", json_object_new_int(r->errno_ret));
        if (r->n_args) {
                json_object *args = json_object_new_array();
                for (unsigned i = 0; i < r->n_args; i++) {
                        json_object *a = json_object_new_object();
                        json_object_object_add(a, "index",
                                               json_object_new_int((int)r->args[i].index));
                        json_object_object_add(a, "value",
                                               json_object_new_uint64(r->args[i].value));
                        json_object_object_add(a, "op", json_object_new_string(r->args[i].op));
                        json_object_array_add(args, a);
                }
                json_object_object_add(o, "args", args);
        }
        return o;
}

json_object *eng_seccomp_default(void)
{
        json_object *o = json_object_new_object(), *arch = json_object_new_array(),
                    *sys = json_object_new_array();

        json_object_object_add(o, "defaultAction", json_object_new_string("SCMP_ACT_ERRNO"));
        json_object_object_add(o, "defaultErrnoRet", json_object_new_int(38)); /* ENOSYS */
        json_object_array_add(arch, json_object_new_string("SCMP_ARCH_X86_64"));
        json_object_array_add(arch, json_object_new_string("SCMP_ARCH_X86"));
        json_object_array_add(arch, json_object_new_string("SCMP_ARCH_X32"));
        json_object_object_add(o, "architectures", arch);
        for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
                json_object_array_add(sys, rule_json(&rules[i]));
        json_object_object_add(o, "syscalls", sys);
        return o;
}
