#!/bin/bash
# Compose on the engine's healthchecks and several networks
# (tests/compose/files/health-net): depends_on service_healthy waits for a
# service that turns healthy only when a file appears, up --wait, ps and
# inspect health; a service on two networks with per-network aliases and
# an ipv4_address, names resolving where they should and only there.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmp_init hnet
trap cmp_cleanup EXIT
cmp_bridge_ok || skip_all "the engine cannot attach containers to bridge networks here"
cd "$WORK/files/health-net" || exit 1
cmp_project h2hn

state_of() { ic ps -a | awk -v n="$1" '$1 == n {print $3, $4}'; }
started() { "$ISOLA" inspect "$1" | jq -r '.[0].State.StartedAt'; }

ic up -d >"$WORK/up.log" 2>&1 &
up_pid=$!
for i in $(seq 100); do
	[ "$(state_of h2hn-db-1)" = "running (starting)" ] && break
	sleep 0.2
done
check_eq "db runs, health starting" "$(state_of h2hn-db-1)" "running (starting)"
sleep 3
check "worker waits while db is not healthy" bash -c "[ \"\$(\"$ISOLA\" inspect h2hn-worker-1 2>/dev/null | jq -r '.[0].State.Status')\" != running ]"
check "up is still waiting" kill -0 $up_pid
touched=$(date -u +%Y-%m-%dT%H:%M:%S.%N)
ic exec -T db touch /tmp/ready
wait $up_pid
rc=$?
check_eq "up -d returns 0 once db is healthy" "$rc" 0
[ $rc -eq 0 ] || diag "$(cat "$WORK/up.log")"
check_match "db healthy in compose ps" "$(state_of h2hn-db-1)" '^running \(healthy\)'
check_match "isola ps shows it too" "$("$ISOLA" ps | grep h2hn-db-1)" 'Up .* \(healthy\)'
check_eq "the engine recorded the passing check" \
	"$("$ISOLA" inspect h2hn-db-1 | jq -r '.[0].State.Health.Log[-1].ExitCode')" 0
check "worker started after the file appeared" test "$(started h2hn-worker-1)" \> "${touched}Z"
check_match "worker running" "$(state_of h2hn-worker-1)" '^running'
check_eq "up --wait: all healthy/running, exit 0" "$(ic up -d --wait >/dev/null 2>&1; echo $?)" 0

# several networks, per-network aliases, ipv4_address
check_eq "db has its ipv4_address on back" \
	"$("$ISOLA" inspect h2hn-db-1 | jq -r '.[0].NetworkSettings.Networks["h2hn_back"].IPAddress')" 10.231.7.20
check_eq "web is on both networks" \
	"$("$ISOLA" inspect h2hn-web-1 | jq -r '.[0].NetworkSettings.Networks | keys | join(" ")')" "h2hn_back h2hn_front"
check_eq "web has two interfaces" "$(ic exec -T web sh -c 'ls /sys/class/net | grep -c ^eth')" 2
look() { ic exec -T "$1" nslookup "$2" 2>&1; }
# todo_match NAME GOT RE: a known gap of the network component (names of a
# container's second network, /work/notes/health-for-net.md): reported as
# TAP TODO, so it shows without failing the suite.
todo_match() {
	TAP_N=$((TAP_N + 1))
	if [[ $2 =~ $3 ]]; then echo "ok $TAP_N - $1"; else echo "not ok $TAP_N - $1 # TODO net: second network's names"; fi
}
check_match "worker resolves db's alias 'database' on back" "$(look worker database)" '10\.231\.7\.20'
check_match "worker resolves db's alias 'store'" "$(look worker store)" '10\.231\.7\.20'
web_front=$("$ISOLA" inspect h2hn-web-1 | jq -r '.[0].NetworkSettings.Networks["h2hn_front"].IPAddress')
todo_match "worker resolves web's front alias 'www' (its second network)" "$(look worker www)" "${web_front//./\\.}"
out=$(look db www)
check "db (back only) does not resolve 'www' (front's alias)" bash -c "! grep -q '$web_front' <<<\"\$1\"" _ "$out"
todo_match "web resolves db by service name on back (its second network)" "$(look web db)" '10\.231\.7\.20'

out=$(ic down -t 1 2>&1)
check_eq "down exits 0" "$?" 0
check_eq "down leaves no project networks" "$("$ISOLA" network ls | grep -c h2hn_)" 0
done_testing
