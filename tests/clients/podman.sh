#!/usr/bin/env bash
# podman drives isola-runtime: run, exit codes, resource flags, capabilities,
# a terminal, exec into a running container, stop and rm — as with crun.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/bundle.sh"
source "$(dirname "$0")/../lib/ctr.sh"

client_test_init podman

# Storage lives with the build so the imported image is reused between runs.
store=$ISOLA_BUILD/test-cache/podman
mkdir -p "$store"
# Root lacks CAP_SYS_RESOURCE here (hard nofile 20000): podman's default
# ulimits would fail with any runtime, so pin them. No systemd: cgroupfs.
cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF=$work/containers.conf
P=(podman --root "$store/storage" --runroot "$store/run" --runtime "$RUNTIME")
IMAGE=localhost/isola-busybox:test
cleanup() {
	"${P[@]}" rm -af -t 0 >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

if ! "${P[@]}" image exists "$IMAGE" 2>/dev/null; then
	make_busybox_rootfs "$work/rootfs"
	tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
	"${P[@]}" import "$work/rootfs.tar" "$IMAGE" >/dev/null 2>&1 || {
		echo "Bail out! podman import failed"; exit 1; }
fi
RUN=("${P[@]}" run --rm --network none)

out=$("${RUN[@]}" "$IMAGE" /bin/echo hi 2>&1)
check_eq "podman run --rm IMAGE /bin/echo hi prints hi" "$out" "hi"

"${RUN[@]}" "$IMAGE" /bin/sh -c 'exit 3' >/dev/null 2>&1
check_eq "the container's exit status comes back through podman" "$?" "3"

out=$("${RUN[@]}" --memory 64m "$IMAGE" cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>&1 ||
	"${RUN[@]}" --memory 64m "$IMAGE" cat /sys/fs/cgroup/memory.max 2>&1)
check_eq "--memory 64m is the container's memory limit" "$out" "67108864"

out=$("${RUN[@]}" --pids-limit 20 "$IMAGE" cat /sys/fs/cgroup/pids/pids.max 2>&1 ||
	"${RUN[@]}" --pids-limit 20 "$IMAGE" cat /sys/fs/cgroup/pids.max 2>&1)
check_eq "--pids-limit 20 is the container's pids limit" "$out" "20"

out=$("${RUN[@]}" --pids-limit 20 "$IMAGE" sh -c 'sh -c "for i in \$(seq 40); do sleep 30 & done" 2>/dev/null; cat /sys/fs/cgroup/pids/pids.current' 2>&1)
check "a fork loop stops at the pids limit (pids.current=$out)" test "${out:-99}" -le 20 -a "${out:-0}" -ge 15

out=$("${RUN[@]}" --cap-drop CAP_CHOWN "$IMAGE" sh -c 'chown 1 /tmp 2>&1; echo rc=$?' 2>&1)
check_match "--cap-drop CAP_CHOWN: chown is refused" "$out" "Operation not permitted"
out=$("${RUN[@]}" "$IMAGE" sh -c 'chown 1 /tmp && echo chowned' 2>&1)
check_eq "without --cap-drop, chown works" "$out" "chowned"

out=$("${RUN[@]}" -t "$IMAGE" tty </dev/null 2>&1 | tr -d '\r')
check_match "-t gives the container a terminal" "$out" "^/dev/pts/[0-9]+$"

name=isola-podman-exec-$$
"${P[@]}" run -d --name "$name" --network none "$IMAGE" sleep 300 >/dev/null 2>&1
check "podman run -d starts a container" "${P[@]}" container exists "$name"
out=$("${P[@]}" exec "$name" sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; hostname' 2>&1)
check_match "podman exec runs beside PID 1 in the same namespaces" "$out" "^sleep 300 "
status=$("${P[@]}" inspect -f '{{.State.Status}}' "$name" 2>&1)
check_eq "podman sees the container running" "$status" "running"
"${P[@]}" stop -t 1 "$name" >/dev/null 2>&1
status=$("${P[@]}" inspect -f '{{.State.Status}}' "$name" 2>&1)
check_eq "podman stop stops it" "$status" "exited"
"${P[@]}" rm "$name" >/dev/null 2>&1
check "podman rm removes it" bash -c "! ${P[*]} container exists $name"

leftover=$(find /sys/fs/cgroup -maxdepth 3 -type d -name "*libpod*" 2>/dev/null | while read -r d; do
	[ -z "$(cat "$d/cgroup.procs" 2>/dev/null)" ] || echo "$d"; done)
check_eq "no process is left in a container cgroup" "$leftover" ""
done_testing
