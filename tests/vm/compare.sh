#!/usr/bin/env bash
# `isola vm compare` with tiny workloads (--scale 1): Debian's kernel boots
# full and para, the same workloads run in each and on the host; checks the
# table's shape (every workload, every column, the line naming where the
# figures come from) and the JSON. The para machine also sends over
# virtio-net to a receiver isola runs in a network namespace of its own
# (net-send; the full machine has no NIC: n/a); nothing of that namespace
# is left. Timing is not asserted (bench/vm-compare measures). Like
# kernel_shell.sh, runs in the KVM sandbox on kvm-pvm hosts.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib/debian_kernel.sh"
source "$(dirname "$0")/lib/compare_image.sh"
ISOLA=$ISOLA_BUILD/isola
[ -x "$ISOLA" ] || skip_all "no isola binary at $ISOLA"
[ -c /dev/kvm ] || skip_all "no /dev/kvm on this host (scripts/test runs this suite in the KVM sandbox)"
[ -d /sys/module/kvm_pvm ] && [ -z "${ISOLA_LINUX_ON_PVM:-}" ] && skip_all "this host's KVM is kvm-pvm, where a stock kernel stops early (scripts/test runs this suite in the KVM sandbox)"
command -v jq >/dev/null || skip_all "jq is missing"

T=$(mktemp -d /var/tmp/isola-m2-compare.XXXXXX)
trap 'rm -rf "$T"' EXIT
ci_build "$T" || skip_all "$CI_ERROR"
dk_vmlinux || skip_all "cannot extract vmlinux: $DK_ERROR"
work=$ISOLA_SRC/tests/vm/linux/workloads.sh
names="cpu syscall timer disk-seq-write disk-seq-read disk-rand-write disk-rand-read net-send"
[ "$(id -u)" = 0 ] || skip_all "needs root (the network transfer's namespace)"
links_before=$(ip -o link show | wc -l)

# Both machines enter the same vmlinux at its PVH entry point: the bzImage's
# decompressor alone takes minutes under the sandbox's emulation.
run_compare() {
	"$ISOLA" vm compare --kernel "$DK_VMLINUX" --initrd "$T/initramfs.gz" \
		--workloads "$work" --scale 1 --format json --dir "$T" >"$T/out.json" 2>"$T/err"
	rc=$?
}
run_compare
# Known intermittent (open, 2026-12-01, in the KVM sandbox): once the para
# machine ended in a triple fault at the reset vector after its last
# workload had delivered all its bytes (as if the guest rebooted instead of
# powering off). Until that is understood, a failed comparison is reported
# here with the consoles' ends and run once more; a second failure fails.
if [ "$rc" -ne 0 ]; then
	diag "compare failed (exit $rc): $(cat "$T/err")"
	for l in "$T"/*.log; do [ -f "$l" ] && diag "$l: $(tail -8 "$l" | tr -d '\r')"; done
	diag "running the comparison once more (see the comment in this test)"
	run_compare
fi
check_eq "compare --format json exits 0" "$rc" 0
[ "$rc" -eq 0 ] || diag "$(cat "$T/err"; tail -5 "$T/full.log" "$T/para.log" 2>/dev/null)"
check_eq "JSON: every workload, in order" "$(jq -r '[.workloads[].name] | join(" ")' "$T/out.json")" "$names"
check_eq "JSON: host, full and para figures for each" \
	"$(jq '[.workloads[] | (.host.ms, .full.ms, .para.ms) | select(type == "number" and . > 0)] | length' "$T/out.json")" 23
check_eq "JSON: overhead vs the host for full and para" \
	"$(jq '[.workloads[] | (.full.overhead_pct, .para.overhead_pct) | numbers] | length' "$T/out.json")" 15
check_eq "JSON: KVM exit counters per workload" \
	"$(jq '[.workloads[] | .full.exits.exits, .para.exits.exits | select(. > 0)] | length' "$T/out.json")" 15
net() { jq -r ".workloads[] | select(.name == \"net-send\") | $1" "$T/out.json"; }
check_eq "net-send: the full machine has no NIC (n/a)" "$(net .full.na)" "no emulated NIC"
check_eq "net-send: the para guest's bytes all reached the receiver" "$(net .para.received_bytes)" "$(net .amount)"
check_eq "net-send: so did the host's" "$(net .host.received_bytes)" "$(net .amount)"
check "net-send: a throughput over virtio-net" test "$(net '.para.rate > 0')" = true
check "net-send: the para machine's exits while sending" test "$(net '.para.exits.exits > 0')" = true
check_match "the para guest had eth0 with an address" "$(grep -a 'ISOLA-BENCH-INFO net=' "$T/para.log" | tr -d '\r')" "net=10.199.0.1:[0-9]+ mac="
check_eq "no TAP or link left on the host" "$(ip -o link show | wc -l)" "$links_before"
check_match "JSON: the source of the figures" "$(jq -r .source "$T/out.json")" '^(nested|hardware|kvm-pvm)$'
check_eq "JSON: disk workloads give a throughput" \
	"$(jq -r '[.workloads[] | select(.unit == "bytes") | .para.rate > 0] | all' "$T/out.json")" true
# The full machine's IDE controller is programmed through port I/O that
# exits to isola; virtio-blk's notifications go through ioeventfds.
check_eq "full: IDE disk work reaches isola more than virtio-blk's" \
	"$(jq -r '.workloads[] | select(.name == "disk-rand-read") | .full.exits.user_space_exits > .para.exits.user_space_exits' "$T/out.json")" true
# Kept for a look (the kernel suite's log directory).
cp "$T/out.json" "$ISOLA_BUILD/meson-logs/vm-compare-tiny.json" 2>/dev/null

"$ISOLA" vm compare --from "$T/out.json" >"$T/table" 2>"$T/err"
check_eq "the table of that run (--from) exits 0" "$?" 0
check_match "table header" "$(head -1 "$T/table")" '^WORKLOAD +HOST +FULL \(time vs host\) +PARA \(time vs host\)'
for n in ${names% net-send}; do
	check_match "table row: $n" "$(grep "^$n " "$T/table" | head -1)" \
		"^$n +[0-9.]+ (ms|[KM]iB/s) +[0-9.]+ (ms|[KM]iB/s) \([+-][0-9]+%\) +[0-9.]+ (ms|[KM]iB/s) \([+-][0-9]+%\)"
done
check_match "table row: net-send (n/a for full)" "$(grep "^net-send " "$T/table" | head -1)" \
	"^net-send +[0-9.]+ [KM]iB/s +n/a \(no emulated NIC\) +[0-9.]+ [KM]iB/s \([+-][0-9]+%\)"
check_match "exits table: net-send n/a for full, counted for para" "$(grep -A1 "^net-send  *full" "$T/table" | tr '\n' ' ')" \
	"n/a \(no emulated NIC\) +para +[1-9][0-9]*"
check_match "exits table" "$(cat "$T/table")" "VM exits per workload"
check_match "says where the figures come from" "$(cat "$T/table")" "Figures from (nested|hardware|kvm-pvm)"
diag "$(cat "$T/table")"
done_testing
