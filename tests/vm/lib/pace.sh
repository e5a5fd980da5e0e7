# Pacing for the VM tests, sourced after tests/lib/tap.sh.
#
# In the KVM sandbox (scripts/kvm-sandbox: QEMU's TCG emulating SVM) each
# command a test runs is 10-50 times slower than on a host (an exec of a
# dynamically linked program ~200 ms), while a guest's timers run in real
# time. Two consequences, and what they get here:
#  - a wait bounded by a number of polls stretches with the cost of each
#    poll (a 30 s wait took 30 min): `until_s` bounds it by wall-clock time;
#  - a guest that does its work and powers off after a few seconds is gone
#    before the test's slow steps reach it: `pace N` scales how long such
#    a guest runs (its count of lines), by PACE, 1 on a host.
# ISOLA_TEST_PACE overrides the factor (e.g. to try a host at sandbox pace).
if [ -n "${ISOLA_TEST_PACE:-}" ]; then
	PACE=$ISOLA_TEST_PACE
elif [ -n "${ISOLA_IN_KVM_SANDBOX:-}" ]; then
	PACE=10
else
	PACE=1
fi

# pace N: N times the pace factor.
pace() { echo $(($1 * PACE)); }

# until_s SECONDS CMD...: runs CMD every 0.1 s until it succeeds; fails once
# SECONDS (times the pace factor) of wall-clock time have passed.
until_s() {
	local end=$((SECONDS + $1 * PACE))
	shift
	while :; do
		"$@" && return 0
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

# has_line FILE REGEX: FILE has a line matching the extended REGEX.
has_line() { grep -aqE "$2" "$1" 2>/dev/null; }
# wait_line FILE REGEX [SECONDS]: until FILE has such a line (20 s, paced).
wait_line() { until_s "${3:-20}" has_line "$1" "$2"; }
# log_of NAME: the console log of the managed VM NAME (the test's $isola).
log_of() { "$isola" vm inspect "$1" | jget console_log; }
# has_lines FILE N: FILE has N counter lines (ISOLA-COUNT) or more.
has_lines() { [ "$(grep -ac 'ISOLA-COUNT' "$1" 2>/dev/null)" -ge "$2" ]; }
# wait_lines FILE N: until FILE has N counter lines (20 s, paced).
wait_lines() { until_s 20 has_lines "$1" "$2"; }
# is_gone PID: no such process.
is_gone() { ! kill -0 "$1" 2>/dev/null; }
# reap PID [SECONDS]: waits for a receiver or helper; one that has not ended
# within SECONDS (60; a failed migration can leave a receiver waiting) is
# killed with its children (kill_tree).
reap() {
	until_s "${2:-60}" is_gone "$1" || kill_tree "$1"
	wait "$1" 2>/dev/null
}
# jget KEY: the first value of KEY in the JSON on stdin (a string's text or
# a number), in bash itself: `isola vm inspect X | jget state`. A python3
# start costs about a second in the sandbox; this costs a fork.
jget() {
	local j re="\"$1\": *\"?([^\",}"$'\n'"]*)"
	IFS= read -r -d '' j
	[[ $j =~ $re ]] && printf '%s\n' "${BASH_REMATCH[1]}"
}
# kill_tree PID [SIGNAL]: PID and its children. `F args &` of a shell
# function F gives the pid of a subshell whose child is the real process
# (a receiver): killing the subshell alone left the receiver running.
kill_tree() {
	pkill -"${2:-KILL}" -P "$1" 2>/dev/null
	kill -"${2:-KILL}" "$1" 2>/dev/null
}

# cms N: a counting guest's line interval (count_ms): N on a host, at least
# 100 in the sandbox. Each console byte is a VM exit, and there every exit
# is emulated on the outer guest's one TCG thread: a guest printing a line
# every 5-20 ms took most of that thread, and every command of the test
# (and python3's start) waited behind it.
cms() { if [ "$PACE" -gt 1 ] && [ "$1" -lt 100 ]; then echo 100; else echo "$1"; fi; }

# consecutive FILE...: the counter lines (ISOLA-COUNT N at a line's end) of
# the FILEs joined (a partial first line completes the text before it)
# count up by one; prints "L lines, FIRST..LAST, gaps [(a, b), ...]" (the
# first three gaps) and fails when there are gaps or no lines. In awk: a
# python3 start costs seconds in the sandbox.
consecutive() {
	cat "$@" | grep -aoE 'ISOLA-COUNT [0-9]+$' | awk '
		{ n = $2 + 0; if (NR == 1) f = n; else if (n != p + 1) { bad = 1; if (++g <= 3) gaps = gaps (g > 1 ? ", " : "") "(" p ", " n ")" } p = n }
		END { printf "%d lines, %s..%s, gaps [%s]\n", NR, NR ? f : "None", NR ? p : "None", gaps; exit !(NR && !bad) }'
}
