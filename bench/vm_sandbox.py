"""What the VM benchmarks written in Python share about the KVM sandbox."""
import os
import sys

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# In the KVM sandbox (emulated) a console poll every 0.2 ms would take a
# whole vCPU from the VMs it times: there the pollers poll every 2 ms.
IN_SANDBOX = bool(os.environ.get("ISOLA_IN_KVM_SANDBOX"))
POLL_S = 0.002 if IN_SANDBOX else 0.0002


def run_in_sandbox_without_kvm(name):
    """Without /dev/kvm the bench runs itself inside scripts/kvm-sandbox
    (nested KVM under QEMU's TCG, same paths and environment); both peers
    run there, so the ratios compare like with like, and the absolute
    figures are the sandbox's. Returns only when there is a /dev/kvm."""
    if os.path.exists("/dev/kvm") or IN_SANDBOX:
        if not os.path.exists("/dev/kvm"):
            sys.exit(f"{name}: /dev/kvm is missing inside the KVM sandbox")
        return
    print(f"{name}: no /dev/kvm here: running inside scripts/kvm-sandbox (nested figures)",
          file=sys.stderr, flush=True)
    sandbox = os.path.join(SRC, "scripts", "kvm-sandbox")
    # Two vCPUs, as a host has at least two cores: with the sandbox's one
    # (the test suites' setting) every process of a migration, and the
    # idle test guest's busy vCPU, share one CPU (isola made 99 pre-copy
    # rounds waiting for the destination's VMM to start, 2026-12-02).
    # QEMU's multi-threaded TCG, its default: a bench is no CI run, and the
    # sandbox's watchdogs end a hung outer guest.
    os.environ.setdefault("ISOLA_SANDBOX_TCG_THREAD", "multi")
    os.execv(sandbox, [sandbox, "--cpus", os.environ.get("ISOLA_SANDBOX_CPUS", "2"),
                       "--memory", os.environ.get("ISOLA_SANDBOX_MEMORY", "6144"),
                       "--timeout", "7200", "--", sys.executable, os.path.abspath(sys.argv[0])]
             + sys.argv[1:])
