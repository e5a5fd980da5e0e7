# Set-up shared by the container integration tests (tests/ctr, tests/clients).
# Source after tap.sh.

# ctr_test_init NAME: skips the file unless we are root with busybox-static,
# jq and a built isola-runtime; sets RT, WORK (a fresh /tmp/isola-NAME.XXXXXX),
# STATE (the runtime's --root) and BASE.
ctr_test_init() {
	RT=$ISOLA_BUILD/isola-runtime
	[ "$(id -u)" = 0 ] || skip_all "needs root"
	[ -x /bin/busybox ] || skip_all "busybox-static (/bin/busybox) missing"
	command -v jq >/dev/null || skip_all "jq missing"
	[ -x "$RT" ] || skip_all "$RT not built"
	WORK=$(mktemp -d "/tmp/isola-$1.XXXXXX")
	STATE=$WORK/state
	BASE=$WORK/base
}

# ctr_test_cleanup: force-deletes every container left in STATE and removes
# WORK. Call it from the test's EXIT trap.
ctr_test_cleanup() {
	local id
	for id in $(ls "$STATE" 2>/dev/null); do
		timeout 10 "$RT" --root "$STATE" delete -f "$id" >/dev/null 2>&1
	done
	rm -rf "$WORK"
}

# client_test_init CLIENT: skips the file unless CLIENT (podman, containerd)
# is installed, we are root and the runtime is built; sets RUNTIME (or
# $ISOLA_TEST_RUNTIME, to compare with another runtime) and work (a fresh
# /tmp/isola-CLIENT.XXXXXX).
client_test_init() {
	RUNTIME=${ISOLA_TEST_RUNTIME:-$ISOLA_BUILD/isola-runtime}
	command -v "$1" >/dev/null || skip_all "$1 is not installed (scripts/deps test installs it)"
	[ "$(id -u)" -eq 0 ] || skip_all "$1 tests run as root"
	[ -x "$RUNTIME" ] || skip_all "no runtime at $RUNTIME"
	work=$(mktemp -d "/tmp/isola-$1.XXXXXX")
}

# rt ARGS...: the runtime on the test's state root, bounded by RT_TIMEOUT
# seconds (default 30) so a hang fails the test instead of stalling it.
rt() { timeout "${RT_TIMEOUT:-30}" "$RT" --root "$STATE" "$@"; }
status_of() { rt state "$1" 2>/dev/null | jq -r .status; }
pid_of() { rt state "$1" 2>/dev/null | jq -r .pid; }
wait_stopped() {
	for _ in $(seq 200); do
		[ "$(status_of "$1")" = stopped ] && return 0
		sleep 0.05
	done
	return 1
}

# leaves_nothing ID: no state dir, cgroup directory, mount or process of ID.
leaves_nothing() {
	local id=$1
	[ ! -e "$STATE/$id" ] || { diag "state dir of $id left"; return 1; }
	[ -z "$(find /sys/fs/cgroup -maxdepth 7 -type d -name "$id" 2>/dev/null)" ] ||
		{ diag "cgroup of $id left: $(find /sys/fs/cgroup -maxdepth 7 -type d -name "$id")"; return 1; }
	! grep -q "$WORK" /proc/self/mountinfo || { diag "mount under $WORK left"; return 1; }
	[ -z "$(grep -ls "/$id\$" /proc/[0-9]*/cgroup 2>/dev/null)" ] || { diag "process of $id left"; return 1; }
}
