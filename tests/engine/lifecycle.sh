#!/bin/bash
# Containers as objects through the real isola binary: run (foreground, -d,
# --rm, -i, -it), ps, logs (-f, --tail, --timestamps), stop (signal then
# SIGKILL), kill, rm leaving nothing, exec (-e -u -w, -it, -d), wait, top,
# stats, pause/unpause, rename, restart policy, --init, names and id
# prefixes.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bundle.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

is() { timeout 60 "$ISOLA" "$@"; }

# run --rm: output and exit code
out=$(is run --rm "${IMG[@]}" echo hello 2>&1)
check_eq "run --rm prints the output" "$out" "hello"
is run --rm "${IMG[@]}" sh -c 'echo to-err >&2; exit 7' 2>"$ENG_TMP/err"
check_eq "run propagates the exit code" "$?" "7"
check_eq "run relays stderr" "$(cat "$ENG_TMP/err")" "to-err"
# (PID 1 ignores signals it has no handler for: the command runs under --init)
is run --rm --init "${IMG[@]}" sh -c 'kill -TERM $$; sleep 5'
check_eq "killed by a signal: 128+N" "$?" "143"
check_eq "run --rm leaves no container" "$(is ps -aq | wc -l)" "0"

# -i: stdin reaches the container, EOF ends it
out=$(printf 'echo from-stdin\nexit 4\n' | is run --rm -i "${IMG[@]}" sh)
check_eq "run -i feeds stdin" "$? $out" "4 from-stdin"

# -it through a real pty (script)
out=$(timeout 30 script -qec "$ISOLA run --rm -it ${IMG[*]} sh -c 'tty; exit 3'" /dev/null)
rc=$?
check_match "run -it gives the container a tty" "$out" "/dev/pts/0"
check_eq "run -it exit code" "$rc" "3"

# -d, ps, logs
id=$(is run -d --name lc1 "${IMG[@]}" sh -c 'i=0; while [ $i -lt 1000 ]; do echo line$i; i=$((i+1)); sleep 0.05; done')
check_match "run -d prints the 64-hex id" "$id" "^[0-9a-f]{64}$"
sleep 1
check_match "ps shows it running" "$(is ps)" "lc1"
check_eq "ps -q prints the short id" "$(is ps -q)" "${id:0:12}"
check_eq "ps --format json" "$(is ps --format json | jq -r '.[0].Names[0] + " " + .[0].State')" "lc1 running"
check_eq "logs --tail 2 gives two lines" "$(is logs --tail 2 lc1 | wc -l)" "2"
check_eq "logs starts with the first line" "$(is logs lc1 | head -1)" "line0"
check_match "logs --timestamps" "$(is logs --timestamps --tail 1 lc1)" "^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z line[0-9]+$"
check_eq "id prefix works like the name" "$(is logs --tail 1 "${id:0:5}" | wc -l)" "1"
# -f follows until the container stops
(sleep 1; is stop -t 1 lc1 >/dev/null) &
n=$(is logs -f lc1 | wc -l)
wait
check_match "logs -f returns when the container stops" "$n" "^[0-9]+$"
[ "$n" -gt 20 ] && ok "logs -f saw the lines written while following" || not_ok "logs -f lines: $n"

# stop: StopSignal, then SIGKILL after --time (sh as PID 1 ignores TERM)
is run -d --name lc2 "${IMG[@]}" sleep 1000 >/dev/null
start=$(date +%s)
is stop -t 1 lc2 >/dev/null
check_eq "stop: SIGKILL after the timeout gives 137" "$(is container-inspect lc2 | jq -r '.[0].State.ExitCode')" "137"
check_match "stopped shows Exited in ps -a" "$(is ps -a)" "Exited \(137\)"
is run -d --name lc3 --init "${IMG[@]}" sleep 1000 >/dev/null
is stop -t 10 lc3 >/dev/null
check_eq "stop with --init: the TERM is forwarded, 143" "$(is container-inspect lc3 | jq -r '.[0].State.ExitCode')" "143"
out=$(is run --rm --init "${IMG[@]}" ps -o pid,args)
check_match "--init is PID 1" "$out" "1 /run/isola-init"

# rm leaves nothing
fid=$(full_id lc2)
is rm lc2 lc3 >/dev/null
check "rm: no mount, cgroup, monitor, dir, state or row left" no_leftovers "$fid"
is rm lc1 >/dev/null

# exec -e -u -w, -d, -it
is run -d --name lc4 "${IMG[@]}" sleep 1000 >/dev/null
check_eq "exec runs in the container" "$(is exec lc4 hostname)" "$(full_id lc4 | cut -c1-12)"
check_eq "exec -e -u -w" "$(is exec -e FOO=bar -u app -w /tmp lc4 sh -c 'echo $FOO $(id -u):$(id -g) $(pwd)')" "bar 1000:1000 /tmp"
is exec lc4 sh -c 'exit 9'
check_eq "exec propagates the exit code" "$?" "9"
is exec -d lc4 sh -c 'echo detached > /tmp/d'
sleep 0.5
check_eq "exec -d runs in the background" "$(is exec lc4 cat /tmp/d)" "detached"
out=$(timeout 30 script -qec "$ISOLA exec -it lc4 sh -c 'tty'" /dev/null)
check_match "exec -it has a tty" "$out" "/dev/pts/"
check_match "top lists the processes" "$(is top lc4)" "sleep 1000"
check_match "stats --no-stream: cpu, memory, pids" "$(is stats --no-stream lc4 | tail -1)" "lc4 +[0-9.]+% +[0-9.]+[KMG]?i?B / [^ ]+ +[0-9]+"

# pause / unpause / rename / wait / kill
is pause lc4 >/dev/null
check_eq "pause" "$(is ps --format json | jq -r '.[0].State')" "paused"
is unpause lc4 >/dev/null
check_eq "unpause" "$(is ps --format json | jq -r '.[0].State')" "running"
is rename lc4 lc5
check_eq "rename" "$(is ps --format json | jq -r '.[0].Names[0]')" "lc5"
(sleep 1; is kill -s KILL lc5 >/dev/null) &
check_eq "wait returns the exit code" "$(is wait lc5)" "137"
wait
is rm lc5 >/dev/null

# restart policy: on-failure:2 runs three times
is run -d --name lc6 --restart on-failure:2 "${IMG[@]}" sh -c 'echo try; exit 5' >/dev/null
check_eq "wait after restarts" "$(is wait lc6)" "5"
sleep 1
check_eq "restarted twice" "$(is container-inspect lc6 | jq -r '.[0].RestartCount')" "2"
check_eq "one log line per run" "$(is logs lc6 | grep -c try)" "3"
is rm lc6 >/dev/null

# create + start, auto names
id=$(is create "${IMG[@]}" sh -c 'exit 0')
name=$(is container-inspect "$id" | jq -r '.[0].Name')
check_match "generated name adjective_noun" "$name" "^[a-z]+_[a-z]+[0-9]*$"
check_eq "created state" "$(is container-inspect "$id" | jq -r '.[0].State.Status')" "created"
is start "$name" >/dev/null
check_eq "start then wait" "$(is wait "$name")" "0"
is rm "$name" >/dev/null

# -d --rm: the monitor removes it
id=$(is run -d --rm "${IMG[@]}" true)
sleep 1
check "run -d --rm: gone after the exit" no_leftovers "$id"

done_testing
