/* Per-process attributes of the container init: rlimits, oom_score_adj,
 * personality, sysctls, no_new_privs and the user identity. */
#ifndef ISOLA_CTR_PROCESS_ATTRS_H
#define ISOLA_CTR_PROCESS_ATTRS_H

#include "ctr/spec.h"
#include "util/err.h"

/* setrlimit for each process.rlimits entry. */
int process_rlimits_apply(const struct spec_process *p, struct isola_err *err);

/* Writes linux.sysctl under /proc/sys (after pivot_root). Refuses keys that
 * are not namespaced or whose namespace the container does not own. */
int process_sysctl_apply(const struct spec *spec, struct isola_err *err);

/* Checks linux.sysctl keys only (usable before fork for an early error). */
int process_sysctl_validate(const struct spec *spec, struct isola_err *err);

/* setgroups(additionalGids), setresgid, setresuid, umask. */
int process_user_apply(const struct spec_user *u, struct isola_err *err);

/* oom_score_adj and personality. */
int process_misc_apply(const struct spec *spec, struct isola_err *err);

/* PR_SET_NO_NEW_PRIVS. */
int process_no_new_privs(struct isola_err *err);

#endif
