#!/usr/bin/env bash
# stdin through attach (docker run -i, docker run -it in a pty, docker
# attach, docker start -ai) and clients that go away mid-stream, driven by
# the docker CLI against `isola serve`. Every client runs under a timeout:
# a hang is a failure, never a stuck test.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/bundle.sh"
. "$(dirname "$0")/lib.sh"
D=/usr/bin/docker
[ -x "$D" ] || skip_all "no docker client (apt-get install docker.io)"
command -v python3 >/dev/null || skip_all "no python3 (the pty driver)"
start_serve || { cat "$API_TMP/serve.log"; skip_all "isola serve did not start"; }
export DOCKER_HOST=unix://$SOCK DOCKER_CONFIG=$API_TMP/docker-config
dk() { timeout -s KILL 60 "$D" "$@"; }
PY="python3 $(dirname "$0")/attach3.py"
# the server's open fds and its children (stream workers) now
fds() { ls "/proc/$SERVE_PID/fd" | wc -l; }
kids() { pgrep -P "$SERVE_PID" | wc -l; }
# wait_state NAME STATE: up to 20 s
wait_state() {
	for _ in $(seq 100); do
		[ "$(dk inspect -f '{{.State.Status}}' "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}
dk run --rm "$IMG" true >/dev/null 2>&1 # warm up (first worker, database)
FDS0=$(fds)

# docker run -i: a pipe
for i in 1 2 3 4 5; do
	out=$(echo "hello-$i" | dk run -i --rm "$IMG" cat 2>&1)
	rc=$?
	check_eq "echo | docker run -i cat prints its stdin (run $i)" "$out" "hello-$i"
	check_eq "... and exits 0 (run $i)" "$rc" "0"
done
out=$(dk run -i --rm "$IMG" sh <<'EOF' 2>&1
echo one
echo two
x=$((6*7))
echo "x=$x"
exit 5
EOF
)
rc=$?
check_eq "docker run -i sh with a here-doc runs its commands" "$out" $'one\ntwo\nx=42'
check_eq "... and returns the script's exit code" "$rc" "5"
out=$(printf 'echo a\necho b >&2\nexit 7\n' | dk run -i --rm "$IMG" sh 2>"$API_TMP/err")
rc=$?
check_eq "docker run -i sh: stdout" "$out" "a"
check_eq "docker run -i sh: stderr apart" "$(cat "$API_TMP/err")" "b"
check_eq "docker run -i sh: exit code 7" "$rc" "7"
out=$(seq 1 30000 | dk run -i --rm "$IMG" wc -l 2>&1)
check_match "docker run -i: 169 KB of stdin arrive whole" "$out" '^ *30000$'
out=$(seq 1 30000 | dk run -i --rm "$IMG" sh -c 'sleep 1; wc -l' 2>&1)
check_match "... also when the container reads it late (the pipe fills)" "$out" '^ *30000$'
out=$(echo ignored | dk run -i --rm "$IMG" echo fine 2>&1)
check_eq "docker run -i of a container that never reads stdin" "$out" "fine"
out=$(echo nope | dk run --rm "$IMG" cat 2>&1)
check_eq "docker run without -i: the container's stdin is empty" "$out" ""

# docker run -it in a pty (what a user's terminal does)
out=$(timeout -s KILL 90 $PY pty "$D" run -it --rm "$IMG" sh -c 'echo ready; exec sh' 2>&1)
check_match "docker run -it: typed input runs in the container's shell" "$out" 'typed-42'
check_match "docker run -it: exit 3 typed at the prompt is the client's exit code" "$out" 'rc=3$'

# docker attach (stdin) to a container started with -i
# (the docker CLI's attach waits for the container's exit even after its
# stdin ended, as against Docker; the container's stdin stays open)
dk run -di --name a4-att "$IMG" sh -c 'while read -r l; do [ "$l" = exit ] && exit 4; echo "got:$l"; done' >/dev/null 2>&1
out=$(timeout -s KILL 90 $PY pipe close "$D" attach a4-att 2>&1)
check_match "docker attach relays typed lines (first)" "$out" 'got:one'
check_match "docker attach relays typed lines (second)" "$out" 'got:two'
check_match "docker attach whose stdin ended waits for the container" "$out" 'rc=running$'
check_eq "... and the container runs on, its stdin open (no StdinOnce)" "$(dk inspect -f '{{.State.Running}}' a4-att 2>&1)" "true"
out=$(timeout -s KILL 90 $PY pipe exit "$D" attach a4-att 2>&1)
check_match "a second docker attach works too" "$out" 'got:two'
check_match "... and returns the container's exit code when it ends" "$out" 'rc=4$'
check_match "docker logs has what both attaches typed" "$(dk logs a4-att 2>&1 | tr '\n' ' ')" 'got:one got:two got:one got:two'
dk rm -f a4-att >/dev/null 2>&1

# docker start -ai: attach before the start
dk create -i --name a4-start "$IMG" sh -c 'read -r l; echo "start:$l"' >/dev/null 2>&1
out=$(echo first | dk start -ai a4-start 2>&1)
check_eq "docker start -ai relays stdin" "$out" "start:first"
check_eq "... and the container has exited" "$(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' a4-start 2>&1)" "exited 0"
dk rm -f a4-start >/dev/null 2>&1

# clients that go away mid-stream
mkfifo "$API_TMP/in"
dk run -i --name a4-gone "$IMG" sh -c 'echo ready; cat' <"$API_TMP/in" >"$API_TMP/gone.out" 2>&1 &
cli=$!
exec 7>"$API_TMP/in" # stdin stays open
for _ in $(seq 100); do grep -q ready "$API_TMP/gone.out" && break; sleep 0.2; done
check_match "docker run -i: output before the client goes" "$(cat "$API_TMP/gone.out")" 'ready'
kill -9 "$cli"
wait "$cli" 2>/dev/null
exec 7>&-
check "killed docker run -i client: its stdin closes (StdinOnce), cat ends, the container exits" wait_state a4-gone exited
dk rm -f a4-gone >/dev/null 2>&1

dk run -dit --name a4-tty "$IMG" sh >/dev/null 2>&1
timeout -s KILL 3 script -qec "$D attach a4-tty" /dev/null </dev/null >/dev/null 2>&1
check_eq "a killed docker attach to a tty container: the container runs on" "$(dk inspect -f '{{.State.Running}}' a4-tty 2>&1)" "true"
dk rm -f a4-tty >/dev/null 2>&1
dk run -di --name a4-bg "$IMG" sh -c 'while read -r l; do echo "got:$l"; done' >/dev/null 2>&1
mkfifo "$API_TMP/in2"
dk attach a4-bg <"$API_TMP/in2" >"$API_TMP/bg.out" 2>&1 &
cli=$!
exec 8>"$API_TMP/in2"
echo first >&8
for _ in $(seq 100); do grep -q got:first "$API_TMP/bg.out" && break; sleep 0.2; done
kill -9 "$cli"
wait "$cli" 2>/dev/null
exec 8>&-
check_match "docker attach (no StdinOnce): input relayed" "$(cat "$API_TMP/bg.out")" 'got:first'
check_eq "... the client killed: the container runs on" "$(dk inspect -f '{{.State.Running}}' a4-bg 2>&1)" "true"
out=$(timeout -s KILL 90 $PY pipe close "$D" attach a4-bg 2>&1)
check_match "... and takes the next attach's input" "$out" 'got:two'
dk rm -f a4-bg >/dev/null 2>&1

# nothing left behind in the server: stream workers gone, fds back
for _ in $(seq 50); do [ "$(kids)" = 0 ] && [ "$(fds)" -le "$FDS0" ] && break; sleep 0.2; done
check_eq "no stream worker left in the server" "$(kids)" "0"
check "the server's fds are back to where they were ($FDS0; now $(fds))" test "$(fds)" -le "$FDS0"
check_eq "no container left" "$(dk ps -aq | wc -l)" "0"
done_testing
