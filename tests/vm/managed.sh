#!/usr/bin/env bash
# Managed VMs (`isola vm create/start/stop/kill/pause/resume/ls/inspect/
# console/logs/rm`) with the project's test guest: the state a user sees in
# ls/inspect, the control socket's REST API driven by curl, the console
# socket and log, and every bad input the issue lists leaving nothing behind
# (no process, socket, TAP or row).
source "$(dirname "$0")/../lib/tap.sh"

isola=$ISOLA_BUILD/isola
guest=$ISOLA_BUILD/guest/testguest.elf
[ -x "$isola" ] || skip_all "isola not built: $isola"
[ -f "$guest" ] || skip_all "test guest not built: $guest"
[ -c /dev/kvm ] || skip_all "/dev/kvm is missing"
command -v jq >/dev/null || skip_all "jq is missing"
command -v curl >/dev/null || skip_all "curl is missing"

tmp=$(mktemp -d /tmp/isola-m2-vm.XXXXXX)
export ISOLA_ROOT=$tmp/root
tap=m2tap$$
cleanup() {
	for n in $("$isola" vm ls --format json 2>/dev/null | jq -r '.[].name'); do
		"$isola" vm rm -f "$n" >/dev/null 2>&1
	done
	ip link del "$tap" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# The guest prints its test lines, then idles for ten minutes.
idle=(--kernel "$guest" --memory 64 --cmdline 'tests=uart,rtc,sleep sleep_ms=600000')
q() { "$@" >/dev/null 2>&1; }
vmm_procs() { pgrep -f "isola vm _monitor $1" | wc -l; }
field() { "$isola" vm inspect "$1" | jq -r ".[0].$2"; }
wait_log() { # NAME REGEX: the console log shows REGEX within 10 s
	for _ in $(seq 100); do
		"$isola" vm logs "$1" 2>/dev/null | grep -q "$2" && return 0
		sleep 0.1
	done
	return 1
}

# --- create, start, ls, inspect
id=$("$isola" vm create m2-a "${idle[@]}" --cpus 2)
check_match "create prints the id" "$id" '^[0-9a-f]{64}$'
check_eq "ls: created" "$("$isola" vm ls --format json | jq -r '.[] | "\(.name) \(.state) \(.cpus) \(.memory_mib)"')" \
	"m2-a created 2 64"
check "start" q "$isola" vm start m2-a
check_eq "ls: running" "$("$isola" vm ls --format json | jq -r '.[0].state')" running
check "ls table lists it" bash -c "'$isola' vm ls | grep -q '^${id:0:12}  m2-a .* running'"
check_eq "one monitor and one VMM process" "$(vmm_procs "$id")" 2
check "the guest's output reaches the console log" wait_log m2-a "ISOLA-TEST rtc PASS"
sock=$(field m2-a paths.control_socket)
check "inspect names the control socket" test -S "$sock"
check_eq "inspect: the machine config, files by absolute path" \
	"$(field m2-a config.cpus):$(field m2-a config.kernel)" "2:$(realpath "$guest")"
check_match "inspect: live stats from the VMM" "$(field m2-a stats.exit_reason)" running

# --- the control socket, through curl
api() { curl -s --unix-socket "$sock" -w '\n%{http_code}' "$@"; }
out=$(api http://vm/)
check_eq "GET /: state Running" "$(head -1 <<<"$out" | jq -r .state):$(tail -1 <<<"$out")" "Running:200"
check_eq "GET /machine-config: the stored config" \
	"$(api http://vm/machine-config | head -1 | jq -r .memory_mib)" 64
out=$(api -X PUT -d '{"state":"Paused"}' http://vm/vm)
check_eq "PUT /vm Paused: 204" "$(tail -1 <<<"$out")" 204
check_eq "ls: paused" "$("$isola" vm ls --format json | jq -r '.[0].state')" paused
e1=$(api http://vm/stats | head -1 | jq .exits_total)
sleep 0.3
e2=$(api http://vm/stats | head -1 | jq .exits_total)
check_eq "no guest exits while paused" "$e2" "$e1"
check "vm resume" q "$isola" vm resume m2-a
check_eq "ls: running again" "$("$isola" vm ls --format json | jq -r '.[0].state')" running
check "vm pause (CLI)" q "$isola" vm pause m2-a
check_eq "GET /: Paused" "$(api http://vm/ | head -1 | jq -r .state)" Paused
"$isola" vm resume m2-a >/dev/null
check_eq "GET /stats: KVM counters" "$(api http://vm/stats | head -1 | jq -r '.kvm.exits > 0')" true
check_eq "PUT /actions PowerButton: 204" "$(api -X PUT -d '{"action_type":"PowerButton"}' http://vm/actions | tail -1)" 204
out=$(api -X PUT -d '{"action_type":"Explode"}' http://vm/actions)
check_eq "unknown action: 400 with fault_message" \
	"$(tail -1 <<<"$out"):$(head -1 <<<"$out" | jq -r 'has("fault_message")')" "400:true"
check_eq "unknown route: 404" "$(api http://vm/nope | tail -1)" 404
check_eq "wrong method: 405" "$(api -X DELETE http://vm/vm | tail -1)" 405
check_eq "body not JSON: 400" "$(api -X PUT -d 'paused' http://vm/vm | tail -1)" 400
check_eq "oversized body: 413" \
	"$(head -c 70000 /dev/zero | tr '\0' x | api -X PUT --data-binary @- http://vm/vm | tail -1)" 413
raw=$(printf 'GARBAGE\r\n\r\n' | python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read())
print(s.recv(100).decode().split("\r\n")[0])' "$sock")
check_eq "malformed request line: 400" "$raw" "HTTP/1.1 400 Bad Request"
check_eq "the VM survived all of it" "$(api http://vm/ | head -1 | jq -r .state)" Running

# --- console: replay of the log's end, detach with ctrl-]
# (2 s: in the KVM sandbox, emulated, 0.5 s was too short for the replay)
out=$( (sleep 2; printf '\035') | "$isola" vm console m2-a 2>&1)
check_eq "console exits 0 on ctrl-]" "$?" 0
check_match "console shows the guest's output" "$out" "ISOLA-TEST uart PASS"
check_eq "still running after detach" "$("$isola" vm ls --format json | jq -r '.[0].state')" running

# --- bad input: one clear message, nothing left
out=$("$isola" vm create m2-a "${idle[@]}" 2>&1); rc=$?
check_eq "create: name exists -> exit 1" "$rc" 1
check_eq "create: name exists, message" "$out" "isola vm create: a VM named 'm2-a' already exists"
echo "not a kernel" >"$tmp/notkernel"
out=$("$isola" vm create m2-bad --kernel "$tmp/notkernel" 2>&1); rc=$?
check_eq "create: not a kernel -> exit 1" "$rc" 1
check_match "create: not a kernel, message" "$out" "^isola vm create: .*notkernel"
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 + 1024))
out=$("$isola" vm create m2-bad --kernel "$guest" --memory $mem 2>&1); rc=$?
check_eq "create: memory beyond the host -> exit 1" "$rc" 1
check_match "create: memory message" "$out" "^isola vm create: --memory $mem: the host has only [0-9]+ MiB$"
check_eq "no row for failed creates" "$("$isola" vm ls --format json | jq length)" 1
out=$("$isola" vm rm m2-a 2>&1); rc=$?
check_eq "rm running without -f -> exit 1" "$rc:$out" \
	"1:isola vm rm: VM m2-a is running: stop it first or use rm -f"
check_eq "still running after refused rm" "$("$isola" vm ls --format json | jq -r '.[0].state')" running
out=$("$isola" vm start m2-a 2>&1); rc=$?
check_eq "start a running VM -> exit 1" "$rc:$out" "1:isola vm start: VM m2-a is already running"

# --- stop: the test guest ignores the power button, so --time forces it
check "stop -t 1" q "$isola" vm stop -t 1 m2-a
check_eq "stopped, by the VMM's clean stop" \
	"$(field m2-a state):$(field m2-a exit_reason)" "stopped:stopped"
check_eq "no process left" "$(vmm_procs "$id")" 0
check "no sockets left" test ! -e "$sock"
out=$("$isola" vm console m2-a 2>&1); rc=$?
check_eq "console to a stopped VM -> exit 1" "$rc:$out" "1:isola vm console: VM m2-a is not running"
check "logs keep the console output" bash -c "'$isola' vm logs m2-a | grep -q 'ISOLA-TEST uart PASS'"

# --- restart, kill
check "start again" q "$isola" vm start m2-a
check "kill" q "$isola" vm kill m2-a
check_eq "killed" "$(field m2-a state):$(field m2-a exit_reason):$(field m2-a exit_code)" \
	"stopped:killed:137"
check_eq "no process after kill" "$(vmm_procs "$id")" 0

# --- a VMM that cannot start (its TAP name is taken by a non-TAP link):
# the error comes back from start; no process, socket, TAP; the row stays.
"$isola" vm create m2-net "${idle[@]}" --net "tap=$tap" >/dev/null
ip link add "$tap" type bridge
out=$("$isola" vm start m2-net 2>&1); rc=$?
check_eq "start: VMM error -> exit 1" "$rc" 1
check_match "start: the VMM's message" "$out" "^isola vm start: --net tap=$tap: "
nid=$(field m2-net id)
check_eq "start failed: no process" "$(vmm_procs "$nid")" 0
check "start failed: no sockets" test ! -e "$(field m2-net paths.control_socket)"
check_eq "start failed: still created" "$(field m2-net state)" created
ip link del "$tap"
check "with the name free, it starts (TAP created)" q "$isola" vm start m2-net
check "the TAP exists while it runs" q ip link show "$tap"
check "rm -f a running VM" q "$isola" vm rm -f m2-net
check "the TAP is gone with the VMM" bash -c "! ip link show '$tap' 2>/dev/null"
check_eq "rm -f: no process" "$(vmm_procs "$nid")" 0
check_eq "rm -f: no row" "$("$isola" vm ls --format json | jq -r '[.[].name] | join(",")')" m2-a
check "rm a stopped VM" q "$isola" vm rm m2-a
check_eq "rm: no rows" "$("$isola" vm ls --format json | jq length)" 0
left=$(ls -A "$ISOLA_ROOT/vms" "$ISOLA_ROOT/run/vms" | grep -v ':$' | grep -v '^$')
check_eq "rm: no state directories" "$left" ""
out=$("$isola" vm rm m2-a 2>&1); rc=$?
check_eq "rm: unknown VM" "$rc:$out" "1:isola vm rm: no such VM: m2-a"

done_testing
