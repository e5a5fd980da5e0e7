#!/usr/bin/env python3
"""Host side of the guest's virtio-net test: on TAP interface IFNAME, waits
for the guest's broadcast frame (EtherType 0x88b5, payload
"ISOLA-VNET-PING"), records it in OUT (source MAC and payload) and answers
the sender with "ISOLA-VNET-PONG".
usage: guest_tap.py IFNAME OUT READY TIMEOUT_S
READY is created once the socket listens, so the caller starts the VM then."""
import socket
import sys
import time

ETH_TYPE = 0x88B5


def main():
    ifname, out, ready, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_TYPE))
    s.bind((ifname, ETH_TYPE))
    open(ready, "w").close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            frame = s.recv(2048)
        except socket.timeout:
            break
        if len(frame) < 29 or frame[14:29] != b"ISOLA-VNET-PING":
            continue
        src = frame[6:12]
        with open(out, "w") as f:
            f.write("src=%s payload=%s\n" % (src.hex(":"), frame[14:29].decode()))
        reply = src + bytes.fromhex("020000000001") + ETH_TYPE.to_bytes(2, "big")
        reply += b"ISOLA-VNET-PONG" + bytes(31)
        s.send(reply)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
