# Shared set-up for the fn integration tests. Source after tap.sh and
# bundle.sh: an ISOLA_ROOT in a temp dir, a busybox image (stdio handlers), an
# image with a static C HTTP server (http functions), a gateway on a port from
# 18000-18099, and cleanup of everything on exit.
[ "$(id -u)" = 0 ] || skip_all "needs root (mounts, cgroups, namespaces)"
ISOLA=$ISOLA_BUILD/isola
[ -x "$ISOLA" ] && [ -x "$ISOLA_BUILD/isola-fn-shim" ] || skip_all "build first ($ISOLA)"
command -v curl >/dev/null || skip_all "needs curl"
command -v cc >/dev/null || skip_all "needs cc (the test's HTTP server)"

FN_TMP=$(mktemp -d /tmp/isola-fn-test.XXXXXX)
export ISOLA_ROOT=$FN_TMP/root
unset ISOLA_RUNROOT
FN_RUN=$ISOLA_ROOT/run/fn
GW_PID=

fn_leftovers() { # mounts, cgroups and runtime state made by this test's gateways
	grep -c " $FN_TMP" /proc/self/mountinfo
	find /sys/fs/cgroup -maxdepth 2 -name "isola-fn-*-$GW_PID-*" 2>/dev/null | wc -l
}

fn_cleanup() {
	[ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
	[ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
	grep -o " $FN_TMP[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	for d in $(find /sys/fs/cgroup -maxdepth 2 -name 'isola-fn-fnt*' 2>/dev/null); do
		rmdir "$d" 2>/dev/null
	done
	rm -rf "$FN_TMP"
}
trap fn_cleanup EXIT

# the stdio image: busybox
make_busybox_rootfs "$FN_TMP/box"
tar -C "$FN_TMP/box" -cf "$FN_TMP/box.tar" . &&
	"$ISOLA" import "$FN_TMP/box.tar" localhost/fntest-box:latest >/dev/null ||
	skip_all "isola import failed"
# the http image: busybox + /httpd
cc -static -O2 -o "$FN_TMP/box/httpd" "$(dirname "${BASH_SOURCE[0]}")/httpd.c" ||
	skip_all "cc -static failed (libc6-dev static libs?)"
tar -C "$FN_TMP/box" -cf "$FN_TMP/http.tar" . &&
	"$ISOLA" import "$FN_TMP/http.tar" localhost/fntest-http:latest >/dev/null ||
	skip_all "isola import failed"
BOX=localhost/fntest-box:latest
HTTP=localhost/fntest-http:latest

# gw_start PORT: runs `isola fn serve` in the background, events in $FN_TMP/events;
# no prepared shells unless FN_POOL says so (these tests count instances' mounts)
gw_start() {
	GW_PORT=$1
	GW=http://127.0.0.1:$GW_PORT
	"$ISOLA" fn serve --listen "127.0.0.1:$GW_PORT" --pool "${FN_POOL:-0}" >"$FN_TMP/events" 2>&1 &
	GW_PID=$!
	for _ in $(seq 100); do
		curl -sf "$GW/healthz" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

gw_stop() {
	[ -n "$GW_PID" ] || return 0
	kill "$GW_PID" 2>/dev/null
	wait "$GW_PID" 2>/dev/null
	GW_PID=
}

# fn_mounts NAME: mounts of NAME's instances
fn_mounts() { grep -c " $FN_RUN/$1/" /proc/self/mountinfo; }

# expect_match NAME REGEX TEXT
expect_match() { check_match "$1" "$3" "$2"; }
# q CMD...: runs CMD with its stdout discarded (for check)
q() { "$@" >/dev/null; }
