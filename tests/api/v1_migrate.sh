#!/usr/bin/env bash
# Live migration through `isola serve` (POST /isola/v1/vms/{name}/migrate
# and /receive), driven by curl: two isola roots, each with its own serve on
# a Unix socket, the test guest's counter going on from one to the other
# over loopback; the bad requests answer a clear JSON error and leave
# nothing behind (no listener, no VM row, no half-received snapshot).
# A VM test (suite vm): where the host has no /dev/kvm it runs in the KVM
# sandbox, its waits bounded by wall-clock time and paced there.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../vm/lib/pace.sh"

ISOLA=$ISOLA_BUILD/isola
GUEST=$ISOLA_BUILD/guest/testguest.elf
[ "$(id -u)" = 0 ] || skip_all "needs root (the VM manager's cgroups)"
[ -x "$ISOLA" ] || skip_all "build first ($ISOLA)"
[ -f "$GUEST" ] || skip_all "test guest not built: $GUEST"
[ -c /dev/kvm ] || skip_all "/dev/kvm is missing"
command -v jq >/dev/null || skip_all "needs jq"

T=$(mktemp -d /tmp/s4-mig-api.XXXXXX)
PORT=39211 # 39211-39215: this test's range
SERVES=()
cleanup() {
	for r in a b; do
		for v in s4-mig s4-back s4-idle s4-cut s4-taken; do
			ISOLA_ROOT=$T/$r "$ISOLA" vm rm -f "$v" >/dev/null 2>&1
		done
	done
	for p in "${SERVES[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	# a receiver the test left listening (it gives up by itself after timeout_s)
	for p in $(seq $PORT $((PORT + 4))); do
		fuser -k -n tcp "$p" >/dev/null 2>&1
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' TERM INT

# serve_on ROOT: `isola serve` for that root on $T/ROOT.sock
serve_on() {
	mkdir -p "$T/$1"
	ISOLA_ROOT=$T/$1 "$ISOLA" serve --socket "$T/$1.sock" >"$T/serve-$1.log" 2>&1 &
	SERVES+=($!)
	until_s 10 curl -sf --unix-socket "$T/$1.sock" http://d/_ping -o /dev/null
}
# A|B METHOD PATH [curl args]: "STATUS BODY" from that side's serve
call() {
	local s=$1 m=$2 p=$3
	shift 3
	curl -s --max-time 120 --unix-socket "$T/$s.sock" -X "$m" -w '\n%{http_code}' "$@" \
		"http://d/isola/v1$p" | { body=$(cat); echo "${body##*$'\n'} ${body%$'\n'*}"; }
}
A() { call a "$@"; }
B() { call b "$@"; }
state() { "$1" GET "/vms/$2" | sed 's/^200 //' | jq -r .state 2>/dev/null; }
log_of() { "$1" GET "/vms/$2" | sed 's/^200 //' | jq -r .paths.console_log; }
count_last() { grep -aoE 'ISOLA-COUNT [0-9]+' "$1" 2>/dev/null | tail -1 | awk '{print $2}'; }
past() { [ "$(count_last "$1")" -gt "$2" ] 2>/dev/null; }
# counts_past LOG N: the counter in LOG goes past N within 10 s (paced)
counts_past() { until_s 10 past "$1" "$2"; }
listening() { ss -ltn 2>/dev/null | grep -q "127.0.0.1:$1 "; }
not_listening() { ! listening "$1"; }
no_vm() { [[ "$(B GET "/vms/$1")" == 404* ]]; }
consecutive() {
	python3 - "$@" <<'EOF'
import re, sys
# the logs joined: a line may be cut where the guest paused mid-line
text = b"".join(open(f, "rb").read() for f in sys.argv[1:])
n = [int(x) for x in re.findall(rb"ISOLA-COUNT (\d+)\n", text)]
bad = [(a, b) for a, b in zip(n, n[1:]) if b != a + 1]
print(f"{len(n)} lines, {n[0] if n else None}..{n[-1] if n else None}, gaps {bad[:3]}")
EOF
}

serve_on a && serve_on b || skip_all "isola serve did not start"
[ "$(A GET /vms | cut -c1-3)" = 200 ] || skip_all "this isola has no VM manager"

CFG="{\"kernel\": \"$GUEST\", \"memory_mib\": 64, \"cmdline\": \"tests=count count_ms=10\"}"
check_match "source VM created" "$(A POST /vms -d "{\"name\": \"s4-mig\", \"config\": $CFG}")" '^201 '
check_eq "... and started" "$(A POST /vms/s4-mig/start)" "204 "
SRC_LOG=$(log_of A s4-mig)
check "the source VM counts" counts_past "$SRC_LOG" 10

# --- bad requests: 4xx with a message, the source runs on ---
check_match "migrate: a body that is not JSON 400" "$(A POST /vms/s4-mig/migrate -d '{bad')" \
	'^400 \{"message":"invalid JSON'
check_match "migrate: no destination 400" "$(A POST /vms/s4-mig/migrate -d '{}')" \
	'^400 \{"message":"to: want a string"\}'
check_match "migrate: a destination without a port 400" \
	"$(A POST /vms/s4-mig/migrate -d '{"to": "127.0.0.1"}')" "^400 .*want ADDR:PORT"
check_match "migrate: downtime_ms out of range 400" \
	"$(A POST /vms/s4-mig/migrate -d "{\"to\": \"127.0.0.1:$PORT\", \"downtime_ms\": 0}")" \
	'^400 .*downtime_ms: want an integer from 1 to 60000'
check_match "migrate: one TLS file without the others 400" \
	"$(A POST /vms/s4-mig/migrate -d "{\"to\": \"127.0.0.1:$PORT\", \"tls_cert\": \"$GUEST\"}")" \
	'^400 .*TLS needs all of tls_cert, tls_key and tls_ca'
check_match "migrate: TLS files by relative path 400" \
	"$(A POST /vms/s4-mig/migrate -d "{\"to\": \"127.0.0.1:$PORT\", \"tls_cert\": \"c\", \"tls_key\": \"k\", \"tls_ca\": \"a\"}")" \
	"^400 .*tls_cert 'c': want a readable file's absolute path"
check_match "migrate: tls_name without the TLS files 400" \
	"$(A POST /vms/s4-mig/migrate -d "{\"to\": \"127.0.0.1:$PORT\", \"tls_name\": \"h.example\"}")" \
	'^400 .*tls_name needs TLS'
check_match "migrate: a tls_name with a space 400" \
	"$(A POST /vms/s4-mig/migrate -d "{\"to\": \"127.0.0.1:$PORT\", \"tls_cert\": \"$GUEST\", \"tls_key\": \"$GUEST\", \"tls_ca\": \"$GUEST\", \"tls_name\": \"a b\"}")" \
	"^400 .*tls_name: 'a b': want a host name or IP address"
check_match "migrate: an unknown VM 404" \
	"$(A POST /vms/s4-nosuch/migrate -d "{\"to\": \"127.0.0.1:$PORT\"}")" '^404 .*s4-nosuch'
A POST /vms -d "{\"name\": \"s4-idle\", \"config\": $CFG}" >/dev/null
check_match "migrate: a VM that is not running 409" \
	"$(A POST /vms/s4-idle/migrate -d "{\"to\": \"127.0.0.1:$PORT\"}")" '^409 .*s4-idle'
out=$(A POST /vms/s4-mig/migrate -d "{\"to\": \"127.0.0.1:$PORT\"}")
check_match "migrate: nobody listening 502, naming the peer" "$out" \
	"^502 \\{\"message\":\".*127.0.0.1:$PORT.*Connection refused"
n=$(count_last "$SRC_LOG")
check_eq "... the source still runs" "$(state A s4-mig)" "running"
check "... and counts" counts_past "$SRC_LOG" "$n"
check_match "... and the destination has no such VM" "$(B GET /vms/s4-mig)" '^404 '

check_match "receive: no listen address 400" "$(B POST /vms/s4-mig/receive -d '{}')" \
	'^400 \{"message":"listen: want a string"\}'
check_match "receive: an address without a port 400" \
	"$(B POST /vms/s4-mig/receive -d '{"listen": "127.0.0.1"}')" '^400 .*want ADDR:PORT'
check_match "receive: an address that does not resolve 400" \
	"$(B POST /vms/s4-mig/receive -d '{"listen": "no.such.host.invalid:1"}')" '^400 '
check_match "receive: a bad VM name 400" \
	"$(B POST /vms/-s4/receive -d "{\"listen\": \"127.0.0.1:$PORT\"}")" "^400 .*VM name '-s4'"
check_match "receive: timeout_s not a number 400" \
	"$(B POST /vms/s4-mig/receive -d "{\"listen\": \"127.0.0.1:$PORT\", \"timeout_s\": \"1\"}")" \
	'^400 .*timeout_s: want an integer'
check_match "receive: a tls_name (the receiver checks the source against its CA only) 400" \
	"$(B POST /vms/s4-mig/receive -d "{\"listen\": \"127.0.0.1:$PORT\", \"tls_name\": \"h.example\"}")" \
	'^400 .*tls_name: only for migrate'
B POST /vms -d "{\"name\": \"s4-taken\", \"config\": $CFG}" >/dev/null
check_match "receive: a VM of that name exists here 409" \
	"$(B POST /vms/s4-taken/receive -d "{\"listen\": \"127.0.0.1:$PORT\"}")" "^409 .*s4-taken"
check "... and nothing listens" bash -c "! ss -ltn | grep -q '127.0.0.1:$PORT '"

# A receiver nobody connects to gives up after timeout_s (1 s, paced: the
# checks between must see it listen); its port is free.
check_match "receive with timeout_s $(pace 1): 202, listening" \
	"$(B POST /vms/s4-mig/receive -d "{\"listen\": \"127.0.0.1:$PORT\", \"timeout_s\": $(pace 1)}")" \
	"^202 \\{.*\"listen\":\"127.0.0.1:$PORT\""
check "... the port listens" listening $PORT
check_match "... a second receiver on the same port 409" \
	"$(B POST /vms/s4-mig2/receive -d "{\"listen\": \"127.0.0.1:$PORT\"}")" '^409 .*Address already in use'
until_s 5 not_listening $PORT # 5 s past timeout_s (paced)
check "... and after the timeout nothing listens" bash -c "! ss -ltn | grep -q '127.0.0.1:$PORT '"

# A source that dies mid-stream: the receiver leaves no VM and no files.
check_match "receive for a stream that will break: 202" \
	"$(B POST /vms/s4-cut/receive -d "{\"listen\": \"127.0.0.1:$((PORT + 1))\"}")" '^202 '
python3 "$ISOLA_SRC/tests/vm/lib/cut_migration.py" 127.0.0.1 "$((PORT + 1))" "$GUEST"
# the receiver removes what it made once the VMM it had started is gone
until_s 10 no_vm s4-cut
check_match "... no VM row is left" "$(B GET /vms/s4-cut)" '^404 '
check_eq "... nor a half-received snapshot" \
	"$(find "$T/b" -name 'migrated*' 2>/dev/null | wc -l)" "0"

# --- the live migration: receive (202) then migrate (200) ---
out=$(B POST /vms/s4-mig/receive -d "{\"listen\": \"127.0.0.1:$((PORT + 2))\"}")
check_match "receive: 202 once listening" "$out" \
	"^202 \\{\"name\":\"s4-mig\",\"listen\":\"127.0.0.1:$((PORT + 2))\",\"timeout_s\":300,\"tls\":false\\}"
out=$(A POST /vms/s4-mig/migrate -d "{\"to\": \"127.0.0.1:$((PORT + 2))\", \"downtime_ms\": 300}")
check_match "migrate: 200 with rounds, bytes and downtime" "$out" \
	'^200 \{.*"rounds":[0-9]+,"bytes_sent":[0-9]+,"total_ms":[0-9.]+,"downtime_ms":[0-9.]+.*"name":"s4-mig","to":"127.0.0.1:'
diag "$out"
check_eq "the destination VM runs" "$(state B s4-mig)" "running"
check_eq "the source VM stopped" "$(state A s4-mig)" "stopped"
DST_LOG=$(log_of B s4-mig)
check "the destination keeps counting" counts_past "$DST_LOG" "$(($(count_last "$DST_LOG") + 20))"
n=$(count_last "$SRC_LOG")
sleep 0.5
check_eq "the source's counter stands still" "$(count_last "$SRC_LOG")" "$n"
res=$(consecutive "$SRC_LOG" "$DST_LOG")
check "source log + destination log: one unbroken counter ($res)" \
	bash -c "[[ '$res' == *'gaps []' ]]"
check_eq "the port is closed after the migration" "$(listening $((PORT + 2)) && echo open)" ""

# --- and back, under a new name (the stopped s4-mig is still on A) ---
check_match "receive back on the source's serve: 202" \
	"$(A POST /vms/s4-back/receive -d "{\"listen\": \"127.0.0.1:$((PORT + 3))\"}")" '^202 '
check_match "migrate back: 200" \
	"$(B POST /vms/s4-mig/migrate -d "{\"to\": \"127.0.0.1:$((PORT + 3))\"}")" '^200 '
BACK_LOG=$(log_of A s4-back)
check "the VM migrated back counts" counts_past "$BACK_LOG" "$(($(count_last "$BACK_LOG") + 20))"
res=$(consecutive "$SRC_LOG" "$DST_LOG" "$BACK_LOG")
check "there and back: one unbroken counter ($res)" bash -c "[[ '$res' == *'gaps []' ]]"
check_eq "the VMs left running: s4-back on A only" \
	"$(A GET /vms | sed 's/^200 //' | jq -c '[.[] | select(.state == "running") | .name]') $(B GET /vms | sed 's/^200 //' | jq -c '[.[] | select(.state == "running") | .name]')" \
	'["s4-back"] []'
done_testing
