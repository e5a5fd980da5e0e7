#!/usr/bin/env python3
"""A migration source that dies mid-stream: the stream's header, a VM
configuration and one page, then the connection closes as a killed
source's kernel would close it. For the receivers' clean-up tests.
  cut_migration.py HOST PORT KERNEL"""
import json
import socket
import struct
import sys

host, port, kernel = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port))
s.sendall(b"ISOLAMIG" + struct.pack("<I", 1))
cfg = json.dumps({"kernel": kernel, "cpus": 1, "memory_mib": 16, "cmdline": "tests="}).encode()
s.sendall(b"C" + struct.pack("<I", len(cfg)) + cfg)
page = b"\x11" * 4096
s.sendall(b"P" + struct.pack("<I", 8 + len(page)) + struct.pack("<Q", 0) + page)
s.close()
