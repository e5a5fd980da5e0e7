#!/usr/bin/env bash
# Events through `isola serve` that the first wave lacked: the kill of a
# running container removed with rm -f, and network create/destroy made by
# the isola CLI (recorded by src/net, seen by docker events) as well as by
# the Docker API, each recorded once; docker ps's Status with the health
# suffix ("Up 5 seconds (healthy)").
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/bundle.sh"
. "$(dirname "$0")/lib.sh"
docker_setup
T0=$(date +%s)
FMT='{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}} {{.Actor.Attributes.signal}}'

dk run -d --name a3-rmf "$IMG" sleep 300 >/dev/null 2>&1
dk rm -f a3-rmf >/dev/null 2>&1
"$ISOLA" network create a3-cli >/dev/null 2>&1
netid=$(dk network inspect a3-cli --format '{{.Id}}' 2>/dev/null)
"$ISOLA" network rm a3-cli >/dev/null 2>&1
dk network create a3-api >/dev/null 2>&1
dk network rm a3-api >/dev/null 2>&1
T1=$(($(date +%s) + 1))
sleep 1.2
out=$(dk events --since "$T0" --until "$T1" --format "$FMT" 2>&1)
check_match "docker rm -f of a running container: a kill event with signal 9" "$out" 'container kill [0-9a-f]{64} a3-rmf 9'
check_match "... then die and destroy" "$(grep -c 'container \(die\|destroy\) [0-9a-f]* a3-rmf' <<<"$out")" '^2$'
check_match "isola network create (CLI): a network create event" "$out" 'network create [0-9a-f]{64} a3-cli'
check_match "isola network rm (CLI): a network destroy event" "$out" 'network destroy [0-9a-f]{64} a3-cli'
check_eq "the actor is the network's id" "$(grep -c "network create ${netid:-none} a3-cli" <<<"$out")" "1"
check_eq "docker network create/rm: recorded once each" \
	"$(grep -c 'network \(create\|destroy\) [0-9a-f]\{64\} a3-api' <<<"$out")" "2"
out=$(dk events --since "$T0" --until "$T1" --filter network=a3-cli --format '{{.Action}}' 2>&1 | tr '\n' ' ')
check_eq "filter network=NAME" "$out" "create destroy "

# ---- docker ps Status with the health suffix ----
"$ISOLA" run -d --name a3-hok --health-cmd true --health-interval 1s "$IMG" sleep 300 >/dev/null 2>&1
"$ISOLA" run -d --name a3-hbad --health-cmd false --health-interval 1s --health-retries 1 "$IMG" sleep 300 >/dev/null 2>&1
for _ in $(seq 50); do
	st=$(dk ps --format '{{.Names}} {{.Status}}' 2>&1)
	grep -q 'a3-hok .*(healthy)' <<<"$st" && grep -q 'a3-hbad .*(unhealthy)' <<<"$st" && break
	sleep 0.2
done
check_match "docker ps: Up N seconds (healthy)" "$st" 'a3-hok Up [0-9]+ seconds \(healthy\)'
check_match "docker ps: Up N seconds (unhealthy)" "$st" 'a3-hbad Up [0-9]+ seconds \(unhealthy\)'
"$ISOLA" run -d --name a3-hnone "$IMG" sleep 300 >/dev/null 2>&1
check_match "no healthcheck: no suffix" "$(dk ps --format '{{.Names}} {{.Status}}' 2>&1 | grep '^a3-hnone')" 'a3-hnone Up [0-9]+ seconds$'
"$ISOLA" rm -f a3-hok a3-hbad a3-hnone >/dev/null 2>&1
done_testing
