#!/usr/bin/env bash
# One-shot restores: `isola vm run --restore SNAPDIR` and the lean
# `isola-vmm --restore SNAPDIR` run a snapshot in the foreground; the test
# guest's counter goes on from the snapshot (source log + one-shot log is
# one unbroken sequence) and the guest powers off with status 0. A snapshot
# of a VM with a writable disk, a missing directory, a corrupt state file
# and `vm create --restore` are refused with one line each.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib/pace.sh"

isola=$ISOLA_BUILD/isola
vmm=$ISOLA_BUILD/isola-vmm
guest=$ISOLA_BUILD/guest/testguest.elf
[ -e /dev/kvm ] || skip_all "/dev/kvm is missing"
[ -x "$isola" ] || skip_all "isola not built: $isola"
[ -x "$vmm" ] || skip_all "isola-vmm not built: $vmm"
[ -f "$guest" ] || skip_all "test guest not built: $guest"

tmp=$(mktemp -d /tmp/s4-oneshot.XXXXXX)
export ISOLA_ROOT=$tmp/root
cleanup() {
	for v in s4-o s4-od; do "$isola" vm rm -f "$v" >/dev/null 2>&1; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# as a check: the status only (its line would be an unknown TAP line)
consecutive_ok() { consecutive "$@" >/dev/null; }

# The source must still count when the pause reaches it (an exec or two
# later: ~0.1 s here, seconds in the sandbox), and each restore replays the
# rest: 3 s of guest here, 15 s in the sandbox (at 20 lines a second there).
"$isola" vm create s4-o --kernel "$guest" --memory 64 \
	--cmdline "tests=count count_n=$((PACE > 1 ? 300 : 600)) count_ms=$((PACE > 1 ? 50 : 5))" >/dev/null
"$isola" vm start s4-o >/dev/null
log=$(log_of s4-o)
wait_line "$log" 'ISOLA-COUNT 20$'
"$isola" vm pause s4-o >/dev/null
check_eq "a snapshot of the paused source" "$("$isola" vm snapshot create s4-o snap 2>&1)" snap
"$isola" vm kill s4-o >/dev/null
cp "$log" "$tmp/src.log"
dir=$(dirname "$log")/snapshots/snap

timeout "$(pace 60)" "$isola" vm run --restore "$dir" --console-log "$tmp/run.log" --stats="$tmp/run.json"
check_eq "vm run --restore: the restored guest finishes its test (exit 0)" "$?" 0
res=$(consecutive "$tmp/src.log" "$tmp/run.log")
check "vm run --restore: the counter goes on from the snapshot ($res)" \
	consecutive_ok "$tmp/src.log" "$tmp/run.log"
check_match "vm run --restore: --stats has the VMM's setup time" "$(cat "$tmp/run.json")" '"setup_ms"'

timeout "$(pace 60)" "$vmm" --restore "$dir" --console-log "$tmp/vmm.log" --stats "$tmp/vmm.json"
check_eq "isola-vmm --restore: the restored guest finishes its test (exit 0)" "$?" 0
res=$(consecutive "$tmp/src.log" "$tmp/vmm.log")
check "isola-vmm --restore: the counter goes on from the snapshot ($res)" \
	consecutive_ok "$tmp/src.log" "$tmp/vmm.log"
check_eq "two one-shot restores of one snapshot print the same sequence" \
	"$(grep -ac ISOLA-COUNT "$tmp/run.log")" "$(grep -ac ISOLA-COUNT "$tmp/vmm.log")"
check_match "isola-vmm --restore: --stats has the VMM's setup time" "$(cat "$tmp/vmm.json")" '"setup_ms"'

# --- refusals ---
out=$("$isola" vm run --restore "$tmp/nosuch" 2>&1)
check_match "a missing snapshot directory is refused naming it" "$out" \
	"^isola vm run: --restore: snapshot '$tmp/nosuch': config.json missing"
cp -r "$dir" "$tmp/bad"
head -c 2048 /dev/urandom >"$tmp/bad/state"
out=$("$vmm" --restore "$tmp/bad" 2>&1)
check_match "a corrupt state file is refused" "$out" "^isola-vmm: restore from '$tmp/bad': .*not an isola snapshot"
out=$("$isola" vm create s4-x --kernel "$guest" --restore "$dir" 2>&1)
check_match "vm create --restore is refused (vm restore does that)" "$out" "only .vm run. takes it"
truncate -s 4M "$tmp/d.img"
"$isola" vm create s4-od --kernel "$guest" --memory 64 --disk "$tmp/d.img" \
	--cmdline "tests=count count_ms=$(cms 5)" >/dev/null
"$isola" vm start s4-od >/dev/null
wait_line "$(log_of s4-od)" 'ISOLA-COUNT 3$'
"$isola" vm snapshot create s4-od snap >/dev/null
ddir=$(dirname "$(log_of s4-od)")/snapshots/snap
"$isola" vm kill s4-od >/dev/null
out=$("$isola" vm run --restore "$ddir" 2>&1)
check_match "a snapshot with a writable disk is refused (vm restore --name gives it its own)" \
	"$out" "has a writable disk \\($tmp/d.img\\); use .isola vm restore NAME SNAP --name NEW."
out=$("$vmm" --restore "$ddir" 2>&1)
check_match "... by isola-vmm too" "$out" "has a writable disk"

done_testing
