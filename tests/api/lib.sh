# Shared set-up for the api tests: an ISOLA_ROOT in a temp dir with a
# busybox image, `isola serve` on a unique socket; cleanup on exit.
[ "$(id -u)" = 0 ] || skip_all "needs root (mounts, cgroups, namespaces)"
ISOLA=$ISOLA_BUILD/isola
[ -x "$ISOLA" ] || skip_all "build first ($ISOLA)"
API_TMP=$(mktemp -d /tmp/isola-api-test.XXXXXX)
export ISOLA_ROOT=$API_TMP/root
unset ISOLA_RUNROOT
SOCK=$API_TMP/isola.sock
SERVE_PID=

api_cleanup() {
	local id
	if [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null; then
		# a sanitizer build may linger in its exit-time leak check
		for _ in $(seq 50); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
	fi
	[ -n "${REGISTRY_PID:-}" ] && kill "$REGISTRY_PID" 2>/dev/null && wait "$REGISTRY_PID" 2>/dev/null
	for id in $("$ISOLA" ps -aq 2>/dev/null); do
		"$ISOLA" rm -f "$id" >/dev/null 2>&1
	done
	"$ISOLA" volume prune >/dev/null 2>&1
	grep -o " $API_TMP[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$API_TMP"
}
trap api_cleanup EXIT

make_busybox_rootfs "$API_TMP/rootfs"
IMG=localhost/apitest-busybox:latest
tar -C "$API_TMP/rootfs" -cf "$API_TMP/rootfs.tar" . &&
	"$ISOLA" import "$API_TMP/rootfs.tar" "$IMG" >/dev/null || skip_all "isola import failed"

# start_serve [ARGS...]: the server on $SOCK, waiting until it answers.
start_serve() {
	"$ISOLA" serve --socket "$SOCK" "$@" >"$API_TMP/serve.log" 2>&1 &
	SERVE_PID=$!
	for _ in $(seq 50); do
		curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# api METHOD PATH [curl args]: prints "STATUS BODY"
api() {
	local m=$1 p=$2
	shift 2
	curl -s --max-time 30 --unix-socket "$SOCK" -X "$m" -w '\n%{http_code}' "$@" "http://d$p" |
		{ body=$(cat); echo "${body##*$'\n'} ${body%$'\n'*}"; }
}

# docker_setup: the docker client (Debian's docker.io) against a fresh
# `isola serve`: skips the test without either; defines D and dk (each call
# killed after 60 s, so a hang fails instead of stopping the suite).
docker_setup() {
	D=/usr/bin/docker
	[ -x "$D" ] || skip_all "no docker client (apt-get install docker.io)"
	start_serve || { cat "$API_TMP/serve.log"; skip_all "isola serve did not start"; }
	export DOCKER_HOST=unix://$SOCK DOCKER_CONFIG=$API_TMP/docker-config
}
dk() { timeout -s KILL 60 "$D" "$@"; }
