#!/usr/bin/env bash
# VM snapshots of managed VMs with the project's test guest (its `count`
# test prints a counter kept in guest memory): snapshot create/ls/rm,
# restore into a new VM (twice: two independent VMs; the guest's TSC does
# not go back, also for a guest snapshotted right after its boot), revert
# with the disk,
# corrupt and truncated snapshots refused naming the part, kill -9 of the
# VMM during a snapshot leaves the older snapshots intact; snapshot rm of
# the one the disk builds on.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib/pace.sh"

isola=$ISOLA_BUILD/isola
guest=$ISOLA_BUILD/guest/testguest.elf
[ -e /dev/kvm ] || skip_all "/dev/kvm is missing"
[ -x "$isola" ] || skip_all "isola not built: $isola"
[ -f "$guest" ] || skip_all "test guest not built: $guest"
command -v qemu-img >/dev/null || skip_all "qemu-img is missing"

tmp=$(mktemp -d /tmp/s2-snapshot.XXXXXX)
export ISOLA_ROOT=$tmp/root
cleanup() {
	for v in $("$isola" vm ls --format json 2>/dev/null | grep -oE '"name": *"[^"]+"' | cut -d'"' -f4); do
		"$isola" vm rm -f "$v" >/dev/null 2>&1
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

vmm_pid() { "$isola" vm inspect "$1" | jget vmm_pid; }
state_of() { "$isola" vm inspect "$1" | jget state; }
is_stopped() { [ "$(state_of "$1")" = stopped ]; }
# The counter lines of a log as numbers, a partial first line completed by
# the text before it (the source VM's log up to the snapshot).
counts() { grep -aoE 'ISOLA-COUNT [0-9]+' | awk '{print $2}'; }
# past FILE N: FILE's last counter line is past N (a paused or dead guest
# never gets there; a loaded host may take a while to log the next line).
past() { [ "$(counts <"$1" | tail -1)" -gt "$2" ] 2>/dev/null; }
create() { "$isola" vm create "$@" >/dev/null; }

# --- snapshot of a paused VM, then restore: the counter goes on ---
create s2-src --kernel "$guest" --memory 64 --cmdline "tests=count count_ms=$(cms 20)"
"$isola" vm start s2-src >/dev/null
src_log=$(log_of s2-src)
check "source VM counts" wait_line "$src_log" 'ISOLA-COUNT 20$'
"$isola" vm pause s2-src >/dev/null
out=$("$isola" vm snapshot create s2-src snap1 2>&1)
check_eq "snapshot create prints the snapshot's name" "$out" "snap1"
check_eq "a paused VM stays paused after a snapshot" "$(state_of s2-src)" "paused"
"$isola" vm kill s2-src >/dev/null
until_s 5 is_stopped s2-src
cp "$src_log" "$tmp/src.log"
ls_out=$("$isola" vm snapshot ls s2-src)
check_match "snapshot ls lists it with its memory size" "$ls_out" $'\n''snap1 +[0-9-]+ [0-9:]+ +64 MiB'
snapdir=$(ls -d "$ISOLA_ROOT"/vms/*/snapshots/snap1)
check "snapshot holds state, memory and config.json" \
	test -s "$snapdir/state" -a -f "$snapdir/memory" -a -s "$snapdir/config.json"
mem_sum=$(sha256sum <"$snapdir/memory")

out=$("$isola" vm restore s2-src snap1 --name s2-r1 2>&1)
check_eq "restore --name prints the new VM" "$out" "s2-r1"
r1_log=$(log_of s2-r1)
check "restored VM keeps counting" wait_lines "$r1_log" 30
cat "$tmp/src.log" "$r1_log" >"$tmp/joined.log"
res=$(consecutive "$tmp/joined.log")
check "source log + restored log: one unbroken counter ($res)" \
	bash -c "[[ '$res' == *'gaps []' ]]"
first=$(counts <"$r1_log" | head -1)
check "the restored guest did not start over (first line $first > 15)" test "${first:-0}" -gt 15
check "the restored guest's TSC went on from the snapshot, not back" \
	bash -c "! grep -a 'ISOLA-TSC went back' '$r1_log' >&2"

# --- a second restore of the same snapshot: an independent VM ---
"$isola" vm restore s2-src snap1 --name s2-r2 >/dev/null
r2_log=$(log_of s2-r2)
check "second restore counts too" wait_lines "$r2_log" 30
check_eq "both restored VMs run" "$(state_of s2-r1) $(state_of s2-r2)" "running running"
"$isola" vm kill s2-r1 >/dev/null
sleep 0.3
n2=$(counts <"$r2_log" | tail -1)
check "killing one restored VM leaves the other counting" until_s 10 past "$r2_log" "$n2"
check_eq "the snapshot's memory file is unchanged by the running restores" \
	"$(sha256sum <"$snapdir/memory")" "$mem_sum"

# --- a snapshot of a restored VM (memory mapped from the first snapshot) ---
"$isola" vm pause s2-r2 >/dev/null
check_eq "a restored VM can be snapshotted" "$("$isola" vm snapshot create s2-r2 again 2>&1)" "again"
"$isola" vm kill s2-r2 >/dev/null
until_s 5 is_stopped s2-r2
cp "$r2_log" "$tmp/r2.log"
"$isola" vm restore s2-r2 again --name s2-r3 >/dev/null
r3_log=$(log_of s2-r3)
check "the VM restored from the second-generation snapshot counts" wait_lines "$r3_log" 30
cat "$tmp/r2.log" "$r3_log" >"$tmp/joined2.log"
res=$(consecutive "$tmp/joined2.log")
check "second generation: one unbroken counter ($res)" bash -c "[[ '$res' == *'gaps []' ]]"
"$isola" vm kill s2-r3 >/dev/null

# --- a live snapshot: memory copied while the guest runs, a short pause ---
create s2-live --kernel "$guest" --memory 64 --cmdline "tests=count count_ms=$(cms 20)"
"$isola" vm start s2-live >/dev/null
live_log=$(log_of s2-live)
check "the live source counts" wait_line "$live_log" 'ISOLA-COUNT 20$'
out=$("$isola" vm snapshot create s2-live live1 --live 2>&1)
check_match "snapshot create --live reports the rounds and the pause" "$out" \
	'^live1: live, [0-9]+ rounds, paused [0-9.]+ ms$'
diag "$out"
check_eq "the source runs on after a live snapshot" "$(state_of s2-live)" "running"
n=$(counts <"$live_log" | tail -1)
check "... and keeps counting" until_s 10 past "$live_log" "${n:-0}"
"$isola" vm restore s2-live live1 --name s2-live-r >/dev/null
lr_log=$(log_of s2-live-r)
check "the VM restored from the live snapshot counts" wait_lines "$lr_log" 30
res=$(consecutive "$lr_log")
lr_first=$(counts <"$lr_log" | head -1)
check "live snapshot -> restore: the restored counter is unbroken ($res)" \
	bash -c "[[ '$res' == *'gaps []' ]]"
check "... and goes on from the snapshot: the source printed $((lr_first - 1)), line 16 or later" \
	bash -c "[ '${lr_first:-0}' -gt 15 ] && grep -aqE '(^|[^0-9])ISOLA-COUNT $((lr_first - 1))\$' '$live_log'"
"$isola" vm kill s2-live >/dev/null
"$isola" vm kill s2-live-r >/dev/null

# --- restore in place refuses a running VM; revert replaces it ---
"$isola" vm start s2-src >/dev/null
out=$("$isola" vm restore s2-src snap1 2>&1)
check_match "restore in place of a running VM is refused" "$out" "is running: use .isola vm revert."
"$isola" vm kill s2-src >/dev/null

# --- disks: a file written after the snapshot is gone after revert ---
"$isola" disk create -f qcow2 "$tmp/d.qcow2" 4M >/dev/null
qemu-io -f qcow2 -c "write -P 0x42 51200 512" "$tmp/d.qcow2" >/dev/null
create s2-disk --kernel "$guest" --memory 64 --disk "$tmp/d.qcow2,bus=virtio" \
	--cmdline "tests=count,vblk count_n=$((PACE > 1 ? 200 : 40)) count_ms=100"
"$isola" vm start s2-disk >/dev/null
disk_log=$(log_of s2-disk)
wait_line "$disk_log" 'ISOLA-COUNT 3$'
"$isola" vm snapshot create s2-disk before >/dev/null
sdisk=$(ls -d "$ISOLA_ROOT"/vms/*/snapshots/before)/disk0.qcow2
check "the snapshot froze the qcow2 image into itself" test -f "$sdisk"
check_match "the VM goes on writing a new overlay over the frozen image" \
	"$(qemu-img info --backing-chain -U "$tmp/d.qcow2" 2>&1 | grep -E '^(image|backing file):' | tr '\n' ' ')" \
	"image: $tmp/d.qcow2 backing file: $sdisk .*image: $sdisk"
check "the guest writes its disk after the snapshot, then powers off" \
	wait_line "$disk_log" '^ISOLA-DONE' 30
until_s 5 is_stopped s2-disk
qemu-img convert -O raw "$tmp/d.qcow2" "$tmp/after.raw"
pattern() { python3 "$ISOLA_SRC/tests/vm/guest_pattern.py" "$@" >/dev/null; }
check "before revert the disk holds the guest's sectors" pattern "$tmp/after.raw" VBLK 0 8
check "qemu-img check accepts the disk the VM wrote" qemu-img check -q "$tmp/d.qcow2"
check "qemu-img check accepts the frozen image in the snapshot" qemu-img check -q "$sdisk"
"$isola" vm revert s2-disk before >/dev/null
"$isola" vm pause s2-disk >/dev/null
check_eq "revert dropped the overlay above the snapshot: a fresh one over the frozen image" \
	"$(qemu-img info -U --output json "$tmp/d.qcow2" | jget backing-filename)" \
	"$sdisk"
qemu-img convert -U -O raw "$tmp/d.qcow2" "$tmp/reverted.raw"
check "after revert the sectors written after the snapshot are gone" \
	bash -c "! python3 '$ISOLA_SRC/tests/vm/guest_pattern.py' '$tmp/reverted.raw' VBLK 0 8 >/dev/null"
check_eq "after revert the data written before the snapshot is there" \
	"$(dd if="$tmp/reverted.raw" bs=512 skip=100 count=1 status=none | od -An -tx1 | head -1 | tr -d ' ')" \
	"42424242424242424242424242424242"
"$isola" vm resume s2-disk >/dev/null
check "the reverted VM goes on and writes its disk again" wait_line "$disk_log" '^ISOLA-DONE.*fail=0' 30
until_s 5 is_stopped s2-disk
check "qemu-img check accepts the disk after the reverted run" qemu-img check -q "$tmp/d.qcow2"
qemu-img convert -O raw "$tmp/d.qcow2" "$tmp/pre-rm.raw"
out=$("$isola" vm snapshot rm s2-disk before 2>&1)
check_eq "snapshot rm of the snapshot the VM's disk is built on" "$?:$out" "0:before"
check_match "... the disk now builds on a copy of the frozen image beside it" \
	"$(qemu-img info --output json "$tmp/d.qcow2" | jget backing-filename)" "^$tmp/d.qcow2.base-"
check "... qemu-img check accepts both" \
	bash -c "qemu-img check -q '$tmp/d.qcow2' && qemu-img check -q '$tmp/d.qcow2'.base-*"
check "... and the disk reads as before the rm" qemu-img compare -q "$tmp/d.qcow2" "$tmp/pre-rm.raw"

# --- corrupt, truncated and foreign snapshots are refused naming the part ---
sdir=$(dirname "$snapdir")
cp -r "$snapdir" "$sdir/flip"
byte=$(od -An -tu1 -j200 -N1 "$sdir/flip/state")
printf "\\$(printf %o $((byte ^ 1)))" | dd of="$sdir/flip/state" bs=1 seek=200 conv=notrunc status=none
out=$("$isola" vm restore s2-src flip --name s2-bad 2>&1)
check_match "a flipped bit in the state file is refused as corrupt" "$out" "checksum mismatch \\(corrupt\\)"
check "no VM is left from the refused restore" bash -c "! '$isola' vm inspect s2-bad >/dev/null 2>&1"
cp -r "$snapdir" "$sdir/short"
truncate -s 5000 "$sdir/short/state"
out=$("$isola" vm restore s2-src short --name s2-bad 2>&1)
check_match "a truncated state file is refused" "$out" "truncated"
cp -r "$snapdir" "$sdir/nomem"
truncate -s 1M "$sdir/nomem/memory"
out=$("$isola" vm restore s2-src nomem --name s2-bad 2>&1)
check_match "a truncated memory file is refused naming the 'memory' section" "$out" \
	"section 'memory'.*truncated"
cp -r "$snapdir" "$sdir/junk"
head -c 4096 /dev/urandom >"$sdir/junk/state"
out=$("$isola" vm restore s2-src junk --name s2-bad 2>&1)
check_match "a file that is no snapshot is refused" "$out" "not an isola snapshot"
"$isola" vm snapshot rm s2-src flip short nomem junk >/dev/null
check_eq "snapshot rm removes them" "$(ls "$sdir" | tr '\n' ' ')" "snap1 "

# --- a young guest: snapshotted right after its boot, restored at once ---
# Its saved TSC is then within a second of the new VM's age, which Linux
# 6.1's KVM took for a vCPU synchronising when the TSC was written as an MSR
# (kvm_synchronize_tsc): the guest came back with its TSC up to 1 s back.
# Two vCPUs: both get the same TSC offset.
create s2-young --kernel "$guest" --memory 64 --cpus 2 --cmdline "tests=count count_ms=$(cms 20)"
"$isola" vm start s2-young >/dev/null
"$isola" vm pause s2-young >/dev/null
check_eq "a snapshot right after the boot" "$("$isola" vm snapshot create s2-young young 2>&1)" "young"
"$isola" vm kill s2-young >/dev/null
until_s 5 is_stopped s2-young
cp "$(log_of s2-young)" "$tmp/young.log"
"$isola" vm restore s2-young young --name s2-young-r >/dev/null
yr_log=$(log_of s2-young-r)
check "the young guest's restore counts" wait_lines "$yr_log" 20
res=$(consecutive "$tmp/young.log" "$yr_log")
check "young guest: one unbroken counter ($res)" bash -c "[[ '$res' == *'gaps []' ]]"
check "... and its TSC went on from the snapshot, not back" \
	bash -c "! grep -a 'ISOLA-TSC went back' '$yr_log' >&2"
"$isola" vm kill s2-young-r >/dev/null

# --- kill -9 of the VMM during snapshots: older snapshots stay intact ---
create s2-kill --kernel "$guest" --memory 256 --cmdline "tests=count count_ms=$(cms 20)"
"$isola" vm start s2-kill >/dev/null
kill_log=$(log_of s2-kill)
wait_line "$kill_log" 'ISOLA-COUNT 5$'
"$isola" vm snapshot create s2-kill old >/dev/null
kdir=$(dirname "$(ls -d "$ISOLA_ROOT"/vms/*/snapshots/old)")
old_sum=$(cat "$kdir/old/state" "$kdir/old/config.json" | sha256sum)
for delay in 0 0.01 0.05; do
	"$isola" vm snapshot create s2-kill "new-$delay" >/dev/null 2>&1 &
	cpid=$!
	sleep "$delay"
	kill -9 "$(vmm_pid s2-kill)" 2>/dev/null
	wait "$cpid"
	until_s 5 is_stopped s2-kill
	"$isola" vm snapshot ls s2-kill >/dev/null
	check "kill -9 after ${delay}s: no temporary left after snapshot ls" \
		bash -c "! ls '$kdir' | grep -q tmp"
	check_eq "kill -9 after ${delay}s: the older snapshot is unchanged" \
		"$(cat "$kdir/old/state" "$kdir/old/config.json" | sha256sum)" "$old_sum"
	"$isola" vm start s2-kill >/dev/null
done
"$isola" vm kill s2-kill >/dev/null
until_s 5 is_stopped s2-kill
out=$("$isola" vm restore s2-kill old --name s2-kill2 2>&1)
check_eq "the older snapshot still restores" "$out" "s2-kill2"
check "the VM restored from it counts 20 lines on" wait_lines "$(log_of s2-kill2)" 20

done_testing
