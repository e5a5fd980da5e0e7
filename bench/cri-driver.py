"""bench/cri's client: one-container pod cycles through containerd's CRI
plugin, handlers interleaved (A B C A B C ...); prints per handler the median
of each phase and of the whole cycle, in milliseconds, as
"HANDLER ok N TOTAL_MED TOTAL_MIN SANDBOX CREATE START EXITED REMOVE"
or "HANDLER unavailable: REASON".

usage: cri-driver.py SOCK IMAGE WORK ROUNDS HANDLER...
"""
import os
import statistics
import sys
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "kube"))
import cri  # noqa: E402

pb = cri.pb
PHASES = ("sandbox", "create", "start", "exited", "remove")


def cycle(c, handler, image, work, n):
    """One pod: RunPodSandbox -> CreateContainer -> StartContainer -> exited -> removal."""
    parent = "/%s-%s" % (os.environ["CRI_CG_PREFIX"], handler)
    sbc = c.sandbox_config("b%d-%s" % (n, handler), "u%d-%s" % (n, handler), work, parent)
    marks = [time.perf_counter()]
    sid = c.call("RunPodSandbox", config=sbc, runtime_handler=handler).pod_sandbox_id
    marks.append(time.perf_counter())
    cid = c.call("CreateContainer", pod_sandbox_id=sid, sandbox_config=sbc,
                 config=c.container_config("true", image, ["/bin/true"], "b%d.log" % n)).container_id
    marks.append(time.perf_counter())
    c.call("StartContainer", container_id=cid)
    marks.append(time.perf_counter())
    while c.call("ContainerStatus", container_id=cid).status.state != pb.CONTAINER_EXITED:
        time.sleep(0.002)
    marks.append(time.perf_counter())
    c.call("RemoveContainer", container_id=cid)
    c.call("StopPodSandbox", pod_sandbox_id=sid)
    c.call("RemovePodSandbox", pod_sandbox_id=sid)
    marks.append(time.perf_counter())
    return [(b - a) * 1000 for a, b in zip(marks, marks[1:])]


def main():
    sock, image, work, rounds = sys.argv[1:5]
    handlers = sys.argv[5:]
    c = cri.Client(sock)
    c.call("PullImage", image=pb.ImageSpec(image=image))
    results = {h: [] for h in handlers}
    failed = {}
    n = 0
    for r in range(int(rounds) + 1):  # round 0 warms up every handler
        for h in handlers:
            if h in failed:
                continue
            n += 1
            try:
                t = cycle(c, h, image, work, n)
            except grpc.RpcError as e:
                failed[h] = e.details()
                continue
            if r > 0:
                results[h].append(t)
    for h in handlers:
        if h in failed:
            print("%s unavailable: %s" % (h, failed[h]))
            continue
        totals = [sum(t) for t in results[h]]
        phases = [statistics.median(t[i] for t in results[h]) for i in range(len(PHASES))]
        print("%s ok %d %.1f %.1f %s" % (h, len(totals), statistics.median(totals), min(totals),
                                         " ".join("%.1f" % p for p in phases)))
    c.close()


if __name__ == "__main__":
    main()
