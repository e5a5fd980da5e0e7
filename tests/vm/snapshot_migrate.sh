#!/usr/bin/env bash
# Live migration of a managed VM between two network namespaces on one host
# (each side its own isola root, as two hosts would have): the test guest's
# counter goes on with no line lost or repeated, the source stops only once
# the destination runs; a refused or broken migration leaves the source
# running, and a source killed mid-way leaves nothing on the destination.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib/pace.sh"

isola=$ISOLA_BUILD/isola
guest=$ISOLA_BUILD/guest/testguest.elf
[ -e /dev/kvm ] || skip_all "/dev/kvm is missing"
[ -x "$isola" ] || skip_all "isola not built: $isola"
[ -f "$guest" ] || skip_all "test guest not built: $guest"
[ "$(id -u)" = 0 ] || skip_all "needs root for network namespaces"

tmp=$(mktemp -d /tmp/s2-migrate.XXXXXX)
nsa=s2-mig-a$$
nsb=s2-mig-b$$
src_root=$tmp/a
dst_root=$tmp/b
port=27011
cleanup() {
	for r in "$src_root" "$dst_root"; do
		for v in s2-mig s2-mig2 s2-wait s2-dmig; do ISOLA_ROOT=$r "$isola" vm rm -f "$v" >/dev/null 2>&1; done
	done
	[ -n "${recv:-}" ] && kill_tree "$recv" TERM
	[ -n "${hold:-}" ] && kill_tree "$hold" TERM
	ip netns del "$nsa" 2>/dev/null
	ip netns del "$nsb" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' TERM INT

ip netns add "$nsa" && ip netns add "$nsb" || skip_all "cannot make network namespaces"
ip link add s2ma$$ netns "$nsa" type veth peer name s2mb$$ netns "$nsb"
ip -n "$nsa" addr add 10.227.0.1/24 dev s2ma$$
ip -n "$nsb" addr add 10.227.0.2/24 dev s2mb$$
for n in "$nsa" "$nsb"; do ip -n "$n" link set lo up; done
ip -n "$nsa" link set s2ma$$ up
ip -n "$nsb" link set s2mb$$ up

A() { ISOLA_ROOT=$src_root ip netns exec "$nsa" "$isola" vm "$@"; }
B() { ISOLA_ROOT=$dst_root ip netns exec "$nsb" "$isola" vm "$@"; }
field() { python3 -c "import json,sys; o=json.load(sys.stdin); o=o[0] if isinstance(o,list) else o; print(o$1)"; }
count_last() { grep -aoE 'ISOLA-COUNT [0-9]+' "$1" | tail -1 | awk '{print $2}'; }
# counts_past LOG N: the guest's counter goes past N within 10 s (a paused or
# dead source never does; a loaded host may take a while to log the next line)
past() { [ "$(count_last "$1")" -gt "$2" ]; }
counts_past() { until_s 10 past "$1" "$2"; }
# listening NS PORT: something listens on PORT in namespace NS.
listening() { ip netns exec "$1" ss -ltn 2>/dev/null | grep -q ":$2 "; }
a_state() { A inspect "$1" | jget state; }
a_stopped() { [ "$(a_state "$1")" = stopped ]; }
# receive_bg NAME: the destination listens in its namespace
receive_bg() {
	B receive "$1" --listen 10.227.0.2:$port >"$tmp/recv.out" 2>&1 &
	recv=$!
	until_s 5 listening "$nsb" $port
}

A create s2-mig --kernel "$guest" --memory 256 --cmdline "tests=count count_ms=$(cms 10)" >/dev/null
A start s2-mig >/dev/null
src_log=$(A inspect s2-mig | jget console_log)
check "the source VM counts" wait_lines "$src_log" 20

# --- nobody listening: refused, the source goes on ---
out=$(A migrate s2-mig --to 10.227.0.2:$port 2>&1)
check_match "migration to a closed port fails" "$out" "10.227.0.2:$port.*Connection refused"
n=$(count_last "$src_log")
sleep 0.3
check_eq "the source is still running" "$(A inspect s2-mig | jget state)" "running"
check "and still counting" counts_past "$src_log" "$n"

# --- the destination cannot take it (a VM of that name exists there): source goes on ---
B create s2-mig --kernel "$guest" --memory 16 --cmdline "tests=" >/dev/null
receive_bg s2-mig
out=$(A migrate s2-mig --to 10.227.0.2:$port 2>&1)
reap "$recv"
check_match "a destination that fails is reported" "$out" "migration"
check_match "the receiver says why" "$(cat "$tmp/recv.out")" "s2-mig"
n=$(count_last "$src_log")
sleep 0.3
check "the source keeps counting after the failed migration" counts_past "$src_log" "$n"
B rm -f s2-mig >/dev/null

# --- the destination dies mid-stream (after the config and some memory) ---
ip netns exec "$nsb" python3 - "$port" >"$tmp/fake.out" 2>&1 <<'EOF' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.227.0.2", int(sys.argv[1])))
s.listen(1)
s.settimeout(30)
c, _ = s.accept()
got = 0
while got < 100000:
    b = c.recv(65536)
    if not b:
        break
    got += len(b)
print(got)
c.close()  # as a killed receiver's kernel would
EOF
fake=$!
until_s 10 listening "$nsb" $port
out=$(A migrate s2-mig --to 10.227.0.2:$port 2>&1)
reap "$fake"
check_match "a destination gone mid-stream fails the migration" "$out" "migration"
n=$(count_last "$src_log")
sleep 0.3
check_eq "the source is running after the broken stream" "$(A inspect s2-mig | jget state)" "running"
check "and counting" counts_past "$src_log" "$n"

# --- live migration: the counter goes on on the other side ---
receive_bg s2-mig
out=$(A migrate s2-mig --to 10.227.0.2:$port --downtime-ms 300 2>&1)
reap "$recv"
check_match "migrate reports rounds, bytes and downtime" "$out" \
	"^s2-mig: [0-9]+ rounds, [0-9.]+ MiB, downtime [0-9.]+ ms \(estimated [0-9.]+ ms\), total [0-9]+ ms$"
diag "$out"
check_eq "the receiver names the VM" "$(cat "$tmp/recv.out")" "s2-mig"
check_eq "the destination VM runs" "$(B inspect s2-mig | jget state)" "running"
until_s 5 a_stopped s2-mig
check_eq "the source VM stopped" "$(A inspect s2-mig | jget state)" "stopped"
dst_log=$(B inspect s2-mig | jget console_log)
check "the destination keeps counting" wait_lines "$dst_log" 30
cat "$src_log" "$dst_log" >"$tmp/joined.log"
res=$(consecutive "$tmp/joined.log")
check "source log + destination log: one unbroken counter ($res)" \
	bash -c "[[ '$res' == *'gaps []' ]]"

# --- and back, on a terminal: progress (round, MiB sent, dirty rate,
# estimated downtime), then the summary; the counter still goes on ---
B2A() { # stdout a pseudo-terminal (script(1))
	script -qec "ISOLA_ROOT=$dst_root ip netns exec $nsb $isola vm migrate s2-mig --to 10.227.0.1:$((port + 1))" /dev/null
}
ISOLA_ROOT=$src_root ip netns exec "$nsa" "$isola" vm receive s2-mig2 --listen 10.227.0.1:$((port + 1)) >"$tmp/recv2.out" 2>&1 &
recv=$!
until_s 5 listening "$nsa" $((port + 1))
out=$(B2A 2>&1 | tr '\r' '\n')
reap "$recv"
check_match "on a terminal: a progress line" "$out" \
	"s2-mig: (precopy|stop-and-copy) round [0-9]+, [0-9.]+ MiB sent, dirty [0-9.]+ MiB/s, est\. downtime [0-9.]+ ms"
check_match "... and the summary line" "$out" "s2-mig: [0-9]+ rounds, [0-9.]+ MiB, downtime [0-9.]+ ms"
diag "$(grep -a 'rounds' <<<"$out")"
back_log=$(A inspect s2-mig2 | jget console_log)
check "the VM migrated back keeps counting" wait_lines "$back_log" 20
cat "$src_log" "$dst_log" "$back_log" >"$tmp/joined.log"
res=$(consecutive "$tmp/joined.log")
check "source + destination + back: one unbroken counter ($res)" \
	bash -c "[[ '$res' == *'gaps []' ]]"

# --- the source dies mid-stream: the receiver leaves no VM behind ---
receive_bg s2-back
ip netns exec "$nsa" python3 "$ISOLA_SRC/tests/vm/lib/cut_migration.py" 10.227.0.2 "$port" "$guest"
reap "$recv"
check_match "the receiver reports the cut stream" "$(cat "$tmp/recv.out")" "closed the connection early"
check "the receiver of a cut stream leaves no VM" \
	bash -c "! ISOLA_ROOT=$dst_root '$isola' vm inspect s2-back >/dev/null 2>&1" ||
	diag_fail "receiver: $(cat "$tmp/recv.out"); VM: $(B inspect s2-back 2>&1 | head -c 600)"
check_eq "nor a half-received snapshot" "$(ls "$dst_root"/vms/*/snapshots 2>/dev/null | grep -c "migrated.tmp")" "0"

# --- the destination's VMM starts while memory still comes and waits for the
# state; it tells the source so ('W': the source pauses the guest only then).
# A receiver killed meanwhile takes that VMM along. ---
receive_bg s2-wait
ip netns exec "$nsa" python3 "$ISOLA_SRC/tests/vm/lib/cut_migration.py" --hold 10.227.0.2 "$port" \
	"$guest" >"$tmp/hold.out" 2>&1 &
hold=$!
until_s 30 has_line "$tmp/hold.out" .
check_eq "the receiver tells the source once the VM's VMM is up" "$(head -1 "$tmp/hold.out")" "W"
vmm=$(B inspect s2-wait | jget vmm_pid)
check "the destination's VMM waits for the state" kill -0 "$vmm"
out=$(B snapshot create s2-wait early 2>&1)
check_match "a snapshot of a VM still being received is refused" "$out" "still being received" ||
	diag_fail "s2-wait: $(B inspect s2-wait 2>&1 | field '["state"], o.get("exit_reason"), o["vmm_pid"]' 2>&1)"
pkill -9 -f "vm receive s2-wait --listen"
reap "$recv"
gone() { until_s 10 is_gone "$1"; }
check "a receiver killed meanwhile takes the waiting VMM along" gone "$vmm"
kill_tree "$hold" TERM
reap "$hold"
B rm -f s2-wait >/dev/null 2>&1

# --- a VM with a qcow2 disk (shared storage: the same path on both sides);
# the destination opened it before the source flushed it, and reopens it
# with the state: the guest's disk test runs there after the migration ---
"$isola" disk create -f qcow2 "$tmp/m.qcow2" 4M >/dev/null
A create s2-dmig --kernel "$guest" --memory 64 --disk "$tmp/m.qcow2,bus=virtio" \
	--cmdline "tests=count,vblk count_n=$(pace 60) count_ms=50" >/dev/null
A start s2-dmig >/dev/null
dsrc=$(A inspect s2-dmig | jget console_log)
wait_lines "$dsrc" 5
receive_bg s2-dmig
out=$(A migrate s2-dmig --to 10.227.0.2:$port 2>&1)
reap "$recv"
check_match "the VM with a qcow2 disk migrates" "$out" "s2-dmig: [0-9]+ rounds"
ddst=$(B inspect s2-dmig 2>/dev/null | jget console_log)
vblk_done() { until_s 10 has_line "$ddst" "ISOLA-TEST vblk"; }
vblk_done
check_match "on the destination the guest writes and reads its disk" \
	"$(grep -a 'ISOLA-TEST vblk' "$ddst" 2>/dev/null)" "ISOLA-TEST vblk PASS"
check "qemu-img check accepts the disk after the migration" qemu-img check -q "$tmp/m.qcow2"

done_testing
