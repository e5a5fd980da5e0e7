#!/bin/bash
# linux.resources through config.json and the real isola-runtime: limits are
# visible in the container's cgroup and enforced (a memory hog is OOM-killed,
# a fork loop hits the pids limit, device rules deny access), `update` changes
# a running container's memory limit, and nothing is left behind. The
# assertions read cgroup v1 files on a hybrid host and their v2 equivalents
# when /sys/fs/cgroup is a cgroup2 mount.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bundle.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/ctr.sh"

ctr_test_init resources
IDS=()
V2=
[ -e /sys/fs/cgroup/cgroup.controllers ] && V2=1

trap ctr_test_cleanup EXIT

RT_TIMEOUT=60

# cgfile CONTROLLER FILE PID: the path of FILE in PID's cgroup for CONTROLLER
# (v1: that controller's hierarchy; v2: the single unified one).
cgfile() {
	local ctrl=$1 file=$2 pid=$3 rel
	if [ -n "$V2" ]; then
		rel=$(sed -n 's/^0:://p' /proc/"$pid"/cgroup)
		echo "/sys/fs/cgroup$rel/$file"
		return
	fi
	while IFS=: read -r _ ctrls rel; do
		if [[ ",$ctrls," == *",$ctrl,"* ]]; then
			echo "/sys/fs/cgroup/$ctrl$rel/$file"
			return
		fi
	done </proc/"$pid"/cgroup
}
cgread() { cat "$(cgfile "$@")" 2>/dev/null; }

# new_bundle NAME JQ_FILTER ARG...: a busybox bundle for container NAME.
new_bundle() {
	local name=$1 filter=$2
	shift 2
	IDS+=("$name")
	make_bundle "$WORK/$name" "$@" && edit_config "$WORK/$name" "$filter"
}

MIB=1048576
HAVE_MEMSW=1
[ -z "$V2" ] && [ ! -e /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ] && HAVE_MEMSW=
# The swap limit equals the memory limit so the hog cannot escape into swap.
memory_json() { # memory_json LIMIT_BYTES
	if [ -n "$HAVE_MEMSW" ]; then echo "{\"limit\": $1, \"swap\": $1}"; else echo "{\"limit\": $1}"; fi
}
# oom_kills FILE: the kernel's OOM-kill counter in a memory cgroup's
# memory.events (v2) or memory.oom_control (v1).
oom_kills() { awk '$1 == "oom_kill" { print $2 }' "$1" 2>/dev/null; }
if [ -n "$V2" ]; then OOMF=memory.events; else OOMF=memory.oom_control; fi

# --- memory: a process exceeding linux.resources.memory.limit is OOM-killed.
# busybox `tail -c 80m` keeps the last 80 MiB of its input in memory.
new_bundle ctrtres-oom ".linux.resources.memory = $(memory_json $((32 * MIB)))" tail -c 80m /dev/zero
rt create --bundle "$WORK/ctrtres-oom" ctrtres-oom
PID=$(pid_of ctrtres-oom)
if [ -n "$V2" ]; then
	check_eq "memory limit in memory.max" "$(cgread memory memory.max "$PID")" $((32 * MIB))
else
	check_eq "memory limit in memory.limit_in_bytes" "$(cgread memory memory.limit_in_bytes "$PID")" $((32 * MIB))
	[ -n "$HAVE_MEMSW" ] &&
		check_eq "swap limit in memory.memsw.limit_in_bytes" "$(cgread memory memory.memsw.limit_in_bytes "$PID")" $((32 * MIB))
fi
# The init is gone once stopped: remember its cgroup (kept until delete).
OOMFILE=$(cgfile memory $OOMF "$PID")
check_eq "no OOM kill before start" "$(oom_kills "$OOMFILE")" 0
rt start ctrtres-oom
check "the memory hog stops" wait_stopped ctrtres-oom
check_match "the kernel OOM-killed it in the container's cgroup (oom_kill > 0)" "$(oom_kills "$OOMFILE")" '^[1-9][0-9]*$'
rt delete ctrtres-oom
check "OOM-killed container deleted, nothing left" leaves_nothing ctrtres-oom

OUT=$(rt run --bundle "$WORK/ctrtres-oom" ctrtres-oom 2>&1)
check_eq "run returns 137 (SIGKILL) for the OOM-killed process" "$?" 137
check "nothing left after the OOM-killed run" leaves_nothing ctrtres-oom

new_bundle ctrtres-fits ".linux.resources.memory = $(memory_json $((32 * MIB)))" \
	sh -c 'set -o pipefail; head -c 16m /dev/zero | tail -c 12m | wc -c'
OUT=$(rt run --bundle "$WORK/ctrtres-fits" ctrtres-fits 2>&1)
check_eq "a process within the limit survives (exit 0)" "$?" 0
check_eq "and holds its 12 MiB" "$OUT" $((12 * MIB))
check "nothing left after the fitting run" leaves_nothing ctrtres-fits

# --- pids: a fork loop stops at linux.resources.pids.limit
new_bundle ctrtres-pids '.linux.resources.pids = {limit: 10}' sleep 1000
rt run -d --bundle "$WORK/ctrtres-pids" ctrtres-pids
PID=$(pid_of ctrtres-pids)
check_eq "pids limit in pids.max" "$(cgread pids pids.max "$PID")" 10
OUT=$(rt exec ctrtres-pids sh -c 'i=0; while [ $i -lt 30 ]; do sleep 1000 >/dev/null 2>&1 & i=$((i + 1)); done; echo all-forked' 2>&1)
check_match "the fork loop gets fork errors" "$OUT" "can't fork: Resource temporarily unavailable"
check "and does not get all 30 processes" bash -c "! grep -q all-forked <<<\"\$1\"" _ "$OUT"
CUR=$(cgread pids pids.current "$PID")
check "pids.current ($CUR) <= 10" [ "${CUR:-99}" -le 10 ]
check "some of the sleeps run (pids.current > 1)" [ "${CUR:-0}" -gt 1 ]
check_match "pids.events counts the refused forks" "$(cgread pids pids.events "$PID")" '^max [1-9]'
rt delete -f ctrtres-pids
check "pids container and its forks gone" leaves_nothing ctrtres-pids

# --- cpu quota/period/shares, cpuset, memory reservation: visible in the cgroup
new_bundle ctrtres-cpu '.linux.resources.cpu = {quota: 50000, period: 100000, shares: 512, cpus: "0", mems: "0"}
	| .linux.resources.memory = {reservation: 16777216}
	| .linux.resources.memory += {swappiness: 10, disableOOMKiller: true}'"${V2:+ | .linux.resources.memory |= del(.swappiness, .disableOOMKiller)}" sleep 1000
rt run -d --bundle "$WORK/ctrtres-cpu" ctrtres-cpu
PID=$(pid_of ctrtres-cpu)
if [ -n "$V2" ]; then
	check_eq "cpu quota/period in cpu.max" "$(cgread cpu cpu.max "$PID")" "50000 100000"
	# shares 512 maps onto weight 1 + (512 - 2) * 9999 / 262142
	check_eq "cpu shares as cpu.weight" "$(cgread cpu cpu.weight "$PID")" $((1 + (512 - 2) * 9999 / 262142))
	check_eq "memory reservation in memory.low" "$(cgread memory memory.low "$PID")" 16777216
else
	check_eq "cpu.cfs_quota_us" "$(cgread cpu cpu.cfs_quota_us "$PID")" 50000
	check_eq "cpu.cfs_period_us" "$(cgread cpu cpu.cfs_period_us "$PID")" 100000
	check_eq "cpu.shares" "$(cgread cpu cpu.shares "$PID")" 512
	check_eq "memory reservation in memory.soft_limit_in_bytes" "$(cgread memory memory.soft_limit_in_bytes "$PID")" 16777216
	# v1 only: cgroup v2 has neither knob
	check_eq "memory.swappiness" "$(cgread memory memory.swappiness "$PID")" 10
	check_match "disableOOMKiller in memory.oom_control" "$(cgread memory memory.oom_control "$PID")" "^oom_kill_disable 1"
fi
check_eq "cpuset.cpus" "$(cgread cpuset cpuset.cpus "$PID")" 0
check_eq "cpuset.mems" "$(cgread cpuset cpuset.mems "$PID")" 0
check_match "the process may only run on cpu 0" "$(grep Cpus_allowed_list /proc/"$PID"/status)" $'Cpus_allowed_list:\t0$'
rt delete -f ctrtres-cpu
check "cpu container gone" leaves_nothing ctrtres-cpu

# --- blockIO weight: applied when the I/O scheduler offers a weight file,
# otherwise refused with a message naming the field and the missing file.
new_bundle ctrtres-probe '.' sleep 1000
rt create --bundle "$WORK/ctrtres-probe" ctrtres-probe
PID=$(pid_of ctrtres-probe)
if [ -n "$V2" ]; then WFILES="io.bfq.weight io.weight"; else WFILES="blkio.weight blkio.bfq.weight"; fi
WFILE=
for f in $WFILES; do [ -e "$(cgfile blkio "$f" "$PID")" ] && { WFILE=$f; break; }; done
[ -n "$V2" ] && for f in $WFILES; do [ -e "$(cgfile io "$f" "$PID")" ] && { WFILE=$f; break; }; done
rt delete -f ctrtres-probe
new_bundle ctrtres-bw '.linux.resources.blockIO = {weight: 500}' sleep 1000
# (a detached container keeps its stdio: never read it through a pipe)
rt run -d --bundle "$WORK/ctrtres-bw" ctrtres-bw >"$WORK/out" 2>&1
RC=$?
OUT=$(cat "$WORK/out")
if [ -n "$WFILE" ]; then
	check_eq "blockIO.weight accepted ($WFILE exists)" "$RC" 0
	GOT=$(cgread blkio "$WFILE" "$(pid_of ctrtres-bw)")
	case $WFILE in
	io.weight) WANT="default $((1 + (500 - 10) * 9999 / 990))" ;;
	*) WANT=500 ;;
	esac
	check_match "blockIO.weight 500 in $WFILE" "$GOT" "^(default )?${WANT#default }$"
	rt delete -f ctrtres-bw
else
	check "blockIO.weight without a weight file fails" [ "$RC" -ne 0 ]
	check_match "the message names the field and the missing file" "$OUT" "linux.resources.blockIO.weight.*(blkio|io)\.(bfq\.)?weight"
	check_eq "in one line" "$(grep -c . <<<"$OUT")" 1
fi
check "blockIO container gone" leaves_nothing ctrtres-bw

# A throttle the runtime does not apply must not be dropped silently: either
# it is in blkio.throttle.read_bps_device (io.max on v2) or create refuses it.
DEV=$(lsblk -dno MAJ:MIN 2>/dev/null | tr -d ' ' | grep -v '^253:' | head -1)
if [ -n "$DEV" ] && [ -z "$V2" ]; then
	new_bundle ctrtres-thr ".linux.resources.blockIO = {throttleReadBpsDevice: [{major: ${DEV%:*}, minor: ${DEV#*:}, rate: 1048576}]}" sleep 1000
	rt run -d --bundle "$WORK/ctrtres-thr" ctrtres-thr >"$WORK/out" 2>&1
	RC=$?
	OUT=$(cat "$WORK/out")
	if [ $RC -eq 0 ]; then
		check_eq "blockIO.throttleReadBpsDevice applied" "$(cgread blkio blkio.throttle.read_bps_device "$(pid_of ctrtres-thr)")" "$DEV 1048576"
		rt delete -f ctrtres-thr
	else
		check_match "blockIO.throttleReadBpsDevice refused by name" "$OUT" "throttleReadBpsDevice"
	fi
	check "throttle container gone" leaves_nothing ctrtres-thr
else
	skip "no block device (or cgroup v2): throttle not tested"
	skip "no block device"
fi

# --- device rules: deny-all + an allow rule for one node with read access
# only. /dev/fuse (c 10:229) is not among the nodes every container gets.
# (one line: make_bundle splits arguments at newlines)
DEVCMD='mknod /dev/fuse c 10 229; (exec 3</dev/fuse) && echo fuse-read-ok;
	(exec 3>/dev/fuse) && echo fuse-write-ok; echo x >/dev/null && echo null-ok;
	head -c1 /dev/zero | wc -c'
DEVCMD=${DEVCMD//$'\n'/}
MKNOD='.process.capabilities |= map_values(. + ["CAP_MKNOD"])'
new_bundle ctrtres-dev "$MKNOD | .linux.resources.devices = [{allow: false, access: \"rwm\"},
	{allow: true, type: \"c\", major: 10, minor: 229, access: \"r\"}]" sh -c "$DEVCMD"
OUT=$(rt run --bundle "$WORK/ctrtres-dev" ctrtres-dev 2>&1)
check_match "allowed c 10:229 r: reading works" "$OUT" "fuse-read-ok"
check_match "allowed c 10:229 r: writing is denied" "$OUT" "can't create /dev/fuse: Operation not permitted"
check "(no write)" bash -c "! grep -q fuse-write-ok <<<\"\$1\"" _ "$OUT"
check_match "/dev/null stays usable" "$OUT" "null-ok"
check "nothing left" leaves_nothing ctrtres-dev
edit_config "$WORK/ctrtres-dev" '.linux.resources.devices = [{allow: false, access: "rwm"}]'
OUT=$(rt run --bundle "$WORK/ctrtres-dev" ctrtres-dev 2>&1)
check_match "deny-all: reading c 10:229 is denied" "$OUT" "can't open /dev/fuse: Operation not permitted"
check "(no read)" bash -c "! grep -q fuse-read-ok <<<\"\$1\"" _ "$OUT"
# As runc, the standard nodes (/dev/null, zero, full, random, urandom, tty,
# ptmx, pts, tun) are allowed after the spec's rules, so a rule denying
# /dev/zero does not take it away.
edit_config "$WORK/ctrtres-dev" '.linux.resources.devices = [{allow: true, access: "rwm"},
	{allow: false, type: "c", major: 1, minor: 5, access: "rwm"}]'
OUT=$(rt run --bundle "$WORK/ctrtres-dev" ctrtres-dev 2>&1)
check_match "allow-all: c 10:229 writable" "$OUT" "fuse-write-ok"
check_match "a rule denying /dev/zero leaves it readable (default devices, as runc)" "$OUT" $'null-ok\n1$'
check "nothing left" leaves_nothing ctrtres-dev

# --- update: a running container's memory limit, lowered then raised (v1
# needs memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every step)
new_bundle ctrtres-upd ".linux.resources.memory = $(memory_json $((64 * MIB)))" sleep 1000
rt run -d --bundle "$WORK/ctrtres-upd" ctrtres-upd
PID=$(pid_of ctrtres-upd)
if [ -n "$V2" ]; then MEMF=memory.max; else MEMF=memory.limit_in_bytes; fi
HOG='set -o pipefail; head -c 40m /dev/zero | tail -c 40m | wc -c'
check_eq "40 MiB fit under 64 MiB" "$(rt exec ctrtres-upd sh -c "$HOG" 2>&1)" $((40 * MIB))
echo "{\"memory\": $(memory_json $((24 * MIB)))}" | rt update --resources - ctrtres-upd
check_eq "update lowering memory+swap exits 0" "$?" 0
check_eq "lowered limit visible in $MEMF" "$(cgread memory $MEMF "$PID")" $((24 * MIB))
rt exec ctrtres-upd sh -c "$HOG" >/dev/null 2>&1
check_eq "and enforced: the 40 MiB hog is killed" "$?" 137
check_eq "the container itself keeps running" "$(status_of ctrtres-upd)" running
echo "{\"memory\": $(memory_json $((96 * MIB)))}" | rt update --resources - ctrtres-upd
check_eq "update raising memory+swap exits 0" "$?" 0
check_eq "raised limit visible in $MEMF" "$(cgread memory $MEMF "$PID")" $((96 * MIB))
[ -z "$V2" ] && [ -n "$HAVE_MEMSW" ] &&
	check_eq "raised swap limit visible" "$(cgread memory memory.memsw.limit_in_bytes "$PID")" $((96 * MIB))
check_eq "40 MiB fit again" "$(rt exec ctrtres-upd sh -c "$HOG" 2>&1)" $((40 * MIB))
rt delete -f ctrtres-upd
check "updated container gone" leaves_nothing ctrtres-upd

for id in "${IDS[@]}"; do leaves_nothing "$id" || not_ok "$id left something"; done
check_eq "no container left in the state root" "$(ls "$STATE" 2>/dev/null)" ""
done_testing
