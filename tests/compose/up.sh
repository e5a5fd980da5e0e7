#!/bin/bash
# isola compose against the engine with tests/compose/files/allkeys (every
# supported key): up to all running/healthy, idempotent up, recreation of a
# changed service only, --scale, what each key makes visible inside the
# containers, logs with prefixes, exec, run, stop/start/restart, top,
# images, volumes across down/up, --wait on a failing healthcheck, and down
# leaving nothing of the project behind.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmp_init up
trap cmp_cleanup EXIT
cd "$WORK/files/allkeys" || exit 1
cmp_project cmpkeys

state_of() { ic ps -a | awk -v n="$1" '$1 == n {print $3, $4}'; }

out=$(ic up -d 2>&1); rc=$?
check_eq "up -d exits 0" "$rc" 0
[ $rc -eq 0 ] || diag "$out"
ps=$(ic ps -a)
check_match "db healthy" "$(state_of cmpkeys-db-1)" '^running \(healthy\)'
check_match "init completed" "$(state_of cmpkeys-init-1)" '^exited \(0\)'
check_match "app running" "$(state_of cmpkeys-app-1)" '^running'
check_eq "deploy.replicas: two containers" "$(grep -c '^cmpkeys-scaled-' <<<"$ps")" 2
check "profiled service not started" bash -c "! grep -q debug <<<\"\$1\"" _ "$ps"
check_match "logs: prefixed by container" "$(ic logs app)" 'cmpkeys-app-1 +\| hi from apphost'

inside=$(ic exec -T app sh -c 'id -u; pwd; hostname; cat /run/secrets/token /etc/settings.conf \
	/conf/app.conf; echo "$FROM_FILE $OVERRIDDEN $QUOTED"; ls -d /scratch; \
	touch /conf/x 2>&1 || echo ro' 2>&1)
check_match "user" "$inside" $'^0\n'
check_match "working_dir" "$inside" $'\n/data\n'
check_match "hostname" "$inside" $'\napphost\n'
check_match "secret file" "$inside" $'\ns3cret\n'
check_match "config content" "$inside" $'\nkey=value\n'
check_match "bind mount" "$inside" $'\nconf\n'
check_match "env_file + override environment" "$inside" $'\n1 yes a b\n'
check_match "tmpfs mount" "$inside" $'\n/scratch\n'
check_match "read-only bind" "$inside" 'ro$'
check_eq "exec exit code passed through" "$(ic exec -T app sh -c 'exit 7'; echo $?)" 7

out=$(ic up -d 2>&1)
check_match "second up: running services left alone" "$out" 'Container cmpkeys-app-1  Running'
check "second up: nothing recreated" bash -c "! grep -q Removed <<<\"\$1\"" _ "$out"

# a change to one service recreates it and only it
printf 'services:\n  app:\n    environment: [CHANGED=1]\n' >"$WORK/change.yaml"
out=$(ic -f compose.yaml -f compose.override.yaml -f "$WORK/change.yaml" up -d 2>&1)
check_match "changed service recreated" "$out" 'Container cmpkeys-app-1  Removed'
check "unchanged db left running" bash -c "grep -q 'cmpkeys-db-1  Running' <<<\"\$1\"" _ "$out"
check_eq "recreated container sees the change" "$(ic exec -T app sh -c 'echo $CHANGED')" 1
check "--force-recreate" bash -c "timeout 120 '$ISOLA' compose up -d --force-recreate --no-deps scaled 2>&1 | grep -q 'cmpkeys-scaled-2  Removed'"
out=$(ic up -d --scale scaled=1 2>&1)
check_match "--scale removes replicas" "$out" 'cmpkeys-scaled-2  Removed'
check_eq "one replica left" "$(ic ps | grep -c '^cmpkeys-scaled-')" 1

check_match "run: a one-off container" "$(ic run --rm --no-deps init sh -c 'echo one-off')" 'one-off'
check_match "top lists processes" "$(ic top db)" 'sleep'
check_match "images" "$(ic images db)" 'cmpkeys-db-1 +.*cmpbusybox'
check "stop" bash -c "timeout 60 '$ISOLA' compose stop -t 1 app >/dev/null 2>&1"
check_match "stopped" "$(state_of cmpkeys-app-1)" '^exited'
check "start" bash -c "timeout 60 '$ISOLA' compose start app >/dev/null 2>&1"
check_match "started again" "$(state_of cmpkeys-app-1)" '^running'
check "restart" bash -c "timeout 60 '$ISOLA' compose restart -t 1 app >/dev/null 2>&1"

# volumes outlive down; down -v removes them
ic exec -T app sh -c 'echo kept > /data/f'
ic down -t 1 >/dev/null 2>&1
check_eq "down removes every container" "$(ic ps -a | tail -n +2 | wc -l)" 0
check_match "named volume kept by down" "$(timeout 30 "$ISOLA" volume ls)" 'cmpkeys_data'
ic up -d >/dev/null 2>&1
check_eq "volume content survives down/up" "$(ic exec -T app cat /data/f)" kept
ic down -v -t 1 >/dev/null 2>&1
check "down -v removes the project volume" bash -c "! timeout 30 '$ISOLA' volume ls | grep -q cmpkeys_data"
check_eq "nothing of the project left in the engine" \
	"$(timeout 30 "$ISOLA" ps -a | grep -c cmpkeys)" 0

# --wait on a service whose healthcheck fails names it
mkdir -p "$WORK/sick" && cd "$WORK/sick" || exit 1
cat >compose.yaml <<'YAML'
name: cmpsick
services:
  sick:
    image: cmpbusybox
    command: ["sleep", "100000"]
    network_mode: none
    init: true
    healthcheck: {test: ["CMD-SHELL", "exit 1"], interval: 1s, retries: 2}
YAML
cmp_project cmpsick
msg=$(ic up -d --wait 2>&1); rc=$?
check "--wait fails on an unhealthy service" test $rc -ne 0
check_match "--wait names it" "$msg" 'sick \(cmpsick-sick-1\) is unhealthy'
check_match "failed up leaves it running (as Compose)" "$(ic ps)" 'cmpsick-sick-1 .*unhealthy'
ic down -t 1 >/dev/null 2>&1

# build: through isola build's library, tagged <project>-<service>;
# down --rmi local removes that image and only it
mkdir -p "$WORK/built/ctx" && cd "$WORK/built" || exit 1
printf 'FROM cmpbusybox\nARG WORD=none\nRUN echo "built $WORD" > /built\n' >ctx/Containerfile
cat >compose.yaml <<'YAML'
name: cmpbuild
services:
  app:
    build:
      context: ./ctx
      args: {WORD: yes}
    command: ["sleep", "100000"]
    network_mode: none
    init: true
YAML
cmp_project cmpbuild
out=$(ic up -d --build 2>&1); rc=$?
check_eq "up --build exits 0" "$rc" 0
[ $rc -eq 0 ] || diag "$out"
check_eq "built image runs, build args applied" "$(ic exec -T app cat /built)" "built yes"
check_match "image named <project>-<service>" "$(timeout 30 "$ISOLA" images)" 'cmpbuild-app'
ic down -t 1 --rmi local >/dev/null 2>&1
check "down --rmi local removes the built image" bash -c \
	"! timeout 30 '$ISOLA' images | grep -q cmpbuild-app"
check_match "and keeps the base image" "$(timeout 30 "$ISOLA" images)" 'cmpbusybox'
done_testing
