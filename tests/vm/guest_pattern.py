#!/usr/bin/env python3
"""Checks that a disk image holds the sectors the test guest wrote:
usage: guest_pattern.py IMAGE TAG FIRST_LBA COUNT
Each sector is a header line "ISOLA-<TAG> lba=<8 hex digits>\\n" followed by
bytes (j ^ lba) & 0xff at offset j (guest/lib.c fill_sector). Prints the
number of matching sectors; exits 0 when all COUNT match."""
import sys


def expected(tag, lba):
    head = f"ISOLA-{tag} lba={lba:08x}\n".encode()
    body = bytes(((j ^ lba) & 0xFF) for j in range(512))
    return head + body[len(head):]


def main():
    path, tag, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    good = 0
    with open(path, "rb") as f:
        for lba in range(first, first + count):
            f.seek(lba * 512)
            if f.read(512) == expected(tag, lba):
                good += 1
    print(good)
    sys.exit(0 if good == count else 1)


if __name__ == "__main__":
    main()
