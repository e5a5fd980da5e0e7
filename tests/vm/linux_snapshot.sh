#!/usr/bin/env bash
# A real Linux guest across snapshot -> restore and live migration: Debian's
# kernel (its vmlinux through PVH, --pv on, two vCPUs: kvm-clock, LAPIC
# timer, virtio-rng over MSI-X) boots once as a managed VM whose /init
# (tests/vm/linux/count-init) prints a counter kept in memory and its uptime
# about every 100 ms. That one boot is reused: a snapshot of the running VM
# and a live one are each restored as a second VM, which goes on from the
# snapshot's value (no reset, no line lost) beside the source; then the
# source migrates between two network namespaces and the counter goes on on
# the destination.
# The guest's uptime (kvm-clock) never goes backwards in any log or across
# them. Like kernel_shell.sh, runs in the KVM sandbox on kvm-pvm hosts.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib/debian_kernel.sh"
source "$(dirname "$0")/lib/pace.sh"
isola=$ISOLA_BUILD/isola
WAIT=${ISOLA_LINUX_WAIT:-300}
[ -x "$isola" ] || skip_all "no isola binary at $isola"
[ -c /dev/kvm ] || skip_all "no /dev/kvm on this host (scripts/test runs this suite in the KVM sandbox)"
[ -d /sys/module/kvm_pvm ] && [ -z "${ISOLA_LINUX_ON_PVM:-}" ] && skip_all "this host's KVM is kvm-pvm, where a stock kernel stops early (scripts/test runs this suite in the KVM sandbox)"
[ "$(id -u)" = 0 ] || skip_all "needs root for network namespaces"
[[ $(ldd "$(command -v busybox)" 2>&1) == *"not a dynamic"* ]] || skip_all "needs busybox-static"
for tool in cpio python3 ip ss; do
	command -v $tool >/dev/null || skip_all "$tool is not installed"
done
dk_fetch || skip_all "cannot fetch Debian's kernel: $DK_ERROR"
dk_vmlinux || skip_all "cannot extract vmlinux: $DK_ERROR"

T=$(mktemp -d /tmp/l4-linsnap.XXXXXX)
nsa=l4-lsa$$
nsb=l4-lsb$$
port=39011
recv=
remove_vms() {
	for r in "$T/a" "$T/b"; do
		for v in l4-lin l4-r1 l4-r2; do ISOLA_ROOT=$r "$isola" vm rm -f "$v" >/dev/null 2>&1; done
	done
}
cleanup() {
	remove_vms
	[ -n "$recv" ] && kill_tree "$recv"
	ip netns del "$nsa" 2>/dev/null
	ip netns del "$nsb" 2>/dev/null
	if [ -n "${ISOLA_TEST_KEEP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' TERM INT

# The initramfs: busybox, the counting init, virtio-rng's modules.
R=$T/initramfs
mkdir -p "$R/bin" "$R/lib/modules" "$R/proc" "$R/sys" "$R/dev"
cp "$(command -v busybox)" "$R/bin/busybox"
cp "$ISOLA_SRC/tests/vm/linux/count-init" "$R/init"
mods=$(dk_modules virtio_pci virtio_rng) || skip_all "the kernel lacks virtio_pci or virtio_rng"
for ko in $mods; do
	cp "$ko" "$R/lib/modules/"
	echo "${ko##*/}" >>"$R/modules"
done
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) >"$T/initramfs.gz"

# Two namespaces joined by a veth, each side its own isola root (as two
# hosts): the VM lives on side A from the start, so the one boot serves the
# snapshots and the migration. The KVM sandbox's kernel has no veth module:
# there both sides share namespace A and migrate over its loopback (still
# two isola roots, two VMM processes).
ip netns add "$nsa" && ip netns add "$nsb" || skip_all "cannot make network namespaces"
for n in "$nsa" "$nsb"; do ip -n "$n" link set lo up; done
if ip link add l4lsa$$ netns "$nsa" type veth peer name l4lsb$$ netns "$nsb" 2>/dev/null; then
	ip -n "$nsa" addr add 10.239.0.1/24 dev l4lsa$$
	ip -n "$nsb" addr add 10.239.0.2/24 dev l4lsb$$
	ip -n "$nsa" link set l4lsa$$ up
	ip -n "$nsb" link set l4lsb$$ up
	dst_ns=$nsb dst_ip=10.239.0.2
else
	diag "no veth here (the KVM sandbox's kernel lacks the module): migrating over namespace A's loopback"
	dst_ns=$nsa dst_ip=127.0.0.1
fi
A() { ISOLA_ROOT=$T/a ip netns exec "$nsa" "$isola" vm "$@"; }
B() { ISOLA_ROOT=$T/b ip netns exec "$dst_ns" "$isola" vm "$@"; }
field() { python3 -c "import json,sys; o=json.load(sys.stdin); o=o[0] if isinstance(o,list) else o; print(o$1)"; }
log_a() { A inspect "$1" | jget console_log; }
state_a() { A inspect "$1" | jget state; }
count_last() { grep -aoE 'ISOLA-COUNT [0-9]+ ' "$1" 2>/dev/null | tail -1 | awk '{print $2}'; }
# wait_count LOG N [SECONDS [ALIVE...]]: until LOG shows counter N or more,
# for at most SECONDS of wall-clock time (the sandbox makes every command
# slow: a count of polls would stretch). With ALIVE, a command run every 5 s
# that fails once the VM no longer runs: then it gives up at once.
wait_count() {
	local log=$1 n=$2 end=$((SECONDS + ${3:-60})) next=$((SECONDS + 5))
	shift $(($# < 3 ? $# : 3))
	while [ $SECONDS -lt $end ]; do
		[ "$(count_last "$log")" -ge "$n" ] 2>/dev/null && return 0
		if [ $# -gt 0 ] && [ $SECONDS -ge $next ]; then
			"$@" || { [ "$(count_last "$log")" -ge "$n" ] 2>/dev/null; return; }
			next=$((SECONDS + 5))
		fi
		sleep 0.2
	done
	return 1
}
# runs_a VM: the VM on side A is running.
runs_a() { [ "$(state_a "$1")" = running ]; }
# why_a VM LOG: on stderr, how VM ended and the end of its console.
# A VM still running: where each VMM thread waits (vCPU threads all in
# KVM_RUN point at the guest or the outer hypervisor, one in a futex or
# read at isola), as tests/vm/kernel_shell.sh reports a stalled boot.
why_a() {
	local pid t threads=
	diag_fail "$1: $(A inspect "$1" 2>&1 | field '["state"], o.get("exit_reason"), o.get("exit_code")' 2>&1)"
	diag_fail "$1 console end: $(tail -c 1500 "$2" 2>&1 | tr -d '\r')"
	pid=$(A inspect "$1" 2>/dev/null | jget vmm_pid 2>/dev/null)
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || return 0
	for t in /proc/"$pid"/task/*; do
		threads+=" [$(cat "$t/comm" 2>/dev/null) $(awk '{print $3}' "$t/stat" 2>/dev/null)"
		threads+=" $(cat "$t/wchan" 2>/dev/null) $(cut -d' ' -f1 "$t/syscall" 2>/dev/null)]"
	done
	diag_fail "$1 VMM $pid threads (name state wchan syscall):$threads"
}
# verdict LOG...: the counter lines of the logs joined in order: each
# counter one more than the one before (no reset, none lost or repeated),
# the uptime never lower than the line before, every hwrng read 4 bytes.
# Prints "ok: ..." or "bad: ...". With --from SRC as first arguments, the
# first log is instead only required to continue a value SRC printed (a
# restore of a snapshot taken while SRC ran on).
verdict() {
	python3 - "$@" <<'EOF'
import re, sys
args = sys.argv[1:]
src = None
if args[0] == "--from":
    src = args[1]
    args = args[2:]
rx = re.compile(rb"ISOLA-COUNT (\d+) ([\d.]+) rng=(\S+)\r?\n")
# The logs joined first: a VM stopped mid-line finishes it on the next.
data = b"".join(open(a, "rb").read() for a in args)
lines = [(int(n), float(u), r) for n, u, r in rx.findall(data)]
msg = []
if not lines:
    print("bad: no counter lines"); sys.exit()
if src:
    s = {int(n): float(u) for n, u, _ in rx.findall(open(src, "rb").read())}
    n0, u0, _ = lines[0]
    if n0 - 1 not in s:
        msg.append(f"first restored count {n0} does not follow a source count")
    elif u0 < s[n0 - 1]:
        msg.append(f"uptime {u0} after the source's {s[n0 - 1]}: backwards")
gaps = [(a[0], b[0]) for a, b in zip(lines, lines[1:]) if b[0] != a[0] + 1]
back = [(a[1], b[1]) for a, b in zip(lines, lines[1:]) if b[1] < a[1]]
rng = [r for _, _, r in lines if r not in (b"-", b"4")]
if gaps: msg.append(f"counter gaps {gaps[:3]}")
if back: msg.append(f"uptime backwards {back[:3]}")
if rng: msg.append(f"hwrng reads {rng[:3]}")
jump = max((b[1] - a[1] for a, b in zip(lines, lines[1:])), default=0)
print(f"{'bad' if msg else 'ok'}: {len(lines)} lines, {lines[0][0]}..{lines[-1][0]}, "
      f"uptime {lines[0][1]}..{lines[-1][1]}, largest uptime step {jump:.2f} s"
      + (", " + "; ".join(msg) if msg else ""))
EOF
}
is_ok() { [[ $1 == ok:* ]]; }
# phase WHAT: seconds since the boot began, for where the test's time goes.
phase() { diag "at $(($(date +%s) - start)) s: $*"; }

# --- one boot: Debian's kernel through PVH, para mode ---
# boot: creates and starts l4-lin and waits until its counter reaches 20;
# says why on stderr when it does not.
boot() {
	local out
	out=$(A create l4-lin --kernel "$DK_VMLINUX" --initrd "$T/initramfs.gz" --memory 128 --cpus 2 --pv on --rng \
		--cmdline "console=ttyS0 quiet" 2>&1 >/dev/null) || { diag_fail "vm create: $out"; return 1; }
	out=$(A start l4-lin 2>&1 >/dev/null) || { diag_fail "vm start: $out"; return 1; }
	src_log=$(log_a l4-lin)
	wait_count "$src_log" 20 "$WAIT" runs_a l4-lin && return 0
	why_a l4-lin "$src_log"
	diag_fail "after $(($(date +%s) - start)) s"
	return 1
}
# One run of the test, from the boot on: its TAP on stdout, its exit
# status the test's.
attempt() {
	trap '[ -n "$recv" ] && kill_tree "$recv"' EXIT
	start=$(date +%s)
	booted=0
	if boot; then
		booted=1
	elif [ -n "${ISOLA_IN_KVM_SANDBOX:-}" ]; then
		# In the sandbox only, a second boot: there the emulated SVM under
		# QEMU's TCG has failed on its own (the whole outer guest died in one
		# run of four, 2026-12-02), and CI once saw this first boot not count
		# within 30 min with no word why (now said above). Twice fails.
		diag "the first boot failed (why above); in the KVM sandbox the guest boots once more"
		A rm -f l4-lin >/dev/null 2>&1
		start=$(date +%s)
		boot && booted=1
	fi
	check "the Linux guest boots and counts" [ $booted = 1 ] || {
		done_testing
		exit
	}
	diag "boot to count 20 in $(($(date +%s) - start)) s (kernel $DK_KVER${ISOLA_IN_KVM_SANDBOX:+, in the KVM sandbox})"
	check_match "kvm-clock is its clocksource" "$(grep -a 'ISOLA-LINUX clocksource' "$src_log" | tr -d '\r')" "kvm-clock$"
	check_match "both vCPUs are online" "$(grep -a 'ISOLA-LINUX cpus' "$src_log" | tr -d '\r')" " 2$"
	check_match "virtio-rng is its hwrng" "$(grep -a 'ISOLA-LINUX hwrng' "$src_log" | tr -d '\r')" "virtio_rng"

	# --- snapshot of the running VM (pause, save, resume), restored beside it ---
	phase "snapshot"
	out=$(A snapshot create l4-lin s1 2>&1)
	check_eq "snapshot create of the running Linux VM" "$out" s1
	n=$(count_last "$src_log")
	check "the source counts on after the snapshot" wait_count "$src_log" $((n + 5)) 60 runs_a l4-lin ||
		why_a l4-lin "$src_log"
	out=$(A restore l4-lin s1 --name l4-r1 2>&1)
	check_eq "restore --name makes a second VM" "$out" l4-r1
	r1_log=$(log_a l4-r1)
	phase "restored l4-r1"
	check "the restored Linux counts" wait_count "$r1_log" $((n + 5)) 60 runs_a l4-r1 ||
		why_a l4-r1 "$r1_log"
	n1=$(count_last "$r1_log")
	n0=$(count_last "$src_log")
	check "both run independently: the source and the restored VM count on" \
		bash -c "$(declare -f count_last wait_count); wait_count '$src_log' $((n0 + 5)) && wait_count '$r1_log' $((n1 + 5))" || {
		# why one of them stopped: its exit and the end of its console
		why_a l4-lin "$src_log"
		why_a l4-r1 "$r1_log"
	}
	res=$(verdict --from "$src_log" "$r1_log")
	check "restored counter continues the snapshot's value, uptime monotonic ($res)" is_ok "$res"
	res=$(verdict "$src_log")
	check "the source's own counter is unbroken across the snapshot ($res)" is_ok "$res"
	A kill l4-r1 >/dev/null

	# --- a live snapshot (memory copied while Linux runs), restored ---
	phase "live snapshot"
	# (a CI run once found no live snapshot and a source that no longer counted,
	# with no message: these say which broke first)
	check_eq "the source runs before the live snapshot" "$(state_a l4-lin)" running ||
		diag_fail "the source's console (and the VMM's messages) ends: $(tail -c 1500 "$src_log" | tr -d '\r')"
	out=$(A snapshot create l4-lin s2 --live 2>&1)
	check_match "snapshot create --live of the running Linux VM" "$out" '^s2: live, [0-9]+ rounds, paused [0-9.]+ ms$' ||
		diag_fail "the source's console (and the VMM's messages) ends: $(tail -c 1500 "$src_log" | tr -d '\r')"
	diag "$out"
	A restore l4-lin s2 --name l4-r2 >/dev/null
	r2_log=$(log_a l4-r2)
	phase "restored l4-r2"
	n=$(count_last "$src_log")
	wait_count "$r2_log" 0 60 runs_a l4-r2
	first=$(grep -aoE 'ISOLA-COUNT [0-9]+ ' "$r2_log" | head -1 | awk '{print $2}')
	check "the VM restored from the live snapshot counts" wait_count "$r2_log" $((${first:-0} + 5)) 60 runs_a l4-r2 ||
		why_a l4-r2 "$r2_log"
	res=$(verdict --from "$src_log" "$r2_log")
	check "live snapshot -> restore: the counter continues, uptime monotonic ($res)" is_ok "$res"
	A kill l4-r2 >/dev/null
	check "the source still counts" wait_count "$src_log" $((n + 5)) 60 runs_a l4-lin ||
		why_a l4-lin "$src_log"

	# --- live migration from namespace A to B ---
	# Runs everywhere, the KVM sandbox included; ISOLA_LINUX_MIGRATE=0 skips
	# it. Until 2026-12-02 the sandbox ran it only on request: its outer guest
	# (QEMU TCG emulating SVM) had panicked about when it runs, and once the
	# destination stopped right after a good migration. In 29 sandbox runs of
	# this test (2026-12-02, docs/migration.md) it passed in all 26 that
	# reached it with a running source; the other failures were Linux guests
	# stopping with a triple fault beside the restores above (a booted source
	# too) and one outer guest's panic: not this step's.
	if [ "${ISOLA_LINUX_MIGRATE:-1}" = 0 ]; then
		skip "migration of the Linux guest: ISOLA_LINUX_MIGRATE=0"
		diag "test time $(($(date +%s) - start)) s"
		done_testing
		exit
	fi
	runs_a l4-lin || why_a l4-lin "$src_log"
	phase "migration"
	B receive l4-lin --listen $dst_ip:$port >"$T/recv.out" 2>&1 &
	recv=$!
	for _ in $(seq 50); do
		ip netns exec "$dst_ns" ss -ltn 2>/dev/null | grep -q ":$port " && break
		sleep 0.1
	done
	out=$(A migrate l4-lin --to $dst_ip:$port --downtime-ms 300 2>&1)
	# A failed migration may leave the receiver waiting for ever (it does not
	# end on SIGTERM while it waits): SIGKILL; cleanup removes what it made.
	reap "$recv" 10
	recv=
	check_match "migrate of the Linux VM reports rounds, bytes and downtime" "$out" \
		"^l4-lin: [0-9]+ rounds, [0-9.]+ MiB, downtime [0-9.]+ ms"
	diag "$out"
	check_eq "the destination VM runs" "$(B inspect l4-lin 2>/dev/null | jget state 2>/dev/null)" running
	for _ in $(seq 50); do [ "$(state_a l4-lin)" = stopped ] && break; sleep 0.1; done
	check_eq "the source VM stopped" "$(state_a l4-lin)" stopped
	phase "migrated"
	dst_log=$(B inspect l4-lin 2>/dev/null | jget console_log 2>/dev/null)
	n=$(count_last "$src_log")
	check "the migrated Linux counts on" wait_count "${dst_log:-/nonexistent}" $((n + 10)) 30 || {
		# why the destination stopped: its exit and the end of its console
		diag "destination: $(B inspect l4-lin 2>&1 | field '["state"], o.get("exit_reason"), o.get("exit_code")' 2>&1)"
		diag "destination console end: $(tail -c 1500 "${dst_log:-/nonexistent}" 2>&1 | tr -d '\r')"
		diag "receiver: $(cat "$T/recv.out" 2>&1)"
	}
	res=$(verdict "$src_log" "$dst_log")
	check "source log + destination log: one counter, no reset, uptime monotonic ($res)" is_ok "$res"
	diag "test time $(($(date +%s) - start)) s"
	done_testing
}

# Known intermittent in the KVM sandbox (2026-12-02: 4 failures in 29
# runs, none in the migration): a Linux guest there sometimes stops with a
# triple fault while a second one runs or is killed beside it (a freshly
# booted source too, so not a restored state), and once the outer guest's
# own kernel crashed. Until that is understood, in the sandbox a run whose
# failures come with a triple fault is reported here and run once more
# from a fresh boot; a second failure fails. Each run's TAP is kept apart
# (the output is the last run's).
run_attempt() { (attempt) >"$T/tap.$1" 2>"$T/tap.$1.err"; }
run_attempt 1
rc=$?
if [ "$rc" -ne 0 ] && [ -n "${ISOLA_IN_KVM_SANDBOX:-}" ] &&
	grep -q 'triple-fault' "$T/tap.1" "$T/tap.1.err"; then
	sed 's/^/# first run: /' "$T/tap.1"
	diag_fail "the first run failed with a guest's triple fault in the KVM sandbox (see the test); running it once more"
	remove_vms
	run_attempt 2
	rc=$?
	cat "$T/tap.2"
	cat "$T/tap.2.err" >&2
else
	cat "$T/tap.1"
	cat "$T/tap.1.err" >&2
fi
exit "$rc"
