# TAP helpers for shell integration tests. Source it; call `ok`/`not_ok`,
# `skip_all "why"` to skip the whole file, and `done_testing` at the end.
TAP_N=0
TAP_FAILED=0
ISOLA_BUILD=${ISOLA_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
ISOLA_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
not_ok() { TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1)); echo "not ok $TAP_N - $*"; }
diag() { sed 's/^/# /' <<<"$*"; }
skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # SKIP $*"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# check "name" cmd...: passes when the command succeeds.
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
# check_eq "name" got want
check_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1"; diag "got:  $2"; diag "want: $3"; fi
}
# check_match "name" got regex
check_match() {
	if [[ "$2" =~ $3 ]]; then ok "$1"; else not_ok "$1"; diag "got:  $2"; diag "want match: $3"; fi
}
done_testing() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }
