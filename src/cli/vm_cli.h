/* The `isola vm` front end's parts: vm.c (run, the machine flags) and
 * vm_mgr.c / vm_console.c (managed VMs). */
#ifndef ISOLA_CLI_VM_CLI_H
#define ISOLA_CLI_VM_CLI_H

#include "util/err.h"
#include "vmm/machine.h"

/* The machine flags of `vm run` (and --config) into cfg, argv[0] being the
 * verb. Returns 0, 1 for --help, -1 with err. */
int vm_cli_parse_machine(int argc, char **argv, struct machine_config *cfg, struct isola_err *err);
/* "isola vm VERB: message" on stderr; returns 1. */
int vm_cli_fail(const char *verb, const struct isola_err *err);
/* The same for a usage mistake, pointing at --help; returns 2. */
int vm_cli_usage(const char *verb, const char *what);
/* create, start, ...: the exit status, or -1 when argv[0] is none of them. */
int cli_vm_managed(int argc, char **argv);
/* snap: `vm snapshot create|ls|rm`, `vm restore`, `vm revert` (vm_snapshot.c);
 * the exit status, or -1 when argv[0] is none of them. */
int cli_vm_snap(int argc, char **argv);
/* `vm migrate NAME --to`, `vm receive NAME --listen` (vm_migrate.c). */
int cli_vm_migrate(int argc, char **argv);
int cli_vm_receive(int argc, char **argv);
/* `vm compare` (vm_compare.c) */
int vm_cli_compare(int argc, char **argv);
/* `vm console NAME`: relays the terminal until the detach key. */
int vm_cli_console(const char *sock, const char *name, int escape);

#endif
