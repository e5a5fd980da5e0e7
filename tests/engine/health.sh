#!/bin/bash
# Healthchecks run by the engine (the container's monitor schedules them):
# --health-* flags, the image's HEALTHCHECK and --no-healthcheck, Docker's
# rules (retries, timeout as a failure, start period), what ps and inspect
# show, `isola healthcheck run` (podman's verb, compared with podman where
# it runs here), bad flags, and no check process left once the container
# stops.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bundle.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

is() { timeout 60 "$ISOLA" "$@"; }
run_d() { is run -d --network none "$@"; }
health() { is inspect "$1" | jq -r '.[0].State.Health.Status // "none"'; }
hjson() { is inspect "$1" | jq -c "${2:-.}" 2>/dev/null; }
# wait_health NAME STATUS [SECONDS]: polls inspect until the status shows
wait_health() {
	local i
	for i in $(seq $((${3:-20} * 5))); do
		[ "$(health "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	diag "$1: health $(health "$1"), wanted $2: $(hjson "$1" '.[0].State.Health')"
	return 1
}
# no_proc PATTERN: no process's command line matches (pgrep skips itself)
no_proc() { ! pgrep -f "$1" >/dev/null; }
SLEEPER=(sh -c 'trap "exit 0" TERM; while :; do sleep 1; done')

# a passing check: starting, then healthy; ps and inspect in Docker's shape
run_d --name h2-ok --health-cmd 'echo fine' --health-interval 1s "${IMG[@]}" "${SLEEPER[@]}" >/dev/null
check "passing check: healthy" wait_health h2-ok healthy
check_match "ps: Up ... (healthy)" "$(is ps | grep h2-ok)" 'Up .* \(healthy\)'
check_match "ps --format json Status" "$(is ps --format json | jq -r '.[] | select(.Names[0]=="h2-ok") | .Status')" '^Up .* \(healthy\)$'
log=$(hjson h2-ok '.[0].State.Health.Log[-1]')
check_eq "inspect: log entry exit code and output" "$(jq -r '"\(.ExitCode) \(.Output)"' <<<"$log")" "0 fine"
check_match "inspect: log Start/End as RFC 3339" "$(jq -r '.Start + " " + .End' <<<"$log")" '^[0-9-]{10}T[0-9:.]+Z [0-9-]{10}T[0-9:.]+Z$'
check_eq "inspect: FailingStreak 0" "$(hjson h2-ok '.[0].State.Health.FailingStreak')" "0"
check_eq "inspect: Config has the check" "$(hjson h2-ok '.[0].Config.healthcheck.test')" '["CMD-SHELL","echo fine"]'

# the Docker API (isola serve) shows the same State.Health and Config.Healthcheck
if "$ISOLA" serve --help 2>&1 | grep -q -- --socket; then
	"$ISOLA" serve --socket "$ENG_TMP/api.sock" >"$ENG_TMP/serve.log" 2>&1 &
	serve_pid=$!
	for i in $(seq 50); do [ -S "$ENG_TMP/api.sock" ] && break; sleep 0.1; done
	api=$(curl -s -m 10 --unix-socket "$ENG_TMP/api.sock" http://d/v1.43/containers/h2-ok/json)
	check_eq "Docker API: State.Health and Config.Healthcheck" \
		"$(jq -c '[.State.Health.Status, .State.Health.Log[-1].ExitCode, .Config.Healthcheck.Test]' <<<"$api")" \
		'["healthy",0,["CMD-SHELL","echo fine"]]'
	kill "$serve_pid"
	wait "$serve_pid" 2>/dev/null
else
	skip "Docker API: isola serve not built"
fi

# before the first check (interval 1h) it is starting
run_d --name h2-start --health-cmd true --health-interval 1h "${IMG[@]}" "${SLEEPER[@]}" >/dev/null
check_eq "before the first check: starting" "$(health h2-start)" "starting"
check_match "ps: (health: starting)" "$(is ps | grep h2-start)" 'Up .* \(health: starting\)'
is healthcheck run h2-start
check_eq "healthcheck run: passing check exits 0" "$?" "0"
check_eq "healthcheck run records it: healthy" "$(health h2-start)" "healthy"

# a restart (policy) is a new start: starting again, the log kept
run_d --name h2-rs --restart always --health-cmd true --health-interval 1h "${IMG[@]}" \
	sh -c 'sleep 3; exit 1' >/dev/null
is healthcheck run h2-rs
check_eq "before the restart: healthy" "$(health h2-rs)" "healthy"
for i in $(seq 100); do
	[ "$(is inspect h2-rs | jq -r '.[0].RestartCount')" -ge 1 ] && break
	sleep 0.1
done
check_eq "after a restart: starting again, log kept" \
	"$(hjson h2-rs '.[0] | "\(.RestartCount >= 1) \(.State.Health.Status) \(.State.Health.Log | length)"')" '"true starting 1"'
is rm -f h2-rs >/dev/null

# failing N times: unhealthy after retries; the log keeps the last 5
run_d --name h2-bad --health-cmd 'echo bad; exit 3' --health-interval 1s --health-retries 2 \
	"${IMG[@]}" "${SLEEPER[@]}" >/dev/null
check "failing check: unhealthy" wait_health h2-bad unhealthy
check_match "ps: (unhealthy)" "$(is ps | grep h2-bad)" 'Up .* \(unhealthy\)'
check_eq "failing log entry: exit code and output" \
	"$(hjson h2-bad '.[0].State.Health.Log[-1] | "\(.ExitCode) \(.Output)"')" '"3 bad\n"'
for i in $(seq 60); do
	[ "$(hjson h2-bad '.[0].State.Health.FailingStreak')" -ge 7 ] && break
	sleep 0.2
done
check_eq "log holds the last 5 results" "$(hjson h2-bad '.[0].State.Health.Log | length')" "5"
out=$(is healthcheck run h2-bad)
check_eq "healthcheck run: failing check exits 1 printing the status" "$? $out" "1 unhealthy"

# a check past its timeout is killed and counts as a failure (-1)
run_d --name h2-slow --health-cmd 'sleep 41' --health-timeout 1s --health-interval 1s \
	--health-retries 1 "${IMG[@]}" "${SLEEPER[@]}" >/dev/null
check "timeout: unhealthy" wait_health h2-slow unhealthy
check_match "timeout: exit -1 and Docker's message" \
	"$(hjson h2-slow '.[0].State.Health.Log[0] | "\(.ExitCode) \(.Output)"')" '^"-1 Health check exceeded timeout \(1s\)"$'
sleep 0.5
check "timed-out checks are killed, not piling up" test "$(pgrep -fc 'sleep 41')" -le 1

# start period: failures before the first success do not count
run_d --name h2-sp --health-cmd 'test -e /tmp/ready' --health-interval 1s --health-retries 1 \
	--health-start-period 1h --health-start-interval 1s "${IMG[@]}" "${SLEEPER[@]}" >/dev/null
for i in $(seq 150); do
	[ "$(hjson h2-sp '.[0].State.Health.Log | length')" -ge 2 ] && break
	sleep 0.2
done
check_eq "start period: failed checks keep it starting, streak 0" \
	"$(hjson h2-sp '.[0].State.Health | "\(.Status) \(.FailingStreak) \(.Log | length >= 2)"')" '"starting 0 true"'
is exec h2-sp touch /tmp/ready
check "start period: healthy once the check passes" wait_health h2-sp healthy
is exec h2-sp rm /tmp/ready
check "after a success, failures count even inside the start period" wait_health h2-sp unhealthy

# the image's HEALTHCHECK is the default; --no-healthcheck disables it;
# flags override it field by field
if [ "$HAVE_IMAGES" = 1 ]; then
	mkdir -p "$ENG_TMP/ctx"
	printf 'FROM %s\nHEALTHCHECK --interval=1s --retries=1 CMD echo from-image\n' "$IMG_NAME" >"$ENG_TMP/ctx/Containerfile"
	if is build -q -t localhost/h2-hc:latest "$ENG_TMP/ctx" >"$ENG_TMP/build.log" 2>&1; then
		run_d --name h2-img localhost/h2-hc:latest "${SLEEPER[@]}" >/dev/null
		check "image HEALTHCHECK honoured: healthy" wait_health h2-img healthy
		check_eq "image check's output in the log" "$(hjson h2-img '.[0].State.Health.Log[-1].Output')" '"from-image\n"'
		run_d --name h2-noimg --no-healthcheck localhost/h2-hc:latest "${SLEEPER[@]}" >/dev/null
		sleep 2
		check_eq "--no-healthcheck: no State.Health" "$(hjson h2-noimg '.[0].State.Health')" "null"
		check "--no-healthcheck: ps shows no health" bash -c "! $ISOLA ps | grep h2-noimg | grep -q health"
		out=$(is healthcheck run h2-noimg 2>&1)
		check_match "healthcheck run without a check: 125 naming it" "$? $out" '^125 .*h2-noimg.*no defined healthcheck'
		run_d --name h2-over --health-cmd 'exit 1' localhost/h2-hc:latest "${SLEEPER[@]}" >/dev/null
		check "--health-cmd overrides the image's test, its interval stays" wait_health h2-over unhealthy
	else
		diag "$(cat "$ENG_TMP/build.log")"
		not_ok "build of an image with HEALTHCHECK"
	fi
else
	skip "image HEALTHCHECK: no image store in this build"
fi

# bad flags: one clear message, exit 125
out=$(is run --rm --network none --health-interval soon "${IMG[@]}" true 2>&1)
check_match "bad --health-interval" "$? $out" "^125 .*--health-interval 'soon'"
out=$(is run --rm --network none --health-retries 0 "${IMG[@]}" true 2>&1)
check_match "bad --health-retries" "$? $out" "^125 .*--health-retries '0'"
out=$(is run --rm --network none --health-cmd true --no-healthcheck "${IMG[@]}" true 2>&1)
check_match "--no-healthcheck with --health-cmd conflicts" "$? $out" '^125 .*conflicts'

# the monitor stops its check with the container: nothing left behind
id=$(run_d --name h2-gone --health-cmd 'sleep 43' --health-timeout 60s --health-interval 1s \
	"${IMG[@]}" "${SLEEPER[@]}")
for i in $(seq 50); do
	pgrep -f 'sleep 43' >/dev/null && break
	sleep 0.2
done
check "a check is running in the container" bash -c "pgrep -f 'sleep 4[3]' >/dev/null"
is stop -t 2 h2-gone >/dev/null
sleep 0.5
check "stop: no _health process left" no_proc "_health $id"
check "stop: no check process left in the container" no_proc 'sleep 43'
check_eq "stopped: ps -a shows no health" "$(is ps -a | grep h2-gone | grep -c health)" "0"

# podman, where it runs here: the same image, the same verb, the same answer
if command -v podman >/dev/null && [ "$HAVE_IMAGES" = 1 ] &&
	podman import "$ENG_TMP/rootfs.tar" localhost/h2-podman:latest >/dev/null 2>&1 &&
	podman run -d --runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
		--name h2-pod --network none --health-cmd 'echo bad; exit 3' \
		--health-interval 1h localhost/h2-podman:latest sleep 300 >/dev/null 2>&1; then
	pout=$(timeout 60 podman healthcheck run h2-pod 2>/dev/null)
	prc=$?
	out=$(is healthcheck run h2-bad)
	check_eq "healthcheck run answers as podman's (exit code, output)" "$? $out" "$prc $pout"
	podman rm -f -t 0 h2-pod >/dev/null 2>&1
	podman rmi localhost/h2-podman:latest >/dev/null 2>&1
else
	podman rm -f -t 0 h2-pod >/dev/null 2>&1
	skip "podman healthcheck run: podman cannot run a container here"
fi

done_testing
