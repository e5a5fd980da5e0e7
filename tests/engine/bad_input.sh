#!/bin/bash
# Bad input: one clear message naming the input, a non-zero exit, and
# nothing left behind (no row, directory, mount or cgroup).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bundle.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

is() { timeout 60 "$ISOLA" "$@"; }
# expect_fail NAME REGEX CMD...: exit != 0, one line on stderr matching REGEX
expect_fail() {
	local name=$1 re=$2 err rc
	shift 2
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 0 ] && [ "$(echo "$err" | wc -l)" = 1 ] && [[ "$err" =~ $re ]]; then
		ok "$name"
	else
		not_ok "$name"; diag "rc=$rc err=$err"
	fi
}
nothing_left() {
	[ "$(is ps -aq | wc -l)" = 0 ] && [ -z "$(ls "$ISOLA_ROOT/containers")" ] &&
		! grep -q "$ENG_TMP/root" /proc/self/mountinfo
}

is run -d --name taken "${IMG[@]}" sleep 1000 >/dev/null
expect_fail "run with a name already taken" "name 'taken' is already in use" is run --name taken "${IMG[@]}" true
check_eq "... leaves only the first container" "$(is ps -aq | wc -l)" "1"
is stop -t 0 taken >/dev/null
expect_fail "exec into a stopped container" "container 'taken' is not running" is exec taken true
is rm taken >/dev/null
expect_fail "logs of an unknown container" "container 'nosuch': no such container" is logs nosuch
expect_fail "rm of an unknown container" "nosuch" is rm nosuch
expect_fail "-v with a missing source" "source '/nonexistent/x'" is run --rm -v /nonexistent/x:/x "${IMG[@]}" true
check "... leaves nothing" nothing_left
expect_fail "unknown image" "image 'localhost/no-such-image:1'|no-such-image" is run --rm localhost/no-such-image:1 true
expect_fail "--rootfs that does not exist" "--rootfs '/nonexistent'" is run --rm --rootfs /nonexistent true
expect_fail "command not found in the image" "nosuchcmd" is run --rm "${IMG[@]}" /nosuchcmd
check "... leaves nothing" nothing_left
expect_fail "bad --memory" "--memory 'lots'" is run --rm --memory lots "${IMG[@]}" true
expect_fail "bad --restart" "--restart 'sometimes'" is run --restart sometimes "${IMG[@]}" true
expect_fail "--rm with --restart" "--rm and --restart cannot be combined" is run --rm --restart always "${IMG[@]}" true
expect_fail "unknown capability" "--cap-add 'CAP_FLY'" is run --rm --cap-add CAP_FLY "${IMG[@]}" true
expect_fail "bad name" "name 'a/b'" is run --name a/b "${IMG[@]}" true
expect_fail "bridge network not available" "network 'mynet'" is run --rm --network mynet "${IMG[@]}" true
expect_fail "unknown user" "no user 'ghost'" is run --rm -u ghost "${IMG[@]}" true
check "... leaves nothing" nothing_left
is volume create inuse >/dev/null
is run -d --name vu -v inuse:/v "${IMG[@]}" sleep 1000 >/dev/null
expect_fail "volume rm of a volume in use" "volume 'inuse' is in use by container 'vu'" is volume rm inuse
expect_fail "rm of a running container without -f" "container 'vu' is running" is rm vu
is rm -f vu >/dev/null
expect_fail "volume inspect of an unknown volume" "volume 'ghost': no such volume" is volume inspect ghost
expect_fail "cp with no container side" "exactly one side" is cp /a /b
done_testing
