#!/usr/bin/env bash
# Boots the tiny hand-assembled guests through every loader and checks what a
# user sees: the guest's line on the console, the exit status for each way a
# guest can end, --stats, --console-log, --config, and a clean stop on SIGTERM.
source "$(dirname "$0")/../lib/tap.sh"
ISOLA=$ISOLA_BUILD/isola
MINI=$ISOLA_BUILD/tests/vm/mini_guest
[ -x "$ISOLA" ] || skip_all "no isola binary at $ISOLA"
[ -x "$MINI" ] || skip_all "no mini_guest at $MINI"
[ -c /dev/kvm ] || skip_all "no /dev/kvm on this host"

T=$(mktemp -d /tmp/isola-vm-mini.XXXXXX)
trap 'rm -rf "$T"' EXIT
MSG="isola mini guest"

for fmt in pvh32 pvh64 elf64 bzimage; do
	"$MINI" "$T/$fmt" "$fmt" poweroff
	OUT=$(timeout -k 5 60 "$ISOLA" vm run --kernel "$T/$fmt" </dev/null 2>&1); RC=$?
	check_eq "$fmt: poweroff through ACPI PM1a_CNT exits 0" "$RC" 0
	check_eq "$fmt: guest line on the serial console" "$OUT" "$MSG"
done

"$MINI" "$T/reset" elf64 reset
OUT=$(timeout -k 5 60 "$ISOLA" vm run --kernel "$T/reset" </dev/null 2>&1); RC=$?
check_eq "reset through port 0xcf9 exits 3" "$RC" 3

"$MINI" "$T/triple" pvh32 triple
OUT=$(timeout -k 5 60 "$ISOLA" vm run --kernel "$T/triple" </dev/null 2>&1); RC=$?
check_eq "triple fault exits 4" "$RC" 4
check_match "triple fault is reported with RIP" "$OUT" "guest stopped: vCPU 0: triple fault at RIP 0x[0-9a-f]+"

OUT=$(timeout -k 5 60 "$ISOLA" vm run --kernel "$T/elf64" --cpus 4 --pv off --memory 64 </dev/null 2>&1); RC=$?
check_eq "4 vCPUs, --pv off: boots and powers off" "$RC:$OUT" "0:$MSG"

OUT=$(timeout -k 5 60 "$ISOLA" vm run --kernel "$T/elf64" --memory 4096 </dev/null 2>&1); RC=$?
check_eq "4 GiB guest (RAM above the PCI hole)" "$RC:$OUT" "0:$MSG"

OUT=$(timeout -k 5 60 "$ISOLA" vm run --kernel "$T/bzimage" --console-log "$T/console.log" --stats "$T/stats.json" </dev/null 2>&1); RC=$?
check_eq "--console-log: nothing on stdout" "$RC:$OUT" "0:"
check_eq "--console-log: guest output in the file" "$(cat "$T/console.log")" "$MSG"
check_eq "--stats FILE: exit reason" "$(jq -r .exit_reason "$T/stats.json")" poweroff
# rep outsb of 17 bytes is one exit per byte, plus the power-off write.
check_eq "--stats FILE: one port exit per byte + poweroff" "$(jq -r .exits_pio "$T/stats.json")" 18

STATS=$(timeout -k 5 60 "$ISOLA" vm run --kernel "$T/elf64" --stats </dev/null 2>&1 >/dev/null)
check_match "--stats without FILE prints JSON on stderr" "$STATS" '"exits_total": [0-9]+'

cat > "$T/vm.json" <<JSON
{"kernel": "$T/pvh32", "cpus": 2, "memory_mib": 64, "cmdline": "x", "pv": "off",
 "console": "serial", "console_log": "$T/json.log", "rng": false, "disks": [], "net": []}
JSON
OUT=$(timeout -k 5 60 "$ISOLA" vm run --config "$T/vm.json" </dev/null 2>&1); RC=$?
check_eq "--config boots the described machine" "$RC:$(cat "$T/json.log")" "0:$MSG"
OUT=$(timeout -k 5 60 "$ISOLA" vm run --config "$T/vm.json" --kernel "$T/reset" --console-log "$T/json2.log" </dev/null 2>&1); RC=$?
check_eq "flags override the --config file" "$RC" 3

"$MINI" "$T/spin" elf64 spin
"$ISOLA" vm run --kernel "$T/spin" </dev/null >"$T/spin.out" 2>&1 &
PID=$!
for _ in $(seq 50); do grep -q "$MSG" "$T/spin.out" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$PID"
wait "$PID"; RC=$?
check_eq "SIGTERM stops a running guest: exit 128+15" "$RC" 143
# On a terminal, the console is raw while the guest runs and the settings
# come back on every exit path (poweroff, SIGTERM).
if command -v script >/dev/null; then
	script -qec "stty -g >'$T/tty.before'; '$ISOLA' vm run --kernel '$T/elf64' >/dev/null;
		timeout --foreground -s TERM 2 '$ISOLA' vm run --kernel '$T/spin' >/dev/null;
		stty -g >'$T/tty.after'" /dev/null </dev/null >/dev/null 2>&1
	check "terminal settings restored after poweroff and SIGTERM" \
		cmp -s "$T/tty.before" "$T/tty.after"
else
	skip "no script(1) to give isola a terminal"
fi

# A TAP the kernel refuses to create (lo exists and is no TAP): the error
# names it and nothing is left behind. The TAP is made after KVM's VM, which
# is why this bad-input case lives here and not in cli_errors.sh.
OUT=$(timeout -k 5 60 "$ISOLA" vm run --kernel "$T/elf64" --net tap=lo 2>&1 </dev/null); RC=$?
check_eq "TAP refused by the kernel: exit 1" "$RC" 1
check_match "TAP refused by the kernel: names it" "$OUT" "^isola vm run: --net tap=lo: .*tap 'lo': cannot attach or create"
check_eq "no isola process left" "$(pgrep -f "$T" | wc -l)" 0
done_testing
