#!/usr/bin/env python3
"""Drives the docker CLI interactively for tests/api/attach3.sh.

  attach3.py pty DOCKER ARGS...    runs DOCKER ARGS in a pty (as a user's
      terminal): waits for the container's "ready" line, types a command
      line, waits for its output, types "exit 3"; prints what the terminal
      showed and "rc=N" (the client's exit status).
  attach3.py pipe LAST DOCKER ARGS...   runs DOCKER ARGS with stdin a pipe
      kept open: writes "one", waits for "got:one" on stdout, writes "two",
      waits for "got:two"; then LAST=exit writes "exit" and closes stdin,
      LAST=close only closes stdin; prints "rc=N", or "rc=running" when the
      client is still there 3 s later (it is then killed).
Every wait is bounded (30 s) so a hang shows as a failure, not a stuck test.
"""
import os
import pty
import select
import subprocess
import sys
import time

WAIT = 30.0


def read_until(fd, want, buf):
    end = time.monotonic() + WAIT
    while want not in buf:
        left = end - time.monotonic()
        if left <= 0:
            return buf, False
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            return buf, False
        if not data:
            return buf, False
        buf += data
    return buf, True


def wait_rc(proc):
    try:
        return str(proc.wait(timeout=WAIT))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return "timeout"


def run_pty(argv):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    buf, ok = read_until(fd, b"ready", b"")
    if ok:
        os.write(fd, b"echo typed-$((6*7))\r")
        buf, ok = read_until(fd, b"typed-42", buf)
    if ok:
        os.write(fd, b"exit 3\r")
    end = time.monotonic() + WAIT
    rc = "timeout"
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            rc = str(os.waitstatus_to_exitcode(status))
            break
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                pass
    if rc == "timeout":
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    sys.stdout.write(buf.decode(errors="replace").replace("\r", ""))
    print("\nrc=" + rc)


def run_pipe(argv):
    last = argv.pop(0)
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    fd = proc.stdout.fileno()
    buf = b""
    ok = True
    for word in (b"one", b"two"):
        proc.stdin.write(word + b"\n")
        proc.stdin.flush()
        buf, ok = read_until(fd, b"got:" + word, buf)
        if not ok:
            break
    if ok and last == "exit":
        proc.stdin.write(b"exit\n")
        proc.stdin.flush()
    proc.stdin.close()
    if last == "close":
        try:
            rc = str(proc.wait(timeout=3))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = "running"
    else:
        rc = wait_rc(proc)
    sys.stdout.write(buf.decode(errors="replace"))
    print("\nrc=" + rc)


if __name__ == "__main__":
    {"pty": run_pty, "pipe": run_pipe}[sys.argv[1]](sys.argv[2:])
