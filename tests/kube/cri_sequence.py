"""What the kubelet does with a pod, through containerd's CRI plugin, once per
runtime handler; prints one TAP result line per check ("ok - ..." or
"not ok - ...", unnumbered: tests/kube/cri.sh numbers them).

usage: cri_sequence.py SOCK IMAGE WORK HANDLER...
"""
import json
import os
import re
import sys
import time

import grpc

import cri

pb = cri.pb
CG = "/sys/fs/cgroup"
MIB = 1024 * 1024


class Checker:
    def __init__(self, prefix):
        self.prefix = prefix

    def ok(self, name, cond, diag=""):
        print(("ok - " if cond else "not ok - ") + self.prefix + name, flush=True)
        if not cond and diag:
            for line in str(diag).splitlines():
                print("# " + line, flush=True)
        return cond

    def eq(self, name, got, want):
        return self.ok(name, got == want, "got:  %r\nwant: %r" % (got, want))

    def fails(self, name, fn, code, pattern):
        """FN must fail with gRPC status CODE and a message matching PATTERN."""
        try:
            fn()
        except grpc.RpcError as e:
            return self.ok(name, e.code() == code and re.search(pattern, e.details() or ""),
                           "got: %s %s" % (e.code(), e.details()))
        return self.ok(name, False, "the call succeeded")


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def wait_exited(c, cid, secs=20):
    st = None
    for _ in range(secs * 10):
        st = c.call("ContainerStatus", container_id=cid).status
        if st.state == pb.CONTAINER_EXITED:
            break
        time.sleep(0.1)
    return st


def sandbox_info(c, sid):
    """The infra process's pid and network namespace path from the verbose status."""
    resp = c.call("PodSandboxStatus", pod_sandbox_id=sid, verbose=True)
    info = json.loads(resp.info.get("info", "{}"))
    netns = ""
    for ns in info.get("runtimeSpec", {}).get("linux", {}).get("namespaces", []):
        if ns.get("type") == "network":
            netns = ns.get("path", "")
    return resp.status, info.get("pid", 0), netns


def leftovers(parent, pid, netns, ipam):
    """What a removed pod left behind: a list of strings, empty when clean."""
    left = []
    if pid and os.path.exists("/proc/%d" % pid):
        left.append("infra process %d" % pid)
    if netns and os.path.exists(netns):
        left.append("netns " + netns)
    for ctl in ("memory", "cpu", "pids"):
        d = os.path.join(CG, ctl, parent.lstrip("/"))
        if os.path.isdir(d):
            subs = [s for s in os.listdir(d) if os.path.isdir(os.path.join(d, s))]
            if subs:
                left.append("cgroups %s/%s" % (d, subs))
    net = os.path.join(ipam, "isola-cri-test")
    if os.path.isdir(net):
        ips = [f for f in os.listdir(net) if f.startswith("10.197.")]
        if ips:
            left.append("CNI addresses " + ",".join(ips))
    return left


def runtime_state(handler, cid):
    """The OCI state the handler's runtime keeps for CID (None: not its container)."""
    binary = {"isola": os.environ["ISOLA_BUILD"] + "/isola-runtime"}.get(handler, handler)
    out = os.popen("%s --root /run/containerd/runc/k8s.io state %s 2>/dev/null" % (binary, cid)).read()
    try:
        return json.loads(out)
    except ValueError:
        return None


def pod(c, t, handler, image, work, ipam, netns_list):
    parent = "/%s-%s" % (os.environ["CRI_CG_PREFIX"], handler)
    logdir = os.path.join(work, "logs", handler)
    os.makedirs(logdir, exist_ok=True)
    sbc = c.sandbox_config("web-" + handler, "uid-" + handler, logdir, parent)
    sid = c.call("RunPodSandbox", config=sbc, runtime_handler=handler).pod_sandbox_id
    st, pid, netns = sandbox_info(c, sid)
    with open(netns_list, "a") as f:
        f.write(os.path.basename(netns) + "\n")
    t.eq("RunPodSandbox: the pod is READY", st.state, pb.SANDBOX_READY)
    t.eq("the pod runs on the requested handler", st.runtime_handler, handler)
    t.ok("the pod has an address on the CNI bridge", st.network.ip.startswith("10.197.0."), st.network.ip)
    t.ok("the infra process runs", pid > 0 and os.path.exists("/proc/%d" % pid), pid)

    ref = c.call("PullImage", image=pb.ImageSpec(image=image)).image_ref
    t.ok("PullImage returns the image's digest", ref.startswith("sha256:"), ref)

    mk = lambda name, cmd, **res: c.call(  # noqa: E731
        "CreateContainer", pod_sandbox_id=sid, sandbox_config=sbc,
        config=c.container_config(name, image, cmd, name + ".log", **res)).container_id
    srv = mk("server", ["/bin/sh", "-c", "echo started; echo warn >&2; "
                        "exec nc -ll -p 8080 -e echo pong-from-server"],
             cpu_quota=50000, cpu_period=100000, cpu_shares=512, memory=64 * MIB)
    cli = mk("client", ["/bin/sleep", "3600"])
    for cid in (srv, cli):
        c.call("StartContainer", container_id=cid)
    st = c.call("ContainerStatus", container_id=srv).status
    t.eq("StartContainer: the server is RUNNING", st.state, pb.CONTAINER_RUNNING)
    t.eq("ContainerStatus reports the log path containerd was given",
         st.log_path, os.path.join(logdir, "server.log"))
    state = runtime_state(handler, srv)
    t.ok("the container was created by the handler's runtime (%s state)" % handler,
         state is not None and state.get("status") == "running", state)

    # the pod's resources in the cgroups the runtime made under the parent
    base = lambda ctl: os.path.join(CG, ctl, parent.lstrip("/"), srv)  # noqa: E731
    t.eq("memory limit in the container's cgroup", read(base("memory") + "/memory.limit_in_bytes"), str(64 * MIB))
    t.eq("CPU quota in the container's cgroup", read(base("cpu") + "/cpu.cfs_quota_us"), "50000")
    t.eq("CPU shares in the container's cgroup", read(base("cpu") + "/cpu.shares"), "512")
    procs = read(base("memory") + "/cgroup.procs") or ""
    t.ok("the container's process lives in that cgroup", procs != "", procs)

    # both containers share the pod's network namespace: localhost reaches
    r = None
    for _ in range(30):
        r = c.call("ExecSync", container_id=cli, cmd=["nc", "-w", "3", "127.0.0.1", "8080"], timeout=10)
        if b"pong" in r.stdout:
            break
        time.sleep(0.2)
    t.eq("ExecSync: the client reaches the server over localhost", r.stdout.decode().strip(), "pong-from-server")
    r = c.call("ExecSync", container_id=cli, cmd=["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], timeout=10)
    t.eq("ExecSync returns stdout, stderr and the exit code",
         (r.stdout, r.stderr, r.exit_code), (b"out\n", b"err\n", 3))

    cs = c.call("ContainerStats", container_id=srv).stats
    t.eq("ContainerStats names the container", cs.attributes.id, srv)
    t.ok("ContainerStats reports memory in use", cs.memory.working_set_bytes.value > 0, cs.memory)
    lst = c.call("ListContainers", filter=pb.ContainerFilter(pod_sandbox_id=sid)).containers
    t.eq("ListContainers lists both containers of the pod",
         sorted(x.metadata.name for x in lst), ["client", "server"])

    # a container that exits on its own, one that the OOM killer stops
    ex = mk("exiter", ["/bin/sh", "-c", "echo bye; exit 7"])
    hog = mk("hog", ["/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=96M", "count=1"], memory=32 * MIB)
    for cid in (ex, hog):
        c.call("StartContainer", container_id=cid)
    st = wait_exited(c, ex)
    t.eq("an exited container reports its exit code and reason",
         (st.state, st.exit_code, st.reason), (pb.CONTAINER_EXITED, 7, "Error"))
    st = wait_exited(c, hog)
    t.eq("an OOM kill is reported as OOMKilled", (st.state, st.reason, st.exit_code),
         (pb.CONTAINER_EXITED, "OOMKilled", 137))

    for cid in (srv, cli):
        c.call("StopContainer", container_id=cid, timeout=2)
    st = c.call("ContainerStatus", container_id=srv).status
    t.ok("StopContainer: the server EXITED with a signal's code",
         st.state == pb.CONTAINER_EXITED and st.exit_code in (137, 143), st)

    # CRI log format: RFC 3339 timestamp, stream, P(artial)/F(ull) tag, text
    log = read(os.path.join(logdir, "server.log")) or ""
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"
    t.ok("the server's stdout is in the CRI log", re.search(r"(?m)^%s stdout F started$" % stamp, log), log)
    t.ok("the server's stderr is in the CRI log", re.search(r"(?m)^%s stderr F warn$" % stamp, log), log)
    log = read(os.path.join(logdir, "exiter.log")) or ""
    t.ok("an exited container's output is in its CRI log", re.search(r"(?m)^%s stdout F bye$" % stamp, log), log)

    for cid in (srv, cli, ex, hog):
        c.call("RemoveContainer", container_id=cid)
    lst = c.call("ListContainers", filter=pb.ContainerFilter(pod_sandbox_id=sid)).containers
    t.eq("RemoveContainer: the pod has no containers", len(lst), 0)
    c.call("StopPodSandbox", pod_sandbox_id=sid)
    c.call("RemovePodSandbox", pod_sandbox_id=sid)
    left = leftovers(parent, pid, netns, ipam)
    t.eq("RemovePodSandbox leaves nothing (process, netns, cgroups, CNI address)", left, [])
    return sid, sbc


def bad_input(c, t, handler, image, gone_sid, gone_sbc, work, ipam, netns_list):
    nf = grpc.StatusCode.NOT_FOUND
    t.fails("PodSandboxStatus of a removed sandbox is NotFound",
            lambda: c.call("PodSandboxStatus", pod_sandbox_id=gone_sid), nf, "not found")
    t.fails("CreateContainer in a removed sandbox is NotFound",
            lambda: c.call("CreateContainer", pod_sandbox_id=gone_sid, sandbox_config=gone_sbc,
                           config=c.container_config("late", image, ["true"], "late.log")),
            nf, gone_sid[:12])
    t.fails("ContainerStatus of an unknown container is NotFound",
            lambda: c.call("ContainerStatus", container_id="no-such-container"), nf, "no-such-container")
    missing = image.rsplit("/", 1)[0] + "/does-not-exist:1"
    try:
        c.call("PullImage", image=pb.ImageSpec(image=missing))
        t.ok("PullImage of an image that does not exist fails", False)
    except grpc.RpcError as e:
        t.ok("PullImage of an image that does not exist fails naming it",
             missing in (e.details() or "") and "not found" in (e.details() or ""), e.details())

    parent = "/%s-%s-bad" % (os.environ["CRI_CG_PREFIX"], handler)
    sbc = c.sandbox_config("bad-" + handler, "uid-bad-" + handler, os.path.join(work, "logs"), parent)
    sid = c.call("RunPodSandbox", config=sbc, runtime_handler=handler).pod_sandbox_id
    _, pid, netns = sandbox_info(c, sid)
    with open(netns_list, "a") as f:
        f.write(os.path.basename(netns) + "\n")
    try:
        c.call("CreateContainer", pod_sandbox_id=sid, sandbox_config=sbc,
               config=c.container_config("ghost", missing, ["true"], "ghost.log"))
        t.ok("CreateContainer with an image that was never pulled fails", False)
    except grpc.RpcError as e:
        t.ok("CreateContainer with an image that was never pulled fails naming it",
             missing in (e.details() or ""), e.details())
    lst = c.call("ListContainers", filter=pb.ContainerFilter(pod_sandbox_id=sid)).containers
    t.eq("the failed CreateContainer left no container", len(lst), 0)
    c.call("StopPodSandbox", pod_sandbox_id=sid)
    c.call("RemovePodSandbox", pod_sandbox_id=sid)
    t.eq("the pod of the failed container leaves nothing", leftovers(parent, pid, netns, ipam), [])


def main():
    sock, image, work = sys.argv[1:4]
    handlers = sys.argv[4:]
    ipam = os.path.join(work, "ipam")
    netns_list = os.path.join(work, "netns.list")
    c = cri.Client(sock)
    v = c.call("Version", version="v1")
    t = Checker("")
    t.eq("Version: containerd answers the runtime.v1 API",
         (v.runtime_name, v.runtime_api_version), ("containerd", "v1"))
    for h in handlers:
        t = Checker("[%s] " % h)
        try:
            sid, sbc = pod(c, t, h, image, work, ipam, netns_list)
            bad_input(c, t, h, image, sid, sbc, work, ipam, netns_list)
        except grpc.RpcError as e:
            t.ok("the CRI sequence completes", False, "%s: %s" % (e.code(), e.details()))
    t = Checker("")
    t.fails("RunPodSandbox with an unknown handler fails naming it",
            lambda: c.call("RunPodSandbox", runtime_handler="no-such-handler",
                           config=c.sandbox_config("nohandler", "uid-nh", work, "/%s-nh" % os.environ["CRI_CG_PREFIX"])),
            grpc.StatusCode.UNKNOWN, "no-such-handler")
    c.close()


if __name__ == "__main__":
    main()
