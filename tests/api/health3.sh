#!/usr/bin/env bash
# Healthcheck in the create body: docker run --health-* through `isola
# serve`; the engine runs the checks (src/engine/health*.c), docker inspect
# shows State.Health and Config.Healthcheck, docker ps the status suffix.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/bundle.sh"
. "$(dirname "$0")/lib.sh"
docker_setup
# wait_health NAME STATUS: up to 30 s
wait_health() {
	for _ in $(seq 150); do
		[ "$(dk inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

dk run -d --name a4-ok --health-cmd 'test -e /etc/passwd' --health-interval 1s "$IMG" sleep 300 >/dev/null 2>&1
check_eq "docker run --health-cmd: Config.Healthcheck as given" \
	"$(dk inspect -f '{{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}}' a4-ok 2>&1)" \
	'["CMD-SHELL","test -e /etc/passwd"] 1s'
check "a passing check makes State.Health healthy" wait_health a4-ok healthy
check_match "docker ps shows (healthy)" "$(dk ps --filter name=a4-ok --format '{{.Status}}' 2>&1)" '^Up .*\(healthy\)$'
check_match "State.Health.Log has the check's result" \
	"$(dk inspect -f '{{range .State.Health.Log}}{{.ExitCode}} {{end}}' a4-ok 2>&1)" '^0 '

dk run -d --name a4-bad --health-cmd 'exit 1' --health-interval 1s --health-retries 1 "$IMG" sleep 300 >/dev/null 2>&1
check "a failing check (retries 1) makes it unhealthy" wait_health a4-bad unhealthy
check_match "docker ps shows (unhealthy)" "$(dk ps --filter name=a4-bad --format '{{.Status}}' 2>&1)" '\(unhealthy\)$'
check_match "... and FailingStreak counts" "$(dk inspect -f '{{.State.Health.FailingStreak}}' a4-bad 2>&1)" '^[1-9]'

dk run -d --name a4-none --no-healthcheck "$IMG" sleep 300 >/dev/null 2>&1
check_eq "--no-healthcheck: Test NONE" "$(dk inspect -f '{{json .Config.Healthcheck.Test}}' a4-none 2>&1)" '["NONE"]'
check_match "... and no suffix in docker ps" "$(dk ps --filter name=a4-none --format '{{.Status}}' 2>&1)" '^Up [^(]*$'

# bad bodies: 400 with Docker's message shape
body() { api POST /containers/create -H 'Content-Type: application/json' -d "{\"Image\":\"$IMG\",\"Cmd\":[\"true\"],\"Healthcheck\":$1}"; }
check_match "Healthcheck not an object: 400" "$(body '"x"')" '^400 .*Healthcheck'
check_match "Healthcheck.Interval below 1ms: 400" "$(body '{"Test":["CMD","true"],"Interval":5}')" '^400 .*1ms'
check_match "Healthcheck.Test of an unknown kind: 400" "$(body '{"Test":["BOGUS","x"]}')" '^400 .*Test'
check_match "Healthcheck.Test CMD without a command: 400" "$(body '{"Test":["CMD"]}')" '^400 '
check_match "Healthcheck.Retries negative: 400" "$(body '{"Test":["CMD","true"],"Retries":-1}')" '^400 .*Retries'
check_match "Healthcheck.Test []: the image's (none here), created" "$(body '{"Test":[]}')" '^201 '

dk rm -f a4-ok a4-bad a4-none >/dev/null 2>&1
for id in $(dk ps -aq); do dk rm -f "$id" >/dev/null 2>&1; done
check_eq "no container left" "$(dk ps -aq | wc -l)" "0"
done_testing
