#!/usr/bin/env python3
"""Runs a VMM whose serial console is its stdout and reports, as JSON:
the time from exec to the first byte of guest output, a timestamp per
output line, the VMM's resident memory beyond guest RAM (sampled after the
first byte), and the exit status.

usage: vm_serial.py [--mem-mib N] [--sample-delay-ms MS] [--timeout S] -- CMD...
"""
import argparse
import json
import os
import select
import signal
import subprocess
import sys
import time


def rss_beyond_guest(pid, mem_mib):
    """Sums Rss over the process's mappings, leaving out the guest RAM
    mapping(s): anonymous mappings at least as large as guest RAM (both
    isola and QEMU map guest RAM as one region, possibly split at the PCI
    hole, so anything >= mem/2 that is anonymous counts as RAM)."""
    total = ram = 0
    size_kib = 0
    anon = False
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                parts = line.split()
                if not parts:
                    continue
                if "-" in parts[0] and not parts[0].endswith(":"):
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    size_kib = (hi - lo) // 1024
                    anon = len(parts) < 6 or parts[5].startswith("/memfd:") \
                        or parts[5].startswith("/dev/zero")
                elif parts[0] == "Rss:":
                    kib = int(parts[1])
                    total += kib
                    if anon and size_kib >= mem_mib * 1024 // 2:
                        ram += kib
    except (FileNotFoundError, ProcessLookupError):
        return None
    return {"rss_kib": total, "guest_ram_rss_kib": ram, "overhead_kib": total - ram}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mem-mib", type=int, default=64)
    ap.add_argument("--sample-delay-ms", type=float, default=50)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")

    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    fd = p.stdout.fileno()
    first = None
    mem = None
    lines = []
    buf = b""
    deadline = t0 + a.timeout
    timed_out = False
    while True:
        now = time.monotonic()
        if now > deadline:
            timed_out = True
            p.send_signal(signal.SIGKILL)
            break
        if first is not None and mem is None and now - t0 >= first + a.sample_delay_ms / 1000:
            mem = rss_beyond_guest(p.pid, a.mem_mib)
        wait = 0.005 if first is not None and mem is None else 0.5
        r, _, _ = select.select([fd], [], [], wait)
        if not r:
            continue
        chunk = os.read(fd, 65536)
        now = time.monotonic() - t0
        if not chunk:
            break
        if first is None:
            first = now
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            lines.append([round(now * 1000, 3), line.decode("utf-8", "replace")])
    if buf:
        lines.append([round((time.monotonic() - t0) * 1000, 3), buf.decode("utf-8", "replace")])
    rc = p.wait()
    out = {
        "cmd": cmd,
        "exit": rc,
        "timed_out": timed_out,
        "first_byte_ms": None if first is None else round(first * 1000, 3),
        "total_ms": round((time.monotonic() - t0) * 1000, 3),
        "memory": mem,
        "lines": lines,
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
