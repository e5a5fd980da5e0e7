#!/usr/bin/env bash
# The docker CLI (Debian's docker.io client) against `isola serve`.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/bundle.sh"
. "$(dirname "$0")/lib.sh"
docker_setup

check_match "docker version names the server" "$(dk version --format '{{.Server.APIVersion}}' 2>&1)" '^1\.41$'
check_match "docker info counts the image" "$(dk info --format '{{.Images}}' 2>&1)" '^1$'
check_match "docker images lists it" "$(dk images --format '{{.Repository}}:{{.Tag}}' 2>&1)" 'localhost/apitest-busybox:latest'
check_eq "docker run --rm (attached) prints the output" "$(dk run --rm "$IMG" echo hi 2>&1)" "hi"
dk run --rm "$IMG" sh -c 'exit 3' >/dev/null 2>&1
check_eq "docker run --rm returns the exit code" "$?" "3"
check_eq "--rm removed the containers" "$(dk ps -aq | wc -l)" "0"
dk run -d --name apit-web "$IMG" sh -c 'echo started; while true; do sleep 1; done' >/dev/null 2>&1
check_match "docker run -d + ps" "$(dk ps --format '{{.Names}} {{.Status}}')" '^apit-web Up'
check_match "the CLI sees the container the service made" "$("$ISOLA" ps 2>&1)" 'apit-web' 
check_eq "docker logs" "$(dk logs apit-web 2>&1)" "started"
check_eq "docker exec" "$(dk exec apit-web echo fromexec 2>&1)" "fromexec"
dk exec apit-web sh -c 'exit 4'
check_eq "docker exec exit code" "$?" "4"
out=$(timeout -s KILL 30 script -qec "$D exec -it apit-web sh -c 'tty; echo in-pty'" /dev/null 2>&1 </dev/null)
check_match "docker exec -it runs in a pty" "$out" 'in-pty'
check_match "docker top" "$(dk top apit-web 2>&1)" 'sleep|sh'
check_match "docker inspect state" "$(dk inspect -f '{{.State.Running}}' apit-web 2>&1)" '^true$'
dk stop -t 2 apit-web >/dev/null 2>&1
check_match "docker stop" "$(dk ps -a --format '{{.Names}} {{.Status}}')" '^apit-web Exited'
check_eq "docker rm" "$(dk rm apit-web 2>&1)" "apit-web"
check_match "docker rm of an unknown container: 404 message" "$(dk rm nosuch 2>&1)" 'No such container|not found|not known'
check_eq "docker volume create" "$(dk volume create apit-vol 2>&1)" "apit-vol"
check_match "docker volume ls" "$(dk volume ls -q 2>&1)" 'apit-vol'
check_eq "docker volume rm" "$(dk volume rm apit-vol 2>&1)" "apit-vol"
# pull and push through the service against a local docker-registry
. "$(dirname "$0")/../image/registry_lib.sh"
if command -v docker-registry >/dev/null && port=$(free_port 17000 17099) &&
	registry_start "$API_TMP/reg" "$port"; then
	reg=127.0.0.1:$port
	"$ISOLA" push "$IMG" "$reg/apit/busybox:1" >/dev/null 2>&1
	dk pull "$reg/apit/busybox:1" >"$API_TMP/pull.out" 2>&1
	check_eq "docker pull from a local registry" "$?" "0"
	check_match "docker images shows the pulled image" "$(dk images --format '{{.Repository}}:{{.Tag}}')" "$reg/apit/busybox:1"
	dk tag "$reg/apit/busybox:1" "$reg/apit/copy:2" >/dev/null 2>&1
	dk push "$reg/apit/copy:2" >"$API_TMP/push.out" 2>&1
	check_match "docker tag + push" "$(curl -s "http://$reg/v2/apit/copy/tags/list")" '"2"'
	check_match "docker pull of an unknown image fails with a message" "$(dk pull "$reg/apit/nosuch:1" 2>&1)" 'nosuch|not found|unknown|manifest'
	check_match "docker rmi" "$(dk rmi "$reg/apit/copy:2" 2>&1)" 'Untagged'
else
	skip "no docker-registry or free port: pull/push"
fi
# two containers on a user network resolve each other by name
if dk network create apit-net >/dev/null 2>&1; then
	dk run -d --name apit-a --network apit-net "$IMG" sleep 300 >/dev/null 2>&1
	out=$(dk run --rm --network apit-net --cap-add NET_RAW "$IMG" ping -c1 -W2 apit-a 2>&1)
	check_match "docker network create + containers reach each other by name" "$out" '1 packets received'
	dk rm -f apit-a >/dev/null 2>&1
	check_eq "docker network rm" "$(dk network rm apit-net 2>&1)" "apit-net"
else
	skip "networking unavailable: network create failed"
fi
check_match "docker network ls" "$(dk network ls --format '{{.Name}}' 2>&1)" 'bridge'
done_testing
