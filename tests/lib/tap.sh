# TAP helpers for shell integration tests. Source it; call `ok`/`not_ok`,
# `skip_all "why"` to skip the whole file, and `done_testing` at the end.
TAP_N=0
TAP_FAILED=0
ISOLA_BUILD=${ISOLA_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
ISOLA_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# ISOLA_TEST_TIMES=1: each result is followed by "# at N ms" since the
# test began (where a slow run, like the KVM sandbox's, spends its time).
TAP_T0=${EPOCHREALTIME/./}
tap_time() { [ -z "${ISOLA_TEST_TIMES:-}" ] || echo "# at $(((${EPOCHREALTIME/./} - TAP_T0) / 1000)) ms"; }
ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; tap_time; }
# A failure and what check_eq/check_match say about it also go to stderr:
# meson's error log (and so CI's summary) shows a failing test's stderr only.
not_ok() {
	TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1)); echo "not ok $TAP_N - $*"
	echo "not ok $TAP_N - $*" >&2
	tap_time
}
diag() { sed 's/^/# /' <<<"$*"; }
diag_fail() { diag "$*"; sed 's/^/# /' <<<"$*" | head -c 4000 >&2; }
skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # SKIP $*"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# check "name" cmd...: passes when the command succeeds. The checks
# return non-zero when they fail, for `check ... || diag_fail ...`.
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; return 1; fi; }
# check_eq "name" got want
check_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1"; diag_fail "got:  $2"; diag_fail "want: $3"; return 1; fi
}
# check_match "name" got regex
check_match() {
	if [[ "$2" =~ $3 ]]; then ok "$1"; else not_ok "$1"; diag_fail "got:  $2"; diag_fail "want match: $3"; return 1; fi
}
done_testing() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }
