#!/bin/bash
# Bad input to the real isola-runtime: each case exits non-zero with one line
# naming the field or argument and the problem, and leaves nothing behind (no
# state dir, cgroup directory, mount or process). Cases already covered by
# lifecycle.sh's "bad input" section (missing/malformed config.json, rootfs,
# namespace type, executable, ids, duplicates, start/delete of a running
# container) are not repeated here.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bundle.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/ctr.sh"

ctr_test_init badinput
N=0

trap ctr_test_cleanup EXIT

make_bundle "$BASE" sleep 1000 || { echo "Bail out! make_bundle failed"; exit 1; }

# bundle JQ_FILTER: a new bundle dir sharing the base rootfs; prints its path.
bundle() {
	local b
	b=$(mktemp -d "$WORK/b.XXXXXX")
	ln -s "$BASE/rootfs" "$b/rootfs"
	jq "$1" "$BASE/config.json" >"$b/config.json"
	echo "$b"
}

# expect_fail NAME ID REGEX CMD...: CMD fails with one line matching REGEX and
# container ID leaves nothing behind.
expect_fail() {
	local name=$1 id=$2 re=$3
	shift 3
	OUT=$("$@" 2>&1)
	RC=$?
	check "$name: fails" [ "$RC" -ne 0 ]
	check_match "$name: message" "$OUT" "$re"
	check_eq "$name: one line" "$(grep -c . <<<"$OUT")" 1
	check "$name: nothing left" leaves_nothing "$id"
}
# bad_config NAME REGEX JQ_FILTER: `create` of a bundle with the filtered config.
bad_config() {
	local name=$1 re=$2 b
	N=$((N + 1))
	b=$(bundle "$3")
	expect_fail "$name" "ctrtbad$N" "$re" rt create --bundle "$b" "ctrtbad$N"
}

# --- config.json fields
bad_config "unknown capability" "process\.capabilities\.bounding\[[0-9]+\].*'CAP_BOGUS'" \
	'.process.capabilities.bounding += ["CAP_BOGUS"]'
bad_config "cgroupsPath ../../escape" "linux\.cgroupsPath '\.\./\.\./escape'.*escape" \
	'.linux.cgroupsPath = "../../escape"'
bad_config "cgroupsPath /../x" "linux\.cgroupsPath '/\.\./x'" '.linux.cgroupsPath = "/../x"'
check_eq "no cgroup named escape or x created anywhere" \
	"$(find /sys/fs/cgroup -maxdepth 3 -type d \( -name escape -o -name x \) 2>/dev/null)" ""
bad_config "process.args as a string" "process\.args: expected an array" '.process.args = "sleep 1000"'
bad_config "memory limit as a string" "linux\.resources\.memory\.limit: expected an integer" \
	'.linux.resources.memory.limit = "32m"'
bad_config "capabilities.bounding as a string" "process\.capabilities\.bounding: expected an array" \
	'.process.capabilities.bounding = "CAP_KILL"'
bad_config "annotation value not a string" "annotations\.a: expected a string" '.annotations = {a: 1}'
bad_config "config.json an array" "config\.json.*expected a JSON object" '[.]'
bad_config "config.json a string" "config\.json.*expected a JSON object" '"config"'
bad_config "unknown rlimit" "process\.rlimits\[0\]\.type.*'RLIMIT_BOGUS'" \
	'.process.rlimits = [{type: "RLIMIT_BOGUS", hard: 1, soft: 1}]'
bad_config "rlimit soft above hard" "RLIMIT_NOFILE.*soft limit 20 exceeds hard limit 10" \
	'.process.rlimits = [{type: "RLIMIT_NOFILE", hard: 10, soft: 20}]'
bad_config "relative process.cwd" "process\.cwd.*absolute.*'relative'" '.process.cwd = "relative"'
bad_config "cpuset.cpus beyond the host's cpus" "cpuset\.cpus.*'999'" '.linux.resources.cpu.cpus = "999"'
# A memory limit too small for even the runtime's init: the message must say
# the limit is the cause, not only that the init died.
bad_config "memory limit too small for the init" "(memory|OOM|oom)" \
	'.process.args = ["true"] | .linux.resources.memory.limit = 4096'

# hostname without a UTS namespace would rename the host: the runtime must
# refuse (as runc). The runtime runs in a throw-away UTS namespace here so a
# runtime that gets this wrong renames only that.
HOSTNAME_BEFORE=$(hostname)
B=$(bundle '.hostname = "ctrtbad-renamed" | .process.args = ["hostname"] | .linux.namespaces |= map(select(.type != "uts"))')
expect_fail "hostname without a UTS namespace" ctrtbad-uts "hostname.*(UTS|uts)" \
	unshare --uts timeout 30 "$RT" --root "$STATE" run --bundle "$B" ctrtbad-uts
check_eq "the host's hostname is unchanged" "$(hostname)" "$HOSTNAME_BEFORE"

# --- command-line arguments
B=$(bundle '.process.args = ["true"]')
expect_fail "--pid-file in a nonexistent directory" ctrtbad-pf "\-\-pid-file.*$WORK/nodir/c\.pid" \
	rt create --bundle "$B" --pid-file "$WORK/nodir/c.pid" ctrtbad-pf
check "no pid file directory created" [ ! -e "$WORK/nodir" ]
touch "$WORK/afile"
expect_fail "--root pointing at a file" ctrtbad-rf "'$WORK/afile'.*Not a directory" \
	timeout 30 "$RT" --root "$WORK/afile" create --bundle "$B" ctrtbad-rf
check "the file is still a plain empty file" bash -c '[ -f "$1" ] && [ ! -s "$1" ]' _ "$WORK/afile"

# --- operations on containers in the wrong state
expect_fail "start of an unknown id" ctrtbad-none "container 'ctrtbad-none' does not exist" rt start ctrtbad-none
rt create --bundle "$B" ctrtbad-st && rt start ctrtbad-st
check "a container running true stops" wait_stopped ctrtbad-st
OUT=$(rt start ctrtbad-st 2>&1)
check "start of a stopped container fails" [ $? -ne 0 ]
check_match "and says it is not in created state" "$OUT" "container 'ctrtbad-st' is not in created state \(status: stopped\)"
check_eq "in one line" "$(grep -c . <<<"$OUT")" 1
OUT=$(rt exec ctrtbad-st true 2>&1)
check "exec into a stopped container fails" [ $? -ne 0 ]
check_match "and names the container and its status" "$OUT" "'ctrtbad-st'.*stopped"
check_eq "in one line" "$(grep -c . <<<"$OUT")" 1
CG=$(find /sys/fs/cgroup -maxdepth 7 -type d -name ctrtbad-st | head -1)
check "no process entered the stopped container's cgroup" bash -c '[ -n "$1" ] && [ -z "$(cat "$1/cgroup.procs")" ]' _ "$CG"
OUT=$(rt kill ctrtbad-st KILL 2>&1)
check "kill of a stopped container fails" [ $? -ne 0 ]
check_match "and says it is not running" "$OUT" "'ctrtbad-st'.*not running"
rt delete ctrtbad-st
check "stopped container deleted" leaves_nothing ctrtbad-st

B=$(bundle '.')
rt run -d --bundle "$B" ctrtbad-sig >/dev/null 2>&1 </dev/null
for sig in SIGBOGUS BOGUS 99; do
	OUT=$(rt kill ctrtbad-sig "$sig" 2>&1)
	check "kill with signal $sig fails" [ $? -ne 0 ]
	check_match "and names it" "$OUT" "unknown signal '$sig'"
	check_eq "in one line" "$(grep -c . <<<"$OUT")" 1
done
check_eq "the container still runs after the bad kills" "$(status_of ctrtbad-sig)" running

# --- update: bad resources change nothing
PID=$(rt state ctrtbad-sig | jq -r .pid)
PIDS_MAX=$(find /sys/fs/cgroup -maxdepth 7 -type d -name ctrtbad-sig -exec test -e {}/pids.max \; -print | head -1)/pids.max
BEFORE=$(cat "$PIDS_MAX" 2>/dev/null)
upd_fail() { # upd_fail NAME REGEX JSON
	OUT=$(rt update --resources - ctrtbad-sig <<<"$3" 2>&1)
	check "update with $1 fails" [ $? -ne 0 ]
	check_match "and names the problem" "$OUT" "$2"
	check_eq "in one line" "$(grep -c . <<<"$OUT")" 1
}
upd_fail "a string memory limit" "--resources '-': memory\.limit: expected an integer" \
	'{"pids": {"limit": 5}, "memory": {"limit": "x"}}'
check_eq "the valid part of a refused update is not applied" "$(cat "$PIDS_MAX" 2>/dev/null)" "${BEFORE:-no pids.max found}"
upd_fail "a JSON array" "--resources '-': expected a JSON object" '[1]'
upd_fail "truncated JSON" "--resources '-': invalid JSON" '{"pids": {"limit": 5}'
OUT=$(rt update --memory 12qq ctrtbad-sig 2>&1)
check_match "update --memory with a bad size names it" "$OUT" "--memory '12qq': not a number"
OUT=$(rt update --pids-limit 5 ctrtbad-none 2>&1)
check_match "update of an unknown container" "$OUT" "container 'ctrtbad-none' does not exist"
check_eq "the container still runs after the bad updates" "$(status_of ctrtbad-sig)" running
check_eq "same pid" "$(rt state ctrtbad-sig | jq -r .pid)" "$PID"
rt delete -f ctrtbad-sig
check "signal test container deleted" leaves_nothing ctrtbad-sig

check_eq "no container left in the state root" "$(ls "$STATE" 2>/dev/null)" ""
check "no mount of the test left" bash -c "! grep -q '$WORK' /proc/self/mountinfo"
done_testing
