#!/usr/bin/env bash
# containerd's runc shim drives isola-runtime: `ctr run` runs a container to
# completion and returns its exit code; a detached task can be listed, exec'd,
# paused, resumed and killed.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/bundle.sh"
source "$(dirname "$0")/../lib/ctr.sh"

client_test_init containerd
sock=$work/containerd.sock
cat >"$work/config.toml" <<CONF
version = 2
root = "$work/root"
state = "$work/state"
[grpc]
  address = "$sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_cgroup = true
CONF
containerd --config "$work/config.toml" >"$work/containerd.log" 2>&1 &
cd_pid=$!
cleanup() {
	ctr --address "$sock" task kill -s KILL isola-ctr-bg >/dev/null 2>&1
	ctr --address "$sock" task delete isola-ctr-bg >/dev/null 2>&1
	ctr --address "$sock" container delete isola-ctr-bg >/dev/null 2>&1
	kill "$cd_pid" 2>/dev/null
	wait "$cd_pid" 2>/dev/null
	umount -R "$work"/state/* 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "Bail out! containerd did not start"; cat "$work/containerd.log"; exit 1; }

make_busybox_rootfs "$work/rootfs"
CTR=(ctr --address "$sock")

out=$("${CTR[@]}" run --rm --runc-binary "$RUNTIME" --rootfs "$work/rootfs" isola-ctr-1 \
	/bin/sh -c 'echo hi-from-ctr; exit 7' 2>&1)
rc=$?
check_eq "ctr run prints the container's output" "$out" "hi-from-ctr"
check_eq "ctr run returns the container's exit code" "$rc" "7"

"${CTR[@]}" run -d --runc-binary "$RUNTIME" --rootfs "$work/rootfs" isola-ctr-bg \
	/bin/sleep 300 >/dev/null 2>&1
status=$("${CTR[@]}" task ls 2>&1 | awk '$1 == "isola-ctr-bg" {print $3}')
check_eq "a detached task is RUNNING" "$status" "RUNNING"
out=$("${CTR[@]}" task exec --exec-id e1 isola-ctr-bg /bin/sh -c 'cat /proc/1/cmdline | tr "\0" " "' 2>&1)
check_eq "ctr task exec runs inside the container" "$out" "/bin/sleep 300 "
"${CTR[@]}" task pause isola-ctr-bg >/dev/null 2>&1
status=$("${CTR[@]}" task ls 2>&1 | awk '$1 == "isola-ctr-bg" {print $3}')
check_eq "ctr task pause freezes it" "$status" "PAUSED"
"${CTR[@]}" task resume isola-ctr-bg >/dev/null 2>&1
status=$("${CTR[@]}" task ls 2>&1 | awk '$1 == "isola-ctr-bg" {print $3}')
check_eq "ctr task resume thaws it" "$status" "RUNNING"
pids=$("${CTR[@]}" task ps isola-ctr-bg 2>&1 | awk 'NR > 1 {print $1}' | wc -l)
check "ctr task ps lists its processes" test "$pids" -ge 1
"${CTR[@]}" task kill -s KILL isola-ctr-bg >/dev/null 2>&1
for _ in $(seq 50); do
	status=$("${CTR[@]}" task ls 2>&1 | awk '$1 == "isola-ctr-bg" {print $3}')
	[ "$status" = STOPPED ] && break
	sleep 0.1
done
check_eq "ctr task kill stops it" "$status" "STOPPED"
"${CTR[@]}" task delete isola-ctr-bg >/dev/null 2>&1
check_eq "ctr task delete removes it" "$("${CTR[@]}" task ls -q 2>&1)" ""
done_testing
