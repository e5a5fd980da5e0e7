#!/bin/bash
# The three-tier app (tests/compose/files/three-tier) with isola compose and
# with podman-compose, comparing what a user sees: the services running,
# the front end answering curl on its published port, the database healthy
# before the worker starts, its volume persisting across down/up, and
# service names resolving between containers (busybox nslookup).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmp_init three-tier
trap cmp_cleanup EXIT
cd "$WORK/files/three-tier" || exit 1
ISOLA_PORT=16010
PODMAN_PORT=16011

# what_user_sees TOOL: "services: ...; http: ...; boots: N; resolves: yes|no"
isola_sees() {
	local svcs http boots res
	svcs=$(ic ps | awk 'NR > 1 && $3 == "running" {print $2}' | sort | tr '\n' ' ')
	http=$(curl -s -m 5 "http://127.0.0.1:$ISOLA_PORT/")
	boots=$(ic exec -T db cat /data/boots | grep -c boot)
	res=no
	ic exec -T worker nslookup db 2>/dev/null | grep -q '^Address: [0-9]' && res=yes
	echo "services: $svcs; http: $http; boots: $boots; resolves: $res"
}
podman_sees() {
	local svcs http boots res
	svcs=$(pm ps --filter label=io.podman.compose.project=cmp3pc \
		--format '{{index .Labels "com.docker.compose.service"}}' | sort | tr '\n' ' ')
	http=$(curl -s -m 5 "http://127.0.0.1:$PODMAN_PORT/")
	boots=$(pm exec cmp3pc_db_1 cat /data/boots | grep -c boot)
	res=no
	pm exec cmp3pc_worker_1 nslookup db 2>/dev/null | grep -q '^Address: [0-9]' && res=yes
	echo "services: $svcs; http: $http; boots: $boots; resolves: $res"
}

want1="services: db front worker ; http: <h1>isola compose three-tier</h1>; boots: 1; resolves: yes"
want2=${want1/boots: 1/boots: 2}

if cmp_bridge_ok; then
	export CMP_PROJECT=cmp3 CMP_IMAGE=cmpbusybox CMP_PORT=$ISOLA_PORT
	cmp_project cmp3
	out=$(ic up -d 2>&1); rc=$?
	check_eq "isola: up -d exits 0" "$rc" 0
	[ $rc -eq 0 ] || diag "$out"
	db_line=$(grep -n 'cmp3-db-1  Started' <<<"$out" | cut -d: -f1)
	worker_line=$(grep -n 'cmp3-worker-1  Started' <<<"$out" | cut -d: -f1)
	check "isola: worker started after db (it waits for db healthy)" \
		test "${db_line:-99}" -lt "${worker_line:-0}"
	check_eq "isola: what a user sees" "$(isola_sees)" "$want1"
	check_match "isola: ps shows health" "$(ic ps)" 'cmp3-db-1 +db +running \(healthy\)'
	check_match "isola: ps shows the published port" "$(ic ps front)" "0.0.0.0:$ISOLA_PORT->80/tcp"
	ic down -t 2 >/dev/null 2>&1
	ic up -d >/dev/null 2>&1
	check_eq "isola: after down/up (volume kept)" "$(isola_sees)" "$want2"
	ic down -v -t 2 >/dev/null 2>&1
	check "isola: port closed after down" bash -c "! curl -s -m 2 http://127.0.0.1:$ISOLA_PORT/"
	check "isola: project network removed" bash -c \
		"! timeout 30 '$ISOLA' network ls | grep -q cmp3_default"
else
	skip "isola: the engine has no bridge networking yet (ports, names): three-tier not run"
fi

if cmp_podman_init; then
	export CMP_PROJECT=cmp3pc CMP_IMAGE=localhost/cmpbusybox CMP_PORT=$PODMAN_PORT
	cmp_podman_project cmp3pc
	pc -p cmp3pc up -d >/dev/null 2>&1
	# podman-compose 1.0.3 starts services without waiting for conditions
	for _ in $(seq 50); do
		pm exec cmp3pc_db_1 test -f /tmp/ready 2>/dev/null && break
		sleep 0.2
	done
	got=$(podman_sees)
	check_eq "podman-compose: what a user sees" "$got" "$want1"
	pc -p cmp3pc down -t 2 >/dev/null 2>&1
	pc -p cmp3pc up -d >/dev/null 2>&1
	sleep 1
	check_eq "podman-compose: after down/up (volume kept)" "$(podman_sees)" "$want2"
	pc -p cmp3pc down -v -t 2 >/dev/null 2>&1
else
	skip "podman-compose or podman missing"
fi
done_testing
