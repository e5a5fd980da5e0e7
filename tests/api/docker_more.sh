#!/usr/bin/env bash
# The docker CLI against `isola serve`, session 2 routes: cp both ways
# (archive), save | load, build (twice: cached), network connect /
# disconnect, run --rm -d, events (bounded and live), and bad input.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/bundle.sh"
. "$(dirname "$0")/lib.sh"
docker_setup
T0=$(date +%s)

# a live `docker events` for the whole run
dk events --filter type=container >"$API_TMP/live.events" 2>&1 &
EV_PID=$!
sleep 0.5

# ---- docker cp (GET/HEAD/PUT /containers/{id}/archive) ----
dk run -d --name a2-cp "$IMG" sh -c 'echo inside >/tmp/f; mkdir -p /tmp/d/e; echo deep >/tmp/d/e/g; ln -s f /tmp/l; sleep 300' >/dev/null 2>&1
sleep 0.5
dk cp a2-cp:/tmp/f "$API_TMP/f.out" 2>&1
check_eq "docker cp a file out of a container" "$(cat "$API_TMP/f.out" 2>&1)" "inside"
dk cp a2-cp:/tmp/d "$API_TMP/dout" >/dev/null 2>&1
check_eq "docker cp a directory out (recursive)" "$(cat "$API_TMP/dout/e/g" 2>&1)" "deep"
dk cp a2-cp:/tmp/l "$API_TMP/l.out" >/dev/null 2>&1
check_eq "docker cp keeps a symlink a symlink" "$(readlink "$API_TMP/l.out")" "f"
check_match "docker cp of a missing path: not found" "$(dk cp a2-cp:/nosuch "$API_TMP/x" 2>&1)" 'Could not find|No such|not found'
echo fromhost >"$API_TMP/in.txt"
dk cp "$API_TMP/in.txt" a2-cp:/tmp/ >/dev/null 2>&1
check_eq "docker cp a file into a directory" "$(dk exec a2-cp cat /tmp/in.txt 2>&1)" "fromhost"
dk cp "$API_TMP/in.txt" a2-cp:/tmp/renamed.txt >/dev/null 2>&1
check_eq "docker cp a file to a new name" "$(dk exec a2-cp cat /tmp/renamed.txt 2>&1)" "fromhost"
mkdir -p "$API_TMP/tree/sub" && echo t >"$API_TMP/tree/sub/t"
dk cp "$API_TMP/tree" a2-cp:/tmp/ >/dev/null 2>&1
check_eq "docker cp a directory in" "$(dk exec a2-cp cat /tmp/tree/sub/t 2>&1)" "t"

# hostile tars for PUT: refused with 400, nothing written outside
python3 - "$API_TMP" <<'EOF'
import io, sys, tarfile
d = sys.argv[1]
def tar(name, entries):
    with tarfile.open(f"{d}/{name}", "w") as t:
        for e in entries:
            t.addfile(*e)
def f(n, data=b"x"):
    i = tarfile.TarInfo(n); i.size = len(data); return (i, io.BytesIO(data))
def link(n, target):
    i = tarfile.TarInfo(n); i.type = tarfile.SYMTYPE; i.linkname = target; return (i,)
tar("dotdot.tar", [f("../../escape-a2")])
tar("abs.tar", [f("/escape-a2-abs")])
tar("via-link.tar", [link("ln", "/"), f("ln/escape-a2-link")])
EOF
for t in dotdot abs; do
	out=$(api PUT "/containers/a2-cp/archive?path=/tmp" --data-binary @"$API_TMP/$t.tar" -H 'Content-Type: application/x-tar')
	check_match "archive PUT with a $t entry: 400 with a message" "$out" '^400 .*"message"'
done
# a symlink to / in the tar is the tar's own root (as in Docker): the file
# lands in the destination directory, never above it
api PUT "/containers/a2-cp/archive?path=/tmp" --data-binary @"$API_TMP/via-link.tar" >/dev/null
check_eq "no hostile entry was written above the destination" \
	"$(dk exec a2-cp sh -c 'ls -d /escape-a2* 2>/dev/null | wc -l')" "0"
check_eq "... nor anywhere on the host" \
	"$( (find "$API_TMP" -path "$ISOLA_ROOT/containers" -prune -o -name 'escape-a2*' -print
	     find / -xdev -maxdepth 2 -name 'escape-a2*') 2>/dev/null | wc -l)" "0"
check_eq "no spool or unpack directory left in the root's tmp" \
	"$(find "$ISOLA_ROOT/tmp" -maxdepth 1 -name 'api*' 2>/dev/null | wc -l)" "0"
out=$(api PUT "/containers/a2-cp/archive?path=/nosuch" --data-binary @"$API_TMP/abs.tar")
check_match "archive PUT to a missing directory: 404" "$out" '^404 '
out=$(api GET "/containers/a2-cp/archive")
check_match "archive GET without path: 400" "$out" '^400 .*path'
dk rm -f a2-cp >/dev/null 2>&1

# ---- docker save | docker load ----
dk save "$IMG" -o "$API_TMP/saved.tar" 2>&1
check "docker save writes a docker-archive" bash -c "tar -tf '$API_TMP/saved.tar' | grep -qx manifest.json"
dk rmi "$IMG" >/dev/null 2>&1
check_match "docker load restores it" "$(dk load -i "$API_TMP/saved.tar" 2>&1)" 'Loaded image: .*apitest-busybox'
check_eq "the loaded image runs" "$(dk run --rm "$IMG" echo loaded 2>&1)" "loaded"
check_match "docker save of an unknown image: error" "$(dk save a2-nosuch:1 2>&1 >/dev/null)" 'No such image|not found'
check_match "docker load of garbage: 400-style error" "$(echo garbage | dk load 2>&1)" 'Error|error|archive'

# ---- docker build (twice: the second all cached) ----
mkdir -p "$API_TMP/ctx"
printf 'FROM %s\nRUN echo built >/b\nCOPY in.txt /in.txt\nCMD ["cat", "/b", "/in.txt"]\n' "$IMG" >"$API_TMP/ctx/Dockerfile"
cp "$API_TMP/in.txt" "$API_TMP/ctx/"
out=$(DOCKER_BUILDKIT=0 dk build -t a2-built:1 "$API_TMP/ctx" 2>&1)
check_match "docker build streams its steps and succeeds" "$out" 'Successfully tagged a2-built:1'
id1=$(grep -o 'Successfully built [0-9a-f]*' <<<"$out")
out=$(DOCKER_BUILDKIT=0 dk build -t a2-built:1 "$API_TMP/ctx" 2>&1)
check_eq "the second build is all cached (3 steps after FROM)" "$(grep -c -- '--> CACHED' <<<"$out")" "3"
check_eq "... and gives the same image" "$(grep -o 'Successfully built [0-9a-f]*' <<<"$out")" "$id1"
check_eq "the built image runs" "$(dk run --rm a2-built:1 2>&1 | tr '\n' ' ')" "built fromhost "
printf 'FROM %s\nRUN exit 7\n' "$IMG" >"$API_TMP/ctx/Dockerfile"
DOCKER_BUILDKIT=0 dk build -t a2-bad:1 "$API_TMP/ctx" >"$API_TMP/bad.out" 2>&1
check_eq "a failing RUN fails docker build" "$?" "1"

# ---- network connect / disconnect ----
if dk network create a2-net >/dev/null 2>&1; then
	dk run -d --name a2-n1 "$IMG" sleep 300 >/dev/null 2>&1
	dk run -d --name a2-n2 --network a2-net "$IMG" sleep 300 >/dev/null 2>&1
	dk network connect a2-net a2-n1 2>&1
	check_match "docker network connect adds an interface" "$(dk exec a2-n1 ip -o -4 addr 2>&1)" 'eth1'
	check_match "the connected container resolves the other by name" \
		"$(dk exec a2-n1 nslookup a2-n2 2>&1)" 'Address.*[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+'
	check_match "docker inspect lists both networks" \
		"$(dk inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' a2-n1 2>&1)" 'a2-net'
	dk network disconnect a2-net a2-n1 2>&1
	check "docker network disconnect removes it" bash -c "! timeout 30 $D exec a2-n1 ip -o -4 addr | grep -q eth1"
	check_match "connect of an unknown container: 404" \
		"$(api POST /networks/a2-net/connect -d '{"Container":"a2-nosuch"}')" '^404 '
	check_match "connect with a malformed body: 400" \
		"$(api POST /networks/a2-net/connect -d '{"Container":')" '^400 '
	dk rm -f a2-n1 a2-n2 >/dev/null 2>&1
	dk network rm a2-net >/dev/null 2>&1
else
	skip "networking unavailable: network create failed"
fi

# ---- docker run --rm -d: gone after exit ----
dk run --rm -d --name a2-rmd "$IMG" sh -c 'sleep 2' >/dev/null 2>&1
check_match "run --rm -d: running first" "$(dk ps --format '{{.Names}}' 2>&1)" 'a2-rmd'
for _ in $(seq 50); do
	dk ps -a --format '{{.Names}}' | grep -q a2-rmd || break
	sleep 0.2
done
check_eq "run --rm -d: gone after it exited" "$(dk ps -a --format '{{.Names}}' | grep -c a2-rmd)" "0"

# ---- events ----
T1=$(($(date +%s) + 1))
sleep 1.2
out=$(dk events --since "$T0" --until "$T1" --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}' 2>&1)
check_match "docker events --since/--until: container create" "$out" 'container create a2-cp'
check_match "... start, die and destroy" "$(grep -c 'container \(start\|die\|destroy\) a2-cp' <<<"$out")" '^[3-9]'
check_match "... image events (load)" "$out" 'image load'
check_match "... image events (tag by build)" "$out" 'image tag'
check_match "... network connect/disconnect" "$out" 'network (dis)?connect'
out=$(dk events --since "$T0" --until "$T1" --filter event=die --format '{{.Action}} {{.Actor.Attributes.exitCode}}' 2>&1)
check_match "filter event=die, exitCode attribute" "$out" '^die [0-9]+'
check_eq "filter event=die keeps only die" "$(grep -vc '^die' <<<"$out")" "0"
out=$(dk events --since "$T0" --until "$T1" --filter container=a2-cp --format '{{.Actor.Attributes.name}}' 2>&1 | sort -u)
check_eq "filter container=NAME" "$out" "a2-cp"
kill "$EV_PID" 2>/dev/null; wait "$EV_PID" 2>/dev/null
check_match "the live docker events saw the run as it happened" "$(cat "$API_TMP/live.events")" 'container start .*name=a2-rmd'
check_match "... and the engine's removal of the --rm -d container" "$(cat "$API_TMP/live.events")" 'container destroy .*name=a2-rmd'
out=$("$ISOLA" events --since "$T0" --until "$T1" --filter type=container --filter event=create 2>&1)
check_match "isola events prints them (podman's format)" "$out" 'container create [0-9a-f]{64} \(.*name=a2-cp'
out=$("$ISOLA" events --since "$T0" --until "$T1" --format json --filter event=destroy 2>&1 | head -1)
check_match "isola events --format json: Docker's shape" "$out" '"Type":"container","Action":"destroy","Actor":\{"ID":"[0-9a-f]{64}"'
check_match "bad filters JSON: 400" "$(api GET '/events?filters=%7Bnope')" '^400 .*"message"'
check_match "unknown filter key: 400" "$(api GET '/events?until=1&filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D')" '^400 .*bogus'
check_match "bad since: 400" "$(api GET '/events?since=yesterday')" '^400 '

# ---- bad input on the new routes ----
check_match "container create with malformed JSON: 400" "$(api POST /containers/create -d '{"Image":')" '^400 .*"message"'
check_match "container create with Labels of the wrong type: 400" \
	"$(api POST /containers/create -d "{\"Image\":\"$IMG\",\"Labels\":{\"a\":1}}")" '^400 .*Labels'
check_match "containers/json with bad filters: 400" "$(api GET '/containers/json?filters=%5B1%5D')" '^400 '
head -c $((5 << 20)) /dev/zero >"$API_TMP/big"
check_match "a huge JSON body: 413" "$(api POST /containers/create --data-binary @"$API_TMP/big")" '^413 '
check_match "images/load without a body: 400" "$(api POST /images/load)" '^400 '
check_match "a tar upload declared above the 4 GiB bound: 413 at once" \
	"$(api POST /images/load -H 'Content-Length: 9999999999' --data-binary @"$API_TMP/in.txt")" '^413 .*too large'
check_eq "... and no spool file or directory left" "$(find "$ISOLA_ROOT/tmp" -mindepth 1 -maxdepth 1 -name 'api*' -o -mindepth 1 -maxdepth 1 -name 'upload-*' | wc -l)" "0"
done_testing
