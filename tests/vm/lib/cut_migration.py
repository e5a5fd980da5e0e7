#!/usr/bin/env python3
"""A migration source that dies mid-stream: the stream's header, a VM
configuration and one page, then the connection closes as a killed
source's kernel would close it. For the receivers' clean-up tests.
With --hold it stays: it prints what the receiver sends back (a 'W' once
the destination's VMM is up and waits for the state) and then waits to be
killed, the stream still open. With --stall it stops within its first
record (the configuration's first half sent) and waits to be killed.
  cut_migration.py [--hold|--stall] HOST PORT KERNEL"""
import json
import socket
import struct
import sys
import time

args = sys.argv[1:]
hold, stall = args[0] == "--hold", args[0] == "--stall"
if hold or stall:
    args = args[1:]
host, port, kernel = args[0], int(args[1]), args[2]
s = socket.create_connection((host, port))
s.sendall(b"ISOLAMIG" + struct.pack("<I", 2))
cfg = json.dumps({"kernel": kernel, "cpus": 1, "memory_mib": 16, "cmdline": "tests="}).encode()
if stall:
    s.sendall(b"C" + struct.pack("<I", len(cfg)) + cfg[:len(cfg) // 2])
    time.sleep(300)
s.sendall(b"C" + struct.pack("<I", len(cfg)) + cfg)
page = b"\x11" * 4096
s.sendall(b"P" + struct.pack("<I", 8 + len(page)) + struct.pack("<Q", 0) + page)
if hold:
    # long: in the KVM sandbox a cold python3 start in the test alone took
    # most of a minute; the test kills this process when it is done
    s.settimeout(300)
    print(s.recv(1).decode(errors="replace"), flush=True)
    time.sleep(300)
s.close()
