/* Per-process attributes of the container init: rlimits, oom_score_adj,
 * personality, sysctls (only namespaced keys, and only for namespaces the
 * container owns), the user identity and no_new_privs. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctr/process_attrs.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const char *const rlimit_names[RLIM_NLIMITS] = {
    [RLIMIT_CPU] = "RLIMIT_CPU",           [RLIMIT_FSIZE] = "RLIMIT_FSIZE",
    [RLIMIT_DATA] = "RLIMIT_DATA",         [RLIMIT_STACK] = "RLIMIT_STACK",
    [RLIMIT_CORE] = "RLIMIT_CORE",         [RLIMIT_RSS] = "RLIMIT_RSS",
    [RLIMIT_NPROC] = "RLIMIT_NPROC",       [RLIMIT_NOFILE] = "RLIMIT_NOFILE",
    [RLIMIT_MEMLOCK] = "RLIMIT_MEMLOCK",   [RLIMIT_AS] = "RLIMIT_AS",
    [RLIMIT_LOCKS] = "RLIMIT_LOCKS",       [RLIMIT_SIGPENDING] = "RLIMIT_SIGPENDING",
    [RLIMIT_MSGQUEUE] = "RLIMIT_MSGQUEUE", [RLIMIT_NICE] = "RLIMIT_NICE",
    [RLIMIT_RTPRIO] = "RLIMIT_RTPRIO",     [RLIMIT_RTTIME] = "RLIMIT_RTTIME",
};

static const char *rlimit_name(int resource)
{
        if (resource >= 0 && resource < RLIM_NLIMITS && rlimit_names[resource])
                return rlimit_names[resource];
        return "unknown";
}

static int apply_rlimit(const struct spec_rlimit *rl, struct isola_err *err)
{
        struct rlimit want = {.rlim_cur = rl->soft, .rlim_max = rl->hard};
        struct rlimit cur;

        if (rl->soft > rl->hard)
                return err_set(err, EINVAL,
                               "rlimit '%s': soft limit %" PRIu64 " exceeds hard limit %" PRIu64,
                               rlimit_name(rl->resource), rl->soft, rl->hard);
        if (setrlimit((__rlimit_resource_t)rl->resource, &want) == 0)
                return 0;
        if (errno == EPERM && getrlimit((__rlimit_resource_t)rl->resource, &cur) == 0 &&
            want.rlim_max > cur.rlim_max)
                return err_set(err, EPERM,
                               "rlimit '%s': raising the hard limit to %" PRIu64
                               " above the current %" PRIu64
                               " needs CAP_SYS_RESOURCE (the runtime does not have it)",
                               rlimit_name(rl->resource), rl->hard, (uint64_t)cur.rlim_max);
        return err_sys(err, "rlimit '%s': setrlimit(soft %" PRIu64 ", hard %" PRIu64 ")",
                       rlimit_name(rl->resource), rl->soft, rl->hard);
}

int process_rlimits_apply(const struct spec_process *p, struct isola_err *err)
{
        for (size_t i = 0; i < p->n_rlimits; i++)
                if (apply_rlimit(&p->rlimits[i], err) < 0)
                        return -1;
        return 0;
}

static bool has_ns(const struct spec *spec, enum spec_ns_kind kind)
{
        for (size_t i = 0; i < spec->linux.n_namespaces; i++)
                if (spec->linux.namespaces[i].kind == kind)
                        return true;
        return false;
}

static bool is_ipc_sysctl(const char *key)
{
        static const char *const ipc_keys[] = {
            "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
            "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
        };

        for (size_t i = 0; i < ARRAY_SIZE(ipc_keys); i++)
                if (!strcmp(key, ipc_keys[i]))
                        return true;
        return !strncmp(key, "fs.mqueue.", strlen("fs.mqueue."));
}

/* Which namespace makes `key` safe to write; -1 for keys that are global. */
static int sysctl_namespace(const char *key)
{
        if (is_ipc_sysctl(key))
                return NS_IPC;
        if (!strncmp(key, "net.", 4))
                return NS_NET;
        if (!strcmp(key, "kernel.hostname") || !strcmp(key, "kernel.domainname"))
                return NS_UTS;
        return -1;
}

static int validate_key(const struct spec *spec, const char *key, struct isola_err *err)
{
        int ns;

        /* The key becomes a path below /proc/sys: no empty, "." or ".."
         * components, no slashes. */
        if (!*key || strchr(key, '/') || strstr(key, "..") || key[0] == '.' ||
            key[strlen(key) - 1] == '.')
                return err_set(err, EINVAL, "sysctl '%s': malformed key", key);
        ns = sysctl_namespace(key);
        if (ns < 0)
                return err_set(err, EPERM,
                               "sysctl '%s': not a namespaced sysctl, refusing to change it "
                               "for the whole host",
                               key);
        if (!has_ns(spec, (enum spec_ns_kind)ns))
                return err_set(err, EPERM,
                               "sysctl '%s': needs a %s namespace, which the container "
                               "does not have",
                               key,
                               ns == NS_NET   ? "network"
                               : ns == NS_IPC ? "ipc"
                                              : "uts");
        return 0;
}

int process_sysctl_validate(const struct spec *spec, struct isola_err *err)
{
        for (size_t i = 0; i < spec->linux.n_sysctl; i++)
                if (validate_key(spec, spec->linux.sysctl[i].key, err) < 0)
                        return -1;
        return 0;
}

/* Equal up to whitespace: the kernel echoes "kernel.sem" with tabs. */
static bool same_words(const char *a, const char *b)
{
        for (;;) {
                a += strspn(a, " \t\n");
                b += strspn(b, " \t\n");
                if (!*a || !*b)
                        return !*a && !*b;
                size_t la = strcspn(a, " \t\n"), lb = strcspn(b, " \t\n");
                if (la != lb || memcmp(a, b, la) != 0)
                        return false;
                a += la;
                b += lb;
        }
}

/* rootfs_setup writes the sysctls before readonlyPaths makes /proc/sys
 * read-only; a later call finds them read-only and only checks the value. */
static int check_readonly_sysctl(int dir_fd, const char *rel, const struct spec_sysctl *s,
                                 struct isola_err *err)
{
        _cleanup_close_ int fd = openat(dir_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        _cleanup_free_ char *cur = NULL;

        if (fd < 0 || fs_read_fd(fd, 4096, &cur, NULL, err) < 0)
                return err_sys(err, "sysctl '%s': reading '/proc/sys/%s'", s->key, rel);
        if (!same_words(cur, s->value))
                return err_set(err, EROFS, "sysctl '%s': '/proc/sys/%s' is read-only", s->key, rel);
        return 0;
}

static int write_sysctl(int dir_fd, const struct spec_sysctl *s, struct isola_err *err)
{
        char rel[512];
        _cleanup_close_ int fd = -1;
        size_t len = strlen(s->key);

        if (len >= sizeof(rel))
                return err_set(err, ENAMETOOLONG, "sysctl '%s': key too long", s->key);
        for (size_t i = 0; i <= len; i++) {
                rel[i] = s->key[i];
                if (rel[i] == '.')
                        rel[i] = '/';
        }
        fd = openat(dir_fd, rel, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == EROFS)
                return check_readonly_sysctl(dir_fd, rel, s, err);
        if (fd < 0)
                return err_sys(err, "sysctl '%s': opening '/proc/sys/%s'", s->key, rel);
        if (fs_write_all(fd, s->value, strlen(s->value)) < 0)
                return err_sys(err, "sysctl '%s': writing '%s'", s->key, s->value);
        return 0;
}

int process_sysctl_apply(const struct spec *spec, struct isola_err *err)
{
        _cleanup_close_ int dir_fd = -1;

        if (spec->linux.n_sysctl == 0)
                return 0;
        if (process_sysctl_validate(spec, err) < 0)
                return -1;
        dir_fd = open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return err_sys(err, "sysctl: opening '/proc/sys' (is /proc mounted?)");
        for (size_t i = 0; i < spec->linux.n_sysctl; i++)
                if (write_sysctl(dir_fd, &spec->linux.sysctl[i], err) < 0)
                        return -1;
        return 0;
}

int process_user_apply(const struct spec_user *u, struct isola_err *err)
{
        /* setgroups is denied in a user namespace whose gid_map was written
         * without "allow"; an empty list then is no loss. */
        if (setgroups(u->n_additional_gids, u->additional_gids) < 0 &&
            !(errno == EPERM && u->n_additional_gids == 0))
                return err_sys(err, "user: setgroups(additionalGids, %zu groups)",
                               u->n_additional_gids);
        if (setresgid(u->gid, u->gid, u->gid) < 0)
                return err_sys(err, "user: setresgid(%u)", (unsigned)u->gid);
        if (setresuid(u->uid, u->uid, u->uid) < 0)
                return err_sys(err, "user: setresuid(%u)", (unsigned)u->uid);
        if (u->has_umask)
                umask(u->umask);
        return 0;
}

static int write_oom_score_adj(int value, struct isola_err *err)
{
        char buf[16];
        int len = snprintf(buf, sizeof(buf), "%d", value);
        _cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

        if (fd < 0)
                return err_sys(err, "oomScoreAdj: opening '/proc/self/oom_score_adj'");
        if (fs_write_all(fd, buf, (size_t)len) < 0) {
                if (errno == EACCES)
                        return err_set(err, EACCES,
                                       "oomScoreAdj %d: lowering the score below the "
                                       "runtime's needs CAP_SYS_RESOURCE",
                                       value);
                return err_sys(err, "oomScoreAdj %d: writing '/proc/self/oom_score_adj'", value);
        }
        return 0;
}

int process_misc_apply(const struct spec *spec, struct isola_err *err)
{
        if (spec->process && spec->process->has_oom_score_adj &&
            write_oom_score_adj(spec->process->oom_score_adj, err) < 0)
                return -1;
        if (spec->linux.has_personality && personality(spec->linux.personality) < 0)
                return err_sys(err, "personality 0x%lx", spec->linux.personality);
        return 0;
}

int process_no_new_privs(struct isola_err *err)
{
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return err_sys(err, "noNewPrivileges: prctl(PR_SET_NO_NEW_PRIVS)");
        return 0;
}
