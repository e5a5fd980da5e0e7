#!/usr/bin/env bash
# `isola vm rm` takes the VM's snapshots with it: its snapshots/ directory
# and the disk images isola made for it are gone; its own disk (frozen into
# a snapshot, continued on an overlay) keeps its content as a standalone
# image over the user's original base; VMs restored from its snapshots
# (stopped or running) keep working on a copy of the base they build on;
# another VM's snapshots are byte-for-byte untouched. `snapshot rm` of a
# snapshot that a later snapshot, the running VM's disk or a VM restored
# from it builds on: each gets a copy of its base, reads the same. Also: `isola vm
# --help` and `vm snapshot --help` name every flag.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib/pace.sh"

isola=$ISOLA_BUILD/isola
guest=$ISOLA_BUILD/guest/testguest.elf
[ -e /dev/kvm ] || skip_all "/dev/kvm is missing"
[ -x "$isola" ] || skip_all "isola not built: $isola"
[ -f "$guest" ] || skip_all "test guest not built: $guest"
command -v qemu-img >/dev/null || skip_all "qemu-img is missing"
command -v qemu-io >/dev/null || skip_all "qemu-io is missing"

tmp=$(mktemp -d /tmp/s4-snaprm.XXXXXX)
export ISOLA_ROOT=$tmp/root
cleanup() {
	for v in s4-a s4-b s4-c s4-d s4-e s4-f s4-g; do "$isola" vm rm -f "$v" >/dev/null 2>&1; done
	rm -rf "$tmp"
}
trap cleanup EXIT

field() { "$isola" vm inspect "$1" | python3 -c \
	'import json,sys; o=json.load(sys.stdin); o=o[0] if isinstance(o,list) else o; print(eval("o"+sys.argv[1]))' "$2"; }
is_stopped() { [ "$("$isola" vm inspect "$1" | jget state)" = stopped ]; }
wait_stopped() { until_s 10 is_stopped "$1"; }
pattern() { python3 "$ISOLA_SRC/tests/vm/guest_pattern.py" "$@" >/dev/null; }
# backing IMAGE: its backing file's name, "-" for none
backing() {
	local b
	b=$(qemu-img info -U --output json "$1" | jget backing-filename)
	echo "${b:--}"
}
# same_content A B: the two images read the same (qemu-img compare).
same_content() { qemu-img compare -U -q "$1" "$2"; }
tree_sum() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum; }

# --- help names the flags ---
help=$("$isola" vm --help)
for f in --live --downtime-ms --name --force --format --time --signal --to --listen \
	--tls-cert --tls-key --tls-ca --restore; do
	check_match "isola vm --help shows $f" "$help" "$f"
done
shelp=$("$isola" vm snapshot --help)
check_match "isola vm snapshot --help shows create --live, ls, rm" "$shelp" \
	"snapshot create NAME SNAP \\[--live\\].*snapshot ls NAME \\[--format json\\].*snapshot rm NAME SNAP"

# --- A: a qcow2 disk over a raw base, a snapshot, writes after it ---
truncate -s 4M "$tmp/base.raw"
printf 'BASE-UNTOUCHED' | dd of="$tmp/base.raw" bs=512 seek=200 conv=notrunc status=none
base_sum=$(sha256sum <"$tmp/base.raw")
qemu-img create -q -f qcow2 -b "$tmp/base.raw" -F raw "$tmp/a.qcow2"
qemu-io -f qcow2 -c "write -P 0x42 51200 512" "$tmp/a.qcow2" >/dev/null
"$isola" vm create s4-a --kernel "$guest" --memory 64 --disk "$tmp/a.qcow2,bus=virtio" \
	--cmdline "tests=count,vblk count_n=$(pace 40) count_ms=50" >/dev/null
"$isola" vm start s4-a >/dev/null
a_log=$("$isola" vm inspect s4-a | jget console_log)
a_dir=$(dirname "$a_log")
wait_line "$a_log" 'ISOLA-COUNT 3$'
"$isola" vm snapshot create s4-a s1 >/dev/null
check "A: the guest writes its disk after the snapshot and powers off" \
	wait_line "$a_log" '^ISOLA-DONE.*fail=0' 30
wait_stopped s4-a
check "A's snapshot froze the disk (the disk is an overlay over it)" \
	test "$(backing "$tmp/a.qcow2")" = "$a_dir/snapshots/s1/disk0.qcow2"
qemu-img convert -U -O raw "$tmp/a.qcow2" "$tmp/a-before.raw"

# --- C (stopped) and D (running) restored from A's snapshot ---
"$isola" vm restore s4-a s1 --name s4-c >/dev/null
c_log=$("$isola" vm inspect s4-c | jget console_log)
check "C (restored from A's snapshot) writes its disk and powers off" \
	wait_line "$c_log" '^ISOLA-DONE.*fail=0' 30
wait_stopped s4-c
c_disk=$(field s4-c '["config"]["disks"][0]["path"]')
qemu-img convert -U -O raw "$c_disk" "$tmp/c-before.raw"
"$isola" vm restore s4-a s1 --name s4-d >/dev/null
"$isola" vm pause s4-d >/dev/null
d_log=$("$isola" vm inspect s4-d | jget console_log)
d_disk=$(field s4-d '["config"]["disks"][0]["path"]')

# --- B: another VM with its own snapshot ---
"$isola" disk create -f qcow2 "$tmp/b.qcow2" 4M >/dev/null
"$isola" vm create s4-b --kernel "$guest" --memory 64 --disk "$tmp/b.qcow2,bus=virtio" \
	--cmdline "tests=count count_n=1000 count_ms=50" >/dev/null
"$isola" vm start s4-b >/dev/null
b_log=$("$isola" vm inspect s4-b | jget console_log)
b_dir=$(dirname "$b_log")
wait_line "$b_log" 'ISOLA-COUNT 2$'
"$isola" vm snapshot create s4-b bs1 >/dev/null
"$isola" vm kill s4-b >/dev/null
wait_stopped s4-b
b_sum=$(tree_sum "$b_dir/snapshots")

# --- rm A ---
check_eq "D is running (paused) when A is removed" "$("$isola" vm inspect s4-d | jget state)" "paused"
out=$("$isola" vm rm s4-a 2>&1)
check_eq "vm rm of a VM with a snapshot that others build on succeeds" "$?:$out" "0:s4-a"
check "A's data directory (snapshots/ included) is gone" test ! -e "$a_dir"
check_eq "no snapshot file of A is left anywhere under the root" \
	"$(find "$ISOLA_ROOT" -path "*${a_dir##*/}*" | wc -l)" 0
check_eq "A's disk is standalone over the user's raw base again" "$(backing "$tmp/a.qcow2")" \
	"$tmp/base.raw"
check "qemu-img check accepts A's flattened disk" qemu-img check -q "$tmp/a.qcow2"
check "A's disk reads as before the rm (qemu-img compare)" same_content "$tmp/a.qcow2" "$tmp/a-before.raw"
check_eq "the raw base is untouched" "$(sha256sum <"$tmp/base.raw")" "$base_sum"
check_eq "B's snapshot is byte-for-byte untouched" "$(tree_sum "$b_dir/snapshots")" "$b_sum"
check_match "C's disk now builds on a copy of the base beside it" "$(backing "$c_disk")" \
	"^$c_disk\\.base-"
check "qemu-img check accepts C's disk" qemu-img check -q "$c_disk"
check "C's disk reads as before A's rm" same_content "$c_disk" "$tmp/c-before.raw"
"$isola" vm resume s4-d >/dev/null
check "D (running during the rm) goes on and writes its disk" \
	wait_line "$d_log" '^ISOLA-DONE.*fail=0' 30
wait_stopped s4-d
check "qemu-img check accepts D's disk" qemu-img check -q "$d_disk"
qemu-img convert -U -O raw "$d_disk" "$tmp/d.raw"
check "D's disk holds its sectors and reads through to the raw base" \
	bash -c "python3 '$ISOLA_SRC/tests/vm/guest_pattern.py' '$tmp/d.raw' VBLK 0 8 >/dev/null &&
		dd if='$tmp/d.raw' bs=512 skip=200 count=1 status=none | grep -aq BASE-UNTOUCHED"

# --- rm C and D: the disks isola made for them go too ---
"$isola" vm rm s4-c s4-d >/dev/null
check_eq "rm of restored VMs removes the disks isola made for them (and the base copies)" \
	"$(find "$tmp" -maxdepth 1 -name 'a.qcow2.*' | wc -l)" 0
check "the user's disk stays" test -f "$tmp/a.qcow2"

# --- rm B: its own snapshot goes, its disk stays usable ---
qemu-img convert -U -O raw "$tmp/b.qcow2" "$tmp/b-before.raw"
"$isola" vm rm s4-b >/dev/null
check "B's data directory is gone" test ! -e "$b_dir"
check_eq "B's disk is standalone" "$(backing "$tmp/b.qcow2")" "-"
check "B's disk reads as before" same_content "$tmp/b.qcow2" "$tmp/b-before.raw"
check_eq "nothing is left in the root's vms/ directory" "$(ls -A "$ISOLA_ROOT/vms" 2>/dev/null | wc -l)" 0

# --- snapshot rm of snapshots others build on, the VMs running ---
# E: e1, e2; F restored from e1 (runs), G from e2 (stopped); E reverted to
# e1 and snapshotted again (e3): base.raw <- e1 <- e3 <- e.qcow2, e1 <- e2,
# F's disk on e1, G's on e2. Then rm e2 (only G builds on it), rm e1 (e3's
# image and the running F's disk), rm e3 (the running E's own disk).
last_count() { grep -aoE 'ISOLA-COUNT [0-9]+' "$1" | tail -1 | awk '{print $2}'; }
past() { [ "$(last_count "$1")" -gt "$2" ] 2>/dev/null; }
# counts_on LOG: LOG's counter goes past its current value
counts_on() { local n; n=$(last_count "$1"); until_s 10 past "$1" "${n:-0}"; }
checks_ok() { for i in "$@"; do qemu-img check -U -q "$i" || return 1; done; }
# all_same A1 B1 A2 B2...: each pair reads the same
all_same() { while [ $# -gt 1 ]; do same_content "$1" "$2" || return 1; shift 2; done; }
qemu-img create -q -f qcow2 -b "$tmp/base.raw" -F raw "$tmp/e.qcow2"
qemu-io -f qcow2 -c "write -P 0x11 153600 512" "$tmp/e.qcow2" >/dev/null
"$isola" vm create s4-e --kernel "$guest" --memory 64 --disk "$tmp/e.qcow2,bus=virtio" \
	--cmdline "tests=count count_n=0 count_ms=50" >/dev/null
e_log=$(log_of s4-e)
e_dir=$(dirname "$e_log")
"$isola" vm start s4-e >/dev/null
wait_line "$e_log" 'ISOLA-COUNT 2$'
"$isola" vm snapshot create s4-e e1 >/dev/null
"$isola" vm kill s4-e >/dev/null
wait_stopped s4-e
qemu-io -f qcow2 -c "write -P 0x22 307200 512" "$tmp/e.qcow2" >/dev/null
"$isola" vm start s4-e >/dev/null
counts_on "$e_log"
"$isola" vm snapshot create s4-e e2 >/dev/null
"$isola" vm restore s4-e e1 --name s4-f >/dev/null
"$isola" vm restore s4-e e2 --name s4-g >/dev/null
f_log=$(log_of s4-f)
counting() { grep -aq ISOLA-COUNT "$1"; }
check "F (restored from e1) counts" until_s 10 counting "$f_log"
check "G (restored from e2) counts" until_s 10 counting "$(log_of s4-g)"
"$isola" vm kill s4-g >/dev/null
wait_stopped s4-g
"$isola" vm revert s4-e e1 >/dev/null
counts_on "$e_log"
"$isola" vm snapshot create s4-e e3 >/dev/null
e1_img=$e_dir/snapshots/e1/disk0.qcow2
e3_img=$e_dir/snapshots/e3/disk0.qcow2
f_disk=$(field s4-f '["config"]["disks"][0]["path"]')
g_disk=$(field s4-g '["config"]["disks"][0]["path"]')
check_eq "the chains: E's disk <- e3 <- e1 <- base.raw, G's disk <- e2 <- e1, F's disk <- e1" \
	"$(backing "$tmp/e.qcow2") $(backing "$e3_img") $(backing "$e1_img") $(backing "$g_disk") $(backing "$f_disk")" \
	"$e3_img $e1_img $tmp/base.raw $e_dir/snapshots/e2/disk0.qcow2 $e1_img"
for f in e.qcow2:"$tmp/e.qcow2" f:"$f_disk" g:"$g_disk" e3:"$e3_img"; do
	qemu-img convert -U -O raw "${f#*:}" "$tmp/${f%%:*}-before.raw"
done

out=$("$isola" vm snapshot rm s4-e e2 2>&1)
check_eq "snapshot rm of e2, which only G (restored from it) builds on" "$?:$out" "0:e2"
check_match "G's disk builds on a copy beside it" "$(backing "$g_disk")" "^$g_disk\\.base-"
check "qemu-img check accepts G's disk and its copy" checks_ok "$g_disk" "$g_disk".base-*
check "G's disk reads as before" same_content "$g_disk" "$tmp/g-before.raw"
out=$("$isola" vm snapshot rm s4-e e1 2>&1)
check_eq "snapshot rm of e1 (e3's image and the running F's disk build on it)" "$?:$out" "0:e1"
check_match "e3's image builds on a copy beside it" "$(backing "$e3_img")" "^$e3_img\\.base-"
check_match "F's disk builds on a copy beside it" "$(backing "$f_disk")" "^$f_disk\\.base-"
check "qemu-img check accepts e3's image, F's disk and their copies" \
	checks_ok "$e3_img" "$e3_img".base-* "$f_disk" "$f_disk".base-*
out=$("$isola" vm snapshot rm s4-e e3 2>&1)
check_eq "snapshot rm of e3, which the running E's disk builds on" "$?:$out" "0:e3"
check_match "E's disk builds on a copy beside it" "$(backing "$tmp/e.qcow2")" "^$tmp/e.qcow2\\.base-"
check "qemu-img check accepts E's disk and its copy" checks_ok "$tmp/e.qcow2" "$tmp/e.qcow2".base-*
check "E's, F's and G's disks read as before the three rms" all_same "$tmp/e.qcow2" \
	"$tmp/e.qcow2-before.raw" "$f_disk" "$tmp/f-before.raw" "$g_disk" "$tmp/g-before.raw"
check_eq "E has no snapshot left" "$(ls -A "$e_dir/snapshots")" ""
check "E goes on counting" counts_on "$e_log"
check "F goes on counting" counts_on "$f_log"
"$isola" vm kill s4-e >/dev/null
wait_stopped s4-e
"$isola" vm rm s4-e >/dev/null
check_eq "vm rm of E: its disk is standalone over the raw base again" "$(backing "$tmp/e.qcow2")" "$tmp/base.raw"
check "... reads as before" same_content "$tmp/e.qcow2" "$tmp/e.qcow2-before.raw"
check_eq "... and its base copy went with E" "$(ls "$tmp"/e.qcow2.base-* 2>/dev/null | wc -l)" 0
check "F goes on counting after E is gone" counts_on "$f_log"
"$isola" vm rm -f s4-f s4-g >/dev/null
check_eq "vm rm of F and G takes their disks and base copies" "$(ls "$f_disk"* "$g_disk"* 2>/dev/null | wc -l)" 0

done_testing
