/* Managed VMs: stop (ACPI power button, then a clean VMM stop, then
 * SIGKILL), kill, pause and resume through the control socket. Each waits
 * for the monitor to record the end, so the row is final on return. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/ctl.h"
#include "vmm/mgr_internal.h"

static int load_running(struct vm_mgr *m, const char *ref, struct vm_row *row, bool *running,
                        struct isola_err *err)
{
        if (mgr_load(m, ref, row, err) < 0)
                return -1;
        *running = mgr_alive(m, row);
        return 0;
}

static int signal_vmm(const struct vm_row *row, int signo, struct isola_err *err)
{
        /* The monitor was checked against pid reuse; the VMM is its child
         * and cannot be reaped (and its pid reused) while the monitor runs. */
        if (kill(row->vmm_pid, signo) < 0 && errno != ESRCH)
                return err_sys(err, "VM %s: signalling its VMM (pid %d)", row->name, row->vmm_pid);
        return 0;
}

int vm_mgr_kill(struct vm_mgr *m, const char *ref, int signo, struct isola_err *err)
{
        struct vm_row row;
        bool running;
        int rc = 0;

        if (load_running(m, ref, &row, &running, err) < 0)
                return -1;
        if (!running)
                rc = err_set(err, ESRCH, "VM %s is not running", row.name);
        else if (signal_vmm(&row, signo ? signo : SIGKILL, err) < 0)
                rc = -1;
        else if ((signo == 0 || signo == SIGKILL || signo == SIGTERM) &&
                 !mgr_wait_gone(&row, KILL_WAIT_MS))
                rc = err_set(err, ETIMEDOUT, "VM %s: its monitor did not finish", row.name);
        mgr_row_free(&row);
        return rc;
}

static int ctl_call(struct vm_mgr *m, const struct vm_row *row, const char *method,
                    const char *path, const char *body, struct isola_err *err)
{
        struct vm_paths p = {0};
        char *answer = NULL;
        int status = 0;

        if (mgr_paths(m, row->id, &p, err) < 0 ||
            ctl_request(p.ctl, method, path, body, &status, &answer, err) < 0)
                return err_prefix(err, "VM %s", row->name);
        int rc = 0;
        if (status >= 300) {
                /* {"fault_message": "..."}: shown as is, it is short. */
                rc = err_set(err, EIO, "VM %s: %s %s: %d %s", row->name, method, path, status,
                             answer);
        }
        free(answer);
        return rc;
}

int vm_mgr_stop(struct vm_mgr *m, const char *ref, unsigned timeout_s, struct isola_err *err)
{
        struct vm_row row;
        bool running;
        int rc = 0;

        if (load_running(m, ref, &row, &running, err) < 0)
                return -1;
        if (!running)
                goto out;
        struct isola_err ignored = {0};
        /* A paused guest cannot see the button. */
        (void)ctl_call(m, &row, "PUT", "/vm", "{\"state\":\"Resumed\"}", &ignored);
        if (timeout_s > 0 &&
            ctl_call(m, &row, "PUT", "/actions", "{\"action_type\":\"PowerButton\"}", &ignored) ==
                0 &&
            mgr_wait_gone(&row, (long)timeout_s * 1000))
                goto out;
        if (signal_vmm(&row, SIGTERM, err) < 0) {
                rc = -1;
                goto out;
        }
        if (mgr_wait_gone(&row, 5000))
                goto out;
        if (signal_vmm(&row, SIGKILL, err) < 0 || !mgr_wait_gone(&row, KILL_WAIT_MS))
                rc = err_set(err, ETIMEDOUT, "VM %s: did not stop", row.name);
out:
        mgr_row_free(&row);
        return rc;
}

static int set_state(struct vm_mgr *m, const char *ref, const char *state, struct isola_err *err)
{
        struct vm_row row;
        bool running;
        char body[64];
        int rc;

        if (load_running(m, ref, &row, &running, err) < 0)
                return -1;
        snprintf(body, sizeof(body), "{\"state\":\"%s\"}", state);
        if (!running)
                rc = err_set(err, ESRCH, "VM %s is not running", row.name);
        else
                rc = ctl_call(m, &row, "PUT", "/vm", body, err);
        mgr_row_free(&row);
        return rc;
}

int vm_mgr_pause(struct vm_mgr *m, const char *ref, struct isola_err *err)
{
        return set_state(m, ref, "Paused", err);
}

int vm_mgr_resume(struct vm_mgr *m, const char *ref, struct isola_err *err)
{
        return set_state(m, ref, "Resumed", err);
}
