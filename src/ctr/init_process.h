/* The last steps before execve of a container process, shared by the init
 * (create) and by exec: rlimits, cwd, identity, capabilities, no_new_privs,
 * seccomp and the execve itself. */
#ifndef ISOLA_CTR_INIT_PROCESS_H
#define ISOLA_CTR_INIT_PROCESS_H

#include "ctr/spec.h"
#include "util/err.h"

struct seccomp_prog;

/* Everything up to (not including) the final seccomp/execve. sc is the
 * filter from seccomp_prepare (an empty program: none). Seccomp is
 * loaded here already when no_new_privileges is off, because loading it
 * then needs CAP_SYS_ADMIN, which the identity switch drops. *exe_out is
 * the resolved executable (heap). */
int init_process_prepare(const struct spec_process *p, const struct seccomp_prog *sc,
                         char **exe_out, struct isola_err *err);

/* Loads seccomp (no_new_privileges case), marks fds >= 3 + preserve_fds
 * close-on-exec and execve()s; on failure prints to stderr and exits 127. */
_Noreturn void init_process_exec(const struct spec_process *p, const struct seccomp_prog *sc,
                                 const char *exe, int preserve_fds);

#endif
