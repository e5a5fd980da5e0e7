#!/usr/bin/env bash
# A managed VM's console log (docs/vm.md): the VMM writes console.log
# itself and the monitor follows it. `vm console` shows the end of the log,
# then every line the guest prints while attached, across a rotation; the
# log rotates past ISOLA_CONSOLE_LOG_MAX bytes (8 MiB by default) to
# console.log.1, and `vm logs` (console.log.1 then console.log) keeps every
# line: one unbroken count from the guest's first line.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib/pace.sh"

isola=$ISOLA_BUILD/isola
guest=$ISOLA_BUILD/guest/testguest.elf
[ -c /dev/kvm ] || skip_all "/dev/kvm is missing"
[ -x "$isola" ] || skip_all "isola not built: $isola"
[ -f "$guest" ] || skip_all "test guest not built: $guest"

tmp=$(mktemp -d /tmp/isola-vm-console.XXXXXX)
export ISOLA_ROOT=$tmp/root
cleanup() {
	"$isola" vm rm -f con-a >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
# as a check: the status only (its line would be an unknown TAP line)
consecutive_ok() { consecutive "$@" >/dev/null; }

# A counter line is 14-17 bytes: a 4 KiB log rotates every ~250 lines
# (5 s at 20 ms a line on a host, 25 s at 100 ms in the sandbox).
max=4096
ms=$(cms 20)
"$isola" vm create con-a --kernel "$guest" --memory 64 \
	--cmdline "tests=count count_ms=$ms" >/dev/null
quiet() { "$@" >/dev/null; }
check "start (ISOLA_CONSOLE_LOG_MAX=$max)" quiet env ISOLA_CONSOLE_LOG_MAX=$max "$isola" vm start con-a
log=$(log_of con-a)
check "the guest's lines reach console.log" wait_lines "$log" 5

# --- rotation: console.log.1 exists, console.log is small again, and no
# line is lost (checked before a second rotation drops the first lines)
check "console.log was rotated to console.log.1" until_s 40 test -s "$log.1"
size=$(stat -c %s "$log.1")
check "console.log.1 holds at least ISOLA_CONSOLE_LOG_MAX bytes ($size)" test "$size" -ge "$max"
check "console.log is below the limit plus a second of lines" \
	test "$(stat -c %s "$log")" -lt "$((max + 16 * 1000 / ms + 64))"
"$isola" vm logs con-a >"$tmp/logs"
out=$(consecutive "$tmp/logs")
check "vm logs: one unbroken count across the rotation ($out)" consecutive_ok "$tmp/logs"
check_match "vm logs: it starts at the guest's first line" "$out" '^[0-9]+ lines, 0\.\.'

# --- attached: lines printed after the attach reach the client. It stays
# attached for 1.5 rotations' worth of lines, so one rotation falls inside.
last() { grep -aoE 'ISOLA-COUNT [0-9]+$' "$@" | tail -1 | cut -d' ' -f2; }
before=$(last "$log")
attach_s=$((max * 3 / 2 / 16 * ms / 1000 + 1))
(sleep "$attach_s"; printf '\035') | "$isola" vm console con-a >"$tmp/client" 2>&1
check_eq "console exits 0 on ctrl-]" "$?" 0
after=$(last "$tmp/client")
check "the client got lines printed while it was attached (${before:-none} at the attach, ${after:-none} at the end)" \
	test "${after:-0}" -gt "$((${before:-0} + 50))"
out=$(consecutive "$tmp/client")
check "the client's lines count up by one, across the rotation ($out)" consecutive_ok "$tmp/client"
check "the VM still runs" until_s 5 bash -c "'$isola' vm ls --format json | grep -q '\"running\"'"
check "rm -f" quiet "$isola" vm rm -f con-a
done_testing
