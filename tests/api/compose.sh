#!/usr/bin/env bash
# docker-compose 1.29 (Debian's, Python, classic API client) against
# `isola serve`: up -d / ps / logs / exec / down of a small project whose
# services reach each other by name (busybox nslookup and nc).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/bundle.sh"
. "$(dirname "$0")/lib.sh"
DC=/usr/bin/docker-compose
[ -x "$DC" ] || skip_all "no docker-compose (apt-get install docker-compose)"
start_serve || { cat "$API_TMP/serve.log"; skip_all "isola serve did not start"; }
export DOCKER_HOST=unix://$SOCK DOCKER_CONFIG=$API_TMP/docker-config
dc() { timeout -s KILL 120 "$DC" -p a2proj "$@"; }
"$ISOLA" network create a2-probe >/dev/null 2>&1 || skip_all "networking unavailable: network create failed"
"$ISOLA" network rm a2-probe >/dev/null 2>&1

mkdir -p "$API_TMP/proj" && cd "$API_TMP/proj" || exit 1
cat >docker-compose.yml <<YML
version: "3.7"
services:
  db:
    image: $IMG
    command: sh -c "echo db-ready; while true; do echo pong | nc -l -p 6379; done"
    labels:
      a2.role: storage
  web:
    image: $IMG
    command: sh -c "echo web-ready; sleep 300"
    depends_on: [db]
  worker:
    image: $IMG
    command: sh -c "echo worker-ready; sleep 300"
YML
T0=$(date +%s)
out=$(dc up -d 2>&1)
rc=$?
if [ "$rc" != 0 ]; then
	# the network layer is still settling on this machine (responder bind
	# races): say so, then give up only if a second up fails as well
	diag "first up -d failed: $out"
	out=$(dc up -d 2>&1)
	rc=$?
	[ "$rc" = 0 ] || diag "$out"
fi
check_eq "docker-compose up -d succeeds" "$rc" "0"
check_match "... creating the project network" "$out" 'a2proj_default'
T1=$(($(date +%s) + 1))
sleep 1.2
out=$(timeout 30 docker events --since "$T0" --until "$T1" --filter label=com.docker.compose.project=a2proj \
	--format '{{.Action}} {{.Actor.Attributes.name}}' 2>&1)
check_match "docker events filtered by the project's label (what compose follows)" "$out" 'start a2proj_db_1'
out=$(dc ps 2>&1)
check_eq "docker-compose ps lists the three services Up" "$(grep -c ' Up' <<<"$out")" "3"
check_match "docker ps sees the compose labels" \
	"$(timeout 30 docker ps --filter label=com.docker.compose.service=db --format '{{.Names}} {{.Label "a2.role"}}' 2>&1)" '^a2proj_db_1 storage$'
for _ in $(seq 20); do
	out=$(dc logs --no-color 2>&1)
	grep -q worker-ready <<<"$out" && break
	sleep 0.3
done
check_match "docker-compose logs shows each service's output" "$out" 'db_1 .*db-ready'
check_match "... (web)" "$out" 'web_1 .*web-ready'
# the responder may need a moment after up: up to ~10 s
for _ in $(seq 10); do
	out=$(dc exec -T web nslookup db 2>&1)
	grep -q 'Address.*10\.' <<<"$out" && break
	sleep 1
done
check_match "a service resolves another by its service name" "$out" 'Address.*10\.'
check_eq "and reaches it over TCP" "$(dc exec -T web sh -c 'echo ping | nc -w 3 db 6379' 2>&1)" "pong"
out=$(dc down 2>&1)
check_eq "docker-compose down succeeds" "$?" "0"
check_eq "... leaving no container" "$(timeout 30 docker ps -aq | wc -l)" "0"
check "... and no project network" bash -c "! timeout 30 docker network ls --format '{{.Name}}' | grep -q a2proj"
# attached up: output streamed, the service's exit code returned
mkdir -p "$API_TMP/once" && cd "$API_TMP/once" || exit 1
printf 'version: "3.7"\nservices:\n  once:\n    image: %s\n    command: sh -c "echo hello-attached; sleep 1; exit 3"\n' "$IMG" >docker-compose.yml
out=$(timeout -s KILL 120 "$DC" -p a2once up --no-color --exit-code-from once 2>&1)
check_eq "attached docker-compose up returns the service's exit code" "$?" "3"
check_match "... after streaming its output" "$out" 'once_1 +\| hello-attached'
timeout -s KILL 120 "$DC" -p a2once down >/dev/null 2>&1
check_eq "... and down removes it" "$(timeout 30 docker ps -aq | wc -l)" "0"
done_testing
