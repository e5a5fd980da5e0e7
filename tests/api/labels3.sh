#!/usr/bin/env bash
# Labels of volumes and networks created through `isola serve` (docker
# volume/network create --label): shown by inspect and ls, filtered by
# --filter label=..., gone with the object.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/bundle.sh"
. "$(dirname "$0")/lib.sh"
docker_setup

dk volume create --label a4.tier=db --label a4.keep a4-vol1 >/dev/null 2>&1
dk volume create a4-vol2 >/dev/null 2>&1
check_eq "docker volume inspect shows the labels" \
	"$(dk volume inspect -f '{{json .Labels}}' a4-vol1 2>&1)" '{"a4.keep":"","a4.tier":"db"}'
check_eq "... none on a volume made without" "$(dk volume inspect -f '{{json .Labels}}' a4-vol2 2>&1)" '{}'
check_eq "docker volume ls --filter label=k=v" "$(dk volume ls -q --filter label=a4.tier=db 2>&1)" "a4-vol1"
check_eq "docker volume ls --filter label=k" "$(dk volume ls -q --filter label=a4.keep 2>&1)" "a4-vol1"
check_eq "docker volume ls --filter label=k=other: none" "$(dk volume ls -q --filter label=a4.tier=web 2>&1)" ""
dk volume rm a4-vol1 >/dev/null 2>&1
dk volume create a4-vol1 >/dev/null 2>&1
check_eq "a volume made again under the name has no old labels" "$(dk volume inspect -f '{{json .Labels}}' a4-vol1 2>&1)" '{}'
dk volume rm a4-vol1 a4-vol2 >/dev/null 2>&1

if dk network create --label a4.net=front a4-net1 >/dev/null 2>&1; then
	dk network create a4-net2 >/dev/null 2>&1
	check_eq "docker network inspect shows the labels" \
		"$(dk network inspect -f '{{json .Labels}}' a4-net1 2>&1)" '{"a4.net":"front"}'
	check_eq "docker network ls --filter label=k=v" \
		"$(dk network ls --filter label=a4.net=front --format '{{.Name}}' 2>&1)" "a4-net1"
	check_match "docker network ls lists both without a filter" \
		"$(dk network ls --format '{{.Name}}' 2>&1 | tr '\n' ' ')" 'a4-net1 .*a4-net2|a4-net2 .*a4-net1'
	dk network rm a4-net1 a4-net2 >/dev/null 2>&1
else
	skip "networking unavailable: network create failed"
fi
check_match "Labels of the wrong type: 400" \
	"$(api POST /volumes/create -H 'Content-Type: application/json' -d '{"Name":"a4-bad","Labels":{"k":1}}')" '^400 .*Labels'
check_match "Labels of a network of the wrong type: 400" \
	"$(api POST /networks/create -H 'Content-Type: application/json' -d '{"Name":"a4-badn","Labels":[1]}')" '^400 .*Labels'
check_eq "nothing left" "$(dk volume ls -q | wc -l) $(dk network ls -q --filter name=a4- | wc -l)" "0 0"
done_testing
